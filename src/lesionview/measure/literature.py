"""Where a study's edema sits against the one published series of intramedullary metastases that
measured it: Rykken JB, Diehn FE, Hunt CH, et al. Intramedullary spinal cord metastases: MRI and
relevant clinical features from a 13-year institutional case series. AJNR 2013;34:2043-9.

In 70 metastases the T2 edema averaged 4.5 vertebral segments, 3.6 times the enhancing lesion's
craniocaudal length, and reached 3 segments or more in 54%. These are cohort figures, not
thresholds: the statement places a study beside them and draws no conclusion from it.
"""

from __future__ import annotations

from .models import Edema
from .summary import possibly_extensive

REFERENCE = "Rykken et al., AJNR 2013;34:2043; 70 intramedullary metastases"
#: Mean edema extent (vertebral segments) and edema-to-lesion length ratio in that series.
MEAN_SEGMENTS = 4.5
MEAN_LENGTH_RATIO = 3.6
#: Share of that series whose edema reached 3 vertebral segments or more.
EXTENSIVE_SHARE = 0.54
#: Within this of a series mean is "close to" it, not above or below: a level (counts are whole:
#: 4 and 5 levels are both close to 4.5), and a tenth of the mean length ratio.
CLOSE_LEVELS = 1.0
CLOSE_RATIO = 0.1


def _beside(value: float, mean: float, close: float) -> str:
    if abs(value - mean) <= close:
        return "close to"
    return "above" if value > mean else "below"


def edema_context(ed: Edema) -> str | None:
    """One plain sentence placing the edema's extent and length ratio beside the series' figures;
    None when neither its levels nor a length ratio are known.

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan
    >>> ed = Edema(id=1, voxel_count=1, volume_mm3=1.0, craniocaudal_mm=90.0, length_ratio=6.2,
    ...            levels=LevelSpan(first="C1", last="C7", count=7), longitudinally_extensive=True)
    >>> print(edema_context(ed))
    Edema over 7 vertebral levels, above the series mean of 4.5, and 6.2x the length of the lesions inside it, above the series mean of 3.6x; 3 levels or more, as in 54% of that series (Rykken et al., AJNR 2013;34:2043; 70 intramedullary metastases; cohort figures, not a diagnosis).
    """
    parts = []
    span = ed.levels
    if span is not None and span.first is not None:
        parts.append(f"over {span.count} vertebral level{'s' if span.count != 1 else ''}, "
                     f"{_beside(span.count, MEAN_SEGMENTS, CLOSE_LEVELS)} the series mean of {MEAN_SEGMENTS:g}")
    if ed.length_ratio is not None:
        parts.append(f"{ed.length_ratio:.1f}x the length of the lesions inside it, "
                     f"{_beside(ed.length_ratio, MEAN_LENGTH_RATIO, CLOSE_RATIO * MEAN_LENGTH_RATIO)} the series mean of {MEAN_LENGTH_RATIO:g}x")
    if not parts:
        return None
    text = "Edema " + ", and ".join(parts)
    if ed.longitudinally_extensive is not None:
        share = f"{EXTENSIVE_SHARE:.0%}"
        if ed.longitudinally_extensive:
            text += f"; 3 levels or more, as in {share} of that series"
        elif possibly_extensive(ed):  # thick slices: it may reach 3 levels
            text += f"; possibly 3 levels or more (as in {share} of that series)"
        else:
            text += f"; fewer than 3 levels, as in {1 - EXTENSIVE_SHARE:.0%} of that series"
    return f"{text} ({REFERENCE}; cohort figures, not a diagnosis)."
