"""Write a :class:`~lesionview.volume.Volume` as a classic DICOM MR series, one file per slice.

Slices are ``array[k]`` (array axis 0). With the geometry's direction columns (n, c, r):
ImageOrientationPatient = (r, c) (r: direction in which the column index increases, c: the
row index), ImagePositionPatient of slice k = ``geometry.index_to_world([k, 0, 0])``,
PixelSpacing = (spacing[1], spacing[2]). A reader that sorts slices along r x c (as
:mod:`lesionview.io.dicom` does) gets back this very geometry when ``n == r x c``
(``det(direction) < 0``, what DICOM readers produce); otherwise it gets the same voxels in the
same world positions with axis 0 reversed.

The series is written into a temporary folder beside the target and renamed into place, so a
reader never sees half a series; an existing non-empty folder is only replaced with
``overwrite=True``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from ...volume import Volume

__all__ = ["write_series"]


def _ds(value: float) -> str:
    """A DICOM decimal string (at most 16 characters) for a float."""
    for digits in range(10, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.0f}"


def _pixels(array: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Stored uint16/int16 values and (slope, intercept) so that value = stored * slope + intercept."""
    if array.dtype in (np.uint16, np.int16, np.uint8, np.int8, bool):
        out = array.astype(np.int16 if array.dtype.kind == "i" else np.uint16)
        return out, 1.0, 0.0
    a = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("write_series: the volume has NaN or infinite values; DICOM pixels cannot hold them")
    lo, hi = float(a.min()), float(a.max())
    if np.issubdtype(array.dtype, np.integer) and lo >= 0 and hi <= 65535:
        return a.astype(np.uint16), 1.0, 0.0
    if np.issubdtype(array.dtype, np.integer) and lo >= -32768 and hi <= 32767:
        return a.astype(np.int16), 1.0, 0.0
    slope = (hi - lo) / 65535 if hi > lo else 1.0
    return np.rint((a - lo) / slope).astype(np.uint16), slope, lo


def write_series(
    volume: Volume,
    folder: str | os.PathLike,
    *,
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_number: int | None = None,
    series_description: str | None = None,
    uid_seed: str | None = None,
    extra: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``volume`` as an MR Image Storage series into ``folder`` (one file per slice).

    Parameters
    ----------
    volume : Volume
        Slices are taken along array axis 0. Integer arrays that fit 16 bits are stored as they
        are; anything else (float fractions, probabilities) is scaled into uint16 with
        RescaleSlope/RescaleIntercept.
    folder : path
        Target folder; created (with its parents). Must not exist or be empty unless ``overwrite``.
    series_uid, study_uid, frame_of_reference_uid : str, optional
        Default: ``volume.info`` UIDs, else UIDs derived deterministically from ``uid_seed`` (so
        rewriting the same volume gives identical files). Give the same study and frame of
        reference UIDs to series of one study.
    series_number, series_description : optional
        Default: from ``volume.info``.
    uid_seed : str, optional
        Entropy for derived UIDs; default the patient ID, description and geometry.
    extra : mapping, optional
        More attributes by DICOM keyword (``{"ContrastBolusRoute": "IV"}``), set on every slice
        after the defaults, so they can override them.
    overwrite : bool
        Replace an existing non-empty ``folder``.

    Returns
    -------
    Path
        ``folder``.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from lesionview.geometry import Geometry
    >>> from lesionview.volume import Volume
    >>> v = Volume(np.zeros((3, 4, 5), np.uint16), Geometry((3, 4, 5)))
    >>> out = write_series(v, pathlib.Path(tempfile.mkdtemp()) / "s")
    >>> len(list(out.iterdir()))
    3
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder}: exists and is not a folder; choose another output path")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder}: folder is not empty; pass overwrite=True to replace it")
    if volume.array.ndim != 3:
        raise ValueError(f"write_series needs a 3D volume, got shape {volume.array.shape}")

    info, g = volume.info, volume.geometry
    seed = uid_seed or f"{info.patient_id}|{info.series_description}|{g.describe()}"
    study_uid = study_uid or info.study_uid or generate_uid(entropy_srcs=[seed, "study"])
    series_uid = series_uid or info.series_uid or generate_uid(entropy_srcs=[seed, study_uid, "series"])
    frame_uid = frame_of_reference_uid or generate_uid(entropy_srcs=[study_uid, "frame of reference"])
    number = series_number if series_number is not None else info.series_number
    description = series_description if series_description is not None else info.series_description

    pixels, slope, intercept = _pixels(volume.array)
    d = g.direction_matrix
    row_cosines, col_cosines, normal = d[:, 2], d[:, 1], np.cross(d[:, 2], d[:, 1])
    base = _base_dataset(info, study_uid, series_uid, frame_uid, number, description, g)
    base.ImageOrientationPatient = [_ds(v) for v in (*row_cosines, *col_cosines)]
    if slope != 1.0 or intercept != 0.0:
        base.RescaleSlope, base.RescaleIntercept, base.RescaleType = _ds(slope), _ds(intercept), "US"
    lo, hi = float(volume.array.min()), float(volume.array.max())
    base.WindowCenter, base.WindowWidth = _ds((lo + hi) / 2), _ds(max(hi - lo, 1e-3))
    for key, value in (extra or {}).items():
        setattr(base, key, value)

    width = max(4, len(str(g.shape[0])))
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the series is an ordinary folder once renamed
        for k in range(g.shape[0]):
            ds = _slice_dataset(base, pixels[k], k, g, normal, series_uid)
            ds.save_as(tmp / f"IM{k + 1:0{width}d}.dcm", enforce_file_format=True)
        _replace_folder(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _base_dataset(info, study_uid, series_uid, frame_uid, number, description, g) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.SOPClassUID = MRImageStorage
    date, time = info.study_date or "20000101", info.acquisition_time or "120000"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = info.acquisition_date or date
    ds.StudyTime = "100000"
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = time
    ds.AccessionNumber = ""
    ds.Modality = info.modality or "MR"
    ds.Manufacturer = info.manufacturer
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = info.study_description
    ds.SeriesDescription = description
    ds.ProtocolName = info.protocol_name or description
    ds.PatientName = info.patient_name
    ds.PatientID = info.patient_id
    ds.PatientBirthDate = info.patient_birth_date
    ds.PatientSex = "F"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = number if number is not None else 1
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.ScanningSequence = info.scanning_sequence.split("\\") if info.scanning_sequence else "SE"
    ds.SequenceVariant = info.sequence_variant.split("\\") if info.sequence_variant else "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    if info.sequence_name:
        ds.SequenceName = info.sequence_name
    if info.repetition_time_ms is not None:
        ds.RepetitionTime = _ds(info.repetition_time_ms)
    if info.echo_time_ms is not None:
        ds.EchoTime = _ds(info.echo_time_ms)
    if info.inversion_time_ms is not None:
        ds.InversionTime = _ds(info.inversion_time_ms)
    ds.EchoTrainLength = 1
    ds.SliceThickness = _ds(g.spacing[0])
    ds.SpacingBetweenSlices = _ds(g.spacing[0])
    ds.PixelSpacing = [_ds(g.spacing[1]), _ds(g.spacing[2])]
    if info.contrast_agent:
        ds.ContrastBolusAgent = info.contrast_agent
        ds.ContrastBolusRoute = "IV"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = g.shape[1], g.shape[2]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    return ds


def _slice_dataset(base: Dataset, pixels: np.ndarray, k: int, g, normal, series_uid: str) -> Dataset:
    ds = base.copy()
    sop = generate_uid(entropy_srcs=[series_uid, str(k)])
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPInstanceUID = sop
    ds.InstanceNumber = k + 1
    position = g.index_to_world([k, 0, 0])
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.SliceLocation = _ds(float(position @ normal))
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    ds.PixelData = np.ascontiguousarray(pixels).astype("<" + pixels.dtype.str[1:]).tobytes()
    return ds


def _replace_folder(tmp: Path, folder: Path) -> None:
    """Rename ``tmp`` onto ``folder``; an existing folder is moved aside first and deleted after."""
    if not folder.exists():
        os.replace(tmp, folder)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
    old.rmdir()
    os.replace(folder, old)
    try:
        os.replace(tmp, folder)
    except OSError:
        os.replace(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)
