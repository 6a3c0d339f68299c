"""BIDS derivative files of a batch: names, the measurements table and its data dictionary.

One session's outputs live in ``OUT_DIR/sub-<s>/[ses-<t>/]anat/`` and share the prefix
``sub-<s>[_ses-<t>]``:

- ``<prefix>_desc-lesions_measurements.tsv``: the report's table (:data:`COLUMNS`, one row per
  lesion, per edema region and per pair of lesions), tab-separated, ``n/a`` for an empty cell, as
  BIDS tabular files are; beside it, ``<prefix>_desc-lesions_measurements.json``, its data
  dictionary (each column's description and units, BIDS "LongName/Description/Units").
- ``<prefix>_desc-lesion_dseg.nii.gz`` (lesion labels as measured: value n is lesion n) with
  ``<prefix>_desc-lesion_dseg.tsv``; the same for edema (``desc-edema``) when there is one.
- the report (``<prefix>_desc-lesions_report.json`` and ``.html``) and the provenance record
  ``<prefix>_desc-lesionview_provenance.json``, written last (see :mod:`lesionview.batch.task`).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from ..io.atomic import atomic_path

#: What a missing value is in a BIDS TSV.
NA = "n/a"
MEASUREMENTS = "desc-lesions_measurements"
REPORT = "desc-lesions_report"
PROVENANCE = "desc-lesionview_provenance"
#: Label images. BIDS allows no ``label-`` entity on a ``dseg`` (its validator refuses
#: ``_label-lesion_dseg``): ``desc-`` is the entity the specification gives discrete segmentations.
LESION_DSEG = "desc-lesion_dseg"
EDEMA_DSEG = "desc-edema_dseg"
#: Files of the dataset that BIDS has no rule for (a tabular derivative, a report, a provenance
#: record, the batch's own report and the group folder): listed in its ``.bidsignore``.
#: Every file of a session's derivatives starts with ``<prefix>_<one of these>.``.
SESSION_OUTPUTS = (LESION_DSEG, EDEMA_DSEG, MEASUREMENTS, REPORT)
BATCH_REPORT = "batch_report"
#: ("group", not "group/": the BIDS validator 2.x/3.x does not match a folder by its trailing slash.)
BIDS_IGNORE = (f"*_{MEASUREMENTS}.*", f"*_{REPORT}.*", f"*_{PROVENANCE}.json", f"{BATCH_REPORT}.*", "group")


def prefix(subject: str, session: str | None) -> str:
    """``"sub-01_ses-02"`` from ``"01"``/``"sub-01"`` and ``"02"``/``"ses-02"``/None."""
    parts = [_entity("sub", subject)] + ([_entity("ses", session)] if session else [])
    return "_".join(parts)


def session_folder(out_dir: str | os.PathLike, subject: str, session: str | None) -> Path:
    """``OUT_DIR/sub-<s>/[ses-<t>/]anat``: where one session's derivatives go."""
    folder = Path(out_dir) / _entity("sub", subject)
    return (folder / _entity("ses", session) if session else folder) / "anat"


def _entity(key: str, value: str) -> str:
    value = str(value)
    return value if value.startswith(f"{key}-") else f"{key}-{value}"


def write_tsv(rows: list[dict], columns: list[str], path: str | os.PathLike) -> Path:
    """``rows`` as a BIDS TSV (``n/a`` for empty cells, booleans as ``true``/``false``), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    return path


def _cell(value) -> str:
    if value is None or value == "":
        return NA
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a BIDS TSV as text, ``n/a`` as ``""``."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: ("" if v == NA else v) for k, v in row.items()}
                for row in csv.DictReader(fh, delimiter="\t")]


def write_json(data: dict, path: str | os.PathLike) -> Path:
    """``data`` as indented UTF-8 JSON, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def measurement_rows(result) -> list[dict]:
    """The measurements table of a :class:`~lesionview.measure.StudyMeasurements`: the report CSV's
    rows (:func:`lesionview.report.tabular.csv_rows`)."""
    from ..report.tabular import csv_rows

    return csv_rows(result)


def columns() -> list[str]:
    """The measurements table's columns, in order (the report CSV's)."""
    from ..report.tabular import CSV_COLUMNS

    return list(CSV_COLUMNS)


#: The data dictionary: ``column: (description, units or None)``. Units are BIDS/SI symbols.
DICTIONARY = {
    "participant_id": ("BIDS subject label (sub-<label>).", None),
    "session_id": ("BIDS session label (ses-<label>); n/a when the subject has no sessions.", None),
    "kind": (("What the row describes: 'lesion' (one connected enhancing lesion), 'edema' (one "
             "connected T2-hyperintense region) or 'pair' (two lesions and the gap between them)."), None),
    "id": (("Lesion or edema region number in this session: for a binary lesion mask 1 = most superior; "
           "for a lesion label mask, the label's value."), None),
    "levels": ("Vertebral levels spanned, most superior first ('C5-C6'); 'unknown' without levels.", None),
    "level_count": ("Number of vertebral levels spanned, inclusive.", None),
    "voxel_count": ("Voxels in the region.", None),
    "volume_mm3": ("Volume: voxel count x voxel volume.", "mm^3"),
    "centroid_x_lps_mm": ("Centroid, patient x (towards the patient's left), DICOM LPS.", "mm"),
    "centroid_y_lps_mm": ("Centroid, patient y (towards posterior), DICOM LPS.", "mm"),
    "centroid_z_lps_mm": ("Centroid, patient z (towards superior), DICOM LPS.", "mm"),
    "max_diameter_mm": ("Maximum 3D diameter, calibrated for the voxel grid (lesionview's definition).", "mm"),
    "max_diameter_ibsi_mm": (("Maximum 3D diameter by IBSI feature L0JK (largest distance between "
                             "mesh vertices)."), "mm"),
    "axial_long_mm": ("Longest diameter in the plane perpendicular to the cord.", "mm"),
    "axial_short_mm": ("Longest diameter perpendicular to axial_long_mm, in the same plane.", "mm"),
    "axial_uncertainty_mm": (("Plus or minus this much on the axial diameters (thick slices in the "
                             "axial plane)."), "mm"),
    "craniocaudal_mm": ("Extent along the superior-inferior axis.", "mm"),
    "craniocaudal_along_cord_mm": ("Extent along the cord centerline.", "mm"),
    "cord_occupancy": ("Largest fraction of the cord cross-section the lesion takes (0-1).", None),
    "enhancement_ratio": ("Mean lesion intensity / mean normal-cord intensity on the image.", None),
    "measurable": ("RECIST/RANO-BM measurable: max_diameter_mm >= 10 mm.", None),
    "edema_id": ("The edema region surrounding this lesion, if any.", None),
    "longitudinally_extensive": ("Edema spanning 3 or more vertebral levels.", None),
    "lesion_ids": ("Edema row: the lesions inside it; pair row: its two lesions.", None),
    "length_ratio": ("Edema craniocaudal length / craniocaudal extent of the lesions inside it.", None),
    "volume_ratio": (("Edema volume (lesion voxels the edema mask also covers included) / total volume of "
                      "the lesions inside it."), None),
    "craniocaudal_uncertainty_mm": (("Plus or minus this much on the craniocaudal lengths and the level "
                                    "extent."), "mm"),
    "levels_possible": (("Levels the region may reach within its craniocaudal uncertainty, when that "
                        "differs from 'levels'."), None),
    "thick_slices_mm": (("Thickness of the slices lying across the cord at the region, when 3 mm or "
                        "more."), "mm"),
    "multiplicity": (("The session's multiplicity class: 'solitary', 'adjacent pair' (two lesions at the "
                     "same or neighbouring levels, gap at most the twin threshold) or 'multiple'."), None),
    "gap_mm": ("Pair row: minimum edge-to-edge distance between the two lesions.", "mm"),
    "gap_uncertainty_mm": ("Pair row: plus or minus one voxel's longest side on gap_mm.", "mm"),
    "gap_craniocaudal_uncertainty_mm": (("Pair row: one voxel box projected on the line joining the "
                                        "closest points."), "mm"),
    "adjacent": ("Pair row: the two lesions form an adjacent ('twin') pair.", None),
    "level_distance": ("Pair row: 0 = same vertebral level, 1 = neighbouring levels.", None),
    "same_edema": ("Pair row: both lesions lie in the same edema region.", None),
    "cord_segments": (("Spinal cord segments spanned (C1-C8, T1-T12...): the cord's levels, not the "
                      "vertebrae's."), None),
    "cord_segments_possible": ("Cord segments reachable within the uncertainty, when that differs.", None),
    "cord_segments_estimated": (("true: cord segments estimated from the vertebral levels; false: read "
                                "from a segment label image."), None),
}


def _described_by_models() -> dict:
    """The dictionary entries of the SCT and sign columns, from their models' field descriptions."""
    from ..measure.sct import SctMetrics
    from ..measure.signs import EnhancementSigns

    units = {"_mm": "mm", "_mm3": "mm^3", "_pct": "%"}
    out = {}
    for model in (SctMetrics, EnhancementSigns):
        for name, field in model.model_fields.items():
            unit = next((u for suffix, u in units.items() if name.endswith(suffix)), None)
            # The tables write a missing value as n/a, where the models say None.
            text = (field.description or name).replace("None", "n/a")
            out[name] = (text, unit)
    return out


def data_dictionary(names: list[str]) -> dict:
    """The BIDS data dictionary (sidecar JSON) of a table with columns ``names``."""
    out = {}
    described = DICTIONARY | _described_by_models()
    for name in names:
        description, units = described[name]
        out[name] = {"Description": description} | ({"Units": units} if units else {})
    return out


def write_text(text: str, path: str | os.PathLike) -> Path:
    """``text`` as UTF-8, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
