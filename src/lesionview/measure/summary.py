"""The one-paragraph summary a radiologist would dictate."""

from __future__ import annotations

from .models import Edema, Lesion, Multiplicity, MultiplicityClass

_NUMBERS = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]


def _count(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def summarise(lesions: list[Lesion], edema: list[Edema], multiplicity: Multiplicity) -> str:
    """e.g. "Two enhancing intramedullary lesions (adjacent pair) at vertebral levels C5, 3.1 mm
    and C6, 10.8 mm; gap 2.4 mm. T2 cord edema at vertebral levels C1-C7 (7 levels,
    longitudinally extensive)."

    Levels are vertebral levels (C1-C7, T1, ...), never spinal cord segments; lesions are listed
    superior to inferior (the order of ``lesions``) with their calibrated maximum diameter.
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
            text += f"; gap {multiplicity.pairs[0].gap_mm:.1f} mm"
        text += "."
    for ed in edema:
        text += " " + _edema_sentence(ed)
    return text


def _where(lesion: Lesion) -> str:
    if lesion.levels is None or lesion.levels.first is None:
        return f"lesion {lesion.id}"
    return lesion.levels.label


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "; ".join(items[:-1]) + " and " + items[-1]


def _edema_sentence(ed: Edema) -> str:
    if ed.levels is None or ed.levels.first is None:
        return f"T2 cord edema over {ed.craniocaudal_mm:.0f} mm craniocaudally."
    extra = ", longitudinally extensive" if ed.longitudinally_extensive else ""
    return (f"T2 cord edema at vertebral levels {ed.levels.label} "
            f"({ed.levels.count} level{'s' if ed.levels.count != 1 else ''}{extra}).")
