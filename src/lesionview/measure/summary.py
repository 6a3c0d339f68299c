"""The one-paragraph summary a radiologist would dictate."""

from __future__ import annotations

from ._axial import THICK_SLICE_MM
from .models import Edema, Lesion, LevelSpan, Multiplicity, MultiplicityClass

_NUMBERS = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]


def _count(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def summarise(lesions: list[Lesion], edema: list[Edema], multiplicity: Multiplicity) -> str:
    """e.g. "Two enhancing intramedullary lesions (adjacent pair) at vertebral levels C5, 3.1 mm
    and C6, 10.8 mm; gap 2.4 mm. T2 cord edema at vertebral levels C1-C7 (7 levels,
    longitudinally extensive)."

    Levels are vertebral levels (C1-C7, T1, ...), never spinal cord segments; lesions are listed
    superior to inferior (the order of ``lesions``) with their calibrated maximum diameter.
    When slices 3 mm or more thick lie across the cord (axial series), a level range that the
    lesion may extend within its craniocaudal uncertainty is named with it ("C5-C6 (C5-C7 within
    +-3 mm)"), and the gap of an adjacent pair carries its uncertainty ("gap 6.0 +- 3.0 mm").
    """
    n = len(lesions)
    if n == 0:
        text = "No enhancing intramedullary lesion."
    else:
        noun = "lesion" if n == 1 else "lesions"
        kind = "" if multiplicity.kind in (MultiplicityClass.SOLITARY,) else f" ({multiplicity.kind.value})"
        items = [f"{_where(les)}, {les.max_diameter_mm:.1f} mm" for les in lesions]
        has_levels = any(les.levels is not None for les in lesions)
        at = " at vertebral level" + ("s" if n > 1 else "") + " " if has_levels else ": "
        text = f"{_count(n)} enhancing intramedullary {noun}{kind}{at}{_join(items)}"
        if multiplicity.kind is MultiplicityClass.ADJACENT_PAIR:
            pair = multiplicity.pairs[0]
            unc = pair.gap_craniocaudal_uncertainty_mm
            text += f"; gap {pair.gap_mm:.1f}" + (f" ± {unc:.1f} mm" if _thick(unc) else " mm")
        text += "."
    for ed in edema:
        text += " " + _edema_sentence(ed)
    return text


def _thick(uncertainty: float | None) -> bool:
    return uncertainty is not None and uncertainty >= THICK_SLICE_MM


def levels_text(span: LevelSpan | None, uncertainty: float | None) -> str:
    """"C5-C6", or "C5-C6 (C5-C7 within ±3.0 mm)" when thick slices across the cord leave the
    level extent uncertain; "" without levels.

    Examples
    --------
    >>> span = LevelSpan(first="C5", last="C6", count=2, possible_first="C5", possible_last="C7")
    >>> levels_text(span, 3.0), levels_text(span, 0.5)
    ('C5-C6 (C5-C7 within ±3.0 mm)', 'C5-C6')
    """
    if span is None or span.first is None:
        return ""
    possible = span.possible_label if _thick(uncertainty) else None
    return span.label + (f" ({possible} within ±{uncertainty:.1f} mm)" if possible else "")


def _where(lesion: Lesion) -> str:
    return levels_text(lesion.levels, lesion.craniocaudal_uncertainty_mm) or f"lesion {lesion.id}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "; ".join(items[:-1]) + " and " + items[-1]


def _edema_sentence(ed: Edema) -> str:
    if ed.levels is None or ed.levels.first is None:
        return f"T2 cord edema over {ed.craniocaudal_mm:.0f} mm craniocaudally."
    extra = ", longitudinally extensive" if ed.longitudinally_extensive else ""
    return (f"T2 cord edema at vertebral levels {levels_text(ed.levels, ed.craniocaudal_uncertainty_mm)} "
            f"({ed.levels.count} level{'s' if ed.levels.count != 1 else ''}{extra}).")
