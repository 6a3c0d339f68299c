"""The documented contract of ``lesionview.io.nifti`` at its edges (issue 16, mutation survivors).

Each test builds NIfTI files with nibabel, as other tools write them (4D with singleton trailing
dims, 1D/2D/5D images, scl_slope/scl_inter, NaN in float images, gzip with a few spare bytes,
sheared or anisotropic grids), and checks what ``read_nifti``/``write_nifti`` promise: values and
positions against nibabel's own reading (RAS converted to LPS by hand), the slice axis, the
warnings and the user-visible error messages. Everything is written in ``tmp_path``.
"""

import errno
import gzip
import inspect
import warnings

import nibabel as nib
import numpy as np
import pytest
from nibabel.arrayproxy import ArrayProxy
from nibabel.spatialimages import HeaderDataError

from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.io import nifti, read_nifti, write_nifti
from lesionview.volume import Volume

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _save(tmp_path, array, name="img.nii", affine=None, scaling=None):
    img = nib.Nifti1Image(np.asarray(array), np.eye(4) if affine is None else affine)
    if scaling is not None:
        img.header.set_slope_inter(*scaling)
    path = tmp_path / name
    nib.save(img, str(path))
    return path


def _lps_positions(path, shape):
    """World positions (LPS mm) of every voxel of a 3D ``shape``, from nibabel's affine."""
    ijk = np.indices(shape).reshape(3, -1).T
    return nib.affines.apply_affine(RAS_TO_LPS @ nib.load(str(path)).affine, ijk)


# ----------------------------------------------------------------------------- dimensions
@pytest.mark.parametrize("shape", [(3, 4, 5, 1), (3, 4, 5, 1, 1)])
def test_singleton_trailing_dims_load_as_3d_without_a_warning(tmp_path, shape):
    data = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    path = _save(tmp_path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vol = read_nifti(path)
    np.testing.assert_array_equal(vol.array, data.reshape(3, 4, 5))


def test_a_2d_image_is_one_voxel_thick_even_when_its_last_dim_is_1(tmp_path):
    data = np.arange(5, dtype=np.uint8).reshape(5, 1)
    path = _save(tmp_path, data)
    assert nib.load(str(path)).shape == (5, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 2D image is not a 4D one: no warning
        vol = read_nifti(path)
    assert vol.array.shape == (5, 1, 1)
    np.testing.assert_array_equal(vol.array[:, 0, 0], np.arange(5))


def test_a_line_of_voxels_one_byte_each_loads(tmp_path):
    data = np.array([7, 1, 2, 3, 9], np.uint8).reshape(5, 1, 1)
    vol = read_nifti(_save(tmp_path, data))
    np.testing.assert_array_equal(vol.array, data)
    assert vol.problems == ()


@pytest.mark.parametrize("shape, ndim", [((6,), 1), ((2, 2, 2, 1, 2), 5), ((2, 2, 2, 2, 2, 1), 5)])
def test_images_that_are_neither_2d_3d_nor_4d_are_refused_saying_how_many_dims(tmp_path, shape, ndim):
    path = _save(tmp_path, np.zeros(shape, np.int16), name="odd.nii")
    with pytest.raises(InputError, match=rf"odd\.nii: has {ndim} dimensions .*expected a 3D image"):
        read_nifti(path)


def test_4d_is_refused_by_default_and_its_first_volume_taken_on_request(tmp_path):
    data = np.arange(3 * 4 * 5 * 3, dtype=np.int16).reshape(3, 4, 5, 3)
    path = _save(tmp_path, data, name="dwi.nii")
    with pytest.raises(InputError, match=r"dwi\.nii: is 4D \(\(3, 4, 5, 3\)\).*first_volume_of_4d=True"):
        read_nifti(path)
    with pytest.warns(UserWarning, match=r"dwi\.nii: 4D image \(3, 4, 5, 3\), taking its first volume") as rec:
        vol = read_nifti(path, first_volume_of_4d=True)
    # The warning points at the caller's line, not inside lesionview or pytest.
    assert rec[0].filename == __file__
    np.testing.assert_array_equal(vol.array, np.asanyarray(nib.load(str(path)).dataobj)[..., 0])
    assert vol.array.dtype == np.int16
    np.testing.assert_allclose(vol.geometry.index_to_world(np.indices((3, 4, 5)).reshape(3, -1).T),
                               _lps_positions(path, (3, 4, 5)), atol=1e-5)


def test_a_4d_image_with_a_singleton_5th_dim_and_scaling_gives_its_scaled_first_volume(tmp_path):
    data = np.arange(2 * 3 * 4 * 2, dtype=np.int16).reshape(2, 3, 4, 2, 1)
    path = _save(tmp_path, data, name="scaled4d.nii.gz", scaling=(0.5, -3.0))
    with pytest.warns(UserWarning, match="taking its first volume"):
        vol = read_nifti(path, first_volume_of_4d=True)
    np.testing.assert_allclose(vol.array, nib.load(str(path)).get_fdata()[..., 0, 0], rtol=1e-6)
    np.testing.assert_allclose(vol.array, data[..., 0, 0] * 0.5 - 3.0, rtol=1e-6)


def test_a_4d_image_with_two_singleton_trailing_dims_gives_its_first_volume(tmp_path):
    data = np.arange(2 * 3 * 4 * 2, dtype=np.int16).reshape(2, 3, 4, 2, 1, 1)
    path = _save(tmp_path, data, name="six.nii")
    with pytest.warns(UserWarning, match=r"six\.nii: 4D image \(2, 3, 4, 2, 1, 1\)"):
        vol = read_nifti(path, first_volume_of_4d=True)
    np.testing.assert_array_equal(vol.array, np.asanyarray(nib.load(str(path)).dataobj)[:, :, :, 0, 0, 0])


def test_first_volume_of_4d_is_keyword_only_and_so_is_geometry():
    # Documented signatures: a bare True or a geometry must be named at the call.
    assert inspect.signature(read_nifti).parameters["first_volume_of_4d"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.signature(write_nifti).parameters["geometry"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.signature(write_nifti).parameters["path"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


# ----------------------------------------------------------------------------- scaling
def test_nan_stored_in_a_scaled_float_image_is_kept_not_refused(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    data[1, 2, 3] = np.nan
    path = _save(tmp_path, data, name="nan.nii", scaling=(2.0, 1.0))
    vol = read_nifti(path)
    expected = nib.load(str(path)).get_fdata()
    assert np.isnan(vol.array[1, 2, 3]) and np.isnan(vol.array).sum() == 1
    np.testing.assert_allclose(vol.array, expected, rtol=1e-6)
    np.testing.assert_allclose(vol.array, data * 2.0 + 1.0, rtol=1e-6)


@pytest.mark.parametrize("slope, inter", [(1.0, -100.0), (0.5, 0.0), (1.0, 2.5)])
def test_any_scaling_other_than_1_and_0_is_applied_as_float32(tmp_path, slope, inter):
    # Only slope 1 with inter 0 keeps the stored integers (docs/loading.md); a shift alone or a
    # slope alone is a scaling like any other (float32, as tests/test_nifti.py pins for 2, -5).
    data = np.arange(-12, 12, dtype=np.int16).reshape(2, 3, 4)
    path = _save(tmp_path, data, name="scaled.nii", scaling=(slope, inter))
    vol = read_nifti(path)
    np.testing.assert_allclose(vol.array, nib.load(str(path)).get_fdata(), rtol=1e-6)
    np.testing.assert_allclose(vol.array, data * slope + inter, rtol=1e-6)
    assert vol.array.dtype == np.float32


def test_a_slope_beyond_float32_is_refused_counting_the_values(tmp_path):
    # nibabel scales in float64, where these values are finite; lesionview keeps float32, where
    # they are not: the docstring promises a refusal for a scaling that gives non-finite values.
    data = np.full((2, 2, 2), 30000, np.int16)
    data[0, 0, 0] = 0
    path = _save(tmp_path, data, name="huge.nii", scaling=(-1e38, 0.0))
    assert np.all(np.isfinite(nib.load(str(path)).get_fdata()))
    with pytest.raises(InputError, match=r"huge\.nii: scl_slope -1e\+38 and scl_inter 0 turn 7 stored values "
                                         r"into infinite"):
        read_nifti(path)


# ----------------------------------------------------------------------------- bytes in the file
def test_a_header_without_voxels_is_called_truncated_not_too_short(tmp_path):
    full = _save(tmp_path, np.zeros((2, 2, 2), np.uint8), name="full.nii").read_bytes()
    head = tmp_path / "head.nii"
    head.write_bytes(full[:348])  # a whole NIfTI-1 header, nothing after it
    with pytest.raises(InputError, match=r"head\.nii: vox_offset says the voxels start at byte 352, beyond"):
        read_nifti(head)
    short = tmp_path / "short.nii"
    short.write_bytes(full[:347])
    with pytest.raises(InputError, match=r"short\.nii: is too short to be a NIfTI file: it has 347 bytes"):
        read_nifti(short)


def test_a_gzip_stream_with_almost_a_slice_of_spare_bytes_loads_with_a_problem(tmp_path):
    # 3 x 3 x 3 uint8: the smallest slice is 9 bytes, so up to 8 bytes after the voxels are
    # ignored (documented in read_nifti); 8 is the most.
    data = np.arange(27, dtype=np.uint8).reshape(3, 3, 3)
    raw = _save(tmp_path, data, name="src.nii").read_bytes()
    path = tmp_path / "spare.nii.gz"
    path.write_bytes(gzip.compress(raw + b"\0" * 8))
    vol = read_nifti(path)
    np.testing.assert_array_equal(vol.array, data)
    assert vol.problems == ("its gzip stream holds 8 bytes after its voxels; they were ignored",)
    many = tmp_path / "many.nii.gz"
    many.write_bytes(gzip.compress(raw + b"\0" * 9))
    with pytest.raises(InputError, match=r"many\.nii\.gz: its gzip stream holds more than the 379 bytes its "
                                         r"header describes \(3 x 3 x 3 uint8"):
        read_nifti(many)


@pytest.mark.parametrize("exc, shown", [(OSError(errno.EIO, "Input/output error"), "Input/output error"),
                                        (OSError("the share went away"), "the share went away")])
def test_a_disk_error_while_reading_is_an_input_error_naming_the_cause(tmp_path, monkeypatch, exc, shown):
    path = _save(tmp_path, np.zeros((2, 2, 2), np.uint8), name="disk.nii")

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(nifti, "check_size", fail)
    with pytest.raises(InputError) as info:
        read_nifti(path)
    text = str(info.value)
    assert "disk.nii" in text and f"cannot be read ({shown})." in text and "network" in info.value.hint


def test_a_file_that_cannot_be_opened_is_an_input_error_naming_the_cause(tmp_path, monkeypatch):
    path = _save(tmp_path, np.zeros((2, 2, 2), np.uint8), name="locked.nii")

    def fail(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(nifti, "open_regular", fail)  # root may read any file: inject the refusal
    with pytest.raises(InputError, match=r"locked\.nii: cannot be opened \(Permission denied\)\.") as info:
        read_nifti(path)
    assert "you may read it" in info.value.hint


# ----------------------------------------------------------------------------- geometry
def test_a_sheared_affine_is_reported_with_how_far_the_corners_move(tmp_path):
    shape = (8, 8, 8)
    affine = np.diag([1.0, 1.0, 2.0, 1.0])
    affine[0, 2] = 0.06  # x moves 0.06 mm per slice: a small gantry tilt
    path = _save(tmp_path, np.zeros(shape, np.int16), name="tilt.nii", affine=affine)
    vol = read_nifti(path)
    corners = np.array([[i, j, k] for i in (0, 7) for j in (0, 7) for k in (0, 7)])
    # How far the grid used puts each corner voxel from where nibabel places it (LPS, mm).
    off = np.linalg.norm(vol.geometry.index_to_world(corners)
                         - nib.affines.apply_affine(RAS_TO_LPS @ nib.load(str(path)).affine, corners), axis=1)
    assert 0.1 < off.max() < 1.0
    [problem] = [p for p in vol.problems if "sheared" in p]
    assert f"up to {off.max():.2f} mm" in problem


def test_an_oblique_but_orthogonal_affine_is_not_called_sheared(tmp_path):
    c, s = np.cos(0.3), np.sin(0.3)
    affine = np.array([[c, -s, 0, 4], [s, c, 0, -7], [0, 0, 1, 2], [0, 0, 0, 1]]) @ np.diag([0.5, 0.5, 3, 1])
    path = _save(tmp_path, np.zeros((4, 5, 6), np.int16), name="oblique.nii", affine=affine)
    vol = read_nifti(path)
    assert not any("sheared" in p for p in vol.problems)
    np.testing.assert_allclose(vol.geometry.index_to_world(np.indices((4, 5, 6)).reshape(3, -1).T),
                               _lps_positions(path, (4, 5, 6)), atol=1e-4)


@pytest.mark.parametrize("spacing, axis", [((1, 1, 1), 2), ((3, 1, 1), 0), ((0.5, 4, 0.5), 1),
                                           ((1, 2, 3), 2), ((3, 2, 1), 0), ((0.7, 0.7, 2.5), 2)])
def test_the_slice_axis_is_the_thickest_one_or_the_last_when_isotropic(tmp_path, spacing, axis):
    path = _save(tmp_path, np.zeros((4, 5, 6), np.int16), affine=np.diag([*spacing, 1.0]))
    assert read_nifti(path).slice_axis == axis


def test_the_slice_axis_follows_the_sform_when_pixdim_disagrees(tmp_path):
    # The sform says axis 2 is 3 mm thick; the stale pixdim says axis 0 is.
    path = _save(tmp_path, np.zeros((4, 5, 6), np.int16), affine=np.diag([1.0, 1.0, 3.0, 1.0]))
    img = nib.load(str(path))
    img.header["pixdim"][1:4] = (3.0, 1.0, 1.0)
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), None, img.header), str(path))
    assert nib.load(str(path)).header.get_best_affine()[2, 2] == 3.0
    vol = read_nifti(path)
    assert vol.geometry.spacing == pytest.approx((1.0, 1.0, 3.0))
    assert vol.slice_axis == 2


@pytest.mark.parametrize("name, stem", [("t2_sag.nii.gz", "t2_sag"), ("T1.NII", "T1"),
                                        ("stir.nii", "stir")])
def test_the_series_description_is_the_file_name_without_its_nifti_suffix(tmp_path, name, stem):
    path = _save(tmp_path, np.zeros((2, 2, 2), np.uint8), name=name)
    assert read_nifti(path).info.series_description == stem


# ----------------------------------------------------------------------------- writing
def test_a_written_volume_keeps_its_geometry_and_sets_both_codes_to_scanner(tmp_path):
    geometry = Geometry((3, 4, 5), spacing=(0.5, 0.8, 3.0), origin=(12.0, -30.0, 45.0))
    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    path = write_nifti(Volume(data, geometry), tmp_path / "out.nii.gz")
    img = nib.load(str(path))
    assert int(img.header["sform_code"]) == 1 and int(img.header["qform_code"]) == 1
    np.testing.assert_allclose(RAS_TO_LPS @ img.affine, geometry.affine, atol=1e-5)
    np.testing.assert_allclose(RAS_TO_LPS @ img.get_qform(), geometry.affine, atol=1e-4)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), data)


def test_a_boolean_mask_is_written_as_uint8(tmp_path):
    mask = np.zeros((3, 3, 3), bool)
    mask[2, 0, 1] = True
    path = write_nifti(mask, tmp_path / "mask.nii", geometry=Geometry((3, 3, 3)))
    img = nib.load(str(path))
    assert img.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), mask.astype(np.uint8))


@pytest.mark.parametrize("array_shape, grid_shape", [((2, 3, 3), (3, 2, 2)), ((3, 2, 2), (2, 3, 3)),
                                                     ((2, 2, 2), (3, 3, 3))])
def test_an_array_that_does_not_fit_its_geometry_is_not_written(tmp_path, array_shape, grid_shape):
    with pytest.raises(ValueError, match=rf"array shape \({array_shape[0]}, "):
        write_nifti(np.zeros(array_shape), tmp_path / "bad.nii", geometry=Geometry(grid_shape))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- nibabel failing
# nibabel is given bytes that passed every check, so these failures come from inputs no check
# foresaw; they are injected here to pin the documented promise that a file's content only ever
# raises an InputError naming the file.
@pytest.mark.parametrize("error", [HeaderDataError("bad extension"), ValueError("bad extension"),
                                   OSError("bad extension"), EOFError("bad extension")])
def test_nibabel_failing_on_the_header_is_an_input_error(tmp_path, monkeypatch, error):
    path = _save(tmp_path, np.zeros((2, 2, 2), np.uint8), name="ext.nii")

    def fail(cls, data):
        raise error

    monkeypatch.setattr(nib.Nifti1Image, "from_bytes", classmethod(fail))
    with pytest.raises(InputError, match=r"ext\.nii: header cannot be read \(bad extension\)"):
        read_nifti(path)


@pytest.mark.parametrize("error, match", [(MemoryError(), r"does not fit in memory"),
                                          (OSError("short read"), r"pixel data cannot be read \(short read\)"),
                                          (EOFError("short read"), r"pixel data cannot be read \(short read\)"),
                                          (ValueError("short read"), r"pixel data cannot be read \(short read\)")])
def test_nibabel_failing_on_the_voxels_is_an_input_error(tmp_path, monkeypatch, error, match):
    path = _save(tmp_path, np.zeros((2, 2, 2), np.uint8), name="vox.nii")

    def fail(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(ArrayProxy, "__array__", fail)
    with pytest.raises(InputError, match=rf"vox\.nii: {match}"):
        read_nifti(path)
