"""Short texts for table cells: numbers with their uncertainty, levels with the range they may reach.

The terminal table of ``lesionview measure`` and napari's Measurements table show the same
notation, so a reader meets one convention everywhere:

* a length or diameter measured across slices of :data:`THICK_SLICE_MM` or more carries its
  uncertainty, ``"12.0 ± 3.0"`` (thinner slices: ``"12.0"``, the uncertainty is below the
  rounding a reader cares about, as in the summary sentence and the HTML report);
* vertebral levels whose ends may lie in another level within the craniocaudal uncertainty are
  followed by that level and a question mark, ``"C5-C6 (C7?)"``: "C5-C6, C7 possibly". The
  summary sentence spells it out: "C5-C6 (C5-C7 within ±3.0 mm)"
  (:func:`lesionview.measure.summary.levels_text`); tooltips and captions use
  :func:`levels_sentence`.
"""

from __future__ import annotations

from ..errors import InputError
from ..levels.names import index_of, name_of
from ..measure.diameters import THICK_SLICE_MM
from ..measure.models import LevelSpan


def shown_uncertainty(uncertainty_mm: float | None) -> float | None:
    """``uncertainty_mm`` when slices of :data:`THICK_SLICE_MM` or more make it worth showing, else None."""
    return uncertainty_mm if uncertainty_mm is not None and uncertainty_mm >= THICK_SLICE_MM else None


def plus_minus(uncertainty_mm: float | None) -> str:
    """``" ± 3.0"`` after a number measured across thick slices, else ``""``.

    Examples
    --------
    >>> plus_minus(3.02), plus_minus(0.5), plus_minus(None)
    (' ± 3.0', '', '')
    """
    shown = shown_uncertainty(uncertainty_mm)
    return "" if shown is None else f" ± {shown:.1f}"


def length_cell(value_mm: float, uncertainty_mm: float | None) -> str:
    """``"12.0 ± 3.0"`` across thick slices, else ``"12.0"`` (mm, one decimal).

    Examples
    --------
    >>> length_cell(12.0, 3.0168), length_cell(11.0, 0.53)
    ('12.0 ± 3.0', '11.0')
    """
    return f"{value_mm:.1f}{plus_minus(uncertainty_mm)}"


def levels_cell(span: LevelSpan | None, uncertainty_mm: float | None, *, unknown: str = "") -> str:
    """``"C5-C6"``, or ``"C5-C6 (C7?)"`` when across thick slices its ends may reach other
    levels (here C7: "C5-C6, C7 possibly"); ``unknown`` without a level model (``span`` None).

    Only the levels it may add are named, so the cell stays narrow and the new level stands out:
    ``"C5 (C4? C6?)"`` both ways, ``"C5 (C6-C7?)"`` for more than one level.

    Examples
    --------
    >>> span = LevelSpan(first="C5", last="C6", count=2, possible_first="C5", possible_last="C7")
    >>> levels_cell(span, 3.0), levels_cell(span, 0.5), levels_cell(None, 3.0, unknown="—")
    ('C5-C6 (C7?)', 'C5-C6', '—')
    >>> levels_cell(LevelSpan(first="C5", last="C5", count=1, possible_first="C4", possible_last="C6"), 3.0)
    'C5 (C4? C6?)'
    """
    if span is None:
        return unknown
    extra = possible_extra_levels(span) if shown_uncertainty(uncertainty_mm) is not None else []
    return span.label + (" (" + " ".join(f"{name}?" for name in extra) + ")" if extra else "")


def levels_sentence(span: LevelSpan | None, uncertainty_mm: float | None, *, unknown: str = "") -> str:
    """:func:`levels_cell` spelt out for a tooltip or a caption: ``"C5-C6, possibly also C7: its
    ends are uncertain by ±3.0 mm along the cord (thick slices)"``, else as the cell.

    Examples
    --------
    >>> span = LevelSpan(first="C5", last="C5", count=1, possible_first="C4", possible_last="C6")
    >>> levels_sentence(span, 3.02)
    'C5, possibly also C4 and C6: its ends are uncertain by ±3.0 mm along the cord (thick slices)'
    >>> levels_sentence(span, 0.5)
    'C5'
    """
    cell = levels_cell(span, uncertainty_mm, unknown=unknown)
    if span is None or cell == span.label:
        return cell
    return (f"{span.label}, possibly also {' and '.join(possible_extra_levels(span))}: its ends are "
            f"uncertain by ±{uncertainty_mm:.1f} mm along the cord (thick slices)")


def possible_extra_levels(span: LevelSpan) -> list[str]:
    """The levels beyond ``span.first``-``span.last`` that it may reach within its craniocaudal
    uncertainty, superior first: ``["C4", "C6-C7"]``; ``[]`` when there are none.

    Examples
    --------
    >>> possible_extra_levels(LevelSpan(first="C5", last="C6", count=2, possible_first="C4", possible_last="C6"))
    ['C4']
    """
    if span.possible_label is None:
        return []
    first, last = span.possible_first or span.first, span.possible_last or span.last
    try:
        top, bottom = index_of(span.first), index_of(span.last)
    except InputError:  # not a standard vertebra name: name the whole range it may span
        return [span.possible_label]
    extra = []
    if first != span.first:
        extra.append(first if index_of(first) == top - 1 else f"{first}-{name_of(top - 1)}")
    if last != span.last:
        extra.append(last if index_of(last) == bottom + 1 else f"{name_of(bottom + 1)}-{last}")
    return extra
