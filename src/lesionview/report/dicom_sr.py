"""DICOM SR Comprehensive 3D measurement report (TID 1500) of the lesions and edema.

One measurement group (TID 1411, volumetric ROI) per lesion and per edema region, each
referencing its own segment of the lesionview SEG (matched by the segment's tracking identifier,
"Lesion 2", whose tracking UID the group reuses), with finding site Spinal cord:

==================================  =============================================  =========
lesion field                        concept (method / derivation)                  unit
==================================  =============================================  =========
``max_diameter_ibsi_mm``            IBSI L0JK Maximum 3D Diameter of a Mesh        mm
``max_diameter_mm``                 SCT Diameter, derivation Maximum, method       mm
                                    99LESIONVIEW calibrated maximum 3D diameter
``axial_long_mm``                   SCT Long axis (method: axial section)          mm
``axial_short_mm``                  SCT Perpendicular Axis (method: axial section) mm
``volume_mm3``                      SCT Volume (method DCM 126030 sum of voxels)   mm3
``craniocaudal_mm``                 SCT Length (method: craniocaudal extent)       mm
``craniocaudal_along_cord_mm``      SCT Length (method: extent along the cord)     mm
``levels.label``                    qualitative evaluation "Vertebral levels"      code "C5-C6"
==================================  =============================================  =========

Edema groups hold the volume, both lengths, the levels and "Longitudinally extensive" (Yes/No).
Codes and their sources: :mod:`lesionview.report.codes`.

The summary sentence is not written: TID 1500 has no free-text row in a measurement group, and
highdicom's ``MeasurementReport`` does not build the report-level "Qualitative Evaluations"
container (row 12), which would have to be hand-built.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from .. import __version__
from ..errors import InputError
from ..measure.models import Edema, Lesion, StudyMeasurements
from . import codes
from .dicom_seg import declare_local_codes, highdicom_sources, save, source_series

SR_SERIES_NUMBER = 902
#: The same device UID every run, so archives see one lesionview observer.
DEVICE_UID = generate_uid(entropy_srcs=["lesionview measurement device"])


def write_sr(result: StudyMeasurements, seg, source, out_path: str | os.PathLike, *,
             series: str | int | None = None, deidentify: bool = True,
             series_number: int = SR_SERIES_NUMBER,
             series_description: str = "lesionview measurements") -> Path:
    """Write the TID 1500 measurement report of ``result`` as a Comprehensive 3D SR, atomically.

    Parameters
    ----------
    result : StudyMeasurements
        What :func:`lesionview.measure.measure` returned for the masks of ``seg``.
    seg : path or pydicom Dataset
        The SEG written by :func:`lesionview.report.dicom_seg.write_seg` for the same result
        (its segments "Lesion k" / "Edema k" are referenced).
    source : path, DicomSeries, Volume or sequence of pydicom Datasets
        The DICOM series the SEG was made on (see :func:`~lesionview.report.dicom_seg.source_series`);
        NIfTI is refused.
    deidentify : bool
        As for the SEG: PatientName and PatientID "ANONYMOUS", PatientBirthDate empty.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    InputError
        The source is NIfTI or lacks a type 1 UID (missing type 2 attributes are filled in on a
        copy: :func:`~lesionview.report.dicom_seg.highdicom_sources`), or the SEG does not match.
    """
    import highdicom as hd  # here, not at the top: its import takes ~0.4 s and only DICOM export needs it

    src = source_series(source, series=series)
    sources = highdicom_sources(src, "SR")
    seg = _read_seg(seg)
    if str(seg.StudyInstanceUID) != src.study_uid:
        raise InputError(f"the SEG belongs to study {seg.StudyInstanceUID}, the source series {src.label} "
                         f"to study {src.study_uid}.", hint="Pass the SEG written for this series.")
    segments = {str(s.get("TrackingID", s.SegmentLabel)): s for s in seg.SegmentSequence}
    algorithm = hd.sr.AlgorithmIdentification(name="lesionview", version=__version__)
    site = [hd.sr.FindingSite(codes.SPINAL_CORD)]

    def group(name: str, finding, measurements, evaluations):
        segment = segments.get(name)
        if segment is None:
            raise InputError(f"the SEG has no segment {name!r} (it has: {', '.join(segments)}).",
                             hint="Write the SEG from the same masks and result (write_seg(..., result=result)).")
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=str(segment.get("TrackingUID", hd.UID())),
                                                         identifier=name),
            referenced_segment=hd.sr.ReferencedSegment.from_segmentation(seg, int(segment.SegmentNumber)),
            finding_type=finding, finding_category=codes.MORPHOLOGICALLY_ABNORMAL_STRUCTURE,
            finding_sites=site, algorithm_id=algorithm,
            measurements=[hd.sr.Measurement(**m) for m in measurements],
            qualitative_evaluations=[hd.sr.QualitativeEvaluation(n, v) for n, v in evaluations])

    groups = [group(f"Lesion {les.id}", codes.LESION, lesion_measurements(les), _levels(les))
              for les in result.lesions]
    groups += [group(f"Edema {ed.id}", codes.EDEMA, edema_measurements(ed), edema_evaluations(ed))
               for ed in result.edema]
    if not groups:
        raise InputError("there is nothing to report: no lesion and no edema region was measured.",
                         hint="A TID 1500 report needs at least one measurement group; export JSON/CSV instead.")

    device = hd.sr.ObserverContext(
        observer_type=codes.DEVICE,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=DEVICE_UID, name="lesionview", manufacturer_name="lesionview", model_name="lesionview"))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=codes.PROCEDURE, imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[*sources, seg], content=report[0], series_instance_uid=hd.UID(),
        series_number=series_number, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer="lesionview", is_complete=True, is_final=False, is_verified=False,
        series_description=series_description)
    declare_local_codes(sr)
    return save(sr, out_path, deidentify=deidentify)


def _read_seg(seg) -> Dataset:
    import highdicom as hd

    if isinstance(seg, Dataset):
        return seg
    path = Path(seg)
    try:
        return hd.seg.segread(path)
    except Exception as exc:
        raise InputError(f"cannot be read as a DICOM SEG ({exc}).", path=path,
                         hint="Pass the file written by write_seg.") from exc


def _mm(name, value, **extra) -> dict:
    return {"name": name, "value": float(value), "unit": codes.MM, **extra}


def lesion_measurements(les: Lesion) -> list[dict]:
    """Keyword arguments of each ``highdicom.sr.Measurement`` of a lesion (see the module table)."""
    rows = [
        _mm(codes.MAX_3D_DIAMETER_IBSI, les.max_diameter_ibsi_mm),
        _mm(codes.DIAMETER, les.max_diameter_mm, derivation=codes.MAXIMUM, method=codes.CALIBRATED_DIAMETER),
        _mm(codes.LONG_AXIS, les.axial_long_mm, method=codes.AXIAL_SECTION),
        _mm(codes.PERPENDICULAR_AXIS, les.axial_short_mm, method=codes.AXIAL_SECTION),
        {"name": codes.VOLUME, "value": float(les.volume_mm3), "unit": codes.MM3, "method": codes.VOLUME_FROM_VOXELS},
        _mm(codes.LENGTH, les.craniocaudal_mm, method=codes.CRANIOCAUDAL),
    ]
    if les.craniocaudal_along_cord_mm is not None:
        rows.append(_mm(codes.LENGTH, les.craniocaudal_along_cord_mm, method=codes.ALONG_CORD))
    return rows


def edema_measurements(ed: Edema) -> list[dict]:
    rows = [
        {"name": codes.VOLUME, "value": float(ed.volume_mm3), "unit": codes.MM3, "method": codes.VOLUME_FROM_VOXELS},
        _mm(codes.LENGTH, ed.craniocaudal_mm, method=codes.CRANIOCAUDAL),
    ]
    if ed.craniocaudal_along_cord_mm is not None:
        rows.append(_mm(codes.LENGTH, ed.craniocaudal_along_cord_mm, method=codes.ALONG_CORD))
    return rows


def _levels(region: Lesion | Edema) -> list[tuple]:
    """The vertebral levels, then the spinal cord segments (estimated or read), each by its own concept."""
    out = []
    if region.levels is not None and region.levels.first is not None:
        out.append((codes.VERTEBRAL_LEVELS, codes.level_value(region.levels.label)))
    segments = getattr(region, "cord_segments", None)
    if segments is not None and segments.first is not None:
        concept = codes.CORD_SEGMENTS_ESTIMATED if segments.estimated else codes.CORD_SEGMENTS
        out.append((concept, codes.level_value(segments.label)))
    return out


def edema_evaluations(ed: Edema) -> list[tuple]:
    out = _levels(ed)
    if ed.longitudinally_extensive is not None:
        out.append((codes.LONGITUDINALLY_EXTENSIVE, codes.YES if ed.longitudinally_extensive else codes.NO))
    return out
