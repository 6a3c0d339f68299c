"""Diameters: speed against pyradiomics and SimpleITK on a 10^6-voxel lesion, and bias against analytic ellipsoids.

Speed: the same mask through lesionview, pyradiomics ``Maximum3DDiameter`` (shape extractor with
only that feature enabled, its mesh included) and SimpleITK ``LabelShapeStatisticsImageFilter``
with ``ComputeFeretDiameterOn``. Bias: ellipsoids rasterised by the voxel-centre-inside test at
random poses and sub-voxel offsets; each row is the mean and SD of (measured - analytic) over the
poses (``LESIONVIEW_BENCH_POSES``, default 100).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from lesionview.geometry import Geometry
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


def _timed(fn, repeat=1):
    best, value = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return value, best


def _sitk_mask(mask, spacing):
    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    img.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    return img


def _sitk_feret(mask, spacing):
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.ComputeFeretDiameterOn()
    stats.Execute(_sitk_mask(mask, spacing))
    return stats.GetFeretDiameter(1)


def _pyradiomics_max3d(mask, spacing):
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    m = _sitk_mask(mask, spacing)
    image = sitk.GetImageFromArray(np.zeros(mask.shape, np.float32))
    image.CopyInformation(m)
    extractor = featureextractor.RadiomicsFeatureExtractor()
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(shape=["Maximum3DDiameter"])
    return float(extractor.execute(image, m)["original_shape_Maximum3DDiameter"])


def speed_rows() -> list[dict]:
    rng = np.random.default_rng(0)
    semi, spacing = (40.0, 30.0, 25.0), (0.5, 0.5, 0.5)
    mask, g, _, _ = ellipsoid(semi, spacing, rng)
    case = f"ellipsoid {2 * semi[0]:g}x{2 * semi[1]:g}x{2 * semi[2]:g} mm, 0.5 mm iso, {mask.sum():.2e} voxels"
    ours, t_ours = _timed(lambda: max_diameter_ibsi(mask, g), repeat=3)
    rows = [{"case": case, "method": "lesionview max_diameter_ibsi", "result_mm": ours, "seconds": t_ours, "note": ""}]
    try:
        import radiomics  # noqa: F401
        pyr, t_pyr = _timed(lambda: _pyradiomics_max3d(mask, g.spacing))
        rows.append({"case": case, "method": "pyradiomics Maximum3DDiameter", "result_mm": pyr, "seconds": t_pyr,
                         "note": f"lesionview {t_pyr / t_ours:.0f}x faster; |diff| {abs(pyr - ours):.1e} mm"})
    except ImportError:
        rows.append({"case": case, "method": "pyradiomics Maximum3DDiameter", "note": "pyradiomics not installed"})
    fer, t_fer = _timed(lambda: _sitk_feret(mask, g.spacing))
    rows.append({"case": case, "method": "SimpleITK Feret (voxel centres)", "result_mm": fer, "seconds": t_fer,
                     "note": f"lesionview {t_fer / t_ours:.0f}x faster"})
    for name, fn in [("lesionview max_diameter", lambda: max_diameter(mask, g)),
                     ("lesionview axial_diameters", lambda: axial_diameters(mask, g).long_mm),
                     ("lesionview craniocaudal_length", lambda: craniocaudal_length(mask, g))]:
        value, t = _timed(fn, repeat=3)
        rows.append({"case": case, "method": name, "result_mm": value, "seconds": t, "note": ""})
    # The same lesion stored sagittally on 0.5 x 0.5 x 3 mm voxels (a third of the voxels).
    mask_s, g_s, _, _ = ellipsoid(semi, THICK, rng, SAGITTAL)
    case_s = f"same, sagittal 0.5x0.5x3 mm, {mask_s.sum():.2e} voxels"
    for name, fn in [("lesionview max_diameter_ibsi", lambda: max_diameter_ibsi(mask_s, g_s)),
                     ("lesionview max_diameter", lambda: max_diameter(mask_s, g_s)),
                     ("lesionview axial_diameters", lambda: axial_diameters(mask_s, g_s).long_mm)]:
        value, t = _timed(fn, repeat=3)
        rows.append({"case": case_s, "method": name, "result_mm": value, "seconds": t, "note": ""})
    # A sphere centred on a voxel: its farthest centres tie in dozens of directions.
    mask_t, g_t, _, _ = ellipsoid((31.0, 31.0, 31.0), (0.5, 0.5, 0.5), rng, centre=np.zeros(3))
    case_t = f"sphere 62 mm on a voxel centre, 0.5 mm iso, {mask_t.sum():.2e} voxels (tied pairs)"
    for name, fn in [("lesionview max_diameter_ibsi", lambda: max_diameter_ibsi(mask_t, g_t)),
                     ("lesionview max_diameter", lambda: max_diameter(mask_t, g_t))]:
        value, t = _timed(fn, repeat=3)
        rows.append({"case": case_t, "method": name, "result_mm": value, "seconds": t, "note": ""})
    return rows


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
    return speed_rows() + bias_rows(poses)
