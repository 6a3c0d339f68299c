"""DICOM Segmentation (SEG) of the lesions, edema and cord, on the frames of the source series.

One segment per lesion ("Lesion 1", "Lesion 2", ... with the ids of the measurement), one per
edema region ("Edema 1", ...) and one for the spinal cord, so the SR measurement group of each
lesion references that lesion's own segment, as TID 1500 intends. Each segment carries a
tracking identifier equal to its label and a tracking UID, which the SR reuses.

Written by highdicom (BINARY segmentation), never hand-built, from copies of the source headers
completed as the standard allows (:func:`highdicom_sources`: a real series often lacks type 2
attributes highdicom reads); the caller's datasets and files are never changed. Masks must lie on the source
series' voxel grid: ``array[slice, row, col]`` with slices in the order of
:attr:`lesionview.io.dicom.DicomSeries.files` (what :meth:`DicomSeries.load` returns), so mask
slice ``k`` is written as the frame that references source image ``k``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileDataset
from pydicom.valuerep import DA, TM, DSfloat

from .. import __version__
from ..errors import GeometryMismatchError, InputError
from ..geometry import Geometry
from ..io.atomic import atomic_path
from ..measure.components import label_regions
from ..measure.models import StudyMeasurements
from ..volume import Volume
from . import codes

#: What de-identification puts in place of the patient's name and ID (birth date: empty).
ANONYMOUS = "ANONYMOUS"
#: Defaults that keep lesionview's derived series apart from the scanner's.
SEG_SERIES_NUMBER = 901
MASK_KEYS = ("lesion", "edema", "cord")


@dataclass(frozen=True)
class SourceSeries:
    """The DICOM source of a report: its datasets (headers) and the voxel grid they define.

    ``datasets`` are in the order highdicom needs for ``pixel_array``: slice order for a series
    of single-frame files; a single enhanced multi-frame file with ``frames[k]`` = the frame
    index (0-based) of slice ``k``.
    """

    datasets: tuple[Dataset, ...]
    geometry: Geometry
    frames: tuple[int, ...] | None
    label: str
    root: str

    @property
    def series_uid(self) -> str:
        return str(self.datasets[0].SeriesInstanceUID)

    @property
    def study_uid(self) -> str:
        return str(self.datasets[0].StudyInstanceUID)

    def to_frames(self, array: np.ndarray) -> np.ndarray:
        """``array[slice, ...]`` rearranged as the source frames (a no-op for single-frame files)."""
        if self.frames is None:
            return array
        out = np.zeros((int(self.datasets[0].NumberOfFrames), *array.shape[1:]), array.dtype)
        out[list(self.frames)] = array
        return out


def source_series(source, *, series: str | int | None = None) -> SourceSeries:
    """Resolve what the caller gave as the DICOM source of a report.

    Parameters
    ----------
    source : path, DicomSeries, Volume or sequence of pydicom Datasets
        A DICOM folder, ``.zip`` or file (``series`` picks one when it holds several), a series
        from :func:`lesionview.io.dicom.scan`, a volume loaded from DICOM (found again through
        its ``info.source`` and SeriesInstanceUID), or the datasets of one series.

    Raises
    ------
    InputError
        ``source`` is NIfTI (DICOM SEG and SR need the DICOM images they annotate), holds no or
        several series, or is a kind of series highdicom cannot annotate (Siemens mosaic).
    """
    from ..io.dicom import DicomSeries, scan
    from ..io.nifti import is_nifti

    if isinstance(source, DicomSeries):
        return _from_dicom_series(source)
    if isinstance(source, Volume):
        info = source.info
        if not info.series_uid or not info.source or is_nifti(Path(info.source)):
            raise _nifti_error(info.source or None)
        return _pick(scan(info.source).require_series(), info.series_uid, info.source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_file() and is_nifti(path):
            raise _nifti_error(path)
        return _pick(scan(path).require_series(), series, path)
    if isinstance(source, Sequence) and source and all(isinstance(d, Dataset) for d in source):
        return _from_datasets(list(source))
    raise TypeError(f"source must be a DICOM path, DicomSeries, Volume or pydicom Datasets, not {type(source)!r}")


def _nifti_error(path) -> InputError:
    return InputError("is a NIfTI image: DICOM SEG and SR can only be written for DICOM source images "
                      "(they reference the DICOM instances they annotate).", path=path,
                      hint="Load the DICOM series the masks were drawn on (the folder exported from the "
                           "PACS) and pass it as the image; or export JSON/CSV/HTML only.")


def _pick(found: list, key, root) -> SourceSeries:
    from ..io.dicom import pick_series

    return _from_dicom_series(pick_series(found, key, root))


def _from_dicom_series(s) -> SourceSeries:
    return _from_stack(s.stack, s.info.label, str(s.source.root))


def _from_datasets(datasets: list[Dataset]) -> SourceSeries:
    from ..io.dicom.discover import Header
    from ..io.dicom.slices import slices_of
    from ..io.dicom.stack import group

    slices = [sl for i, ds in enumerate(datasets) for sl in slices_of(Header(f"dataset {i}", ds, 0, 0, 0))]
    stacks = group(slices, str)
    if len(stacks) != 1:
        raise InputError(f"the {len(datasets)} datasets given form {len(stacks)} image stacks, not one.",
                         hint="Pass the datasets of the one series the masks were drawn on.")
    label = str(datasets[0].get("SeriesDescription", "") or datasets[0].get("SeriesInstanceUID", ""))
    return _from_stack(stacks[0], label, "")


def _from_stack(stack, label: str, root: str) -> SourceSeries:
    slices = stack.slices
    if any(s.mosaic for s in slices):
        raise InputError(f"series {label} is a Siemens mosaic: a DICOM SEG cannot reference its tiles.",
                         path=root or None, hint="Convert the mosaic to a multi-frame or single-frame series first.")
    files = list(dict.fromkeys(id(s.dataset) for s in slices))
    if len(files) == len(slices):  # single-frame files, one slice each
        return SourceSeries(tuple(s.dataset for s in slices), stack.geometry, None, label, root)
    if len(files) == 1:  # one enhanced multi-frame file
        ds = slices[0].dataset
        if len(slices) != int(ds.get("NumberOfFrames", 1)):
            raise InputError(f"series {label} uses {len(slices)} of the {ds.NumberOfFrames} frames of its file.",
                             path=root or None, hint="Split the multi-frame file into one stack per file first.")
        return SourceSeries((ds,), stack.geometry, tuple(s.frame for s in slices), label, root)
    raise InputError(f"series {label} mixes several multi-frame files.", path=root or None,
                     hint="Export the series as single-frame files or as one multi-frame file.")


# ----------------------------------------------------------------------------- what highdicom reads
#: Type 2 attributes (present, but may be empty: PS3.5 7.4) that highdicom 0.28 reads from the
#: first source image without a default, so a source lacking one raised AttributeError deep in
#: highdicom. ReferringPhysicianName, Manufacturer, SeriesNumber and InstanceNumber are read with
#: a default or not at all. A value highdicom refuses (PatientSex "W", StudyDate "2024-03-12") is
#: as unknown as a missing one: both become empty, on a copy.
EMPTY_WHEN_UNKNOWN = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                      "StudyTime", "AccessionNumber", "StudyID")
_VALID = {"PatientSex": lambda v: str(v) in ("M", "F", "O"), "PatientBirthDate": DA, "StudyDate": DA,
          "StudyTime": TM}
#: Type 1 attributes no value can be made up for, and why.
_REFERENCES = ("a SEG or SR references its source images by these UIDs, and an invented one would "
               "reference images that do not exist")
REQUIRED = {
    "StudyInstanceUID": _REFERENCES, "SeriesInstanceUID": _REFERENCES,
    "SOPInstanceUID": _REFERENCES, "SOPClassUID": _REFERENCES,
}
REQUIRED_BY_SEG = {
    "FrameOfReferenceUID": "a SEG places its frames in the frame of reference of its source images, and an "
                           "invented one would tell viewers the segments lie in another space than the images",
}


def highdicom_sources(src: SourceSeries, what: str = "SEG") -> tuple[Dataset, ...]:
    """Copies of the source datasets completed as highdicom needs them; the originals are untouched.

    Missing or refused :data:`EMPTY_WHEN_UNKNOWN` attributes are added empty. A single-frame source
    without a SliceThickness (type 2) gets the spacing between its slices, which is the
    thickness of the voxels lesionview measured on: highdicom copies it into the SEG's Pixel
    Measures, where it is required (an empty one makes a SEG that highdicom cannot read back).

    Parameters
    ----------
    src : SourceSeries
        What :func:`source_series` returned.
    what : {"SEG", "SR"}
        The object being made: a SEG also needs the FrameOfReferenceUID.

    Raises
    ------
    InputError
        A type 1 attribute (:data:`REQUIRED`, and for a SEG :data:`REQUIRED_BY_SEG`) is missing
        or empty: it says which, why it cannot be filled in, and what to do.
    """
    needed = {**REQUIRED, **(REQUIRED_BY_SEG if what == "SEG" else {})}
    for keyword, why in needed.items():
        lacking = sum(1 for ds in src.datasets if not ds.get(keyword))
        if lacking:
            raise InputError(
                f"series {src.label}: {lacking} of {len(src.datasets)} source images have no {keyword} "
                f"(type 1), so a DICOM {what} cannot be made: {why}. lesionview never edits its inputs.",
                path=src.root or None,
                hint=f"Export the series again with its {keyword} (from the scanner or PACS), or leave "
                     "seg and sr out of the formats.")
    return tuple(_completed(ds, src) for ds in src.datasets)


def _completed(ds: Dataset, src: SourceSeries) -> Dataset:
    out = header_copy(ds)
    for keyword in EMPTY_WHEN_UNKNOWN:
        if keyword not in out or not _valid(keyword, out.get(keyword)):
            out.add_new(keyword, dictionary_VR(keyword), "")
    if src.frames is None and out.get("SliceThickness") in (None, ""):
        out.add_new("SliceThickness", "DS", DSfloat(src.geometry.spacing[0], auto_format=True))
    return out


def header_copy(ds: Dataset) -> Dataset:
    """A new dataset with the data elements of ``ds`` in an element table of its own.

    Elements added to the copy (``add_new``) never reach ``ds``; the elements themselves are
    shared, so the copy must replace them, never assign to them. Values the reader left on disk
    (the pixel data) stay there and are read from the same file if ever asked for, as from
    ``ds``; pixel data already read is shared, not copied. ``copy.copy`` would share the element
    table itself, and ``copy.deepcopy`` would copy every value: the decoded pixel array of a
    loaded file and every frame's functional groups of an enhanced multi-frame file, for nothing.

    Examples
    --------
    >>> ds = Dataset()
    >>> ds.PatientName = "Doe^Jane"
    >>> out = header_copy(ds)
    >>> out.add_new("AccessionNumber", "SH", "")
    >>> "AccessionNumber" in ds, out.PatientName == ds.PatientName
    (False, True)
    """
    elements = dict(ds.items())
    implicit, little = ds.original_encoding
    if isinstance(ds, FileDataset):
        out = FileDataset("", elements, preamble=ds.preamble, file_meta=ds.file_meta,
                          is_implicit_VR=True if implicit is None else implicit,
                          is_little_endian=True if little is None else little)
        # Where deferred values are read from: the source file, as for ``ds``.
        out.filename, out.fileobj_type, out.buffer, out.timestamp = (ds.filename, ds.fileobj_type,
                                                                     ds.buffer, ds.timestamp)
    else:
        out = Dataset(elements)
    out.set_original_encoding(implicit, little, ds.original_character_set)
    return out


def _valid(keyword: str, value) -> bool:
    """False for a value highdicom would refuse (and raise on), not for an empty one."""
    if value in (None, "") or keyword not in _VALID:
        return True
    try:
        return _VALID[keyword](value) is not False
    except (ValueError, TypeError):
        return False


# ----------------------------------------------------------------------------- masks
def mask_on_grid(mask, src: SourceSeries, name: str) -> np.ndarray:
    """``mask`` as an array on the source grid, reoriented (no resampling) when stored otherwise."""
    geometry = src.geometry
    if isinstance(mask, Volume):
        vol = mask
        if not vol.geometry.same_space(geometry) and vol.geometry.orientation != geometry.orientation:
            vol = vol.reoriented(geometry.orientation)  # permutations and flips: voxels keep their place
        if not vol.geometry.same_space(geometry):
            raise GeometryMismatchError(
                f"the {name} is not on the voxel grid of series {src.label}: mask {mask.geometry.describe()}; "
                f"series {geometry.describe()}.", path=mask.info.source or None,
                hint="Draw or resample the mask on the DICOM series itself (lesionview measure --resample "
                     "resamples masks with nearest neighbour).")
        return np.asarray(vol.array)
    arr = np.asarray(mask)
    if arr.shape != geometry.shape:
        raise GeometryMismatchError(f"the {name} has shape {arr.shape}, series {src.label} "
                                    f"{geometry.shape} (slice, row, column).",
                                    hint="Pass masks as Volumes with their geometry, on the series grid.")
    return arr


def lesion_labels(mask: np.ndarray, geometry: Geometry, result: StudyMeasurements | None = None,
                  *, connectivity: int = 26, mask_kind: str = "auto") -> np.ndarray:
    """Label image whose values are the lesion ids of :func:`lesionview.measure.measure`.

    A binary mask's components are numbered superior to inferior, as ``measure()`` does. With
    ``result``, its connectivity and mask kind are used and every lesion's voxel count is checked,
    so a segment can never carry another lesion's number.
    """
    if result is not None:
        connectivity, mask_kind = result.parameters.connectivity, result.parameters.mask_kind
    labels, kind = label_regions(mask, connectivity=connectivity, kind=mask_kind, name="lesion mask")
    if kind == "binary" and labels.max() > 0:
        n = int(labels.max())
        idx = np.nonzero(labels)
        counts = np.bincount(labels[idx], minlength=n + 1)[1:]
        mean_index = np.stack([np.bincount(labels[idx], weights=i, minlength=n + 1)[1:] for i in idx], 1)
        mean_index /= counts[:, None]
        z = np.asarray(geometry.index_to_world(mean_index))[:, 2]
        order = sorted(range(n), key=lambda k: -z[k])  # stable: ties keep scan order, as measure()
        lut = np.zeros(n + 1, np.int32)
        lut[[k + 1 for k in order]] = np.arange(1, n + 1)
        labels = lut[labels]
    if result is not None:
        _check_counts(labels, {les.id: les.voxel_count for les in result.lesions}, "lesion")
    return labels


def edema_labels(mask: np.ndarray, result: StudyMeasurements | None = None, *, connectivity: int = 26) -> np.ndarray:
    """Edema regions numbered as :func:`~lesionview.measure.measure` numbers them (array scan order)."""
    if result is not None:
        connectivity = result.parameters.connectivity
    labels, _ = label_regions(np.asarray(mask) != 0, connectivity=connectivity, kind="binary", name="edema mask")
    if result is not None:
        _check_counts(labels, {ed.id: ed.voxel_count for ed in result.edema}, "edema region")
    return labels


def _check_counts(labels: np.ndarray, expected: dict[int, int], what: str) -> None:
    counts = np.bincount(labels.ravel())
    found = {k: int(c) for k, c in enumerate(counts) if k and c}
    if found != expected:
        diff = "; ".join(f"{what} {k}: {expected.get(k, 0)} voxels measured, {found.get(k, 0)} in the mask"
                         for k in sorted(set(found) | set(expected)) if found.get(k) != expected.get(k))
        raise InputError(f"the {what} mask is not the one the measurements were made from ({diff}).",
                         hint="Pass the same masks (and parameters) as to measure(), or measure again.")


# ----------------------------------------------------------------------------- the SEG
def write_seg(source, masks: Mapping[str, Volume | np.ndarray | None], out_path: str | os.PathLike, *,
              result: StudyMeasurements | None = None, series: str | int | None = None,
              deidentify: bool = True, algorithm_type: str = "SEMIAUTOMATIC",
              series_number: int = SEG_SERIES_NUMBER, series_description: str = "lesionview segmentation",
              connectivity: int = 26, mask_kind: str = "auto") -> Path:
    """Write a DICOM SEG of the lesions, edema and cord on the source series, atomically.

    Parameters
    ----------
    source : path, DicomSeries, Volume or sequence of pydicom Datasets
        The DICOM series the masks were drawn on (see :func:`source_series`). NIfTI is refused.
    masks : mapping
        ``{"lesion": ..., "edema": ..., "cord": ...}`` (edema and cord optional), each a Volume
        on the series grid (reoriented without resampling if stored otherwise) or an array
        ``[slice, row, col]`` in the series' slice order.
    out_path : path
        The ``.dcm`` file to write.
    result : StudyMeasurements, optional
        The measurement of these masks: lesion and edema segments then carry its ids (checked
        voxel for voxel). Without it the ids are those ``measure()`` would give with
        ``connectivity`` and ``mask_kind``.
    deidentify : bool
        Replace PatientName and PatientID by "ANONYMOUS" and empty PatientBirthDate. Study and
        series UIDs, dates and the other patient attributes are kept (the SEG must still
        reference its source); this is not a full PS3.15 de-identification.
    algorithm_type : {"SEMIAUTOMATIC", "AUTOMATIC", "MANUAL"}
        DICOM Segment Algorithm Type; lesionview is named as the algorithm unless MANUAL.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    InputError
        The source is NIfTI or lacks a type 1 attribute the SEG needs (:func:`highdicom_sources`),
        or the masks are empty or not the measured ones.
    GeometryMismatchError
        A mask is not on the source series' voxel grid.
    """
    import highdicom as hd  # here, not at the top: its import takes ~0.4 s and only DICOM export needs it

    unknown = set(masks) - set(MASK_KEYS)
    if unknown:
        raise ValueError(f"unknown mask keys {sorted(unknown)}; use {MASK_KEYS}")
    src = source_series(source, series=series)
    sources = highdicom_sources(src, "SEG")  # before the work: a missing type 1 UID refuses it
    layers, descriptions = [], []
    algorithm_type = hd.seg.SegmentAlgorithmTypeValues(algorithm_type.upper())
    algorithm = None
    if algorithm_type != hd.seg.SegmentAlgorithmTypeValues.MANUAL:
        algorithm = hd.AlgorithmIdentificationSequence(name="lesionview", version=__version__,
                                                       family=codes.ALGORITHM_FAMILY)

    def add(label: str, category, prop, layer: np.ndarray) -> None:
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=len(descriptions) + 1, segment_label=label, segmented_property_category=category,
            segmented_property_type=prop, algorithm_type=algorithm_type, algorithm_identification=algorithm,
            tracking_id=label, tracking_uid=hd.UID(), anatomic_regions=[codes.SPINAL_CORD]))
        layers.append(layer)

    if masks.get("lesion") is not None:
        arr = mask_on_grid(masks["lesion"], src, "lesion mask")
        labels = lesion_labels(arr, src.geometry, result, connectivity=connectivity, mask_kind=mask_kind)
        for k in range(1, int(labels.max()) + 1):
            if np.any(labels == k):
                add(f"Lesion {k}", codes.MORPHOLOGICALLY_ABNORMAL_STRUCTURE, codes.LESION, labels == k)
    if masks.get("edema") is not None:
        labels = edema_labels(mask_on_grid(masks["edema"], src, "edema mask"), result, connectivity=connectivity)
        for k in range(1, int(labels.max()) + 1):
            add(f"Edema {k}", codes.MORPHOLOGICALLY_ABNORMAL_STRUCTURE, codes.EDEMA, labels == k)
    if masks.get("cord") is not None:
        cord = mask_on_grid(masks["cord"], src, "cord mask") != 0
        if cord.any():
            add("Spinal cord", codes.ANATOMICAL_STRUCTURE, codes.SPINAL_CORD, cord)
    if not layers:
        raise InputError("there is nothing to segment: the lesion, edema and cord masks are empty or missing.",
                         hint="A DICOM SEG needs at least one non-empty mask.")

    pixels = src.to_frames(np.stack(layers, axis=-1))
    seg = hd.seg.Segmentation(
        source_images=list(sources), pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
        series_instance_uid=hd.UID(), series_number=series_number, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="lesionview", manufacturer_model_name="lesionview",
        software_versions=__version__, device_serial_number="1", content_label="LESIONVIEW",
        content_description="Spinal cord lesions, edema and cord", series_description=series_description,
    )
    return save(seg, out_path, deidentify=deidentify)


def save(ds: Dataset, out_path, *, deidentify: bool) -> Path:
    """Write a SEG or SR atomically, without the patient's identifiers when asked."""
    if deidentify:
        deidentify_patient(ds)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return out_path


def declare_local_codes(ds: Dataset) -> Dataset:
    """Name the private coding scheme in the Coding Scheme Identification Sequence (PS3.3 C.12.1)."""
    item = Dataset()
    item.CodingSchemeDesignator = codes.LOCAL_SCHEME
    item.CodingSchemeName = "lesionview local concepts"
    item.CodingSchemeResponsibleOrganization = "lesionview (src/lesionview/report/codes.py)"
    ds.CodingSchemeIdentificationSequence = [item]
    return ds


def deidentify_patient(ds: Dataset) -> Dataset:
    """Replace the patient's name and ID by "ANONYMOUS" and empty the birth date (type 2), in place.

    New data elements are made (``add_new``), never assigned to: highdicom shares the source
    images' patient elements with the objects it builds, and assigning would rename the patient
    in the caller's source datasets too.
    """
    ds.add_new("PatientName", "PN", f"{ANONYMOUS}^")  # family name only (a bare name is a retired PN form)
    ds.add_new("PatientID", "LO", ANONYMOUS)
    ds.add_new("PatientBirthDate", "DA", "")
    ds.add_new("PatientIdentityRemoved", "CS", "YES")
    ds.add_new("DeidentificationMethod", "LO", "lesionview: name, ID, birth date removed")
    return ds
