"""The comparison as a CSV table: one row per patient lesion per timepoint."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ..io.atomic import atomic_path
from .models import Comparison

COLUMNS = ("lesion", "target", "timepoint", "study_date", "present", "lesion_id", "levels", "level_coordinate",
           "max_diameter_mm", "axial_long_mm", "axial_short_mm", "volume_mm3", "measurable", "change", "diameter_change_mm",
           "diameter_change_percent", "axial_long_change_mm", "volume_change_mm3", "volume_change_percent", "related", "response")


def rows(comparison: Comparison) -> list[dict]:
    """Table rows: every patient lesion at every timepoint (``present`` False where it is absent)."""
    change = {(iv.later, c.lesion): c for iv in comparison.intervals for c in iv.changes}
    response = {r.timepoint: r.response.value for r in comparison.responses}
    out = []
    for lesion in comparison.lesions:
        seen = {o.timepoint: o for o in lesion.observations}
        for tp in comparison.timepoints:
            o, c = seen.get(tp.label), change.get((tp.label, lesion.id))
            out.append({
                "lesion": lesion.id, "target": lesion.target, "timepoint": tp.label, "study_date": tp.study_date,
                "present": o is not None, "lesion_id": o and o.lesion_id, "levels": o and o.levels,
                "level_coordinate": o and o.level_coordinate, "max_diameter_mm": o and o.max_diameter_mm,
                "axial_long_mm": o and o.axial_long_mm,
                "axial_short_mm": o and o.axial_short_mm, "volume_mm3": o and o.volume_mm3,
                "measurable": o and o.measurable, "change": c and c.change.value,
                "diameter_change_mm": c and c.diameter_change_mm,
                "diameter_change_percent": c and c.diameter_change_percent,
                "axial_long_change_mm": c and c.axial_long_change_mm,
                "volume_change_mm3": c and c.volume_change_mm3,
                "volume_change_percent": c and c.volume_change_percent,
                "related": c and " ".join(c.related), "response": response.get(tp.label)})
    return out


def write_csv(comparison: Comparison, path: str | os.PathLike) -> Path:
    """Write :func:`rows` to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows(comparison):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path
