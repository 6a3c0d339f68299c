"""Whole-study measure() from NIfTI files: 512x512x64 sagittal study, 10 lesions, edema, cord and disc landmarks.

Targets: ``measure()`` of the study loaded from NIfTI under 0.3 s on the 2-core reference machine
(issue 14); peak memory under 3x the lesion mask, uint8 bytes (issue 3). ``TARGETS``, printed
beside the numbers.

How it is measured
------------------
* The study is built once in the parent and written with nibabel as ``.nii.gz`` files (sform and
  qform set to the grid, as segmentation tools write them), with a landmark CSV: a
  512 x 512 x 64 grid at 0.5 x 0.5 x 3 mm, stored sagittal-like (rows go inferior, columns
  posterior, slices left), a curved cord tube (radius 5 mm), 10 ellipsoidal lesions of 3 to
  15 mm along it, edema (the cord's width, 6 mm beyond the lesion) around 3 of them, an int16
  T1 image and 14 disc landmarks on the cord.
* Each measurement runs in a fresh Python process that loads the study as ``lesionview measure``
  does (``Study.from_paths``; nibabel hands over Fortran-ordered arrays; the loading time is in
  the note, not counted) and first runs ``measure()`` on a tiny study so every lazy import is done
  before anything is timed.
* Time: one warm-up run, then the median of ``REPEATS`` runs of ``Study.measure()`` alone.
* A second row measures the same study with every array copied to C order, as NumPy makes
  arrays: the result must be the same (hash of its JSON) and so should the time, since every
  whole-volume pass reads the arrays in their own memory order.
* Peak memory: in its own fresh process, the growth of the peak resident set size during one
  ``measure()`` call: ``VmHWM`` after it minus ``VmRSS`` just before it (``/proc/self/status``;
  the peak is reset first through ``/proc/self/clear_refs`` when the kernel allows it, so the
  loading of the inputs does not count). Given in MB, relative to the uint8 lesion mask and to
  the int32 label array a labelling makes of it (4x the mask). The tracemalloc peak of a second
  call is in the note (NumPy/SciPy allocations only, immune to the allocator reusing pages).
* Stages: one ``measure()`` call under cProfile; each row is the cumulative time of one function
  of the engine (nested calls count in both rows), as a share of the profiled call (cProfile
  slows Python-level code more than NumPy code, so shares are indicative). Then one call under
  tracemalloc with those functions wrapped (in the benchmark process only; the engine is not
  edited): each stage's peak allocation above what was allocated when it was entered.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHAPE = (512, 512, 64)
SPACING = (0.5, 0.5, 3.0)
# Array axis 0 runs inferior (-z), axis 1 posterior (+y), axis 2 left (+x): a sagittal stack.
DIRECTION = ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0))
ORIGIN = (-96.0, -128.0, 127.75)
CORD_RADIUS_MM = 5.0
#: Lesion largest diameters (mm), superior to inferior, 24 mm apart along the cord.
LESION_DIAMETERS_MM = (3.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0, 12.0, 14.0, 15.0)
LESION_SPACING_MM = 24.0
EDEMA_AROUND = (1, 4, 7)  # indices into LESION_DIAMETERS_MM
DISC_NAMES = ("C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7", "C7/T1", "T1/T2", "T2/T3", "T3/T4",
              "T4/T5", "T5/T6", "T6/T7", "T7/T8", "T8/T9")
DISC_STEP_MM = 18.0
REPEATS = 5
#: Targets: seconds of measure() from NIfTI (issue 14), peak memory / uint8 lesion mask (issue 3).
TARGET_SECONDS, TARGET_PEAK_PER_MASK = 0.3, 3.0

#: Stage rows: (label, module, function) of the engine's own functions, in the order measure()
#: runs them. Indented ones run inside the one above.
STAGES = [
    ("boxes of non-zero voxels (joint box, crops)", "lesionview.measure.components", "nonzero_box"),
    ("labelling (lesions, edema)", "lesionview.measure.components", "label_regions"),
    ("lesion crops", "lesionview.measure.study", "_regions"),
    ("centerline from cord mask", "lesionview.cord", "centerline_from_mask"),
    ("world_points (largest call: cord union)", "lesionview.measure.sections", "world_points"),
    ("normal-cord mean (enhancement)", "lesionview.measure.study", "_normal_cord_mean"),
    ("edema <-> lesion matching", "lesionview.measure.study", "_edema_of_lesions"),
    ("per-lesion rows (all of the indented)", "lesionview.measure.study", "_measure_lesion"),
    ("  max diameter (calibrated)", "lesionview.measure.diameters", "max_diameter"),
    ("  max diameter (IBSI)", "lesionview.measure.diameters", "max_diameter_ibsi"),
    ("  axial diameters", "lesionview.measure.diameters", "axial_diameters"),
    ("  craniocaudal length", "lesionview.measure.diameters", "craniocaudal_length"),
    ("  cord occupancy", "lesionview.measure.sections", "cord_occupancy"),
    ("  levels (LevelModel.level_of)", "lesionview.levels.model", "LevelModel.level_of"),
    ("  length along the cord", "lesionview.measure.study", "_along_centerline"),
    ("SCT's metrics (sct_analyze_lesion)", "lesionview.measure.sct", "sct_metrics"),
    ("rim and flame signs", "lesionview.measure.signs", "enhancement_signs"),
    ("edema rows", "lesionview.measure.study", "_measure_edema"),
    ("gaps: boundary points", "lesionview.measure.sections", "boundary_points"),
    ("gaps: closest boundary voxels (k-d tree)", "lesionview.measure.sections", "closest_gap"),
    ("multiplicity", "lesionview.measure.multiplicity", "classify"),
]

# Runs inside a fresh interpreter. argv: mode ("time", "memory" or "stages"), work folder,
# "F" (as loaded) or "C" (arrays copied to C order), then the mode's argument (repeats, or the
# STAGES as JSON).
# The children import benchmarks._proc from the repository root.
_ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import functools, hashlib, importlib, json, sys, time
from pathlib import Path
import numpy as np

from benchmarks._proc import status_bytes

mode, folder, layout = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
from dataclasses import replace
from lesionview.geometry import Geometry
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.study import Study
from lesionview.volume import Volume

out = {}
start = time.perf_counter()
study = Study.from_paths(folder / "lesions.nii.gz", image=folder / "image.nii.gz", edema=folder / "edema.nii.gz",
                         cord=folder / "cord.nii.gz", levels=folder / "discs.csv")
out["load_seconds"] = time.perf_counter() - start
out["fortran_ordered"] = bool(study.lesions.array.flags.f_contiguous and not study.lesions.array.flags.c_contiguous)
if layout == "C":
    def c_order(v):
        return replace(v, array=np.ascontiguousarray(v.array))

    study = replace(study, lesions=c_order(study.lesions), edema=c_order(study.edema), cord=c_order(study.cord),
                    images={k: c_order(v) for k, v in study.images.items()})


def run():
    return study.measure()


# A tiny study first: every lazy import (cord, levels, scipy.spatial...) happens here.
g = Geometry((24, 24, 40), spacing=(1, 1, 1), origin=(-12, -12, -20))
tiny = np.zeros(g.shape, np.uint8); tiny[10:14, 10:14, 18:22] = 1
cord = np.zeros(g.shape, np.uint8); cord[8:16, 8:16, :] = 1
tiny_levels = LevelModel.from_landmarks(["C4/C5", "C5/C6"], [[0, 0, 10], [0, 0, -10]])
measure(Volume(tiny, g), edema=Volume(cord, g), cord=Volume(cord, g),
        image=Volume(cord * 100, g), levels=tiny_levels)

if mode == "memory":
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        out["hwm_reset"] = True
    except OSError:
        out["hwm_reset"] = False
    before = status_bytes("VmRSS")
    result = run()
    out["peak_bytes"] = status_bytes("VmHWM") - before
    import tracemalloc
    tracemalloc.start()
    run()
    out["traced_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
elif mode == "time":
    result = run()  # warm-up
    times = []
    for _ in range(int(sys.argv[4])):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    out["seconds"] = times
elif mode == "stages":
    import cProfile, pstats, tracemalloc
    stages = json.loads(sys.argv[4])
    result = run()  # warm-up

    def resolve(module, attr):
        owner = importlib.import_module(module)
        for part in attr.split(".")[:-1]:
            owner = getattr(owner, part)
        return owner, attr.split(".")[-1]

    # 1. Time: cumulative time of each stage function under cProfile.
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    result = run()
    prof.disable()
    out["profiled_seconds"] = time.perf_counter() - start
    out["functions"] = [
        {"file": file, "line": line, "name": name, "calls": nc, "tottime": tt, "cumtime": ct}
        for (file, line, name), (cc, nc, tt, ct, callers) in pstats.Stats(prof).stats.items()]
    codes = {}
    for label, module, attr in stages:
        owner, name = resolve(module, attr)
        code = getattr(getattr(owner, name), "__code__", None)
        if code is not None:
            codes[label] = [code.co_filename, code.co_firstlineno, code.co_name]
    out["codes"] = codes

    # 2. Memory: each stage's tracemalloc peak above the level at its entry (NumPy and SciPy
    # allocate through tracked allocators), by wrapping the functions where measure() looks them
    # up. Nested stages pass their peak up through a stack of running peaks.
    import lesionview.measure.study as study_module
    stack, peaks = [], {}

    def wrap(label, owner, name):
        f = getattr(owner, name)

        @functools.wraps(f)
        def wrapper(*a, **k):
            cur, pk = tracemalloc.get_traced_memory()
            if stack:
                stack[-1][1] = max(stack[-1][1], pk)
            tracemalloc.reset_peak()
            stack.append([cur, cur])
            try:
                return f(*a, **k)
            finally:
                _, pk2 = tracemalloc.get_traced_memory()
                base, running = stack.pop()
                peak = max(running, pk2)
                peaks[label] = max(peaks.get(label, 0), peak - base)
                if stack:
                    stack[-1][1] = max(stack[-1][1], peak)
                tracemalloc.reset_peak()
        setattr(owner, name, wrapper)

    for label, module, attr in stages:
        owner, name = resolve(module, attr)
        # Names study.py imported are called through its globals.
        if owner is not study_module and getattr(study_module, name, None) is getattr(owner, name):
            owner = study_module
        wrap(label, owner, name)
    wrap("measure() total", study_module, "measure")
    import lesionview.measure as package
    package.measure = study_module.measure    # where Study.measure looks it up
    tracemalloc.start()
    result = run()
    tracemalloc.stop()
    out["peaks"] = peaks
out["lesions"] = len(result.lesions)
out["edema"] = len(result.edema)
out["result_sha256"] = hashlib.sha256(
    result.model_dump_json(exclude={"created_utc"}).encode()).hexdigest()
print(json.dumps(out))
"""


def geometry():
    from lesionview.geometry import Geometry

    return Geometry(SHAPE, SPACING, ORIGIN, DIRECTION)


def cord_y(z):
    """Posterior offset (mm) of the cord centre at height z: a gentle lordosis-like curve."""
    return 12.0 * np.sin(np.asarray(z, float) / 60.0)


def _rows_between(z_hi: float, z_lo: float) -> slice:
    """Array rows (axis 0, going inferior) whose centres may lie between two heights (mm)."""
    return slice(int((ORIGIN[2] - z_hi) / SPACING[0]), int((ORIGIN[2] - z_lo) / SPACING[0]) + 1)


def make_study(folder: Path) -> dict:
    """Write the study's masks and image (.nii.gz) and disc landmarks (discs.csv) into ``folder``;
    returns the voxel counts."""
    folder.mkdir(parents=True, exist_ok=True)
    # The grid is a permutation of LPS: each world coordinate depends on one array axis only.
    z = (ORIGIN[2] - SPACING[0] * np.arange(SHAPE[0]))[:, None, None]
    y = (ORIGIN[1] + SPACING[1] * np.arange(SHAPE[1]))[None, :, None]
    x = (ORIGIN[0] + SPACING[2] * np.arange(SHAPE[2]))[None, None, :]
    dy = y - cord_y(z)
    cord = (x**2 + dy**2) <= CORD_RADIUS_MM**2
    lesions = np.zeros(SHAPE, np.uint8)
    edema = np.zeros(SHAPE, bool)
    z_top = 108.0
    for k, d in enumerate(LESION_DIAMETERS_MM):
        zc = z_top - k * LESION_SPACING_MM
        r_in = max(min(d / 2, 4.0), 1.6)  # across the cord; at least the mid-sagittal slice
        rows = _rows_between(zc + d, zc - d)  # only rows near the lesion: small temporaries
        inside = (x / r_in) ** 2 + ((y - cord_y(zc)) / r_in) ** 2 + ((z[rows] - zc) / (d / 2)) ** 2
        lesions[rows][inside <= 1] = 1
        if k in EDEMA_AROUND:
            half = d / 2 + 6.0
            rows = _rows_between(zc + half, zc - half)
            edema[rows] |= cord[rows] & (np.abs(z[rows] - zc) <= half)  # the cord's whole width
    edema &= lesions == 0
    image = np.full(SHAPE, 50, np.int16)
    image[cord] = 200
    image[edema] = 250
    image[lesions != 0] = 600
    for name, array in [("lesions", lesions), ("edema", edema.astype(np.uint8)), ("cord", cord.astype(np.uint8)),
                        ("image", image)]:
        _write_nifti(array, folder / f"{name}.nii.gz")
    disc_z = z_top + 12.0 - DISC_STEP_MM * np.arange(len(DISC_NAMES))
    (folder / "discs.csv").write_text("name,x,y,z\n" + "".join(
        f"{n},0.0,{float(cord_y(zd))!r},{float(zd)!r}\n" for n, zd in zip(DISC_NAMES, disc_z)))
    return {"lesion_voxels": int(lesions.sum()), "cord_voxels": int(cord.sum()), "edema_voxels": int(edema.sum())}


def _write_nifti(array: np.ndarray, path: Path) -> None:
    """Written as segmentation tools write masks: nibabel, the grid's RAS affine as sform and qform."""
    import nibabel as nib

    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ geometry().affine      # LPS -> RAS
    img = nib.Nifti1Image(array, affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    nib.save(img, str(path))


def _child(mode: str, folder: Path, layout: str, arg="") -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(folder), layout, str(arg)], cwd=_ROOT,
                         check=False, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child ({mode}, {layout} order) failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(name, seconds, *, peak=None, mask_bytes=1, note="", target=None):
    mb = None if peak is None else peak / 2**20
    return {"name": name, "seconds": seconds, "target": target, "peak memory MB": mb,
            "peak / uint8 mask": None if peak is None else peak / mask_bytes,
            "peak / int32 labels": None if peak is None else peak / (4 * mask_bytes),
            "note": note}


def _whole_row(name: str, timing: dict, memory: dict, mask_bytes: int, note: str) -> dict:
    s = sorted(timing["seconds"])
    seconds, per_mask = float(np.median(s)), memory["peak_bytes"] / mask_bytes
    note = (f"median of {len(s)} (min {s[0]:.3f}, max {s[-1]:.3f}); {note}; tracemalloc peak "
            f"{memory['traced_peak_bytes'] / 2**20:.1f} MB"
            + ("" if memory["hwm_reset"] else "; peak not reset before the call (upper bound)"))
    target = (f"< {TARGET_SECONDS:g} s: {'met' if seconds < TARGET_SECONDS else 'NOT met'}; peak < "
              f"{TARGET_PEAK_PER_MASK:g}x mask: {'met' if per_mask < TARGET_PEAK_PER_MASK else 'NOT met'}")
    return _row(name, seconds, peak=memory["peak_bytes"], mask_bytes=mask_bytes, note=note, target=target)


def _stage_rows(stages: dict, mask_bytes: int) -> list[dict]:
    functions, total = stages["functions"], stages["profiled_seconds"]
    by_code = {(f["file"], f["line"], f["name"]): f for f in functions}
    rows = []
    for label, _, _ in STAGES:
        f = by_code.get(tuple(stages["codes"].get(label, ())))
        if f is None:
            continue
        rows.append(_row(f"stage: {label}", f["cumtime"], peak=stages["peaks"].get(label),
                         mask_bytes=mask_bytes,
                         note=f"{f['name']}, {f['calls']} calls, "
                              f"{f['cumtime'] / total:.0%} of the profiled run"))
    if "measure() total" in stages["peaks"]:
        rows.append(_row("tracemalloc peak of measure()", None, mask_bytes=mask_bytes,
                         peak=stages["peaks"]["measure() total"],
                         note="NumPy/SciPy allocations; stage peaks are above their entry level"))
    # The hottest functions by own time, wherever they live (NumPy/SciPy included).
    for f in sorted(functions, key=lambda f: f["tottime"], reverse=True)[:8]:
        path = Path(f["file"])
        where = "builtin" if f["file"] == "~" else f"{path.parent.name}/{path.name}:{f['line']}"
        rows.append(_row(f"hot (own time): {f['name']}", f["tottime"],
                         note=f"{where}, {f['calls']} calls, "
                              f"{f['tottime'] / total:.0%} of the profiled run"))
    return rows


def run(workdir: Path) -> list[dict]:
    folder = Path(workdir) / "study"
    counts = make_study(folder)
    mask_bytes = int(np.prod(SHAPE))  # the uint8 lesion mask
    nifti_t, nifti_m = _child("time", folder, "F", REPEATS), _child("memory", folder, "F")
    c_t, c_m = _child("time", folder, "C", REPEATS), _child("memory", folder, "C")
    stages = _child("stages", folder, "F", json.dumps(STAGES))
    same = c_t["result_sha256"] == nifti_t["result_sha256"]
    order = "Fortran order as loaded" if nifti_t["fortran_ordered"] else "NOT Fortran-ordered as loaded"
    rows = [
        _whole_row("measure() whole study from NIfTI", nifti_t, nifti_m, mask_bytes,
                   f"{nifti_t['lesions']} lesions, {nifti_t['edema']} edema regions; {counts['lesion_voxels']} "
                   f"lesion / {counts['cord_voxels']} cord voxels; arrays in {order}; loading "
                   f"(Study.from_paths) {nifti_t['load_seconds']:.2f} s, not counted"),
        _whole_row("measure() same study, arrays copied to C order", c_t, c_m, mask_bytes,
                   f"{'same' if same else 'DIFFERENT'} result; "
                   f"{np.median(c_t['seconds']) / np.median(nifti_t['seconds']):.2f}x the time from NIfTI"),
    ]
    return rows + _stage_rows(stages, mask_bytes)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lesionview-bench-study-") as tmp:
        start = time.perf_counter()
        table = run(Path(tmp))
    print(f"{SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} study at {SPACING} mm; uint8 lesion mask "
          f"{np.prod(SHAPE) / 2**20:.0f} MB, int32 labels {4 * np.prod(SHAPE) / 2**20:.0f} MB")
    print(" | ".join(table[0]))
    for row in table:
        print(" | ".join(f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))
                         for v in row.values()))
    print(f"(total {time.perf_counter() - start:.0f} s)")
