"""Diameters: speed against pyradiomics and SimpleITK from 10^3 to 10^7 voxels, and bias against analytic ellipsoids.

Speed: one ellipsoid shape (80 x 60 x 50 mm at 10^6 voxels, 0.5 mm isotropic) scaled to 10^3 ...
10^7 voxels (10^3 is a real cord lesion). At each size the same mask goes through lesionview,
pyradiomics ``Maximum3DDiameter`` twice (the full extractor with only that feature enabled, and its
shape feature class ``radiomics.shape.RadiomicsShape`` alone, on the image and mask the extractor
would prepare: cropped to the mask's box) and SimpleITK ``LabelShapeStatisticsImageFilter`` with
``ComputeFeretDiameterOn`` (on a prepared ``sitk.Image``). How it is kept fair:

* every method gets the same repetitions at a size (``REPEATS``: timings of a loop of calls, of
  which the best counts, per call: the least disturbed by a shared machine); each method's first
  call (imports, caches) is made untimed on the smallest lesion;
* inputs are prepared outside the timing for the cores (lesionview takes the NumPy mask it is
  given); only the pyradiomics extractor row times a whole pipeline;
* ratios compare methods measured in the same run, on the same mask;
* each method's growth exponent is the slope of log time on log voxels (least squares over the
  sizes); the targets (``TARGETS``, issue 14) are printed beside the numbers.

``LESIONVIEW_BENCH_MAX_VOXELS`` (default 1e7) caps the sizes: at 10^7 each peer takes about a
minute. The "crossover" rows time the farthest-pair search on sphere shells (the worst case for
its pruning) pairwise and through Qhull: where ``_hull.PAIRWISE_UP_TO`` comes from.

Bias: ellipsoids rasterised by the voxel-centre-inside test at random poses and sub-voxel offsets;
each row is the mean and SD of (measured - analytic) over the poses (``LESIONVIEW_BENCH_POSES``,
default 100).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from lesionview.geometry import Geometry
from lesionview.measure import _hull
from lesionview.measure._hull import diameter_pairs, farthest_candidates
from lesionview.measure._ibsi import mesh_vertex_candidates
from lesionview.measure.diameters import (
    SUPERIOR,
    axial_diameters,
    craniocaudal_length,
    max_diameter,
    max_diameter_ibsi,
)

AXIAL = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float).T      # array axes S, P, L
SAGITTAL = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float).T  # array axes L, I, P
THICK = (3.0, 0.5, 0.5)

#: Sizes of the speed rows (voxels).
SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
#: (calls per timing, timings) at each size, the same for every method.
REPEATS = {10**3: (50, 7), 10**4: (10, 7), 10**5: (1, 5), 10**6: (1, 3), 10**7: (1, 1)}
#: Targets (issue 14): lesionview's IBSI diameter at least this many times faster than pyradiomics' core.
TARGETS = {10**3: 3.0}
IBSI, CORE = "lesionview max_diameter_ibsi", "pyradiomics RadiomicsShape (core)"
COLUMNS = ("case", "method", "result_mm", "seconds", "target", "note")


def ellipsoid(semi, spacing, rng, direction=None, rotation=None, centre=None):
    """Voxel-centre rasterisation of an ellipsoid at a random (or given) pose and sub-voxel offset.

    Returns ``(mask, geometry, rotation, centre)``; shared with ``tests/test_diameters.py``.
    """
    semi, spacing = np.asarray(semi, float), np.asarray(spacing, float)
    d = np.eye(3) if direction is None else np.asarray(direction, float)
    r = Rotation.random(random_state=rng).as_matrix() if rotation is None else rotation
    c = rng.uniform(-0.5, 0.5, 3) * (d @ spacing) if centre is None else np.asarray(centre, float)
    n = (np.ceil(semi.max() / spacing) + 2).astype(int)
    g = Geometry(tuple(2 * n + 1), spacing, -(d @ (n * spacing)), d)
    mask = np.ones(g.shape, bool)
    # Slab by slab to keep memory small for large lesions.
    idx = np.indices(g.shape[1:]).reshape(2, -1).T
    for k in range(g.shape[0]):
        loc = (g.index_to_world(np.column_stack([np.full(len(idx), k), idx])) - c) @ r / semi
        mask[k] = (np.einsum("ij,ij->i", loc, loc) <= 1.0).reshape(g.shape[1:])
    return mask, g, r, c


def axial_truth(semi, rotation, axis):
    """Long and short axes of the central section perpendicular to ``axis``, and the extent along it."""
    a = rotation @ np.diag(1 / np.asarray(semi, float) ** 2) @ rotation.T
    e1 = np.cross(axis, [1.0, 0, 0] if abs(axis[0]) < 0.9 else [0, 1.0, 0])
    e1 /= np.linalg.norm(e1)
    basis = np.stack([e1, np.cross(axis, e1)], axis=1)
    ev = np.linalg.eigvalsh(basis.T @ a @ basis)
    return 2 / np.sqrt(ev.min()), 2 / np.sqrt(ev.max()), 2 * np.sqrt(axis @ np.linalg.inv(a) @ axis)


def _best_time(fn, number: int = 1, repeat: int = 3):
    """``fn()``'s value and its best time per call over ``repeat`` timings of ``number`` calls."""
    best, value = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            value = fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return value, best


def _sitk_mask(mask, spacing):
    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    img.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    return img


def _feret(image):
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.ComputeFeretDiameterOn()
    stats.Execute(image)
    return stats.GetFeretDiameter(1)


def _sitk_feret(mask, spacing):
    return _feret(_sitk_mask(mask, spacing))


def _pyradiomics_inputs(mask, spacing):
    """The image and mask pyradiomics takes (a blank image: shape features read none)."""
    m = _sitk_mask(mask, spacing)
    image = sitk.GetImageFromArray(np.zeros(mask.shape, np.float32))
    image.CopyInformation(m)
    return image, m


def _pyradiomics_max3d(mask, spacing):
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    image, m = _pyradiomics_inputs(mask, spacing)
    extractor = featureextractor.RadiomicsFeatureExtractor()
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(shape=["Maximum3DDiameter"])
    return float(extractor.execute(image, m)["original_shape_Maximum3DDiameter"])


def _pyradiomics_core(mask, spacing):
    """pyradiomics' shape class alone, as a call of nothing on the inputs prepared here."""
    from radiomics import imageoperations, shape

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    image, m = _pyradiomics_inputs(mask, spacing)
    box, _ = imageoperations.checkMask(image, m, label=1)
    image, m = imageoperations.cropToTumorMask(image, m, box)
    return lambda: float(shape.RadiomicsShape(image, m).getMaximum3DDiameterFeatureValue())


def _methods(mask, g) -> dict:
    """Every method at one size, as calls of nothing (inputs prepared here, untimed)."""
    methods = {IBSI: lambda: max_diameter_ibsi(mask, g),
               "lesionview max_diameter": lambda: max_diameter(mask, g),
               "lesionview axial_diameters": lambda: axial_diameters(mask, g).long_mm,
               "lesionview craniocaudal_length": lambda: craniocaudal_length(mask, g)}
    try:
        methods[CORE] = _pyradiomics_core(mask, g.spacing)
        methods["pyradiomics extractor Maximum3DDiameter"] = lambda: _pyradiomics_max3d(mask, g.spacing)
    except ImportError:
        pass
    image = _sitk_mask(mask, g.spacing)
    methods["SimpleITK Feret (voxel centres)"] = lambda: _feret(image)
    return methods


def size_rows() -> list[dict]:
    rng = np.random.default_rng(0)
    cap = float(os.environ.get("LESIONVIEW_BENCH_MAX_VOXELS", "1e7"))
    rows, times = [], {}
    for size in [n for n in SIZES if n <= cap]:
        semi = np.array([40.0, 30.0, 25.0]) * (size / 1.0053e6) ** (1 / 3)   # 1.0053e6 voxels as given
        mask, g, _, _ = ellipsoid(semi, (0.5, 0.5, 0.5), rng)
        case = f"ellipsoid {'x'.join(f'{2 * a:.3g}' for a in semi)} mm, {mask.sum():.2e} voxels"
        number, repeat = REPEATS[size]
        results = {}
        for name, fn in _methods(mask, g).items():
            if size == SIZES[0]:
                fn()                # first call untimed: imports, caches
            results[name] = _best_time(fn, number, repeat)
            times.setdefault(name, []).append((int(mask.sum()), results[name][1]))
        rows += _size_rows(case, size, results, f"best of {repeat} timings of {number} call(s)")
    for name, points in times.items():
        if len(points) > 1:
            slope = np.polyfit(*np.log(np.array(points, float)).T, 1)[0]
            rows.append({"case": f"growth, {len(points)} sizes", "method": name,
                         "note": f"time ~ voxels^{slope:.2f} (least squares of log time on log voxels)"})
    return rows


def _size_rows(case: str, size: int, results: dict, how: str) -> list[dict]:
    """One size's rows: lesionview against the peers of the same run, and the target if any."""
    ours, t_ours = results[IBSI]
    peers = {n: v for n, v in results.items() if not n.startswith("lesionview")}
    rows = []
    for name, (value, t) in results.items():
        row = {"case": case, "method": name, "result_mm": value, "seconds": t, "note": how}
        if name == IBSI:
            row["note"] += "; peers' time / lesionview's: " + ", ".join(
                f"{n.split(' (')[0]} {tp / t_ours:.1f}x" for n, (_, tp) in peers.items())
            if size in TARGETS and CORE in results:
                ratio = results[CORE][1] / t_ours
                row["target"] = (f">= {TARGETS[size]:g}x pyradiomics core: {ratio:.1f}x, "
                                 f"{'met' if ratio >= TARGETS[size] else 'NOT met'}")
        elif name in peers:
            row["note"] += f"; differs from lesionview IBSI by {abs(value - ours):.1e} mm"
        rows.append(row)
    return rows


def other_rows() -> list[dict]:
    """Thick sagittal slices, and a sphere whose farthest centres tie in dozens of directions."""
    rng = np.random.default_rng(1)
    mask_s, g_s, _, _ = ellipsoid((40.0, 30.0, 25.0), THICK, rng, SAGITTAL)
    mask_t, g_t, _, _ = ellipsoid((31.0, 31.0, 31.0), (0.5, 0.5, 0.5), rng, centre=np.zeros(3))
    rows = []
    for case, mask, g in [(f"80x60x50 mm, sagittal 0.5x0.5x3 mm, {mask_s.sum():.2e} voxels", mask_s, g_s),
                          (f"sphere 62 mm on a voxel centre, 0.5 mm iso, {mask_t.sum():.2e} voxels (tied pairs)",
                           mask_t, g_t)]:
        for name, fn in [(IBSI, max_diameter_ibsi), ("lesionview max_diameter", max_diameter),
                         ("lesionview axial_diameters", _axial_long)]:
            value, t = _best_time(partial(fn, mask, g), 1, 3)
            rows.append({"case": case, "method": name, "result_mm": value, "seconds": t,
                         "note": "best of 3 timings of 1 call"})
    return rows


def crossover_rows() -> list[dict]:
    """The farthest-pair search on the points left after pruning, pairwise and through Qhull."""
    rng = np.random.default_rng(2)
    rows = []
    for radius in (8, 10, 11, 13, 25):
        mask, _, _, _ = ellipsoid((radius,) * 3, (1.0, 1.0, 1.0), rng)
        left = farthest_candidates(mesh_vertex_candidates(mask).astype(float))[0]
        case = f"sphere shell, R {radius} mm at 1 mm: {len(left)} points left by the pruning"
        for name, up_to in [("pairwise", 10**9), ("Qhull first", 0)]:
            with _pairwise_up_to(up_to):
                value, t = _best_time(partial(_farthest, left), 5, 5)
            rows.append({"case": case, "method": f"crossover: {name}", "result_mm": value, "seconds": t,
                         "note": f"best of 5 timings of 5 calls; pairwise up to {_hull.PAIRWISE_UP_TO} points"})
    return rows


def _axial_long(mask, g):
    return axial_diameters(mask, g).long_mm


def _farthest(points):
    return diameter_pairs(points)[0]


@contextmanager
def _pairwise_up_to(value: int):
    saved = _hull.PAIRWISE_UP_TO
    _hull.PAIRWISE_UP_TO = value
    try:
        yield
    finally:
        _hull.PAIRWISE_UP_TO = saved


def _stat(errors) -> str:
    e = np.asarray(errors)
    return f"bias {e.mean():+.2f} +- {e.std():.2f}"


def bias_rows(poses: int) -> list[dict]:
    rows = []
    only = os.environ.get("LESIONVIEW_BENCH_CASES")     # e.g. "0,1,2" to rerun some rows
    cases = [
        ((5.5, 4, 3), THICK, None, "11x8x6 ellipsoid"),
        ((5.5, 5.5, 5.5), THICK, None, "11 mm sphere"),
        ((1.5, 1.5, 1.5), THICK, None, "3 mm sphere"),
        ((5.5, 4, 3), (1, 1, 1), None, "11x8x6 ellipsoid"),
        ((5.5, 4, 3), (0.5, 0.5, 0.5), None, "11x8x6 ellipsoid"),
        ((5.5, 5.5, 5.5), (0.5, 0.5, 0.5), None, "11 mm sphere"),
        ((3, 2, 1.5), (1, 1, 1), None, "6x4x3 ellipsoid"),
        ((15, 4, 3), (1, 1, 1), None, "30x8x6 pointed ellipsoid"),
        ((15, 4, 3), THICK, None, "30x8x6 pointed ellipsoid"),
        ((15, 4, 3), THICK, "cord", "30x8x6 along S-I (+-15 deg), sagittal"),
        ((1.5, 1.5, 1.5), (1, 1, 1), None, "3 mm sphere"),     # under 20 voxels: every rule overestimates
    ]
    for i, (semi, spacing, pose, label) in enumerate(cases):
        if only and str(i) not in only.split(","):
            continue
        rng = np.random.default_rng(1)
        errs = {"max_diameter": [], "max_diameter_ibsi": [], "SimpleITK Feret (centres)": []}
        funcs = {"max_diameter": max_diameter, "max_diameter_ibsi": max_diameter_ibsi,
                 "SimpleITK Feret (centres)": lambda m, g: _sitk_feret(m, g.spacing)}
        seconds = dict.fromkeys(errs, 0.0)
        for _ in range(poses):
            if pose == "cord":
                # Long axis near superior: x of the ellipsoid frame -> S, small random tilt.
                base = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float).T
                tilt = Rotation.from_rotvec(rng.normal(0, np.radians(15) / np.sqrt(2), 3) * [1, 1, 0])
                m, g, _, _ = ellipsoid(semi, spacing, rng, SAGITTAL, tilt.as_matrix() @ base)
            else:
                m, g, _, _ = ellipsoid(semi, spacing, rng)
            truth = 2 * max(semi)
            for method, fn in funcs.items():
                t0 = time.perf_counter()
                errs[method].append(fn(m, g) - truth)
                seconds[method] += (time.perf_counter() - t0) / poses
        sp = "x".join(f"{s:g}" for s in spacing)
        for method, e in errs.items():
            rows.append({"case": f"{label}, {sp} mm, {poses} poses", "method": method, "result_mm": _stat(e),
                             "seconds": seconds[method], "note": "seconds: mean per pose"})
    rows += axial_bias_rows(poses)
    return rows


def axial_bias_rows(poses: int) -> list[dict]:
    rows = []
    sup = np.array(SUPERIOR)
    oblique = np.array([0.2, 0.3, 0.93]) / np.linalg.norm([0.2, 0.3, 0.93])
    for grid, spacing, axis, label in [
        (None, (1, 1, 1), sup, "1 mm iso"),
        (AXIAL, THICK, sup, "axial 0.5x0.5x3"),
        (SAGITTAL, THICK, sup, "sagittal 0.5x0.5x3"),
        (SAGITTAL, THICK, oblique, "sagittal 0.5x0.5x3, oblique cord axis"),
    ]:
        rng = np.random.default_rng(5)
        long_e, short_e, cc_e, t = [], [], [], 0.0
        unc = None
        for _ in range(poses):
            m, g, r, _ = ellipsoid((5.5, 4, 3), spacing, rng, grid)
            t0 = time.perf_counter()
            a = axial_diameters(m, g, axis=axis)
            t += time.perf_counter() - t0
            unc = a.uncertainty_mm
            tl, ts, tc = axial_truth((5.5, 4, 3), r, axis)
            long_e.append(a.long_mm - tl)
            short_e.append(a.short_mm - ts)
            cc_e.append(craniocaudal_length(m, g, axis=axis) - tc)
        case = f"11x8x6 ellipsoid, {label}, {poses} poses"
        note = f"uncertainty_mm={unc}"
        rows.append({"case": case, "method": "axial long", "result_mm": _stat(long_e), "seconds": t / poses, "note": note})
        rows.append({"case": case, "method": "axial short", "result_mm": _stat(short_e), "seconds": None, "note": note})
        rows.append({"case": case, "method": "craniocaudal_length", "result_mm": _stat(cc_e), "seconds": None, "note": ""})
    return rows


def run(workdir: Path) -> list[dict]:
    poses = int(os.environ.get("LESIONVIEW_BENCH_POSES", "100"))
    rows = size_rows() + other_rows() + crossover_rows() + bias_rows(poses)
    return [{c: row.get(c) for c in COLUMNS} for row in rows]
