"""Response at each timepoint, following RANO-BM (Lin et al., Lancet Oncol 2015;16:e270-e278).

No response criteria are published specifically for intramedullary spinal metastases, so this
follows RANO-BM, the criteria for brain metastases, as the closest published ones (enhancing
CNS metastases measured on contrast-enhanced MRI). Only the radiological part is applied:
corticosteroid dose and clinical status, which RANO-BM also requires, are not known here, and
the confirmation scan RANO-BM asks for is left to the reader.

Definitions
-----------
* **Longest diameter (LD).** RANO-BM's unidimensional longest diameter, taken here as lesionview's
  calibrated maximum diameter (:attr:`~lesionview.measure.models.Lesion.max_diameter_mm`), the
  number every lesionview report gives and calls measurable from 10 mm. An intramedullary lesion
  grows along the cord, which is 10-13 mm across: its longest diameter lies along the cord (on the
  sagittal images, where radiologists measure it: "C6, 11 mm"), and a diameter confined to the
  axial plane would leave almost no cord lesion measurable (the seed's 16 mm C5-C6 lesion is 7.6
  mm across). This departs from RANO-BM's axial measurement on purpose.
* **Measurable lesion:** LD >= 10 mm (``Lesion.measurable``), its largest diameter across the cord
  (``axial_long_mm``, perpendicular to the cord and so to an LD along it) >= 5 mm, and seen on
  two or more axial slices: its craniocaudal extent is more than one slice thickness along the
  cord (``craniocaudal_uncertainty_mm``, one voxel projected on the cord axis).
* **Target lesions:** up to 5 measurable lesions at baseline, the largest LD first. Their LDs are
  summed at every timepoint (0 for a resolved one; a merged lesion's LD counts once, for the
  lesion it merged into; fragments of a split target lesion count for it).
* **Nadir:** the smallest sum at any earlier timepoint, baseline included.
* **Classes,** checked in this order:
  - *progressive disease*: a new lesion, or a sum >= 20 % over the nadir with at least one target
    lesion >= 5 mm larger than at the nadir (RANO-BM's absolute increase);
  - *complete response*: no lesion left at all (target or not);
  - *partial response*: sum >= 30 % below the baseline sum;
  - *stable disease*: none of the above;
  - *non-CR/non-PD*: lesions remain, none new, but there was no target lesion at baseline;
  - *not evaluable*: an interval up to this timepoint was not matched (alignment refused).
* **Against baseline, against nadir:** besides the RANO-BM class (progression judged from the nadir,
  partial response from the baseline), the class with every threshold taken from the baseline alone
  and from the nadir alone (``response_vs_baseline``, ``response_vs_nadir``).
* **Edema:** the levels spanned by all edema regions (count and first-last) and their summed
  length along the cord, with the change from baseline and from the previous timepoint.
"""

from __future__ import annotations

from ..levels import names as level_names
from ..measure.models import Lesion, StudyMeasurements
from .models import EdemaExtent, Response, ResponseClass

MEASURABLE_LD_MM = 10.0
MEASURABLE_PERPENDICULAR_MM = 5.0
MAX_TARGETS = 5
PROGRESSION_PERCENT = 20.0
PROGRESSION_ABSOLUTE_MM = 5.0
PARTIAL_RESPONSE_PERCENT = 30.0


def is_measurable(lesion: Lesion) -> bool:
    """RANO-BM measurable disease (see the module docstring)."""
    slice_mm = lesion.craniocaudal_uncertainty_mm or 0.0
    return (lesion.max_diameter_mm >= MEASURABLE_LD_MM and lesion.axial_long_mm >= MEASURABLE_PERPENDICULAR_MM
            and lesion.craniocaudal_mm > slice_mm)


def choose_targets(baseline: dict[str, Lesion]) -> list[str]:
    """Patient ids of the target lesions: measurable, largest LD first, at most :data:`MAX_TARGETS`."""
    measurable = [pid for pid, les in baseline.items() if is_measurable(les)]
    return sorted(measurable, key=lambda pid: -baseline[pid].max_diameter_mm)[:MAX_TARGETS]


def edema_extent(measurements: StudyMeasurements) -> EdemaExtent:
    spans = [e.levels for e in measurements.edema if e.levels is not None and e.levels.first is not None]
    lengths = [e.craniocaudal_along_cord_mm for e in measurements.edema if e.craniocaudal_along_cord_mm is not None]
    along = round(sum(lengths), 2) if lengths else (0.0 if not measurements.edema else None)
    if not spans:
        return EdemaExtent(levels=None, level_count=0, along_cord_mm=along)
    first = min(level_names.index_of(s.first) for s in spans)
    last = max(level_names.index_of(s.last) for s in spans)
    return EdemaExtent(levels=level_names.span_label(level_names.name_of(first), level_names.name_of(last)),
                       level_count=last - first + 1, along_cord_mm=along)


def responses(labels: list[str], tracks: dict[str, dict[int, Lesion]], targets: list[str],
              fragments: dict[str, str], new_at: list[list[str]], tracked: list[bool],
              edema: list[EdemaExtent]) -> list[Response]:
    """The RANO-BM response at each timepoint.

    Parameters
    ----------
    labels : timepoint labels, baseline first.
    tracks : patient lesion id -> {timepoint index: its lesion there}.
    targets : target lesion ids (:func:`choose_targets`).
    fragments : lesion id -> the target it split from (its LD counts for that target).
    new_at : per timepoint, the ids classed "new" in the interval ending there.
    tracked : per timepoint, False when some interval up to it was not matched.
    edema : per timepoint, the edema extent.
    """
    def ld(pid: str, t: int) -> float:
        own = tracks[pid].get(t)
        parts = [tracks[f].get(t) for f, parent in fragments.items() if parent == pid]
        return sum(les.max_diameter_mm for les in [own, *parts] if les is not None)

    sums = [sum(ld(pid, t) for pid in targets) for t in range(len(labels))] if targets else []
    baseline_lesions = sum(1 for tr in tracks.values() if 0 in tr)
    out = [Response(timepoint=labels[0], response=ResponseClass.BASELINE, target_lesions=targets,
                    sum_longest_diameters_mm=round(sums[0], 2) if targets else None,
                    baseline_sum_mm=round(sums[0], 2) if targets else None, edema=edema[0])]
    for t in range(1, len(labels)):
        nadir_t = min(range(t), key=lambda k: (sums[k], k)) if targets else None
        base, nadir, now = (sums[0], sums[nadir_t], sums[t]) if targets else (None, None, None)
        common = (t, tracks, targets, new_at[t], tracked[t], baseline_lesions)
        cls, reason = _classify(*common, base, nadir, now, {pid: ld(pid, t) - ld(pid, nadir_t) for pid in targets})
        # Every threshold against one reference (the RANO-BM class takes PD from the nadir, PR from baseline).
        vs_base, _ = _classify(*common, base, base, now, {pid: ld(pid, t) - ld(pid, 0) for pid in targets})
        vs_nadir, _ = _classify(*common, nadir, nadir, now, {pid: ld(pid, t) - ld(pid, nadir_t) for pid in targets})
        e0, ep, et = edema[0], edema[t - 1], edema[t]
        out.append(Response(
            timepoint=labels[t], response=cls, reason=reason, response_vs_baseline=vs_base,
            response_vs_nadir=vs_nadir, target_lesions=targets,
            sum_longest_diameters_mm=None if now is None else round(now, 2),
            baseline_sum_mm=None if base is None else round(base, 2),
            nadir_sum_mm=None if nadir is None else round(nadir, 2),
            nadir_timepoint=None if nadir_t is None else labels[nadir_t],
            change_from_baseline_percent=_percent(now, base), change_from_nadir_percent=_percent(now, nadir),
            new_lesions=list(new_at[t]), edema=et,
            edema_level_change_from_baseline=et.level_count - e0.level_count,
            edema_level_change_from_previous=et.level_count - ep.level_count,
            edema_along_cord_change_from_baseline_mm=_diff(et.along_cord_mm, e0.along_cord_mm),
            edema_along_cord_change_from_previous_mm=_diff(et.along_cord_mm, ep.along_cord_mm)))
    return out


def _classify(t, tracks, targets, new, tracked, baseline_lesions, base, nadir, now, growth):
    if not tracked:
        return ResponseClass.NE, "an interval up to this timepoint could not be aligned, so lesions are not tracked"
    if new:
        return ResponseClass.PD, f"new lesion(s): {', '.join(new)}"
    if targets and now >= nadir * (1 + PROGRESSION_PERCENT / 100) and now > nadir:
        grew = [pid for pid in targets if growth[pid] >= PROGRESSION_ABSOLUTE_MM]
        if grew:
            return ResponseClass.PD, (f"sum of LDs {now:.1f} mm is >= {PROGRESSION_PERCENT:g} % over the nadir "
                                      f"{nadir:.1f} mm and {', '.join(grew)} grew by >= "
                                      f"{PROGRESSION_ABSOLUTE_MM:g} mm")
    present = sum(1 for tr in tracks.values() if t in tr)
    if present == 0:
        if baseline_lesions == 0:
            return ResponseClass.NE, "no lesion at baseline nor now: nothing to respond"
        return ResponseClass.CR, "no lesion left"
    if not targets:
        return ResponseClass.NON_CR_NON_PD, "no measurable (target) lesion at baseline; lesions remain, none new"
    if base > 0 and now <= base * (1 - PARTIAL_RESPONSE_PERCENT / 100):
        return ResponseClass.PR, (f"sum of LDs {now:.1f} mm is >= {PARTIAL_RESPONSE_PERCENT:g} % below the "
                                  f"baseline {base:.1f} mm")
    return ResponseClass.SD, "neither progression nor response"


def _percent(now, ref) -> float | None:
    return None if now is None or ref is None or ref <= 0 else round(100.0 * (now - ref) / ref, 2)


def _diff(a, b) -> float | None:
    return None if a is None or b is None else round(a - b, 2)
