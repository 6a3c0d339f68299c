"""SeriesInfo from a DICOM header: identifiers, acquisition parameters and the role guess.

Enhanced (multi-frame) objects keep TR, TE and TI inside functional group sequences rather
than at the top level, so each value is looked up at the top level first, then in the shared
functional groups, then in the first frame's groups.
"""

from __future__ import annotations

import math

from pydicom.dataset import Dataset

from ...series import SeriesInfo, with_guessed_role

# keyword -> where it can hide in enhanced objects (functional group sequence, keyword inside)
_ENHANCED = {
    "RepetitionTime": [("MRTimingAndRelatedParametersSequence", "RepetitionTime")],
    "EchoTime": [("MREchoSequence", "EffectiveEchoTime")],
    "InversionTime": [("MRModifierSequence", "InversionTimes")],
}


def series_info(ds: Dataset, *, source: str) -> SeriesInfo:
    """Fill a :class:`SeriesInfo` from ``ds`` (the header of the stack's first slice) and guess its role.

    These values only inform: one that cannot be read, is not a number where one is expected,
    or holds characters no report can print becomes empty, and never stops loading.
    """
    meta = getattr(ds, "file_meta", None)
    ts = _get(meta, "TransferSyntaxUID") if meta is not None else None
    info = SeriesInfo(
        source=source,
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        study_uid=_text(ds, "StudyInstanceUID"),
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        series_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_number(_get(ds, "SeriesNumber"), int),
        series_description=_text(ds, "SeriesDescription"),
        protocol_name=_text(ds, "ProtocolName"),
        modality=_text(ds, "Modality"),
        manufacturer=_text(ds, "Manufacturer"),
        sequence_name=_text(ds, "SequenceName") or _text(ds, "PulseSequenceName"),
        scanning_sequence=_multi(_get(ds, "ScanningSequence")),
        sequence_variant=_multi(_get(ds, "SequenceVariant")),
        image_type=_multi(_get(ds, "ImageType")),
        repetition_time_ms=_number(_lookup(ds, "RepetitionTime"), float),
        echo_time_ms=_number(_lookup(ds, "EchoTime"), float),
        inversion_time_ms=_number(_lookup(ds, "InversionTime"), float),
        contrast_agent=_text(ds, "ContrastBolusAgent"),
        acquisition_date=_text(ds, "AcquisitionDate") or _text(ds, "AcquisitionDateTime")[:8],
        acquisition_time=_text(ds, "AcquisitionTime") or _text(ds, "AcquisitionDateTime")[8:],
        transfer_syntax=_printable(getattr(ts, "name", "")) if ts else "",
    )
    return with_guessed_role(info)


def _get(ds, keyword: str):
    """``ds.get(keyword)``, or None when pydicom cannot convert the value (it raises many types)."""
    try:
        return ds.get(keyword)
    except Exception:  # noqa: BLE001 (an informative value: unreadable is as good as absent)
        return None


def _printable(text: str) -> str:
    r"""Text that every report can print: control characters and undecodable bytes become spaces.

    Examples
    --------
    >>> _printable("T2\x00 SAG\udcff")
    'T2  SAG'
    """
    return "".join(c if c.isprintable() else " " for c in text).strip()


def _text(ds: Dataset, keyword: str) -> str:
    value = _get(ds, keyword)
    if value is None:
        return ""
    try:
        return _printable(str(value))
    except Exception:  # noqa: BLE001 (str() of a damaged PersonName can fail to decode)
        return ""


def _multi(value) -> str:
    if value is None:
        return ""
    try:
        if isinstance(value, str):
            return _printable(value)
        return _printable("\\".join(str(v) for v in value))
    except Exception:  # noqa: BLE001 (informative only)
        return ""


def _number(value, kind):
    """A finite number of ``kind`` from a header value, or None (absent, text, NaN, inf...)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str | int | float):
        try:
            value = value[0]  # multi-valued (e.g. InversionTimes): the first
        except (TypeError, IndexError, KeyError):
            return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    if kind is int:
        return int(number) if number.is_integer() else None
    return number


def _lookup(ds: Dataset, keyword: str):
    if _get(ds, keyword) not in (None, ""):
        return _get(ds, keyword)
    for groups_kw in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        try:
            groups = ds.get(groups_kw)
            if not groups:
                continue
            for seq_kw, inner in _ENHANCED.get(keyword, []):
                seq = groups[0].get(seq_kw)
                if seq and seq[0].get(inner) not in (None, ""):
                    return seq[0].get(inner)
        except Exception:  # noqa: BLE001, S112 (a damaged sequence: the value is unknown)
            continue
    return None
