"""Comparing the 4-timepoint seed timeline, alignment included (issue 13 target: < 5 s on 2 cores).

How it is measured
------------------
* One fresh Python process loads the four studies of ``sample_data/timeline`` (t0-t2 sagittal, t3
  axial; DICOM T2 and T1+C series, NIfTI masks, landmarks; generated first when missing) with
  ``Study.from_folder``; loading is timed on its own row.
* Warm-up: one ``compare()`` call, so every lazy import (SimpleITK registration, scipy) is done.
* ``compare() whole``: the median of ``REPEATS`` calls of ``compare(studies)``: measuring each study,
  three rigid registrations (initialised from the levels), matching, classes and responses.
* ``compare() given measurements``: the same with the measurements passed in: alignment and
  matching alone. ``alignment`` rows: one ``align_pair`` per interval.
* ``cpu s``: process CPU time of the same calls; SimpleITK's registration uses the threads it is
  given, so on a busy shared machine wall time can exceed what an idle one would take.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPEATS = 3
ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
from lesionview.compare import compare
from lesionview.compare.align import align_pair
from lesionview.phantom.timeline import timeline_path
from lesionview.study import Study

repeats = int(sys.argv[1])
root = timeline_path()
start = time.perf_counter()
studies = [Study.from_folder(root / f"t{i}") for i in range(4)]
out = {"load": time.perf_counter() - start}
result = compare(studies)  # warm-up


def timed(fn):
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        value = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return wall, cpu, value


out["whole"] = timed(lambda: compare(studies))[:2]
meas = [s.measure() for s in studies]
wall, cpu, result = timed(lambda: compare(studies, measurements=meas))
out["given"] = [wall, cpu]
out["align"] = [timed(lambda: align_pair(a, b))[:2] for a, b in zip(studies, studies[1:])]
out["residuals"] = [a.residual_mm for a in result.alignments]
out["responses"] = [r.response.value for r in result.responses]
print(json.dumps(out))
"""


def _row(name, wall, cpu=None, note=""):
    return {"name": name, "seconds": statistics.median(wall) if isinstance(wall, list) else wall,
            "cpu s": None if cpu is None else statistics.median(cpu), "note": note}


def run(workdir: Path) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(REPEATS)], cwd=ROOT, check=False,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [_row("load 4 studies (Study.from_folder)", data["load"], note="once, cold"),
            _row("compare() whole (4 timepoints)", *data["whole"],
                 note=f"median of {REPEATS}; target < 5 s; responses {', '.join(data['responses'])}"),
            _row("compare() given measurements", *data["given"], note=f"median of {REPEATS}; alignment + matching")]
    for k, (wall, cpu) in enumerate(data["align"]):
        rows.append(_row(f"  alignment t{k} -> t{k + 1}", wall, cpu,
                         note=f"residual {data['residuals'][k]:.2f} mm (level landmarks)"))
    return rows


if __name__ == "__main__":
    import tempfile
    import time

    with tempfile.TemporaryDirectory(prefix="lesionview-bench-compare-") as tmp:
        start = time.perf_counter()
        table = run(Path(tmp))
    print(" | ".join(table[0]))
    for row in table:
        print(" | ".join(f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v)) for v in row.values()))
    print(f"(total {time.perf_counter() - start:.0f} s)")
