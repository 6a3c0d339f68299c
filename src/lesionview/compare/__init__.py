"""Compare one patient's studies over time: alignment, lesion matching, per-lesion change, response.

:func:`compare` orders the studies by study date, aligns each interval (consecutive timepoints,
:mod:`.align`), matches its lesions (:mod:`.match`), gives every lesion a patient-level id that
stays the same across time ("L1", "L2", ... superior to inferior at baseline, then in order of
appearance) and computes the RANO-BM response at each timepoint (:mod:`.response`). No response
criteria are published specifically for intramedullary spinal metastases, so this follows RANO-BM.

Examples
--------
>>> from lesionview.compare import compare                        # doctest: +SKIP
>>> result = compare([study_t0, study_t1])                        # doctest: +SKIP
>>> result.responses[1].response                                  # doctest: +SKIP
<ResponseClass.PR: 'partial response'>
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..measure.models import StudyMeasurements
from .align import MAX_RESIDUAL_MM, align_pair, level_coordinate
from .match import (
    MAX_DISTANCE_MM,
    MIN_CHANGE_MM,
    OVERLAP_FRACTION,
    STABLE_PERCENT,
    lesion_set,
    match_interval,
)
from .match import persistent_class as _persistent
from .models import (
    Alignment,
    ChangeClass,
    CompareParameters,
    Comparison,
    Interval,
    LesionChange,
    Observation,
    PatientLesion,
    Timepoint,
)
from .response import choose_targets, edema_extent, is_measurable, responses
from .tabular import write_csv


def compare(studies: Sequence, *, measurements: Sequence[StudyMeasurements] | None = None,
            max_distance_mm: float = MAX_DISTANCE_MM, max_residual_mm: float = MAX_RESIDUAL_MM,
            stable_percent: float = STABLE_PERCENT, min_change_mm: float = MIN_CHANGE_MM,
            overlap_fraction: float = OVERLAP_FRACTION, register: bool = True) -> Comparison:
    """Compare two or more studies of one patient.

    Parameters
    ----------
    studies : sequence of lesionview.study.Study
        Ordered by ``study_date`` (then as given); needs each study's lesion mask, and for alignment
        its images, cord mask and/or levels.
    measurements : sequence of StudyMeasurements, optional
        Each study's ``measure()`` result, in the order given, when already computed.
    max_distance_mm, max_residual_mm, stable_percent, min_change_mm, overlap_fraction : float
        See :mod:`lesionview.compare.match` and :mod:`lesionview.compare.align`.
    register : bool
        False skips the image registration (landmark fit or level coordinate only).

    Returns
    -------
    Comparison
    """
    studies = list(studies)
    if len(studies) < 2:
        raise InputError(f"a comparison needs two or more studies, got {len(studies)}.",
                         hint="Give every study of the patient to compare, e.g. the baseline and a follow-up.")
    if measurements is not None and len(measurements) != len(studies):
        raise ValueError(f"{len(measurements)} measurements for {len(studies)} studies")
    warnings = []
    order = list(range(len(studies)))
    if all(s.study_date for s in studies):
        order.sort(key=lambda i: studies[i].study_date)
    elif any(s.study_date for s in studies):
        warnings.append("some studies have no study date: kept in the order given")
    studies = [studies[i] for i in order]
    meas = [measurements[i] for i in order] if measurements is not None else [s.measure() for s in studies]
    labels = _labels(studies)
    patients = {s.patient_id for s in studies if s.patient_id}
    if len(patients) > 1:
        warnings.append(f"the studies carry different patient ids: {', '.join(sorted(patients))}")
    sets = [lesion_set(s, m) for s, m in zip(studies, meas)]

    ids: list[dict[int, str]] = [{les.id: f"L{k}" for k, les in enumerate(meas[0].lesions, start=1)}]
    counter = len(ids[0])
    fragments: dict[str, str] = {}
    alignments, intervals, new_at, tracked = [], [], [[]], [True]
    for t in range(1, len(studies)):
        al = align_pair(studies[t - 1], studies[t], max_residual_mm=max_residual_mm, register=register)
        alignments.append(_alignment_model(labels[t - 1], labels[t], al))
        prev, cur = sets[t - 1], sets[t]
        here: dict[int, str] = {}
        changes: list[LesionChange] = []

        def fresh() -> str:
            nonlocal counter
            counter += 1
            return f"L{counter}"

        if not al.accepted:
            changes += [LesionChange(lesion=ids[t - 1][i], change=ChangeClass.NOT_MATCHED, earlier_lesion_id=i)
                        for i in ids[t - 1]]
            for les in meas[t].lesions:
                here[les.id] = fresh()
                changes.append(LesionChange(lesion=here[les.id], change=ChangeClass.NOT_MATCHED,
                                            later_lesion_id=les.id))
            new_at.append([])
        else:
            m = match_interval(prev, cur, al, max_distance_mm=max_distance_mm, overlap_fraction=overlap_fraction)
            for e, lat, dist, dice in m.pairs:
                here[lat] = ids[t - 1][e]
                before, after = prev.by_id[e], cur.by_id[lat]
                cls = _persistent(before, after, stable_percent=stable_percent, min_change_mm=min_change_mm,
                                  voxel_mm=max(*meas[t - 1].voxel_spacing_mm, *meas[t].voxel_spacing_mm))
                changes.append(_change(here[lat], ChangeClass(cls), before, after, dist, dice))
            for lat, e in m.split:
                here[lat] = fresh()
                fragments[here[lat]] = fragments.get(ids[t - 1][e], ids[t - 1][e])
                changes.append(_change(here[lat], ChangeClass.SPLIT, prev.by_id[e], cur.by_id[lat], None, None,
                                       related=[ids[t - 1][e]]))
            for e, lat in m.merged:
                changes.append(LesionChange(lesion=ids[t - 1][e], change=ChangeClass.MERGED, earlier_lesion_id=e,
                                            later_lesion_id=lat, related=[here[lat]]))
            for e in m.resolved:
                changes.append(LesionChange(lesion=ids[t - 1][e], change=ChangeClass.RESOLVED, earlier_lesion_id=e))
            for lat in sorted(m.new):
                here[lat] = fresh()
                changes.append(LesionChange(lesion=here[lat], change=ChangeClass.NEW, later_lesion_id=lat))
            new_at.append(sorted((here[lat] for lat in m.new), key=lambda p: int(p[1:])))
        ids.append(here)
        tracked.append(tracked[-1] and al.accepted)
        intervals.append(Interval(earlier=labels[t - 1], later=labels[t], accepted=al.accepted,
                                  changes=sorted(changes, key=lambda c: int(c.lesion[1:]))))

    tracks: dict[str, dict] = {}
    for t, mapping in enumerate(ids):
        for lid, pid in mapping.items():
            tracks.setdefault(pid, {})[t] = sets[t].by_id[lid]
    targets = choose_targets({pid: tr[0] for pid, tr in tracks.items() if 0 in tr})
    lesions = [_patient_lesion(pid, tracks[pid], targets, labels, studies)
               for pid in sorted(tracks, key=lambda p: int(p[1:]))]
    resp = responses(labels, tracks, targets, fragments, new_at, tracked, [edema_extent(m) for m in meas])
    timepoints = [Timepoint(index=t, label=labels[t], study_date=s.study_date, study_uid=s.study_uid,
                            lesion_count=len(meas[t].lesions)) for t, s in enumerate(studies)]
    params = CompareParameters(max_distance_mm=max_distance_mm, max_residual_mm=max_residual_mm,
                               stable_percent=stable_percent, min_change_mm=min_change_mm,
                               overlap_fraction=overlap_fraction)
    return Comparison(patient_id=next(iter(sorted(patients)), ""), parameters=params, timepoints=timepoints,
                      alignments=alignments, lesions=lesions, intervals=intervals, responses=resp,
                      warnings=warnings)


def _labels(studies) -> list[str]:
    labels = [s.label or s.study_date or f"t{i}" for i, s in enumerate(studies)]
    return [lab if labels.count(lab) == 1 else f"{lab} ({i + 1})" for i, lab in enumerate(labels)]


def _alignment_model(earlier: str, later: str, al) -> Alignment:
    return Alignment(earlier=earlier, later=later, method=al.method, initialisation=al.initialisation,
                     residual_mm=None if al.residual_mm is None else round(al.residual_mm, 3),
                     residual_kind=al.residual_kind, landmarks_used=al.landmarks_used,
                     rotation_deg=None if al.rigid is None else round(al.rigid.angle_deg, 3),
                     translation_mm=None if al.rigid is None else tuple(round(float(v), 3)
                                                                        for v in al.rigid.translation),
                     matrix_lps=_matrix(al.rigid) if al.accepted and al.rigid is not None else None,
                     accepted=al.accepted, reason=al.reason)


def _matrix(rigid) -> list[list[float]]:
    # Not rounded like rotation_deg: composing rounded rotations drifts off orthogonality.
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rigid.rotation, rigid.translation
    return [[float(v) for v in row] for row in m]


def _change(pid, cls, before, after, dist, dice, related=()) -> LesionChange:
    d = after.max_diameter_mm - before.max_diameter_mm
    a = after.axial_long_mm - before.axial_long_mm
    v = after.volume_mm3 - before.volume_mm3
    return LesionChange(
        lesion=pid, change=cls, earlier_lesion_id=before.id, later_lesion_id=after.id,
        distance_mm=None if dist is None else round(dist, 3), dice=None if dice is None else round(dice, 4),
        diameter_change_mm=round(d, 3),
        diameter_change_percent=round(100 * d / before.max_diameter_mm, 2) if before.max_diameter_mm > 0 else None,
        axial_long_change_mm=round(a, 3),
        axial_long_change_percent=round(100 * a / before.axial_long_mm, 2) if before.axial_long_mm > 0 else None,
        volume_change_mm3=round(v, 3),
        volume_change_percent=round(100 * v / before.volume_mm3, 2) if before.volume_mm3 > 0 else None,
        related=list(related))


def _patient_lesion(pid, track, targets, labels, studies) -> PatientLesion:
    obs = []
    for t, les in sorted(track.items()):
        levels = studies[t].levels
        coord = None if levels is None else float(level_coordinate(levels, [les.centroid_lps_mm])[0])
        obs.append(Observation(
            timepoint=labels[t], lesion_id=les.id, centroid_lps_mm=les.centroid_lps_mm,
            max_diameter_mm=les.max_diameter_mm, axial_long_mm=les.axial_long_mm, axial_short_mm=les.axial_short_mm,
            axial_uncertainty_mm=les.axial_uncertainty_mm, volume_mm3=les.volume_mm3,
            levels=None if les.levels is None else les.levels.label,
            level_coordinate=None if coord is None or math.isnan(coord) else round(coord, 3),
            measurable=is_measurable(les)))
    return PatientLesion(id=pid, first_seen=labels[min(track)], target=pid in targets, observations=obs)


__all__ = ["Comparison", "compare", "write_csv"]
