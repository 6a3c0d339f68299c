"""Ground truth of a case, computed from the analytic shapes (never from voxels)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.spatial import cKDTree

from . import spine
from .cases import Case, Lesion, get_case
from .levels import VertebralLevels

LEVEL_BODY_NOTE = ("C1 has no body: its row is the centre of the anterior arch. C0/C1 (foramen magnum, "
                   "atlanto-occipital joint) and C1/C2 (atlanto-axial joint) are level boundaries without a disc.")


def _section(lesion: Lesion, normal) -> tuple[float, float]:
    """Long and short diameters (mm) of the ellipsoid's central section perpendicular to ``normal``."""
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    helper = np.array([1.0, 0, 0]) if abs(n[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(n, helper)
    u /= np.linalg.norm(u)
    basis = np.stack([u, np.cross(n, u)], axis=1)
    semi = 1 / np.sqrt(np.linalg.eigvalsh(basis.T @ lesion.quadric() @ basis))
    return float(2 * semi.max()), float(2 * semi.min())


def surface_gap(a: Lesion, b: Lesion) -> float:
    """Shortest distance between the surfaces of two disjoint ellipsoids (mm), numerically."""
    pa, pb = a.surface(96), b.surface(96)
    dist, j = cKDTree(pb).query(pa)
    i = int(np.argmin(dist))

    def point(lesion, v):
        u = v / np.linalg.norm(v)
        return lesion.centre + lesion.axes @ (np.asarray(lesion.semi_axes) * u)

    def to_unit(lesion, p):
        u = lesion.axes.T @ (p - lesion.centre) / np.asarray(lesion.semi_axes)
        return u / np.linalg.norm(u)

    x0 = np.concatenate([to_unit(a, pa[i]), to_unit(b, pb[j[i]])])
    res = minimize(lambda v: np.sum((point(a, v[:3]) - point(b, v[3:])) ** 2), x0, method="BFGS",
                   options={"gtol": 1e-12})
    return float(np.sqrt(min(res.fun, dist[i] ** 2)))


def lesion_truth(lesion: Lesion, index: int, levels: VertebralLevels) -> dict:
    semi = [float(v) for v in lesion.semi_axes]
    tangent = lesion.axes[:, 0]
    long_, short = 2 * max(semi[1:]), 2 * min(semi[1:])
    z_long, z_short = _section(lesion, [0, 0, 1.0])
    z_extent = float(2 * np.sqrt(np.linalg.inv(lesion.quadric())[2, 2]))
    return {
        "id": index,
        "centre_lps_mm": [round(float(v), 4) for v in lesion.centre],
        "semi_axes_mm": {"craniocaudal": semi[0], "anteroposterior": semi[1], "left_right": semi[2]},
        "axes_lps": {"craniocaudal": lesion.axes[:, 0].round(6).tolist(),
                     "anteroposterior": lesion.axes[:, 1].round(6).tolist(),
                     "left_right": lesion.axes[:, 2].round(6).tolist()},
        "max_diameter_mm": float(2 * max(semi)),
        "volume_mm3": round(float(4 / 3 * np.pi * np.prod(semi)), 3),
        "axial_long_diameter_mm": long_,
        "axial_perpendicular_diameter_mm": short,
        "axial_note": "axial = plane perpendicular to the cord centreline at the lesion centre",
        "true_axial_long_diameter_mm": round(z_long, 4),
        "true_axial_perpendicular_diameter_mm": round(z_short, 4),
        "craniocaudal_length_mm": 2 * semi[0],
        "z_extent_mm": round(z_extent, 4),
        "levels": levels.span(lesion.surface(64)),
        "cord_tangent_lps": tangent.round(6).tolist(),
    }


def case_truth(case: str | Case, spacing=None) -> dict:
    """Everything a measurement of ``case`` should find, as a JSON-ready dict."""
    case = get_case(case)
    levels = VertebralLevels.phantom()
    lesions = [lesion_truth(lesion, i, levels) for i, lesion in enumerate(case.lesions, start=1)]
    ends = spine.centreline_point(np.array([case.edema.top, case.edema.bottom]))
    edema_levels = levels.span(ends)
    truth = {
        "case": case.name,
        "title": case.title,
        "coordinate_convention": "LPS, mm (DICOM patient coordinates: +x left, +y posterior, +z superior)",
        "lesions": lesions,
        "lesion_count": len(lesions),
        "multiplicity": case.multiplicity,
        "edema": {
            "levels": edema_levels,
            "level_count": levels.count(edema_levels),
            "longitudinally_extensive": levels.count(edema_levels) >= 3,
            "length_along_cord_mm": case.edema.bottom - case.edema.top,
            "top_lps_mm": ends[0].round(4).tolist(),
            "bottom_lps_mm": ends[1].round(4).tolist(),
            "note": "T2-hyperintense cord signal; confined to the cord; the lesions lie inside it",
        },
        "level_rule": "a point's level is the one whose two boundary planes (through each disc centre, "
                      "perpendicular to the cord centreline) enclose it; see landmarks.json 'planes'",
    }
    if len(case.lesions) == 2:
        truth["gap_between_lesion_surfaces_mm"] = round(surface_gap(*case.lesions), 4)
    if spacing is not None:
        truth["voxel_spacing_mm"] = {"slice": spacing[0], "row": spacing[1], "column": spacing[2]}
    return truth


def landmarks() -> list[dict]:
    """Vertebral-body centres, disc centres and the cord centreline point of each level boundary."""
    rows = [{"name": "C1", "position": spine.spine_point(spine.C1_MIDDLE, 21.5, 0.0), "kind": "body"}]
    rows += [{"name": v.name, "position": spine.body_centre(v), "kind": "body"}
             for v in spine.VERTEBRAE if v.name != "T3"]
    depth = {v.name: v.depth for v in spine.VERTEBRAE}
    for name, s in spine.BOUNDARIES:
        upper, lower = name.split("/")
        if name == "C0/C1":
            a = 12.0
        elif name == "C1/C2":
            a = spine.BODY_BACK + depth["C2"] / 2
        else:
            a = spine.BODY_BACK + (depth[upper] + depth[lower]) / 4
        rows.append({"name": name, "position": spine.spine_point(s, a, 0.0), "kind": "disc"})
    for name, s in spine.BOUNDARIES:
        rows.append({"name": name, "position": spine.centreline_point(s), "kind": "cord"})
    for r in rows:
        r["position"] = [round(float(v), 4) for v in r["position"]]
    return rows
