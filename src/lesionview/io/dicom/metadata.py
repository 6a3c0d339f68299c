"""SeriesInfo from a DICOM header: identifiers, acquisition parameters and the role guess.

Enhanced (multi-frame) objects keep TR, TE and TI inside functional group sequences rather
than at the top level, so each value is looked up at the top level first, then in the shared
functional groups, then in the first frame's groups.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from ...series import SeriesInfo, with_guessed_role

# keyword -> where it can hide in enhanced objects (functional group sequence, keyword inside)
_ENHANCED = {
    "RepetitionTime": [("MRTimingAndRelatedParametersSequence", "RepetitionTime")],
    "EchoTime": [("MREchoSequence", "EffectiveEchoTime")],
    "InversionTime": [("MRModifierSequence", "InversionTimes")],
}


def series_info(ds: Dataset, *, source: str) -> SeriesInfo:
    """Fill a :class:`SeriesInfo` from ``ds`` (the header of the stack's first slice) and guess its role."""
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    info = SeriesInfo(
        source=source,
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        study_uid=_text(ds, "StudyInstanceUID"),
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        series_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_number(ds.get("SeriesNumber"), int),
        series_description=_text(ds, "SeriesDescription"),
        protocol_name=_text(ds, "ProtocolName"),
        modality=_text(ds, "Modality"),
        manufacturer=_text(ds, "Manufacturer"),
        sequence_name=_text(ds, "SequenceName") or _text(ds, "PulseSequenceName"),
        scanning_sequence=_multi(ds.get("ScanningSequence")),
        sequence_variant=_multi(ds.get("SequenceVariant")),
        repetition_time_ms=_number(_lookup(ds, "RepetitionTime"), float),
        echo_time_ms=_number(_lookup(ds, "EchoTime"), float),
        inversion_time_ms=_number(_lookup(ds, "InversionTime"), float),
        contrast_agent=_text(ds, "ContrastBolusAgent"),
        acquisition_date=_text(ds, "AcquisitionDate") or _text(ds, "AcquisitionDateTime")[:8],
        acquisition_time=_text(ds, "AcquisitionTime") or _text(ds, "AcquisitionDateTime")[8:],
        transfer_syntax=getattr(ts, "name", "") if ts else "",
    )
    return with_guessed_role(info)


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _multi(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return "\\".join(str(v) for v in value)


def _number(value, kind):
    if value in (None, ""):
        return None
    if not isinstance(value, str | int | float):
        try:
            value = value[0]  # multi-valued (e.g. InversionTimes): the first
        except (TypeError, IndexError):
            return None
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        return None


def _lookup(ds: Dataset, keyword: str):
    if ds.get(keyword) not in (None, ""):
        return ds.get(keyword)
    for groups_kw in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        groups = ds.get(groups_kw)
        if not groups:
            continue
        for seq_kw, inner in _ENHANCED.get(keyword, []):
            seq = groups[0].get(seq_kw)
            if seq and seq[0].get(inner) not in (None, ""):
                return seq[0].get(inner)
    return None
