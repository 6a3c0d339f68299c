"""Report generation for the twin phantom, per format (targets: HTML + PDF < 3 s, SEG + SR < 1 s).

How it is measured
------------------
* One fresh Python process loads the twin phantom (the DICOM T1+C series, NIfTI masks, landmarks)
  and measures it once; loading and measuring are not timed (``bench_study`` times those).
* Warm: ``write_report`` is run once for each group of formats (JSON, CSV, HTML + PDF,
  SEG + SR: written together as ``lesionview report`` does) so each lazy import (matplotlib,
  jinja2, WeasyPrint, highdicom) is done, then ``REPEATS`` times per group into empty folders;
  rows are medians. Per-format rows come from ``write_report(timings=...)``: HTML counts the key
  images, levels diagram and template; PDF only the printing of that same page.
* Cold: one more fresh process writes HTML + PDF, then SEG + SR, straight after loading, imports
  included: what one ``lesionview report`` call pays.
* ``cpu s``: process CPU time of the group; on a busy shared machine wall time can be several
  times larger, and the report work is single-threaded, so CPU time is what an idle machine
  would take.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPEATS = 3
ROOT = Path(__file__).resolve().parents[1]
TWIN = ROOT / "sample_data" / "twin"

_CHILD = r"""
import json, sys, time
from pathlib import Path
from lesionview.io import load_volume
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.report.build import write_report

twin, work, mode, repeats = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
image = load_volume(twin / "dicom" / "05_SAG_T1_TSE_C")
masks = {k: load_volume(twin / f"{k}.nii.gz") for k in ("lesion", "edema", "cord")}
levels = LevelModel.from_file(twin / "landmarks.csv")
result = measure(masks["lesion"], image=image, edema=masks["edema"], cord=masks["cord"], levels=levels)
kw = dict(image=image, lesions=masks["lesion"], edema=masks["edema"], cord=masks["cord"], levels=levels)
out, n = {}, 0

def once(formats):
    global n
    n += 1
    timings = {}
    t0, c0 = time.perf_counter(), time.process_time()
    write_report(result, work / f"run{n}", formats=formats, timings=timings, **kw)
    timings["total"] = time.perf_counter() - t0
    timings["cpu"] = time.process_time() - c0
    return timings

groups = [["json"], ["csv"], ["html", "pdf"], ["seg", "sr"]]
if mode == "cold":
    for g in groups[2:]:
        out["+".join(g)] = [once(g)]
else:
    for g in groups:                        # warm-up: lazy imports
        once(g)
    for g in groups:
        out["+".join(g)] = [once(g) for _ in range(repeats)]
print(json.dumps(out))
"""


def _child(workdir: Path, mode: str) -> dict:
    res = subprocess.run([sys.executable, "-c", _CHILD, str(TWIN), str(workdir), mode, str(REPEATS)],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(workdir: Path) -> list[dict]:
    if not (TWIN / "dicom" / "05_SAG_T1_TSE_C").is_dir():
        return [{"name": "report (twin phantom)", "seconds": None, "note": "sample_data/twin missing: make sample"}]
    warm = _child(workdir / "warm", "warm")
    cold = _child(workdir / "cold", "cold")

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    rows = []
    for fmt, group in (("json", "json"), ("csv", "csv"), ("html", "html+pdf"), ("pdf", "html+pdf"),
                       ("seg", "seg+sr"), ("sr", "seg+sr")):
        note = {"html": "key images + levels diagram + template + write",
                "pdf": "printing the same page (WeasyPrint)"}.get(fmt, "")
        rows.append({"name": f"{fmt} (warm, median of {REPEATS})", "seconds": med(warm[group], fmt),
                     "cpu s": None, "target s": None, "note": note})
    for group, target in (("html+pdf", 3.0), ("seg+sr", 1.0)):
        for label, runs in (("warm", warm[group]), ("cold process, imports included", cold[group])):
            wall, cpu = med(runs, "total"), med(runs, "cpu")
            rows.append({"name": f"{group.replace('+', ' + ')} ({label})", "seconds": wall, "cpu s": cpu,
                         "target s": target, "note": "met" if wall < target else
                         ("met in CPU time (machine busy)" if cpu < target else "MISSED")})
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for row in run(Path(tmp)):
            print(row)
