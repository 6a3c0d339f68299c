"""Geometry oracles that owe nothing to the code under test (issue 16).

Every expected position and voxel value here comes from nibabel, pydicom, NumPy and the two
standards, never from lesionview's constants or functions:

* NIfTI: nibabel's own ``img.affine`` (the sform when its code is set, else the qform, else
  pixdim alone) maps an index to RAS mm; LPS is RAS with x and y negated (DICOM PS3.3 C.7.6.2.1.1
  is LPS, the NIfTI-1 header RAS). Values are nibabel's ``get_fdata()``.
* DICOM: a pixel's position is written out from its own file's header (PS3.3 C.7.6.2.1.1):
  ``IPP + column * PixelSpacing[1] * IOP[:3] + row * PixelSpacing[0] * IOP[3:]``, and a stack's
  slices follow their positions along the normal ``IOP[:3] x IOP[3:]``, whatever InstanceNumber
  says. Values are pydicom's pixels through the Modality LUT (RescaleSlope, RescaleIntercept).

lesionview documents ``array[slice, row, col]`` for a DICOM series, slices in ascending position
along that normal (``lesionview.io.dicom``), and NumPy axis order for everything
(``lesionview.geometry``). Nothing needs ``../shared/data``: the files are the sample phantom
(``make sample``) and small ones written here with nibabel and pydicom.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from conftest import need
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from lesionview.geometry import Geometry
from lesionview.io import load_volume, read_nifti, write_nifti

TWIN = Path(__file__).resolve().parents[1] / "sample_data" / "twin"
NO_SAMPLE = "sample_data/twin not generated (run `make sample`)"
#: Positions agree to this (mm): headers hold float32 (NIfTI) or ~8-digit text (DICOM) numbers.
ATOL_MM = 1e-3
#: NIfTI is RAS (+x Right, +y Anterior), DICOM LPS (+x Left, +y Posterior): negate x and y.
RAS_TO_LPS = np.array([-1.0, -1.0, 1.0])


def _indices(shape, n=300, seed=0) -> np.ndarray:
    """Every corner and ``n`` random voxels of ``shape``, as an (m, 3) integer array."""
    corners = np.array(np.meshgrid(*[[0, s - 1] for s in shape], indexing="ij")).reshape(3, -1).T
    rng = np.random.default_rng(seed)
    return np.vstack([corners, rng.integers(0, shape, size=(n, 3))])


def _rotation(axis, degrees) -> np.ndarray:
    """Rotation matrix about ``axis`` (Rodrigues), so oblique test grids are exact rotations."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    t = np.radians(degrees)
    return np.eye(3) + np.sin(t) * kx + (1 - np.cos(t)) * kx @ kx


# ============================================================================ NIfTI
def _assert_nifti_matches_nibabel(path: Path) -> None:
    """lesionview's reading of ``path`` against nibabel's affine and values, voxel by voxel."""
    img = nib.load(str(path))
    affine = img.affine                    # nibabel's choice: sform, else qform, else pixdim
    data = img.get_fdata()
    volume = read_nifti(path)
    assert volume.array.shape == img.shape[:3]
    idx = _indices(img.shape[:3])
    expected_lps = (idx @ affine[:3, :3].T + affine[:3, 3]) * RAS_TO_LPS
    np.testing.assert_allclose(volume.geometry.index_to_world(idx), expected_lps, rtol=0, atol=ATOL_MM,
                               err_msg=f"{path.name}: voxel positions differ from nibabel's affine")
    got = volume.array[tuple(idx.T)].astype(float)
    np.testing.assert_allclose(got, data[tuple(idx.T)], rtol=1e-6, atol=1e-6,
                               err_msg=f"{path.name}: voxel values differ from nibabel's get_fdata")


@pytest.mark.parametrize("name", ["t2", "t1c", "lesion", "edema", "cord"])
def test_sample_nifti_positions_and_values_equal_nibabel(name):
    path = TWIN / f"{name}.nii.gz"
    need(path.is_file(), NO_SAMPLE)
    _assert_nifti_matches_nibabel(path)


def test_sample_nifti_is_sagittal_left_to_right_as_its_readme_says():
    # sample_data/README.md: 13 sagittal slices stacked from the patient's left to right, rows
    # head to feet, columns front to back. nibabel's axis codes are RAS letters.
    path = TWIN / "t2.nii.gz"
    need(path.is_file(), NO_SAMPLE)
    img = nib.load(str(path))
    assert nib.aff2axcodes(img.affine) == ("R", "I", "P")
    volume = read_nifti(path)
    step = volume.geometry.index_to_world([[1, 0, 0], [0, 1, 0], [0, 0, 1]]) \
        - volume.geometry.index_to_world([0, 0, 0])
    # In LPS: slice index towards the right (-x), row towards the feet (-z), column to the back (+y).
    assert step[0, 0] < 0 and abs(step[0, 0]) == pytest.approx(np.linalg.norm(img.affine[:3, 0]))
    assert step[1, 2] < 0 and step[2, 1] > 0


def _oblique() -> np.ndarray:
    return _rotation([0.3, 1.0, 0.2], 23.0)


# (direction columns in RAS, voxel sizes, offset): stored as a scanner or a converter would.
_GRIDS = {
    "axial-RAS": (np.eye(3), (0.8, 0.9, 3.0), (-40.0, -60.0, 20.0)),
    "axial-LAS-radiological": (np.diag([-1.0, 1.0, 1.0]), (0.7, 0.7, 2.5), (35.0, -50.0, -12.0)),
    # dcm2niix-like sagittal: axis 0 left to right, axis 1 head to feet, axis 2 front to back.
    "sagittal-RIP": (np.array([[1.0, 0, 0], [0, 0, -1], [0, -1, 0]]), (3.3, 0.6, 0.45),
                     (-18.0, 80.0, 116.0)),
    "oblique": (_oblique(), (1.1, 0.55, 2.2), (12.5, -33.0, 47.0)),
    "oblique-left-handed": (_oblique() @ np.diag([1.0, 1.0, -1.0]), (0.9, 1.3, 3.1), (-7.0, 21.0, -64.0)),
}


def _ras_affine(grid: str, extra_rotation=None) -> np.ndarray:
    direction, sizes, offset = _GRIDS[grid]
    if extra_rotation is not None:
        direction = extra_rotation @ direction
    affine = np.eye(4)
    affine[:3, :3] = direction * np.array(sizes)
    affine[:3, 3] = offset
    return affine


def _distinct_voxels(shape, dtype=np.int16) -> np.ndarray:
    """Every voxel its own value, so a transposed or flipped axis cannot give the same values."""
    rng = np.random.default_rng(7)
    return rng.permutation(np.prod(shape)).reshape(shape).astype(dtype)


def _save(img, path: Path) -> Path:
    nib.save(img, str(path))
    return path


def _nifti(affine, *, sform_code, qform_code, qform_affine=None, shape=(5, 6, 7)) -> nib.Nifti1Image:
    img = nib.Nifti1Image(_distinct_voxels(shape), np.eye(4))
    img.set_sform(affine, code=sform_code)
    img.set_qform(affine if qform_affine is None else qform_affine, code=qform_code)
    return img


@pytest.mark.parametrize("grid", sorted(_GRIDS))
@pytest.mark.parametrize("which", ["sform+qform", "sform-only", "qform-only"])
def test_written_nifti_positions_and_values_equal_nibabel(tmp_path, grid, which):
    affine = _ras_affine(grid)
    img = _nifti(affine, sform_code=0 if which == "qform-only" else 1,
                 qform_code=0 if which == "sform-only" else 1)
    path = _save(img, tmp_path / f"{grid}.nii.gz")
    if which == "qform-only":  # a left-handed qform is stored with qfac (pixdim[0]) = -1
        assert nib.load(str(path)).header["pixdim"][0] == (-1 if np.linalg.det(affine) < 0 else 1)
    _assert_nifti_matches_nibabel(path)


def test_sform_wins_over_a_different_qform_as_nibabel_chooses(tmp_path):
    sform = _ras_affine("oblique")
    qform = _ras_affine("axial-RAS")
    path = _save(_nifti(sform, sform_code=2, qform_code=1, qform_affine=qform), tmp_path / "both.nii")
    np.testing.assert_allclose(nib.load(str(path)).affine, sform, atol=1e-4)  # the test's premise
    _assert_nifti_matches_nibabel(path)


def test_negative_pixdims_beside_an_sform_follow_the_sform(tmp_path):
    # pixdim holds signed sizes in some converters' output; with an sform set, the sform places
    # the voxels (nibabel's load turns pixdim positive; the file keeps the signs).
    img = _nifti(_ras_affine("sagittal-RIP"), sform_code=1, qform_code=0)
    img.header["pixdim"][1:4] = [-3.3, -0.6, 0.45]
    path = _save(img, tmp_path / "negative_pixdim.nii")
    with open(path, "rb") as f:  # the test's premise, on the header as stored
        assert np.any(nib.Nifti1Header.from_fileobj(f, check=False)["pixdim"][1:4] < 0)
    _assert_nifti_matches_nibabel(path)


def test_no_sform_or_qform_uses_nibabels_pixdim_affine(tmp_path):
    img = _nifti(_ras_affine("axial-RAS"), sform_code=0, qform_code=0)
    img.header.set_zooms((0.8, 0.9, 3.0))
    path = _save(img, tmp_path / "no_codes.nii.gz")
    _assert_nifti_matches_nibabel(path)


def test_scaled_float_voxels_equal_get_fdata(tmp_path):
    img = _nifti(_ras_affine("oblique"), sform_code=1, qform_code=1)
    img.header.set_slope_inter(0.25, -100.0)
    path = _save(img, tmp_path / "scaled.nii.gz")
    _assert_nifti_matches_nibabel(path)


def test_2d_image_is_one_voxel_thick_at_nibabels_positions(tmp_path):
    img = nib.Nifti1Image(_distinct_voxels((6, 4)), _ras_affine("oblique"))
    path = _save(img, tmp_path / "plane.nii.gz")
    volume = read_nifti(path)
    idx = np.array([[i, j, 0] for i in range(6) for j in range(4)])
    expected = (idx @ img.affine[:3, :3].T + img.affine[:3, 3]) * RAS_TO_LPS
    np.testing.assert_allclose(volume.geometry.index_to_world(idx), expected, rtol=0, atol=ATOL_MM)
    np.testing.assert_array_equal(volume.array[..., 0], nib.load(str(path)).get_fdata())


@pytest.mark.parametrize("grid", sorted(_GRIDS))
def test_written_nifti_puts_each_voxel_where_nibabel_reads_it(tmp_path, grid):
    # write_nifti's direction: a geometry given as numbers (LPS, the documented convention
    # world = origin + direction @ (spacing * index)) must land, read by nibabel, at the same
    # place in RAS. A reader and writer wrong the same way pass a round trip, not this.
    ras_direction, sizes, offset = _GRIDS[grid]
    direction = ras_direction * RAS_TO_LPS[:, None]        # the same axes, written in LPS
    origin = np.array(offset) * RAS_TO_LPS
    shape = (5, 6, 7)
    array = _distinct_voxels(shape)
    path = write_nifti(array, tmp_path / "out.nii.gz",
                       geometry=Geometry(shape, sizes, tuple(origin), direction))
    img = nib.load(str(path))
    idx = _indices(shape)
    expected_lps = origin + (idx * np.array(sizes)) @ direction.T
    nib_ras = idx @ img.affine[:3, :3].T + img.affine[:3, 3]
    np.testing.assert_allclose(nib_ras * RAS_TO_LPS, expected_lps, rtol=0, atol=ATOL_MM)
    np.testing.assert_array_equal(img.get_fdata()[tuple(idx.T)], array[tuple(idx.T)])
    # Both codes set, and qform and sform the same space, so every reader agrees.
    assert int(img.header["sform_code"]) > 0 and int(img.header["qform_code"]) > 0
    np.testing.assert_allclose(img.header.get_qform(), img.header.get_sform(), atol=1e-4)


# ============================================================================ DICOM
def _pixel_position(ds, row, col) -> np.ndarray:
    """PS3.3 C.7.6.2.1.1: the centre of pixel (row, col) of one image, in LPS mm.

    Written out here (pydicom has no such function) so the oracle is the standard's own
    expression and shares nothing with lesionview's stack code; it is checked against highdicom's
    implementation in :func:`test_written_out_pixel_position_agrees_with_highdicom`.
    ``IOP[:3]`` is the direction in which the column index increases, ``PixelSpacing[1]`` the
    distance between columns; ``IOP[3:]`` and ``PixelSpacing[0]`` the same for rows.
    """
    ipp = np.array(ds.ImagePositionPatient, float)
    iop = np.array(ds.ImageOrientationPatient, float)
    between_rows, between_cols = (float(v) for v in ds.PixelSpacing)
    row, col = np.asarray(row, float)[..., None], np.asarray(col, float)[..., None]
    return ipp + col * between_cols * iop[:3] + row * between_rows * iop[3:]


def test_written_out_pixel_position_agrees_with_highdicom():
    # The oracle's own check: non-square pixels on an oblique plane, where swapping the two
    # PixelSpacing values or the two IOP triplets would show.
    import highdicom

    row_dir = _rotation([0.2, 1.0, 0.4], 21.0) @ [0.0, 1.0, 0.0]
    col_dir = _rotation([0.2, 1.0, 0.4], 21.0) @ [0.0, 0.0, -1.0]
    ds = Dataset()
    ds.ImagePositionPatient = [-21.3, 14.2, 37.9]
    ds.ImageOrientationPatient = [*row_dir, *col_dir]
    ds.PixelSpacing = [0.9, 0.6]
    rows_cols = np.array([[0, 0], [6, 0], [0, 4], [6, 4], [3, 2]])
    transform = highdicom.spatial.PixelToReferenceTransformer(
        image_position=ds.ImagePositionPatient, image_orientation=ds.ImageOrientationPatient,
        pixel_spacing=ds.PixelSpacing)
    np.testing.assert_allclose(_pixel_position(ds, rows_cols[:, 0], rows_cols[:, 1]),
                               transform(rows_cols[:, ::-1]),  # highdicom takes (column, row)
                               rtol=0, atol=1e-9)


def _spatial_order(datasets) -> list:
    """The datasets by position along the normal (row cosines x column cosines), ascending."""
    iop = np.array(datasets[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    return sorted(datasets, key=lambda ds: float(np.array(ds.ImagePositionPatient, float) @ normal))


def _assert_dicom_matches_headers(folder: Path) -> None:
    """lesionview's volume of the one series in ``folder`` against each file's own header."""
    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    ordered = _spatial_order(datasets)
    volume = load_volume(folder)
    rows, cols = int(ordered[0].Rows), int(ordered[0].Columns)
    assert volume.array.shape == (len(ordered), rows, cols)
    pick = _indices((1, rows, cols), n=60)[:, 1:]           # in-plane corners and random pixels
    for k, ds in enumerate(ordered):
        idx = np.column_stack([np.full(len(pick), k), pick])
        np.testing.assert_allclose(
            volume.geometry.index_to_world(idx), _pixel_position(ds, pick[:, 0], pick[:, 1]),
            rtol=0, atol=ATOL_MM,
            err_msg=f"slice {k} (InstanceNumber {ds.InstanceNumber}): positions differ from its header")
        np.testing.assert_allclose(volume.array[k], apply_modality_lut(ds.pixel_array, ds), rtol=1e-6,
                                   err_msg=f"slice {k} (InstanceNumber {ds.InstanceNumber}): "
                                           "pixels are not that file's")


def _write_series(folder: Path, *, row_dir, col_dir, first, step, pixel_spacing, instance_order,
                  name_order, rows=7, cols=5, slope=None) -> None:
    """A single-frame MR series with pydicom: slice ``k`` (k-th along the normal) gets
    InstanceNumber ``instance_order[k]`` and file name ``name_order[k]``."""
    folder.mkdir()
    normal = np.cross(row_dir, col_dir)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rng = np.random.default_rng(3)
    for k, (instance, name) in enumerate(zip(instance_order, name_order)):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = uid = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, uid
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MR", 3, int(instance)
        ds.ImagePositionPatient = [f"{v:.4f}" for v in np.asarray(first) + k * step * normal]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [f"{v:g}" for v in pixel_spacing]
        ds.SliceThickness = f"{step:g}"
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        if slope is not None:
            ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{slope:g}", "-100", "US"
        pixels = rng.integers(0, 4000, size=(rows, cols), dtype=np.uint16)
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / name, enforce_file_format=True)


_SAGITTAL = ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0))   # as the sample: rows head to feet, columns A to P
_SERIES = {
    "sagittal": _SAGITTAL,
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "oblique-sagittal": tuple(tuple(_rotation([0.2, 1.0, 0.4], 21.0) @ v) for v in _SAGITTAL),
    "double-oblique-axial": ((np.cos(0.3), np.sin(0.3) * np.cos(0.5), np.sin(0.3) * np.sin(0.5)),
                             tuple(_rotation([1.0, 0.0, 0.0], 28.6) @ (0.0, 1.0, 0.0))),
}


@pytest.mark.parametrize("plane", sorted(_SERIES))
@pytest.mark.parametrize("instances", ["shuffled", "reversed"])
def test_dicom_slices_sit_where_their_headers_say_whatever_instance_number(tmp_path, plane, instances):
    row_dir, col_dir = (np.array(v, float) for v in _SERIES[plane])
    if plane == "double-oblique-axial":  # make the column cosines exactly perpendicular to the row's
        col_dir = col_dir - (col_dir @ row_dir) * row_dir
        col_dir /= np.linalg.norm(col_dir)
    n = 6
    instance_order = [4, 1, 6, 2, 5, 3] if instances == "shuffled" else list(range(n, 0, -1))
    name_order = [f"IM{j:04d}.dcm" for j in (2, 5, 1, 6, 3, 4)]  # neither space nor instance order
    folder = tmp_path / "series"
    _write_series(folder, row_dir=row_dir, col_dir=col_dir, first=(-21.3, 14.2, 37.9), step=3.3,
                  pixel_spacing=(0.9, 0.6), instance_order=instance_order, name_order=name_order,
                  slope=2.0 if plane == "coronal" else None)
    _assert_dicom_matches_headers(folder)


def test_sample_dicom_slices_sit_where_their_headers_say():
    folder = TWIN / "dicom" / "02_SAG_T2_TSE"
    need(folder.is_dir(), NO_SAMPLE)
    _assert_dicom_matches_headers(folder)


def test_sample_dicom_with_scrambled_instance_numbers_and_names_loads_in_space_order(tmp_path):
    # The phantom numbers its slices in space order; renumber and rename them out of it.
    source = TWIN / "dicom" / "05_SAG_T1_TSE_C"
    need(source.is_dir(), NO_SAMPLE)
    files = sorted(source.iterdir())
    rng = np.random.default_rng(11)
    instances = rng.permutation(len(files)) + 1
    names = rng.permutation(len(files))
    folder = tmp_path / "scrambled"
    folder.mkdir()
    for path, instance, name in zip(files, instances, names):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = int(instance)
        ds.save_as(folder / f"X{name:03d}.dcm")
    in_space = [int(ds.InstanceNumber) for ds in _spatial_order([pydicom.dcmread(p) for p in folder.iterdir()])]
    assert in_space != sorted(in_space) and in_space != sorted(in_space, reverse=True)  # the premise
    _assert_dicom_matches_headers(folder)
