"""Start-up of the command line, as whole processes: --help and info against bare Python and dcm2niix.

Targets (issue 14): ``lesionview --help`` and ``lesionview info`` (NIfTI file, DICOM folder) in
< 0.3 s; ``info`` on a 200-slice series within 3x of dcm2niix's listing of the same series.

How it is measured
------------------
* Inputs, generated in the work folder: a 200-slice axial MR series, 64x64 int16, one file per
  slice (:func:`lesionview.io.dicom.write.write_series`), and the same volume as one ``.nii.gz``.
* Every row is a whole process started from this one (``subprocess``, output to /dev/null): bare
  ``python -c pass``, the ``lesionview`` console script (``python -m lesionview`` when there is
  none) and the ``dcm2niix`` of the pip package, whose ``-n -1`` lists the series it would convert
  (tab, CRC, output name) and converts none: the listing FSLeyes and MRIcroGL ask it for.
* Each command runs once untimed (page cache warm, bytecode compiled), then ``REPEATS`` times,
  round-robin over the rows so that a busy moment of this shared machine falls on all of them;
  a row gives the median, min and max wall time, and the median CPU time (user + system of the
  child, from ``getrusage``), which another process on the machine inflates less.
* Bytecode: this environment may set PYTHONDONTWRITEBYTECODE, so that lesionview's own modules
  would be compiled from source on every start, which an installed package never does. The
  children write and read their bytecode under the work folder instead (PYTHONPYCACHEPREFIX).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 7
SHAPE = (200, 64, 64)
#: Whole-process targets, seconds, and the largest ratio of info on a series to dcm2niix.
TARGET_S = 0.3
TARGET_RATIO_TO_DCM2NIIX = 3.0


def make_inputs(workdir: Path) -> tuple[Path, Path]:
    """The DICOM series folder and the NIfTI file of one 200-slice volume."""
    import numpy as np

    from lesionview.geometry import Geometry
    from lesionview.io import write_nifti
    from lesionview.io.dicom.write import write_series
    from lesionview.volume import Volume

    z, y, x = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    body = ((y - SHAPE[1] / 2) ** 2 + (x - SHAPE[2] / 2) ** 2 < (0.4 * SHAPE[1]) ** 2) * 800
    array = (body + z).astype(np.int16)
    volume = Volume(array, Geometry(SHAPE, (2.0, 1.0, 1.0), (-32.0, -32.0, -200.0)))
    series = workdir / "series"
    write_series(volume, series)
    nifti = write_nifti(volume, workdir / "t2.nii.gz")
    return series, nifti


def commands(workdir: Path, series: Path, nifti: Path) -> dict[str, list[str] | None]:
    """Each row's command line; None when its program is not installed."""
    script = Path(sys.executable).parent / "lesionview"
    lesionview = [str(script)] if script.is_file() else [sys.executable, "-m", "lesionview"]
    dcm2niix = shutil.which("dcm2niix", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    listing = workdir / "dcm2niix-out"
    listing.mkdir()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "lesionview --help": [*lesionview, "--help"],
        "lesionview info NIfTI": [*lesionview, "info", str(nifti)],
        "lesionview info DICOM 200": [*lesionview, "info", str(series)],
        "dcm2niix -n -1 DICOM 200": None if dcm2niix is None else [dcm2niix, "-n", "-1", "-o", str(listing),
                                                                   str(series)],
    }


def child_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(workdir: Path) -> list[dict]:
    workdir = Path(workdir)
    series, nifti = make_inputs(workdir)
    cmds = commands(workdir, series, nifti)
    env = child_env(workdir)
    present = {name: cmd for name, cmd in cmds.items() if cmd is not None}
    for cmd in present.values():  # warm-up: page cache, bytecode
        timed(cmd, env)
    walls: dict[str, list[float]] = {name: [] for name in present}
    cpus: dict[str, list[float]] = {name: [] for name in present}
    for _ in range(REPEATS):
        for name, cmd in present.items():
            wall, cpu = timed(cmd, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    median = {name: statistics.median(w) for name, w in walls.items()}
    rows = []
    for name in cmds:
        if name not in present:
            rows.append({"command": name, "median s": None, "min s": None, "max s": None, "cpu s": None,
                         "ratio": None, "target": "not installed (pip install dcm2niix)", "met": None})
            continue
        ratio, target, met = _against_target(name, median)
        rows.append({"command": name, "median s": median[name], "min s": min(walls[name]),
                     "max s": max(walls[name]), "cpu s": statistics.median(cpus[name]), "ratio": ratio,
                     "target": target, "met": met})
    return rows


def _against_target(name: str, median: dict[str, float]) -> tuple[str | None, str, bool | None]:
    """The row's ratio (to bare Python for --help, to dcm2niix for info on the series), its target
    and whether the median meets it."""
    seconds = median[name]
    if name == "lesionview --help":
        return f"{seconds / median['python -c pass']:.1f}x python", f"< {TARGET_S} s", seconds < TARGET_S
    if name == "lesionview info NIfTI":
        return None, f"< {TARGET_S} s", seconds < TARGET_S
    if name == "lesionview info DICOM 200":
        target = f"< {TARGET_S} s"
        met = seconds < TARGET_S
        peer = median.get("dcm2niix -n -1 DICOM 200")
        if peer is None:
            return None, target, met
        ratio = seconds / peer
        target += f" and <= {TARGET_RATIO_TO_DCM2NIIX:g}x dcm2niix"
        return f"{ratio:.1f}x dcm2niix", target, met and ratio <= TARGET_RATIO_TO_DCM2NIIX
    return None, "", None


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lesionview-bench-start-") as tmp:
        table = run(Path(tmp))
    print(f"whole processes, median of {REPEATS} runs each (round-robin), after one warm-up run")
    print(" | ".join(table[0]))
    for row in table:
        print(" | ".join(f"{v:.3f}" if isinstance(v, float) else "" if v is None else str(v)
                         for v in row.values()))
