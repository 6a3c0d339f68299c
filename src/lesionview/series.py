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
    image_type: str = ""
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


# Names are matched as whole tokens ("REST1" is not "T1", "fmap" not "T2"): words split at
# anything that is not a letter or digit, and a weighting token may carry a suffix ("t1w",
# "t2tse", "t1c") but never a digit ("t10" is a level, "rest1" a run).
_TOKEN = re.compile(r"[a-z0-9]+")
_POST_TOKENS = {"post", "gd", "gad", "gado", "contrast", "ce", "km", "kontrast", "postc", "postgd",
                "t1c", "t1ce", "t1gd", "t1post", "t1wce", "t1cgd"}
_POST = re.compile(r"\+\s*(?:c\b|gd\b|km\b)|\bc\s*\+", re.IGNORECASE)   # "T1+C", "+Gd", "C+"
_STIR_TOKENS = {"stir", "tirm", "irfse", "stirfse"}
_T2_STAR = re.compile(r"t2\s*\*|t2\s*star|\bt2s\b|\bme2d\b|\bmedic\b|\bmerge\b|\bswi\b", re.IGNORECASE)
_T2_TOKENS = {"haste", "ciss", "fiesta", "space", "dixon", "ssfse", "frfse"}
_T1_TOKENS = {"mprage", "vibe", "spgr", "flash", "bravo", "lava", "thrive", "mp2rage"}
# Series that are not structural images of the cord: functional MRI, diffusion, field and
# coil maps, localizers. Their names often hold "1"/"2" beside letters ("REST1", "B0 map").
# Not "phase" or "field": Dixon in/opposed-phase series are structural, and phase maps say
# so in their ImageType (P, PHASE).
_OTHER_TOKENS = {"bold", "rest", "resting", "fmri", "func", "task", "epfid", "dwi", "dti", "diff",
                 "diffusion", "adc", "trace", "tracew", "fa", "colfa", "tensor", "b0", "b1", "fmap",
                 "fieldmap", "phasediff", "magnitude",
                 "sbref", "localizer", "localiser", "loc", "scout", "survey", "3plane", "tripilot",
                 "calibration", "prescan", "perfusion", "asl", "pcasl", "dsc", "mosaic"}
# ImageType values (DICOM PS3.3 C.8.13.1.1.1 and vendor use) and sequence names that mark them.
_OTHER_IMAGE_TYPES = {"DIFFUSION", "ADC", "TRACEW", "FA", "FMRI", "MOSAIC", "FIELD_MAP", "B0", "B0MAP",
                      "PHASE", "P", "PERFUSION", "ASL", "LOCALIZER", "DERIVED_FIELDMAP"}
_FIELD_MAP = re.compile(r"field[\s_-]*map", re.IGNORECASE)
_OTHER_SEQUENCE = re.compile(r"^\*?(?:ep_b|epfid|epse|fm2d|fm3d|tfl_b1|ep2d_diff|ep2d_bold|epi)", re.IGNORECASE)


def _tokens(text: str) -> set[str]:
    """Words of the names, each also without a trailing run number ("rest1" -> "rest1", "rest")."""
    words = set(_TOKEN.findall(text.lower()))
    return words | {w.rstrip("0123456789") for w in words if w.rstrip("0123456789")}


def _weighting(tokens: set[str], n: str) -> bool:
    """A token "t1", "t1w", "t1tse", "sagt1"... but not "t10" or "rest1"."""
    return any(re.fullmatch(rf"(?:sag|ax|cor|tra)?t{n}(?:[a-z]\w*)?", t) for t in tokens)


def _not_structural(info: SeriesInfo, tokens: set[str]) -> str:
    """Why the series is fMRI, diffusion, a field map or a localizer; "" when nothing says so."""
    image_type = {v.strip().upper() for v in info.image_type.split("\\") if v.strip()}
    if image_type & _OTHER_IMAGE_TYPES:
        return f"ImageType {'/'.join(sorted(image_type & _OTHER_IMAGE_TYPES))}"
    if info.sequence_name and _OTHER_SEQUENCE.match(info.sequence_name.strip()):
        return f"sequence {info.sequence_name.strip()}"
    if tokens & _OTHER_TOKENS:
        return f"{'/'.join(sorted(tokens & _OTHER_TOKENS))} in the series name"
    if _FIELD_MAP.search(f"{info.series_description} {info.protocol_name}"):
        return "field map in the series name"
    return ""


def guess_role(info: SeriesInfo) -> tuple[Role, str]:
    """Guess the role of a series from its names, its ImageType and sequence tags, contrast tags
    and timing.

    fMRI, diffusion, field maps and localizers are "other" whatever their names hold (ImageType,
    sequence name, or a whole word such as "rest", "dwi", "fmap"). Names then win over timing
    because sites name their protocols well and timing overlaps between vendors; the reason says
    which evidence was used. Names are matched as whole words.

    Examples
    --------
    >>> guess_role(SeriesInfo(series_description="SAG T1 TSE", contrast_agent="Gadovist"))[0]
    <Role.T1_POST: 'T1+C'>
    >>> guess_role(SeriesInfo(series_description="REST1"))[0]
    <Role.OTHER: 'other'>
    """
    text = f"{info.series_description} {info.protocol_name} {info.sequence_name}"
    tokens = _tokens(text)
    other = _not_structural(info, tokens)
    if other:
        return Role.OTHER, f"not a structural image: {other}"
    has_agent = bool(info.contrast_agent.strip())
    post_named = bool(tokens & _POST_TOKENS) or bool(_POST.search(text))
    if tokens & _STIR_TOKENS or (info.inversion_time_ms and 100 <= info.inversion_time_ms <= 250):
        return Role.STIR, "STIR in the name or a short inversion time"
    if _T2_STAR.search(text):
        return Role.OTHER, "T2* (gradient echo) in the series name: not a T2 for edema"
    # SPACE and Dixon come in T1 and T2 flavours: they mean T2 only when no T1 word is there.
    if _weighting(tokens, "2") or (tokens & _T2_TOKENS and not _weighting(tokens, "1")):
        return Role.T2, "T2 in the series name"
    t1_named = _weighting(tokens, "1") or bool(tokens & _T1_TOKENS)
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
