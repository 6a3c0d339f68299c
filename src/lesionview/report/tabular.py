"""JSON (the full typed result) and CSV (one row per lesion, per edema region and per pair of lesions),
written atomically.

The CSV's rows have ``kind`` "lesion", "edema" or "pair". Every lesion row carries the study's
multiplicity class ("solitary", "adjacent pair", "multiple"); a pair row holds its two lesion ids
in ``lesion_ids`` and the gap between them (``gap_mm``, with the JSON's ``gap_uncertainty_mm`` and
``gap_craniocaudal_uncertainty_mm``: the summary shows the latter), whether it is an adjacent pair, the level distance and whether the two
lesions share an edema region.

Both are UTF-8. Paths in a result can hold bytes that are not UTF-8 (POSIX file names are
bytes), which no UTF-8 writer accepts: :func:`printable` shows them as U+FFFD first.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ..errors import shown_path
from ..io.atomic import atomic_path
from ..measure.models import Edema, Lesion, StudyMeasurements
from ..measure.sct import SctMetrics
from ..measure.signs import EnhancementSigns
from ..measure.thick import shown_uncertainty

#: Stable CSV columns, units in the names. Lesion-only and edema-only columns stay empty in the
#: other kind of row.
CSV_COLUMNS = [
    "kind", "id", "levels", "level_count", "voxel_count", "volume_mm3",
    "centroid_x_lps_mm", "centroid_y_lps_mm", "centroid_z_lps_mm",
    "max_diameter_mm", "max_diameter_ibsi_mm", "axial_long_mm", "axial_short_mm", "axial_uncertainty_mm",
    "craniocaudal_mm", "craniocaudal_along_cord_mm", "cord_occupancy", "enhancement_ratio", "measurable",
    "edema_id", "longitudinally_extensive", "lesion_ids", "length_ratio",
    # Added in 0.x (issue 11), after the original columns so readers by position keep working.
    "craniocaudal_uncertainty_mm", "levels_possible", "thick_slices_mm",
    # Added in 0.x (issue 12): the multiplicity class on lesion rows, and one row per pair of lesions.
    "multiplicity", "gap_mm", "gap_uncertainty_mm", "gap_craniocaudal_uncertainty_mm", "adjacent",
    "level_distance", "same_edema",
    # Added in 0.x (issue 12): spinal cord segments beside the vertebral levels ("levels"): their range,
    # the range within the uncertainty when it differs, and whether they are estimated (else from an image).
    "cord_segments", "cord_segments_possible", "cord_segments_estimated",
    # Added in 0.x (issue 15): the edema's volume against its lesions'.
    "volume_ratio",
]
#: Added in 0.x (issue 15), lesion rows: the Spinal Cord Toolbox's metrics (``sct_*``, by SCT's own
#: definitions; the per-slice bridges are in the JSON only) and the rim and flame signs.
SCT_COLUMNS = [name for name in SctMetrics.model_fields if name != "sct_bridges_per_slice"]
SIGN_COLUMNS = list(EnhancementSigns.model_fields)
CSV_COLUMNS += SCT_COLUMNS + SIGN_COLUMNS


def printable(result: StudyMeasurements) -> StudyMeasurements:
    """``result`` with its input paths, level source and warnings as text any UTF-8 file can hold.

    A file name that is not UTF-8 reaches Python as lone surrogates
    (:func:`lesionview.errors.shown_path`); they become U+FFFD. Everything else is unchanged.
    """
    inputs = [i.model_copy(update={"path": shown_path(i.path)}) if i.path else i for i in result.inputs]
    params = result.parameters
    if params.level_source:
        params = params.model_copy(update={"level_source": shown_path(params.level_source)})
    if params.segment_source:
        params = params.model_copy(update={"segment_source": shown_path(params.segment_source)})
    return result.model_copy(update={"inputs": inputs, "parameters": params,
                                     "warnings": [shown_path(w) for w in result.warnings]})


def csv_rows(result: StudyMeasurements) -> list[dict]:
    rows = []
    for les in result.lesions:
        x, y, z = les.centroid_lps_mm
        rows.append({
            "kind": "lesion", "id": les.id, "levels": les.levels.label if les.levels else "",
            "level_count": les.levels.count if les.levels else "", "voxel_count": les.voxel_count,
            "volume_mm3": les.volume_mm3, "centroid_x_lps_mm": x, "centroid_y_lps_mm": y,
            "centroid_z_lps_mm": z, "max_diameter_mm": les.max_diameter_mm,
            "max_diameter_ibsi_mm": les.max_diameter_ibsi_mm, "axial_long_mm": les.axial_long_mm,
            "axial_short_mm": les.axial_short_mm, "axial_uncertainty_mm": les.axial_uncertainty_mm,
            "craniocaudal_mm": les.craniocaudal_mm, "craniocaudal_along_cord_mm": les.craniocaudal_along_cord_mm,
            "cord_occupancy": les.cord_occupancy, "enhancement_ratio": les.enhancement_ratio,
            "measurable": les.measurable, "edema_id": les.edema_id,
            **_uncertain(les), "multiplicity": result.multiplicity.kind.value, **_segments(les),
            **_sct(les), **(les.signs.model_dump() if les.signs else {}),
        })
    for ed in result.edema:
        rows.append({
            "kind": "edema", "id": ed.id, "levels": ed.levels.label if ed.levels else "",
            "level_count": ed.levels.count if ed.levels else "", "voxel_count": ed.voxel_count,
            "volume_mm3": ed.volume_mm3, "craniocaudal_mm": ed.craniocaudal_mm,
            "craniocaudal_along_cord_mm": ed.craniocaudal_along_cord_mm,
            "longitudinally_extensive": ed.longitudinally_extensive,
            "lesion_ids": " ".join(map(str, ed.lesion_ids)), "length_ratio": ed.length_ratio,
            "volume_ratio": ed.volume_ratio,
            **_uncertain(ed), **_segments(ed),
        })
    for pair in result.multiplicity.pairs:
        rows.append({
            "kind": "pair", "lesion_ids": f"{pair.a} {pair.b}", "gap_mm": pair.gap_mm,
            "gap_uncertainty_mm": pair.gap_uncertainty_mm,
            "gap_craniocaudal_uncertainty_mm": pair.gap_craniocaudal_uncertainty_mm,
            "adjacent": pair.adjacent, "level_distance": pair.level_distance, "same_edema": pair.same_edema,
            "thick_slices_mm": pair.gap_thick_slices_mm,
        })
    return [{c: ("" if row.get(c) is None else row.get(c, "")) for c in CSV_COLUMNS} for row in rows]


def _uncertain(row: Lesion | Edema) -> dict:
    """The craniocaudal uncertainty (mm), and the level range reachable within it when that
    differs from ``levels`` and thick slices lie across the cord (as the summary says it)."""
    span = row.levels
    possible = span.possible_label if span is not None and shown_uncertainty(row) is not None else None
    return {"craniocaudal_uncertainty_mm": row.craniocaudal_uncertainty_mm, "levels_possible": possible or "",
            "thick_slices_mm": row.thick_slices_mm}


def _segments(row: Lesion | Edema) -> dict:
    """The cord segments ("C2-T1"), the range within their uncertainty when it differs ("C1-T2"),
    and whether they are estimated from the vertebral levels (False: from a segment label image)."""
    span = row.cord_segments
    if span is None:
        return {}
    return {"cord_segments": span.label, "cord_segments_possible": span.possible_label or "",
            "cord_segments_estimated": span.estimated}


def _sct(les: Lesion) -> dict:
    """SCT's metrics as cells: the level percentages as "C5 60.0; C6 40.0", the notes joined by "; "."""
    if les.sct is None:
        return {}
    row = les.sct.model_dump(exclude={"sct_bridges_per_slice"})
    if row["sct_level_percent"] is not None:
        row["sct_level_percent"] = "; ".join(f"{k} {v:.1f}" for k, v in row["sct_level_percent"].items())
    row["sct_notes"] = "; ".join(row["sct_notes"])
    return row


def write_csv(result: StudyMeasurements, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(result))
    return path


def write_json(result: StudyMeasurements, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(printable(result).model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path
