"""What a radiologist needs to know about a series, and a guess of its role in the study."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    """What a series is for in a spinal cord lesion work-up."""

    T1_POST = "T1+C"
    T1 = "T1"
    T2 = "T2"
    STIR = "STIR"
    OTHER = "other"


class SeriesInfo(BaseModel):
    """Identifiers and acquisition metadata of one series (all optional: NIfTI has few)."""

    model_config = ConfigDict(frozen=True)

    source: str = ""
    patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: str = ""
    study_uid: str = ""
    study_date: str = ""
    study_description: str = ""
    series_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    protocol_name: str = ""
    modality: str = ""
    manufacturer: str = ""
    sequence_name: str = ""
    scanning_sequence: str = ""
    sequence_variant: str = ""
    repetition_time_ms: float | None = None
    echo_time_ms: float | None = None
    inversion_time_ms: float | None = None
    contrast_agent: str = ""
    acquisition_date: str = ""
    acquisition_time: str = ""
    transfer_syntax: str = ""
    role: Role = Role.OTHER
    role_reason: str = ""

    def with_role(self, role: Role | str, reason: str = "set by user") -> SeriesInfo:
        """The same info with the role overridden (the guess is only a guess)."""
        return self.model_copy(update={"role": Role(role), "role_reason": reason})

    @property
    def label(self) -> str:
        """Short name for tables and layer names: "7 SAG T2 TSE (T2)"."""
        parts = [str(self.series_number) if self.series_number is not None else "",
                 self.series_description or self.protocol_name or "unnamed series"]
        return " ".join(p for p in parts if p) + f" ({self.role.value})"


_POST = re.compile(r"(\+\s*c\b|\bpost\b|\bgd\b|gado|contrast|\bce\b|\bkm\b|\+gd|\bc\+|_c\b|\bpost[-_ ]?c)", re.IGNORECASE)
_STIR = re.compile(r"stir|\btirm\b|\bir[-_ ]?fse\b", re.IGNORECASE)
_T2 = re.compile(r"t2|\bdixon\b.*\bw\b|\bhaste\b|\bciss\b|\bfiesta\b|\bspace\b", re.IGNORECASE)
_T1 = re.compile(r"t1|\bmprage\b|\bvibe\b|\bspgr\b|\bflash\b", re.IGNORECASE)


def guess_role(info: SeriesInfo) -> tuple[Role, str]:
    """Guess the role of a series from its names, contrast tags and timing.

    Names win over timing because sites name their protocols well and timing
    overlaps between vendors; the reason says which evidence was used.

    Examples
    --------
    >>> guess_role(SeriesInfo(series_description="SAG T1 TSE", contrast_agent="Gadovist"))[0]
    <Role.T1_POST: 'T1+C'>
    """
    # Underscores and dashes separate words in protocol names ("t2_tirm_sag").
    text = re.sub(r"[_\-]", " ", f"{info.series_description} {info.protocol_name} {info.sequence_name}")
    has_agent = bool(info.contrast_agent.strip())
    post_named = bool(_POST.search(text))
    if _STIR.search(text) or (info.inversion_time_ms and 100 <= info.inversion_time_ms <= 250):
        return Role.STIR, "STIR in the name or a short inversion time"
    if _T2.search(text):
        return Role.T2, "T2 in the series name"
    t1_named = bool(_T1.search(text))
    if t1_named and (has_agent or post_named):
        why = f"contrast agent tag ({info.contrast_agent})" if has_agent else "post-contrast name"
        return Role.T1_POST, f"T1 in the name and {why}"
    if t1_named:
        return Role.T1, "T1 in the series name, no contrast agent tag"
    tr, te = info.repetition_time_ms, info.echo_time_ms
    if tr and te:
        if te >= 60 and tr >= 1500:
            return Role.T2, f"long TR/TE ({tr:g}/{te:g} ms)"
        if te <= 30 and tr <= 1000:
            if has_agent or post_named:
                return Role.T1_POST, f"short TR/TE ({tr:g}/{te:g} ms) and contrast"
            return Role.T1, f"short TR/TE ({tr:g}/{te:g} ms)"
    if has_agent:
        return Role.T1_POST, f"contrast agent tag ({info.contrast_agent})"
    return Role.OTHER, "no name, contrast or timing evidence"


def with_guessed_role(info: SeriesInfo) -> SeriesInfo:
    role, reason = guess_role(info)
    return info.model_copy(update={"role": role, "role_reason": reason})
