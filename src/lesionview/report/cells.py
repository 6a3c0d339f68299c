"""Short texts for table cells: numbers with their uncertainty, levels with the range they may reach.

The terminal table of ``lesionview measure`` and napari's Measurements table show the same
notation, so a reader meets one convention everywhere:

* a length along the cord measured across slices of 3 mm or more lying across the cord carries
  its uncertainty, ``"12.0 ± 3.0"`` (otherwise ``"12.0"``: the uncertainty is below the rounding a
  reader cares about); whether it is shown is :func:`lesionview.measure.thick.shown_uncertainty`,
  as in the summary sentence, the CSV and the HTML report;
* vertebral levels whose ends may lie in another level within that uncertainty are followed by
  that level and a question mark, ``"C5-C6 (C7?)"``, which the summary sentence writes
  "C5-C6 (possibly reaching C7)" (:func:`lesionview.measure.summary.levels_text`); tooltips and
  captions use :func:`levels_sentence`.
"""

from __future__ import annotations

from ..measure.models import Edema, Lesion
from ..measure.thick import plus_minus, possible_extra_levels, shown_uncertainty


def length_cell(region: Lesion | Edema) -> str:
    """Craniocaudal length, ``"12.0 ± 3.0"`` across thick slices, else ``"12.0"`` (mm, one decimal).

    Examples
    --------
    >>> ed = Edema(id=1, voxel_count=1, volume_mm3=1.0, craniocaudal_mm=12.0, craniocaudal_uncertainty_mm=2.8,
    ...            thick_slices_mm=3.0)
    >>> length_cell(ed), length_cell(ed.model_copy(update={"thick_slices_mm": None}))
    ('12.0 ± 2.8', '12.0')
    """
    return f"{region.craniocaudal_mm:.1f}{plus_minus(shown_uncertainty(region))}"


def levels_cell(region: Lesion | Edema, *, unknown: str = "") -> str:
    """``"C5-C6"``, or ``"C5-C6 (C7?)"`` when across thick slices its ends may reach other
    levels (here C7: "C5-C6, possibly reaching C7"); ``unknown`` without a level model.

    Only the levels it may add are named, so the cell stays narrow and the new level stands out:
    ``"C5 (C4? C6?)"`` both ways, ``"C5 (C6-C7?)"`` for more than one level.

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan
    >>> span = LevelSpan(first="C5", last="C5", count=1, possible_first="C4", possible_last="C6")
    >>> ed = Edema(id=1, voxel_count=1, volume_mm3=1.0, craniocaudal_mm=3.0, levels=span,
    ...            craniocaudal_uncertainty_mm=3.0, thick_slices_mm=3.0)
    >>> levels_cell(ed), levels_cell(ed.model_copy(update={"levels": None}), unknown="—")
    ('C5 (C4? C6?)', '—')
    """
    span = region.levels
    if span is None:
        return unknown
    extra = _extra(region)
    return span.label + (" (" + " ".join(f"{name}?" for name in extra) + ")" if extra else "")


def levels_sentence(region: Lesion | Edema, *, unknown: str = "") -> str:
    """:func:`levels_cell` spelt out for a tooltip or a caption: ``"C5, possibly reaching C4 and
    C6: its ends are uncertain by ±3.0 mm along the cord (3 mm slices across it)"``, else as the cell.

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan
    >>> span = LevelSpan(first="C5", last="C5", count=1, possible_first="C4", possible_last="C6")
    >>> ed = Edema(id=1, voxel_count=1, volume_mm3=1.0, craniocaudal_mm=3.0, levels=span,
    ...            craniocaudal_uncertainty_mm=3.02, thick_slices_mm=3.0)
    >>> levels_sentence(ed)
    'C5, possibly reaching C4 and C6: its ends are uncertain by ±3.0 mm along the cord (3 mm slices across it)'
    >>> levels_sentence(ed.model_copy(update={"thick_slices_mm": None}))
    'C5'
    """
    extra = _extra(region)
    if region.levels is None or not extra:
        return levels_cell(region, unknown=unknown)
    return (f"{region.levels.label}, possibly reaching {' and '.join(extra)}: its ends are uncertain by "
            f"±{shown_uncertainty(region):.1f} mm along the cord ({region.thick_slices_mm:g} mm slices "
            "across it)")


def _extra(region: Lesion | Edema) -> list[str]:
    return possible_extra_levels(region.levels) if shown_uncertainty(region) is not None else []
