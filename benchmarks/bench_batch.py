"""`lesionview batch` on generated cohorts: scaling from 1 to 2 workers, and what dask adds.

Targets (issue 14): 200 studies, 2 workers against 1: >= 1.7x; per-study overhead of the batch
over the same work in one process: < 15 %; 1,000 studies on 2 cores: < 3 min.

How it is measured
------------------
* The cohort: the 24 phantoms of the validation family (lesionview.phantom.family: cervical and
  thoracic; sagittal, axial and oblique; 2-4 mm slices; 1-3 lesions, edema), each written once as
  a study folder (T2 and T1+C images, lesion, edema and cord masks as NIfTI, disc landmarks as
  CSV), then repeated by hard links to 200 and 1,000 study folders: every study is read, hashed,
  measured and written in full; only the rendering is shared.
* ``in one process``: one Python process runs the batch's own per-study function
  (``lesionview.batch.task.run_job``: load, hash, measure, write the BIDS derivatives and the
  JSON/HTML report) over the 200 studies in a plain loop: the work without dask.
* ``batch, N workers``: the whole command, ``lesionview batch COHORT OUT --workers N``, as a
  fresh process (start-up, the local cluster, hashing, scheduling and the batch report included),
  wall time. Each row runs once into an empty output folder (a second run would skip every study):
  the same single run for every row, so the ratios compare like with like.
* ``overhead`` = (batch with 1 worker - in one process) / in one process, per study.
* The machine is shared (2 cores): run it idle for the speed-up row to mean anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESIONVIEW = Path(sys.executable).with_name("lesionview")
SMALL, LARGE = 200, 1000

_IN_PROCESS = r"""
import sys, time
from pathlib import Path
from lesionview.batch.inputs import find_jobs
from lesionview.batch.task import Settings, run_job
jobs, _ = find_jobs(sys.argv[1])
t0 = time.perf_counter()
bad = [o for o in (run_job(j, sys.argv[2], Settings(twin_gap_mm=10.0)) for j in jobs) if o.status != "done"]
print(time.perf_counter() - t0, len(bad))
"""


def run(workdir: Path) -> list[dict]:
    seeds = _render(workdir / "seeds")
    small = _cohort(seeds, workdir / "cohort200", SMALL)
    large = _cohort(seeds, workdir / "cohort1000", LARGE)
    done = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(small), str(workdir / "out0")], check=True,
                          capture_output=True, text=True)
    loop_s, bad = done.stdout.split()
    loop_s = float(loop_s)
    rows = [{"benchmark": f"{SMALL} studies in one process (run_job loop)", "seconds": loop_s,
             "per study s": loop_s / SMALL, "ratio": None, "target": "", "note": f"{bad} not done"}]
    one = _batch(small, workdir / "out1", 1)
    two = _batch(small, workdir / "out2", 2)
    overhead = (one - loop_s) / loop_s
    rows += [
        {"benchmark": f"batch, {SMALL} studies, 1 worker", "seconds": one, "per study s": one / SMALL,
         "ratio": overhead, "target": "overhead < 0.15", "note": "ratio: (batch - one process) / one process"},
        {"benchmark": f"batch, {SMALL} studies, 2 workers", "seconds": two, "per study s": two / SMALL,
         "ratio": one / two, "target": "speed-up >= 1.7", "note": "ratio: 1 worker / 2 workers"},
    ]
    big = _batch(large, workdir / "out3", 2)
    rows.append({"benchmark": f"batch, {LARGE} studies, 2 workers", "seconds": big, "per study s": big / LARGE,
                 "ratio": big / 180.0, "target": "< 180 s", "note": "ratio: seconds / 180"})
    return rows


def _render(folder: Path) -> list[Path]:
    """The 24 family phantoms as study folders."""
    import numpy as np

    from lesionview.io import write_nifti
    from lesionview.levels import write_landmarks
    from lesionview.phantom.family import family, render_case

    seeds = []
    for case in family():
        images = render_case(case)
        study = folder / case.name
        study.mkdir(parents=True)
        geometry = images.geometry
        write_nifti(images.t2, study / "t2.nii.gz")
        write_nifti(images.t1c, study / "t1c.nii.gz")
        write_nifti(images.lesions.astype(np.uint8), study / "lesion.nii.gz", geometry=geometry)
        write_nifti(images.edema.astype(np.uint8), study / "edema.nii.gz", geometry=geometry)
        write_nifti(images.cord.astype(np.uint8), study / "cord.nii.gz", geometry=geometry)
        marks = images.levels.landmarks
        write_landmarks(study / "landmarks.csv", [m.name for m in marks], [m.position for m in marks])
        seeds.append(study)
    return seeds


def _cohort(seeds: list[Path], folder: Path, n: int) -> Path:
    """``n`` study folders, hard links to the seeds' files in turn."""
    for i in range(n):
        seed = seeds[i % len(seeds)]
        study = folder / f"s{i:05d}"
        study.mkdir(parents=True)
        for f in seed.iterdir():
            os.link(f, study / f.name)
    return folder


def _batch(cohort: Path, out: Path, workers: int) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([str(LESIONVIEW), "batch", str(cohort), str(out), "--workers", str(workers)],
                          check=False, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"lesionview batch failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds
