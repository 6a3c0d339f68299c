"""The one-paragraph summary a radiologist would dictate."""

from __future__ import annotations

from .models import Edema, Lesion, Multiplicity, MultiplicityClass
from .thick import plus_minus, possible_extra_levels, possible_level_count, shown_uncertainty

#: Edema spanning this many vertebral levels or more is longitudinally extensive.
EXTENSIVE_LEVELS = 3

_NUMBERS = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]


def _count(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def summarise(lesions: list[Lesion], edema: list[Edema], multiplicity: Multiplicity) -> str:
    """e.g. "Two enhancing intramedullary lesions (adjacent pair) at vertebral levels C5, 3.1 mm
    and C6, 10.8 mm; gap 2.4 mm. T2 cord edema at vertebral levels C1-C7 (7 levels,
    longitudinally extensive)."

    Levels are vertebral levels (C1-C7, T1, ...), never spinal cord segments; lesions are listed
    superior to inferior (the order of ``lesions``) with their calibrated maximum diameter.
    When slices 3 mm or more thick lie across the cord (:mod:`~lesionview.measure.thick`), a
    level a lesion may also reach within its craniocaudal uncertainty is named after its levels
    ("C5 (possibly reaching C6), 3.0 mm"), an edema region that may reach 3 levels is "possibly
    longitudinally extensive", and the gap of an adjacent pair carries its uncertainty
    ("gap 3.0 ± 3.0 mm"); the warnings give the uncertainty along the cord.
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
            text += f"; gap {pair.gap_mm:.1f}{plus_minus(shown_uncertainty(pair))} mm"
        text += "."
    for ed in edema:
        text += " " + _edema_sentence(ed)
    return text


def levels_text(region: Lesion | Edema) -> str:
    """"C5-C6", or "C5-C6 (possibly reaching C7)" when thick slices across the cord leave its
    level extent uncertain and the extent may reach another level; "" without levels.

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan
    >>> span = LevelSpan(first="C5", last="C6", count=2, possible_first="C5", possible_last="C7")
    >>> ed = Edema(id=1, voxel_count=1, volume_mm3=1.0, craniocaudal_mm=9.0, levels=span,
    ...            craniocaudal_uncertainty_mm=3.0, thick_slices_mm=3.0)
    >>> levels_text(ed), levels_text(ed.model_copy(update={"thick_slices_mm": None}))
    ('C5-C6 (possibly reaching C7)', 'C5-C6')
    """
    span = region.levels
    if span is None or span.first is None:
        return ""
    extra = _possibly_reaching(region)
    return span.label + (f" ({extra})" if extra else "")


def _possibly_reaching(region: Lesion | Edema) -> str:
    """"possibly reaching C4 and C6" (thick slices across the cord only), else ""."""
    extra = possible_extra_levels(region.levels) if shown_uncertainty(region) is not None else []
    return f"possibly reaching {' and '.join(extra)}" if extra else ""


def possibly_extensive(ed: Edema) -> bool:
    """True when an edema region measured over fewer than :data:`EXTENSIVE_LEVELS` levels may
    reach that many within its craniocaudal uncertainty (thick slices across the cord only).

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan
    >>> span = LevelSpan(first="C4", last="C5", count=2, possible_first="C3", possible_last="C5")
    >>> ed = Edema(id=1, voxel_count=1, volume_mm3=1.0, craniocaudal_mm=30.0, levels=span,
    ...            longitudinally_extensive=False, craniocaudal_uncertainty_mm=3.0, thick_slices_mm=3.0)
    >>> possibly_extensive(ed), possibly_extensive(ed.model_copy(update={"thick_slices_mm": None}))
    (True, False)
    """
    if ed.longitudinally_extensive is not False or shown_uncertainty(ed) is None:
        return False
    reach = possible_level_count(ed.levels)
    return reach is not None and reach >= EXTENSIVE_LEVELS


def _where(lesion: Lesion) -> str:
    return levels_text(lesion) or f"lesion {lesion.id}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "; ".join(items[:-1]) + " and " + items[-1]


def _edema_sentence(ed: Edema) -> str:
    if ed.levels is None or ed.levels.first is None:
        return f"T2 cord edema over {ed.craniocaudal_mm:.0f} mm craniocaudally."
    count = ed.levels.count
    notes = f"{count} level{'s' if count != 1 else ''}"
    if ed.longitudinally_extensive:
        notes += ", longitudinally extensive"
    reaching = _possibly_reaching(ed)
    if reaching:
        notes += f"; {reaching}"
        if possibly_extensive(ed):
            notes += ", so possibly longitudinally extensive"
    return f"T2 cord edema at vertebral levels {ed.levels.label} ({notes})."
