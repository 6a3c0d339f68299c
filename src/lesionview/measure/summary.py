"""The one-paragraph summary a radiologist would dictate."""

from __future__ import annotations

from ..levels.segments import segments_phrase
from .models import Edema, Lesion, LesionPair, Multiplicity, MultiplicityClass
from .thick import plus_minus, possible_extra_levels, possible_level_count, shown_uncertainty

#: Edema spanning this many vertebral levels or more is longitudinally extensive.
EXTENSIVE_LEVELS = 3

_NUMBERS = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]


def _count(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def summarise(lesions: list[Lesion], edema: list[Edema], multiplicity: Multiplicity, *,
              enhancing: bool = True) -> str:
    """e.g. "Two enhancing intramedullary lesions (adjacent pair) at vertebral levels C5 (maximum
    diameter 3.1 mm) and C6 (10.8 mm); gap 2.4 ± 0.5 mm. T2 cord edema at vertebral levels C1-C7
    (7 levels, longitudinally extensive)."

    Levels are vertebral levels (C1-C7, T1, ...), never spinal cord segments; lesions are listed
    superior to inferior (the order of ``lesions``), each with its calibrated maximum diameter in
    brackets after its levels, so a level is never read as a size. A lesion lying outside every
    level given is "outside the levels given"; without levels the lesions are named by their ids.
    The gap of an adjacent pair always carries its uncertainty (:func:`gap_uncertainty`: one voxel
    box along the line it is measured on; about the slice thickness when that line crosses thick
    slices). Across slices 3 mm or more thick lying across the cord (:mod:`~lesionview.measure.thick`), a level a lesion may also reach within its
    craniocaudal uncertainty is named ("C5, possibly reaching C6 (maximum diameter 3.0 mm)"), and
    an edema region that may reach 3 levels is "possibly longitudinally extensive".

    ``enhancing`` says the lesions were drawn on a T1 post-contrast image (the image's role); the
    summary calls them "enhancing" only then.

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan, MultiplicityClass
    >>> les = Lesion(id=1, voxel_count=9, volume_mm3=9.0, centroid_lps_mm=(0, 0, 0), max_diameter_ibsi_mm=5.0,
    ...              max_diameter_mm=5.9, axial_long_mm=5.0, axial_short_mm=4.0, craniocaudal_mm=5.0,
    ...              measurable=False, levels=LevelSpan(first="T5", last="T5", count=1))
    >>> one = Multiplicity(count=1, kind=MultiplicityClass.SOLITARY, twin_gap_mm=5.0)
    >>> summarise([les], [], one, enhancing=False)
    'One intramedullary lesion at vertebral level T5 (maximum diameter 5.9 mm).'
    >>> summarise([les.model_copy(update={"levels": LevelSpan()})], [], one)
    'One enhancing intramedullary lesion outside the vertebral levels given (maximum diameter 5.9 mm).'
    """
    n = len(lesions)
    what = "enhancing intramedullary" if enhancing else "intramedullary"
    if n == 0:
        text = f"No {what} lesion."
    else:
        noun = "lesion" if n == 1 else "lesions"
        kind = "" if multiplicity.kind in (MultiplicityClass.SOLITARY,) else f" ({multiplicity.kind.value})"
        text = f"{_count(n)} {what} {noun}{kind}{_placed(lesions)}"
        if multiplicity.kind is MultiplicityClass.ADJACENT_PAIR:
            pair = multiplicity.pairs[0]
            text += f"; gap {pair.gap_mm:.1f}{plus_minus(gap_uncertainty(pair))} mm"
        text += "."
    for ed in edema:
        text += " " + _edema_sentence(ed)
    return text


def gap_uncertainty(pair: LesionPair) -> float:
    """The ± of a gap (mm): one voxel box along the line the gap is measured on (the
    ``gap_craniocaudal_uncertainty_mm`` :func:`measure` records), else one voxel's longest side."""
    along = pair.gap_craniocaudal_uncertainty_mm
    return pair.gap_uncertainty_mm if along is None else along


def _placed(lesions: list[Lesion]) -> str:
    """" at vertebral levels C5 (maximum diameter 3.1 mm) and C6 (10.8 mm)", with the lesions
    outside the levels given named as such, or ": lesion 1 (maximum ...) and ..." without levels."""
    sizes = [f"({'maximum diameter ' if i == 0 else ''}{les.max_diameter_mm:.1f} mm)"
             for i, les in enumerate(lesions)]
    if all(les.levels is None for les in lesions):
        return ": " + _join([f"lesion {les.id} {size}" for les, size in zip(lesions, sizes)])
    placed = [levels_text(les, nested=True) for les in lesions]
    if not any(placed):
        if len(lesions) == 1:
            return f" outside the vertebral levels given {sizes[0]}"
        return " outside the vertebral levels given: " + _join(
            [f"lesion {les.id} {size}" for les, size in zip(lesions, sizes)])
    if all(placed):
        named = {name for les in lesions for name in (les.levels.first, les.levels.last)}
        return f" at vertebral level{'s' if len(named) > 1 else ''} " + _join(
            [f"{where} {size}" for where, size in zip(placed, sizes)])
    # Some inside the levels, some outside: every lesion by its id, so none is read as a level.
    return ": " + _join([f"lesion {les.id} " + (f"at vertebral level{'s' if '-' in where else ''} {where}"
                                               if where else "outside the vertebral levels given") + f" {size}"
                         for les, where, size in zip(lesions, placed, sizes)])


def levels_text(region: Lesion | Edema, *, nested: bool = False) -> str:
    """"C5-C6", or "C5-C6 (possibly reaching C7)" when thick slices across the cord leave its
    level extent uncertain and the extent may reach another level; "" without levels. ``nested``
    (inside a sentence that puts a size in brackets after it): "C5-C6, possibly reaching C7".

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
    if not extra:
        return span.label
    return f"{span.label}, {extra}" if nested else f"{span.label} ({extra})"


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


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "; ".join(items[:-1]) + " and " + items[-1]


def _edema_sentence(ed: Edema) -> str:
    """e.g. "T2 cord edema at vertebral levels C1-C7 (7 levels, longitudinally extensive; estimated cord
    segments C2-T1, possibly C1-T2)." (the segments: :func:`lesionview.levels.segments.segments_phrase`)."""
    segments = segments_phrase(ed.cord_segments)
    if ed.levels is None or ed.levels.first is None:
        return f"T2 cord edema over {ed.craniocaudal_mm:.0f} mm craniocaudally" + (
            f" ({segments})." if segments else ".")
    count = ed.levels.count
    notes = f"{count} level{'s' if count != 1 else ''}"
    if ed.longitudinally_extensive:
        notes += ", longitudinally extensive"
    reaching = _possibly_reaching(ed)
    if reaching:
        notes += f"; {reaching}"
        if possibly_extensive(ed):
            notes += ", so possibly longitudinally extensive"
    if segments:
        notes += f"; {segments}"
    return f"T2 cord edema at vertebral levels {ed.levels.label} ({notes})."
