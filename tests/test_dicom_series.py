"""DICOM series from real scanner exports: sorting, geometry, gaps, multi-frame, against references."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from pydicom import dcmread

from lesionview.geometry import reorient
from lesionview.io import read_nifti
from lesionview.io.dicom import scan

pytestmark = pytest.mark.shared_data


def _only(path):
    found = scan(path)
    assert len(found.series) == 1, found.series
    return found.series[0]


def _normal(ds):
    iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
    return np.cross(iop[:3], iop[3:])


# ---------------------------------------------------------------- sagittal T1 (35 files)
def test_sagittal_series_is_sorted_by_position_with_the_step_between_centres(shared_data):
    series = _only(shared_data / "dicom" / "sagittal_t1_series")
    assert series.n_slices == 35 and series.shape == (35, 256, 256)
    assert series.plane == "sagittal"
    headers = [dcmread(f, stop_before_pixels=True) for f in series.files]
    n = _normal(headers[0])
    along = np.array([np.dot(h.ImagePositionPatient, n) for h in headers])
    assert np.all(np.diff(along) > 0), "files must come out sorted along the slice normal"
    # Step between centres is 4.8 mm although SliceThickness says 4 mm.
    assert float(headers[0].SliceThickness) == 4
    assert series.geometry.spacing == pytest.approx((4.8, 1.015625, 1.015625), abs=1e-4)
    assert series.gaps == [] and series.problems == []


def test_sagittal_geometry_matches_every_header(shared_data):
    series = _only(shared_data / "dicom" / "sagittal_t1_series")
    g = series.geometry
    for k, f in enumerate(series.files):
        ds = dcmread(f, stop_before_pixels=True)
        assert g.index_to_world([k, 0, 0]) == pytest.approx(np.asarray(ds.ImagePositionPatient, float), abs=1e-3)
        # First pixel of row 0 -> next column moves along the row cosines by PixelSpacing[1].
        step_col = g.index_to_world([k, 0, 1]) - g.index_to_world([k, 0, 0])
        assert step_col == pytest.approx(np.asarray(ds.ImageOrientationPatient[:3], float) * float(ds.PixelSpacing[1]))
        step_row = g.index_to_world([k, 1, 0]) - g.index_to_world([k, 0, 0])
        assert step_row == pytest.approx(np.asarray(ds.ImageOrientationPatient[3:], float) * float(ds.PixelSpacing[0]))


def test_sagittal_pixels_equal_pydicom_and_simpleitk(shared_data):
    series = _only(shared_data / "dicom" / "sagittal_t1_series")
    volume = series.load()
    expected = np.stack([dcmread(f).pixel_array for f in series.files])
    assert volume.array.dtype == expected.dtype and np.array_equal(volume.array, expected)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(shared_data / "dicom" / "sagittal_t1_series")))
    image = reader.Execute()
    origin = np.array(image.GetOrigin())
    # SimpleITK sorts along its own normal: find our slice at its origin and compare values there.
    k = round(series.geometry.world_to_index(origin)[0])
    peer = sitk.GetArrayFromImage(image)
    order = slice(None) if k == 0 else slice(None, None, -1)
    assert np.array_equal(volume.array.astype(np.int64), peer[order].astype(np.int64))


def test_sagittal_volume_carries_source_and_metadata(shared_data):
    folder = shared_data / "dicom" / "sagittal_t1_series"
    volume = _only(folder).load()
    assert volume.info.source == str(folder)
    assert volume.info.series_description == "t1_fl2d_sag"
    assert volume.info.modality == "MR" and volume.info.transfer_syntax == "Explicit VR Little Endian"
    assert volume.slice_axis == 0 and volume.plane == "sagittal"


# ---------------------------------------------------------------- transfer syntaxes
def test_nine_transfer_syntaxes_decode_to_identical_pixels(shared_data):
    found = scan(shared_data / "dicom" / "transfer_syntaxes")
    # All nine share one SeriesInstanceUID and one position: split by SeriesNumber, and said so.
    assert [s.info.series_number for s in found.series] == list(range(1, 10))
    assert all("SeriesNumber" in s.problems[0] for s in found.series)
    syntaxes = {s.info.transfer_syntax for s in found.series}
    assert len(syntaxes) == 7  # 5/6 and 7/8 are two files of one syntax each
    arrays = [s.load().array for s in found.series]
    assert arrays[0].any()
    for s, a in zip(found.series, arrays):
        assert np.array_equal(a, arrays[0]), s.info.transfer_syntax
        assert s.geometry == found.series[0].geometry


def test_siemens_mosaic_is_split_into_slices_like_the_reference(shared_data):
    folder = shared_data / "dicom" / "transfer_syntaxes"
    series = _only(folder / "1.dcm")
    # One 384x384 file holds a 6x6 mosaic of 35 slices of 64x64.
    assert series.shape == (35, 64, 64) and series.plane == "axial"
    volume = series.load()
    reference = read_nifti(folder / "Ref_1.nii")
    a, ga = reorient(volume.array, volume.geometry, "LPS")
    b, gb = reorient(reference.array, reference.geometry, "LPS")
    assert ga.same_space(gb, atol_mm=1e-3), (ga.describe(), gb.describe())
    assert np.array_equal(a, b)
    whole = dcmread(folder / "1.dcm").pixel_array
    assert np.array_equal(volume.array[0], whole[:64, :64]) or np.array_equal(volume.array[-1], whole[:64, :64])


# ---------------------------------------------------------------- edge cases
def test_generic_anatomical_matches_reference_nifti(shared_data):
    folder = shared_data / "dicom" / "edge_cases" / "generic_anatomical"
    volume = _only(folder).load()
    reference = read_nifti(folder / "001_ground_truth.nii.gz")
    a, ga = reorient(volume.array, volume.geometry, "LPS")
    b, gb = reorient(reference.array, reference.geometry, "LPS")
    assert ga.shape == gb.shape == (4, 256, 256)
    assert ga.spacing == pytest.approx(gb.spacing, abs=1e-4)
    assert ga.same_space(gb, atol_mm=1e-3)
    corners = np.array(np.meshgrid([0, 3], [0, 255], [0, 255], indexing="ij")).reshape(3, -1).T
    assert np.abs(ga.index_to_world(corners) - gb.index_to_world(corners)).max() < 1e-3
    assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", ["j2k", "jpeg", "jpegls", "rle"])
def test_compressed_series_decode_like_gdcm(shared_data, kind):
    folder = shared_data / "dicom" / "edge_cases" / f"compressed_{kind}"
    series = _only(folder)
    volume = series.load()
    assert volume.array.shape == (4, 256, 256)
    # GDCM (through SimpleITK) is an independent decoder: same values, file by file.
    for k, f in enumerate(series.files):
        peer = sitk.GetArrayFromImage(sitk.ReadImage(str(f)))[0]
        assert np.array_equal(volume.array[k], peer), f
    plain = _only(shared_data / "dicom" / "edge_cases" / "compressed_rle").load()
    assert np.array_equal(volume.array, plain.array)  # all four are lossless copies of one series
    assert volume.geometry.same_space(plain.geometry)


def test_missing_slice_is_reported_with_its_position(shared_data):
    folder = shared_data / "dicom" / "edge_cases" / "missing_slice"
    series = _only(folder)
    assert series.n_slices == 4
    (gap,) = series.gaps
    n = _normal(dcmread(folder / "IM-0001-0001.dcm", stop_before_pixels=True))
    n /= np.linalg.norm(n)
    at3 = np.dot(dcmread(folder / "IM-0001-0003.dcm", stop_before_pixels=True).ImagePositionPatient, n)
    at5 = np.dot(dcmread(folder / "IM-0001-0005.dcm", stop_before_pixels=True).ImagePositionPatient, n)
    assert (gap.before_mm, gap.after_mm) == pytest.approx((at3, at5), abs=1e-3)
    assert gap.missing == 1
    assert gap.step_mm == pytest.approx(2 * gap.expected_mm, rel=0.01)
    assert series.geometry.spacing[0] == pytest.approx(gap.expected_mm)
    volume = series.load()
    message = next(p for p in volume.problems if p.startswith("gap"))
    assert "1 slice missing" in message and f"{at3:.2f} mm" in message and f"{at5:.2f} mm" in message
    # Never stitched: every slice keeps its true position, the missing one is an empty slot.
    assert volume.array.shape[0] == 5 and not np.any(volume.array[3])
    for k, name in enumerate(["IM-0001-0001.dcm", "IM-0001-0002.dcm", "IM-0001-0003.dcm", None,
                              "IM-0001-0005.dcm"]):
        if name is None:
            continue
        ds = dcmread(folder / name)
        along = np.dot(volume.geometry.index_to_world([k, 0, 0]), n)
        assert along == pytest.approx(np.dot(ds.ImagePositionPatient, n), abs=0.01)
        assert np.array_equal(volume.array[k], ds.pixel_array.astype(np.int32) - 1024)


def test_missing_slice_ct_rescale_keeps_integers(shared_data):
    series = _only(shared_data / "dicom" / "edge_cases" / "missing_slice")
    volume = series.load()
    ds = dcmread(series.files[0])
    assert float(ds.RescaleIntercept) == -1024
    assert volume.array.dtype.kind == "i"
    assert np.array_equal(volume.array[0], ds.pixel_array.astype(np.int32) - 1024)


def test_two_slices(shared_data):
    series = _only(shared_data / "dicom" / "edge_cases" / "two_slices")
    volume = series.load()
    assert volume.array.shape == (2, 256, 256)
    first, last = (dcmread(f, stop_before_pixels=True) for f in series.files)
    assert series.geometry.spacing[0] == pytest.approx(
        np.linalg.norm(np.subtract(last.ImagePositionPatient, first.ImagePositionPatient, dtype=float)))
    assert series.geometry.index_to_world([1, 0, 0]) == pytest.approx(np.asarray(last.ImagePositionPatient, float))
    assert series.problems == []


def test_enhanced_multiframe_is_one_volume_placed_by_its_frames(shared_data):
    folder = shared_data / "dicom" / "edge_cases" / "enhanced_multiframe_philips"
    series = _only(folder)
    assert series.shape == (8, 256, 256) and series.plane == "sagittal"
    ds = dcmread(series.files[0])
    frames = ds.PerFrameFunctionalGroupsSequence
    positions = np.array([f.PlanePositionSequence[0].ImagePositionPatient for f in frames], dtype=float)
    n = _normal(frames[0].PlaneOrientationSequence[0])
    order = np.argsort(positions @ n)
    g = series.geometry
    for k, frame in enumerate(order):
        assert g.index_to_world([k, 0, 0]) == pytest.approx(positions[frame], abs=1e-3)
    assert g.spacing == pytest.approx((1.2, 1.0, 1.0), abs=1e-4)
    volume = series.load()
    slope = float(frames[0].PixelValueTransformationSequence[0].RescaleSlope)
    expected = ds.pixel_array[order].astype(np.float32) * np.float32(slope)
    assert volume.array.dtype == np.float32
    assert np.allclose(volume.array, expected, rtol=1e-6)
    assert volume.info.manufacturer.startswith("Philips")
    assert volume.info.echo_time_ms == pytest.approx(3.133)  # from the functional groups


def test_a_whole_tree_is_walked_and_copies_of_one_series_are_split_by_folder(shared_data):
    found = scan(shared_data / "dicom" / "edge_cases")
    sizes = sorted(s.n_slices for s in found.series)
    assert sizes == [2, 4, 4, 4, 4, 4, 4, 8]
    split = [s for s in found.series if "#" in s.uid]
    assert split and all("folder" in s.problems[0] for s in split)
    assert {i.path for i in found.ignored} >= {"LICENSE", "generic_anatomical/001_ground_truth.nii.gz"}
    assert all(i.kind == "not-dicom" for i in found.ignored)


def test_single_file_scan(shared_data):
    rle = _only(shared_data / "dicom" / "transfer_syntaxes" / "4.dcm")
    plain = _only(shared_data / "dicom" / "transfer_syntaxes" / "1.dcm")
    assert rle.shape == (35, 64, 64) and rle.problems == []
    assert np.array_equal(rle.load().array, plain.load().array)


def test_single_slice_uses_its_thickness(shared_data, tmp_path):
    import shutil

    src = sorted((shared_data / "dicom" / "sagittal_t1_series").glob("*.dcm"))[3]
    shutil.copy(src, tmp_path / src.name)
    series = _only(tmp_path)
    assert series.shape == (1, 256, 256)
    ds = dcmread(src, stop_before_pixels=True)
    # No neighbour to measure the step from: SpacingBetweenSlices (4.8) wins over SliceThickness (4).
    assert (float(ds.SpacingBetweenSlices), float(ds.SliceThickness)) == (4.8, 4.0)
    assert series.geometry.spacing[0] == pytest.approx(4.8)
    assert any("single slice" in p for p in series.problems)
