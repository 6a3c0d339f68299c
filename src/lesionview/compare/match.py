"""Match the lesions of two consecutive timepoints and say what became of each.

Matching
--------
After alignment (:mod:`.align`) every later lesion centroid is carried into the earlier frame and
the earlier label map is resampled (nearest neighbour) onto the later grid. A pair (earlier i,
later j) may match when its centroids are within ``max_distance_mm`` (default
:data:`MAX_DISTANCE_MM`) or when the aligned masks overlap; its cost is
``distance / max_distance_mm + (1 - Dice)``, and the pairs are chosen by optimal assignment
(``scipy.optimize.linear_sum_assignment``), which never gives one lesion to two.

With the level-coordinate fallback (no rigid alignment), positions are the 1-D level coordinate,
the distance is its difference times the earlier study's mean vertebral height, and there is no
overlap, so merges and splits cannot be seen.

Classes (per interval)
----------------------
* **new**: a later lesion matched to none; **resolved**: an earlier lesion matched to none.
* **merged**: an unmatched earlier lesion whose aligned mask overlaps a matched later lesion by
  at least ``overlap_fraction`` of the smaller of the two (it merged into that one);
  **split**: the same for an unmatched later lesion and a matched earlier one.
* **persistent**, by the change of the maximum 3D diameter (``max_diameter_mm``): **grown** when it
  rose by more than ``stable_percent`` (default 20 %, RANO's progression threshold) *and* by
  more than the measurement uncertainty: the largest of the two ``axial_uncertainty_mm`` (thick
  slices across the diameter), the largest voxel spacing of the two studies (a diameter measured
  on voxels can gain or lose about one voxel between scans) and ``min_change_mm`` (default 1 mm);
  **shrunk** likewise downwards;
  **stable** otherwise. The 3D diameter, not RANO-BM's axial LD, because an intramedullary lesion is
  held in the cord's width and grows mostly along the cord: its axial diameter saturates at a few
  millimetres while it doubles in length. The axial LD change and the volume change are reported
  but do not decide the class (the response uses the LD, :mod:`.response`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from ..measure.components import label_regions
from ..measure.models import Lesion, StudyMeasurements
from ..resample import to_sitk
from .align import AlignResult, level_coordinate

#: Largest centroid distance (mm) after alignment for two lesions to be the same one without
#: overlapping: about one lesion diameter; the seed's twin lesions are 10 mm apart centre to centre.
MAX_DISTANCE_MM = 10.0
#: Per-lesion growth or shrinkage below this (percent of the earlier LD) is "stable" (RANO's 20 %).
STABLE_PERCENT = 20.0
#: Diameter changes below this (mm) are within measurement uncertainty whatever the percentage.
MIN_CHANGE_MM = 1.0
#: Overlap (fraction of the smaller lesion) that makes an unmatched lesion a merge or split partner.
OVERLAP_FRACTION = 0.1


@dataclass(frozen=True, eq=False)
class LesionSet:
    """One timepoint's lesions: measurements and a label map whose values are the measurement ids."""

    measurements: StudyMeasurements
    labels: np.ndarray | None
    geometry: object | None
    levels: object | None

    @property
    def by_id(self) -> dict[int, Lesion]:
        return {les.id: les for les in self.measurements.lesions}

    def centroids(self, ids) -> np.ndarray:
        by = self.by_id
        return np.array([by[i].centroid_lps_mm for i in ids], float).reshape(-1, 3)


def lesion_set(study, measurements: StudyMeasurements) -> LesionSet:
    """Label ``study.lesions`` so that each value is the id the measurement gave that lesion."""
    if study.lesions is None or not measurements.lesions:
        return LesionSet(measurements, None, None, study.levels)
    labels, _ = label_regions(np.asarray(study.lesions.array), connectivity=measurements.parameters.connectivity,
                              kind=measurements.parameters.mask_kind if measurements.parameters.mask_kind in
                              ("binary", "labels") else "auto")
    values = np.unique(labels[labels != 0])
    geom = study.lesions.geometry
    centres = geom.index_to_world(np.array(ndimage.center_of_mass(labels != 0, labels, values)).reshape(-1, 3))
    ids = np.array([les.id for les in measurements.lesions])
    known = np.array([les.centroid_lps_mm for les in measurements.lesions], float)
    # measure() renumbers regions superior to inferior; its centroids tell which region is which.
    nearest = ids[np.argmin(np.linalg.norm(centres[:, None] - known[None], axis=2), axis=1)]
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[values.astype(np.int64)] = nearest
    return LesionSet(measurements, lut[labels], geom, study.levels)


@dataclass
class IntervalMatch:
    pairs: list[tuple[int, int, float | None, float | None]] = field(default_factory=list)  # e, l, mm, dice
    merged: list[tuple[int, int]] = field(default_factory=list)   # (earlier id, later id it merged into)
    split: list[tuple[int, int]] = field(default_factory=list)    # (later id, earlier id it split from)
    new: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)


def match_interval(earlier: LesionSet, later: LesionSet, alignment: AlignResult, *,
                   max_distance_mm: float = MAX_DISTANCE_MM,
                   overlap_fraction: float = OVERLAP_FRACTION) -> IntervalMatch:
    """Pairs, merges, splits, new and resolved lesions of one interval (ids of each study's measurements)."""
    e_ids = [les.id for les in earlier.measurements.lesions]
    l_ids = [les.id for les in later.measurements.lesions]
    out = IntervalMatch()
    if not e_ids or not l_ids:
        out.new, out.resolved = list(l_ids), list(e_ids)
        return out
    overlap = np.zeros((len(e_ids), len(l_ids)))   # intersection volume, mm3
    if alignment.rigid is not None:
        dist = np.linalg.norm(alignment.rigid.apply(later.centroids(l_ids))[None] - earlier.centroids(e_ids)[:, None],
                              axis=2)
        overlap = _overlap(earlier, later, alignment, e_ids, l_ids)
    else:
        ce = level_coordinate(earlier.levels, earlier.centroids(e_ids))
        cl = level_coordinate(later.levels, later.centroids(l_ids))
        dist = np.abs(ce[:, None] - cl[None]) * _level_height_mm(earlier.levels)
    ve = np.array([earlier.by_id[i].volume_mm3 for i in e_ids])[:, None]
    vl = np.array([later.by_id[j].volume_mm3 for j in l_ids])[None]
    dice = 2 * overlap / np.maximum(ve + vl, 1e-9)
    allowed = (dist <= max_distance_mm) | (overlap > 0)
    cost = np.where(allowed, dist / max_distance_mm + (1 - dice), 1e6)
    rows, cols = linear_sum_assignment(cost)
    matched_e, matched_l = set(), set()
    for r, c in zip(rows, cols):
        if allowed[r, c]:
            out.pairs.append((e_ids[r], l_ids[c], float(dist[r, c]),
                              None if alignment.rigid is None else float(min(dice[r, c], 1.0))))
            matched_e.add(r)
            matched_l.add(c)
    share = overlap / np.maximum(np.minimum(ve, vl), 1e-9)
    for r in range(len(e_ids)):
        if r in matched_e:
            continue
        partners = [c for c in matched_l if share[r, c] >= overlap_fraction]
        if partners:
            out.merged.append((e_ids[r], l_ids[max(partners, key=lambda c: share[r, c])]))
        else:
            out.resolved.append(e_ids[r])
    for c in range(len(l_ids)):
        if c in matched_l:
            continue
        partners = [r for r in matched_e if share[r, c] >= overlap_fraction]
        if partners:
            out.split.append((l_ids[c], e_ids[max(partners, key=lambda r: share[r, c])]))
        else:
            out.new.append(l_ids[c])
    return out


def persistent_class(before: Lesion, after: Lesion, *, stable_percent: float = STABLE_PERCENT,
                     min_change_mm: float = MIN_CHANGE_MM, voxel_mm: float = 0.0) -> str:
    """"grown", "shrunk" or "stable" from the maximum 3D diameters (see the module docstring);
    ``voxel_mm`` is the largest voxel spacing of the two studies."""
    change = after.max_diameter_mm - before.max_diameter_mm
    uncertainty = max(before.axial_uncertainty_mm or 0.0, after.axial_uncertainty_mm or 0.0, min_change_mm,
                      voxel_mm)
    percent = 100.0 * change / before.max_diameter_mm if before.max_diameter_mm > 0 else np.inf * np.sign(change)
    if abs(change) <= uncertainty or abs(percent) <= stable_percent:
        return "stable"
    return "grown" if change > 0 else "shrunk"


def _overlap(earlier: LesionSet, later: LesionSet, alignment: AlignResult, e_ids, l_ids) -> np.ndarray:
    """Intersection volume (mm3, on the later grid) of each aligned earlier lesion with each later one."""
    out = np.zeros((len(e_ids), len(l_ids)))
    if earlier.labels is None or later.labels is None:
        return out
    ref = sitk.Image(*reversed(later.geometry.shape), sitk.sitkUInt8)
    probe = to_sitk(np.zeros((1, 1, 1), np.uint8), later.geometry)
    ref.SetSpacing(probe.GetSpacing())
    ref.SetOrigin(probe.GetOrigin())
    ref.SetDirection(probe.GetDirection())
    moved = sitk.Resample(to_sitk(earlier.labels.astype(np.int32), earlier.geometry), ref,
                          alignment.rigid.to_sitk(), sitk.sitkNearestNeighbor, 0, sitk.sitkInt32)
    moved = sitk.GetArrayFromImage(moved)
    both = (moved != 0) & (later.labels != 0)
    if not both.any():
        return out
    e_row = {i: k for k, i in enumerate(e_ids)}
    l_col = {j: k for k, j in enumerate(l_ids)}
    pairs, counts = np.unique(np.stack([moved[both], later.labels[both]]), axis=1, return_counts=True)
    for (i, j), n in zip(pairs.T, counts):
        if int(i) in e_row and int(j) in l_col:
            out[e_row[int(i)], l_col[int(j)]] = n * later.geometry.voxel_volume
    return out


def _level_height_mm(levels) -> float:
    pts = levels.disc_points
    return float(np.mean(np.linalg.norm(np.diff(pts, axis=0), axis=1))) if len(pts) >= 2 else 15.0
