"""DICOM SEG and SR (TID 1500) of the twin phantom: re-read with highdicom, checked against the
masks and the JSON result, validated with dciodvfy (Debian dicom3tools) when installed."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import need_tool

hd = pytest.importorskip("highdicom")

from lesionview.errors import GeometryMismatchError, InputError
from lesionview.io import load_volume
from lesionview.io.dicom import scan
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.report import codes
from lesionview.report.dicom_seg import write_seg
from lesionview.report.dicom_sr import write_sr

TWIN = Path(__file__).resolve().parents[1] / "sample_data" / "twin"
DICOM = TWIN / "dicom" / "05_SAG_T1_TSE_C"


@pytest.fixture(scope="module")
def study():
    image = load_volume(DICOM)
    masks = {k: load_volume(TWIN / f"{k}.nii.gz") for k in ("lesion", "edema", "cord")}
    result = measure(masks["lesion"], image=image, edema=masks["edema"], cord=masks["cord"],
                     levels=LevelModel.from_file(TWIN / "landmarks.csv"))
    (series,) = scan(DICOM).series
    return {"image": image, "masks": masks, "result": result, "series": series}


@pytest.fixture(scope="module")
def written(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("dicom_report")
    seg = write_seg(study["series"], study["masks"], out / "seg.dcm", result=study["result"])
    sr = write_sr(study["result"], seg, study["series"], out / "sr.dcm")
    return {"seg": seg, "sr": sr, "out": out}


def _source_uids(series) -> list[str]:
    return [str(s.dataset.SOPInstanceUID) for s in series.stack.slices]


def _segment_arrays(seg, series) -> dict[str, np.ndarray]:
    """Each segment's mask on the source grid, by label, in the series' slice order."""
    pixels = seg.get_pixels_by_source_instance(_source_uids(series), assert_missing_frames_are_empty=True)
    return {str(d.SegmentLabel): pixels[..., i].astype(bool) for i, d in enumerate(seg.SegmentSequence)}


# ----------------------------------------------------------------------------- SEG
def test_seg_segments_equal_the_masks_voxel_for_voxel(study, written):
    seg = hd.seg.segread(written["seg"])
    got = _segment_arrays(seg, study["series"])
    lesion = study["masks"]["lesion"].array
    edema = study["masks"]["edema"].array != 0
    cord = study["masks"]["cord"].array != 0
    assert list(got) == ["Lesion 1", "Lesion 2", "Edema 1", "Spinal cord"]
    for les in study["result"].lesions:
        assert got[f"Lesion {les.id}"].sum() == les.voxel_count
        np.testing.assert_array_equal(got[f"Lesion {les.id}"], lesion == les.id)
    np.testing.assert_array_equal(got["Edema 1"], edema)
    np.testing.assert_array_equal(got["Spinal cord"], cord)
    assert seg.SegmentationType == "BINARY"
    assert seg.SeriesInstanceUID != study["series"].info.series_uid
    assert seg.StudyInstanceUID == study["series"].info.study_uid
    assert seg.FrameOfReferenceUID == study["series"].stack.slices[0].dataset.FrameOfReferenceUID


def test_seg_codes(written):
    seg = hd.seg.segread(written["seg"])

    def code(item):
        return item.CodeValue, item.CodingSchemeDesignator

    expected = {"Lesion": (("52988006", "SCT"), ("49755003", "SCT")),
                "Edema": (("79654002", "SCT"), ("49755003", "SCT")),
                "Spinal cord": (("2748008", "SCT"), ("91723000", "SCT"))}
    for d in seg.SegmentSequence:
        prop, cat = expected[d.SegmentLabel.split(" ")[0] if d.SegmentLabel[-1].isdigit() else d.SegmentLabel]
        assert code(d.SegmentedPropertyTypeCodeSequence[0]) == prop
        assert code(d.SegmentedPropertyCategoryCodeSequence[0]) == cat
        assert code(d.AnatomicRegionSequence[0]) == ("2748008", "SCT")
        assert d.SegmentAlgorithmType == "SEMIAUTOMATIC"
        assert d.SegmentAlgorithmName == "lesionview"
        assert d.TrackingID == d.SegmentLabel and d.TrackingUID


def test_seg_accepts_paths_reoriented_masks_and_binary_lesion_masks(study, tmp_path):
    """A folder as source, masks stored in another orientation (reoriented, never resampled), and
    a binary lesion mask numbered superior to inferior as measure() numbers it."""
    masks = {"lesion": study["masks"]["lesion"].like(study["masks"]["lesion"].array != 0).reoriented("LPS"),
             "cord": study["masks"]["cord"].reoriented("RAS")}
    path = write_seg(DICOM, masks, tmp_path / "seg.dcm", algorithm_type="MANUAL")
    seg = hd.seg.segread(path)
    got = _segment_arrays(seg, study["series"])
    lesion = study["masks"]["lesion"].array
    np.testing.assert_array_equal(got["Lesion 1"], lesion == 1)  # C5, the superior one
    np.testing.assert_array_equal(got["Lesion 2"], lesion == 2)
    np.testing.assert_array_equal(got["Spinal cord"], study["masks"]["cord"].array != 0)
    assert all(d.SegmentAlgorithmType == "MANUAL" for d in seg.SegmentSequence)


def test_seg_refuses_masks_on_another_grid(study, tmp_path):
    lesion = study["masks"]["lesion"]
    cropped = lesion.__class__(lesion.array[:, 10:], lesion.geometry.cropped((slice(None), slice(10, None),
                                                                              slice(None))))
    with pytest.raises(GeometryMismatchError, match="not on the voxel grid"):
        write_seg(study["series"], {"lesion": cropped}, tmp_path / "seg.dcm")
    with pytest.raises(GeometryMismatchError, match="shape"):
        write_seg(study["series"], {"lesion": lesion.array[:, 10:]}, tmp_path / "seg.dcm")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_seg_refuses_masks_that_are_not_the_measured_ones(study, tmp_path):
    other = study["masks"]["lesion"].array.copy()
    other[other == 2] = 0
    with pytest.raises(InputError, match="lesion 2: 205 voxels measured, 0 in the mask"):
        write_seg(study["series"], {"lesion": other}, tmp_path / "seg.dcm", result=study["result"])


# ----------------------------------------------------------------------------- SR
def _lesion_rows(les: dict) -> dict[tuple, float]:
    return {
        (codes.MAX_3D_DIAMETER_IBSI.value, None): les["max_diameter_ibsi_mm"],
        (codes.DIAMETER.value, codes.CALIBRATED_DIAMETER.value): les["max_diameter_mm"],
        (codes.LONG_AXIS.value, codes.AXIAL_SECTION.value): les["axial_long_mm"],
        (codes.PERPENDICULAR_AXIS.value, codes.AXIAL_SECTION.value): les["axial_short_mm"],
        (codes.VOLUME.value, codes.VOLUME_FROM_VOXELS.value): les["volume_mm3"],
        (codes.LENGTH.value, codes.CRANIOCAUDAL.value): les["craniocaudal_mm"],
        (codes.LENGTH.value, codes.ALONG_CORD.value): les["craniocaudal_along_cord_mm"],
    }


def _edema_rows(ed: dict) -> dict[tuple, float]:
    return {
        (codes.VOLUME.value, codes.VOLUME_FROM_VOXELS.value): ed["volume_mm3"],
        (codes.LENGTH.value, codes.CRANIOCAUDAL.value): ed["craniocaudal_mm"],
        (codes.LENGTH.value, codes.ALONG_CORD.value): ed["craniocaudal_along_cord_mm"],
    }


def _measured(group) -> dict[tuple, float]:
    out = {}
    for m in group.get_measurements():
        assert m.unit.value == ("mm3" if m.name.value == codes.VOLUME.value else "mm")
        assert m.unit.scheme_designator == "UCUM"
        key = (m.name.value, None if m.method is None else m.method.value)
        assert key not in out, f"two measurements {key}"
        out[key] = m.value
    return out


def _evaluations(group) -> dict[str, str]:
    return {q.name.value: q.value.value for q in group.get_qualitative_evaluations()}


def test_sr_measurements_equal_the_json(study, written):
    sr = hd.sr.srread(written["sr"])
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR Storage
    data = study["result"].model_dump(mode="json")
    groups = {g.tracking_identifier: g for g in sr.content.get_volumetric_roi_measurement_groups()}
    assert set(groups) == {"Lesion 1", "Lesion 2", "Edema 1"}
    for les in data["lesions"]:
        g = groups[f"Lesion {les['id']}"]
        got, want = _measured(g), _lesion_rows(les)
        assert set(got) == set(want)
        for key, value in want.items():
            assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-9), key
        assert _evaluations(g)[codes.VERTEBRAL_LEVELS.value] == les["levels"]["first"]  # "C5", "C6"
        assert g.finding_type.value == codes.LESION.value
        assert [s.value.value for s in g.finding_sites] == [codes.SPINAL_CORD.value]
    (ed,) = data["edema"]
    g = groups["Edema 1"]
    got = _measured(g)
    for key, value in _edema_rows(ed).items():
        assert math.isclose(got[key], value, rel_tol=1e-9), key
    ev = _evaluations(g)
    assert ev[codes.VERTEBRAL_LEVELS.value] == "C1-C7"
    # The estimated cord segments under their own concept, never as vertebral levels.
    segments = ed["cord_segments"]
    assert segments["kind"] == "cord segment" and segments["estimated"] is True
    assert ev[codes.CORD_SEGMENTS_ESTIMATED.value] == f"{segments['first']}-{segments['last']}"
    assert codes.CORD_SEGMENTS.value not in ev
    assert ev[codes.LONGITUDINALLY_EXTENSIVE.value] == codes.YES.value
    assert g.finding_type.value == codes.EDEMA.value


def test_sr_references_the_seg_segments_and_the_source_series(study, written):
    seg = hd.seg.segread(written["seg"])
    sr = hd.sr.srread(written["sr"])
    segments = {d.SegmentLabel: d for d in seg.SegmentSequence}
    source_uids = set(_source_uids(study["series"]))
    for g in sr.content.get_volumetric_roi_measurement_groups():
        ref, *sources = g.referenced_segment
        (sop,) = ref.ReferencedSOPSequence
        assert sop.ReferencedSOPInstanceUID == seg.SOPInstanceUID
        assert sop.ReferencedSegmentNumber == segments[g.tracking_identifier].SegmentNumber
        assert g.tracking_uid == segments[g.tracking_identifier].TrackingUID
        assert sources and {s.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for s in sources} <= source_uids
    (evidence,) = sr.CurrentRequestedProcedureEvidenceSequence
    series = {s.SeriesInstanceUID: {i.ReferencedSOPInstanceUID for i in s.ReferencedSOPSequence}
              for s in evidence.ReferencedSeriesSequence}
    assert series == {study["series"].info.series_uid: source_uids, seg.SeriesInstanceUID: {seg.SOPInstanceUID}}
    assert evidence.StudyInstanceUID == sr.StudyInstanceUID == study["series"].info.study_uid


# ----------------------------------------------------------------------------- rules
@pytest.mark.parametrize("which", ["seg", "sr"])
def test_dciodvfy_finds_no_error(written, which):
    dciodvfy = need_tool("dciodvfy", why="dciodvfy not installed (Debian dicom3tools)")
    run = subprocess.run([dciodvfy, str(written[which])], capture_output=True, text=True, timeout=60,
                         check=False)  # dciodvfy exits non-zero on warnings too
    report = run.stdout + run.stderr
    errors = [line for line in report.splitlines() if line.startswith("Error")]
    assert not errors, report
    assert ("Segmentation" if which == "seg" else "Comprehensive3DSR") in report


def test_nifti_source_is_refused_with_what_to_do(study, tmp_path):
    t1c_nifti = TWIN / "t1c.nii.gz"
    for source in (t1c_nifti, load_volume(t1c_nifti)):
        with pytest.raises(InputError, match="NIfTI") as err:
            write_seg(source, study["masks"], tmp_path / "seg.dcm")
        assert "DICOM series" in str(err.value)
    with pytest.raises(InputError, match="NIfTI"):
        write_sr(study["result"], tmp_path / "seg.dcm", t1c_nifti, tmp_path / "sr.dcm")
    assert not list(tmp_path.iterdir())


def test_deidentified_by_default_and_identified_on_request(study, written, tmp_path):
    src = study["series"].stack.slices[0].dataset
    on_disk = pydicom.dcmread(study["series"].files[0], stop_before_pixels=True)
    # the caller's source datasets are not touched (highdicom shares data elements with them)
    assert (src.PatientName, src.PatientID, src.PatientBirthDate) == (
        on_disk.PatientName, on_disk.PatientID, on_disk.PatientBirthDate)
    assert src.PatientBirthDate
    for path in (written["seg"], written["sr"]):
        ds = hd.seg.segread(path) if path == written["seg"] else hd.sr.srread(path)
        assert str(ds.PatientName) != str(src.PatientName) and str(src.PatientName) not in str(ds)
        assert ds.PatientID != src.PatientID and src.PatientID not in str(ds)
        assert ds.PatientBirthDate == "" and src.PatientBirthDate not in str(ds)
        assert ds.PatientIdentityRemoved == "YES"
    seg = write_seg(study["series"], study["masks"], tmp_path / "seg.dcm", result=study["result"],
                    deidentify=False)
    sr = write_sr(study["result"], seg, study["series"], tmp_path / "sr.dcm", deidentify=False)
    for ds in (hd.seg.segread(seg), hd.sr.srread(sr)):
        assert (ds.PatientName, ds.PatientID, ds.PatientBirthDate) == (
            src.PatientName, src.PatientID, src.PatientBirthDate)


def test_sr_refuses_a_seg_without_the_lesions_segments(study, tmp_path):
    seg = write_seg(study["series"], {"cord": study["masks"]["cord"]}, tmp_path / "seg.dcm")
    with pytest.raises(InputError, match="no segment 'Lesion 1'"):
        write_sr(study["result"], seg, study["series"], tmp_path / "sr.dcm")


def test_seg_on_an_enhanced_multiframe_source_maps_slices_to_their_frames(study, tmp_path):
    """An enhanced MR (legacy-converted from the phantom, frames in shuffled order): slice k of
    the mask is written against the frame the loader put at slice k."""
    import random

    datasets = [pydicom.dcmread(f) for f in study["series"].files]
    random.Random(0).shuffle(datasets)
    multi = hd.legacy.LegacyConvertedEnhancedMRImage(datasets, series_instance_uid=hd.UID(), series_number=99,
                                                      sop_instance_uid=hd.UID(), instance_number=1)
    (tmp_path / "mf").mkdir()
    multi.save_as(tmp_path / "mf" / "mf.dcm", enforce_file_format=True)
    (series,) = scan(tmp_path / "mf").series
    assert series.geometry.same_space(study["series"].geometry)
    path = write_seg(series, study["masks"], tmp_path / "seg.dcm", result=study["result"])
    seg = hd.seg.segread(path)
    frames = [s.frame + 1 for s in series.stack.slices]  # 1-based frame of each slice
    pixels = seg.get_pixels_by_source_frame(str(multi.SOPInstanceUID), frames,
                                            assert_missing_frames_are_empty=True)
    labels = [d.SegmentLabel for d in seg.SegmentSequence]
    lesion = study["masks"]["lesion"].array
    np.testing.assert_array_equal(pixels[..., labels.index("Lesion 2")], lesion == 2)
    np.testing.assert_array_equal(pixels[..., labels.index("Spinal cord")], study["masks"]["cord"].array != 0)


def test_binary_lesion_mask_is_numbered_like_measure():
    """Components of a binary mask get measure()'s ids (superior first), not scan order."""
    from lesionview.geometry import Geometry
    from lesionview.report.dicom_seg import lesion_labels

    mask = np.zeros((10, 10, 20), np.uint8)
    mask[2:4, 2:4, 2:4] = 1  # inferior (low z), first in scan order, 8 voxels
    mask[6, 6, 15] = 1  # superior, 1 voxel
    geometry = Geometry(mask.shape, spacing=(1.0, 1.0, 1.0))
    result = measure(mask, geometry=geometry)
    assert [les.voxel_count for les in result.lesions] == [1, 8]
    for labels in (lesion_labels(mask, geometry), lesion_labels(mask, geometry, result)):
        assert labels[6, 6, 15] == 1 and (labels == 2).sum() == 8


def test_other_source_forms_give_the_same_seg(study, tmp_path):
    """A Volume loaded from the DICOM folder, or the datasets in any order, stand for the series."""
    import random

    datasets = [pydicom.dcmread(f) for f in study["series"].files]
    random.Random(1).shuffle(datasets)
    cord = study["masks"]["cord"].array != 0
    for k, source in enumerate((study["image"], datasets)):
        seg = hd.seg.segread(write_seg(source, {"cord": study["masks"]["cord"]}, tmp_path / f"{k}.dcm"))
        np.testing.assert_array_equal(_segment_arrays(seg, study["series"])["Spinal cord"], cord)
