"""NIfTI loading and saving: RAS<->LPS at the edge, scaling, 4D, corrupt files, mask round trips."""

import gzip

import nibabel as nib
import numpy as np
import pytest

from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.io import load, read_nifti, write_nifti

SCT_FILES = ["t2.nii.gz", "t2_seg-manual.nii.gz", "t2_seg-manual_labeled.nii.gz", "labels.nii.gz",
             "t2_centerline-manual.nii.gz", "t2_fake_lesion.nii.gz", "t2_fake_lesion_lesion_seg.nii.gz",
             "t2_fake_lesion_sc_seg.nii.gz"]


@pytest.mark.parametrize("name", SCT_FILES)
def test_sct_files_load_in_lps_and_round_trip_a_mask(shared_data, tmp_path, name):
    path = shared_data / "sct_t2" / name
    img = nib.load(path)
    vol = read_nifti(path)
    # World positions equal nibabel's (RAS) with x and y negated.
    idx = np.array([[0, 0, 0], [s - 1 for s in vol.geometry.shape], [3, 4, 5]])
    ras = nib.affines.apply_affine(img.affine, idx)
    np.testing.assert_allclose(vol.geometry.index_to_world(idx), ras * [-1, -1, 1], atol=1e-4)
    np.testing.assert_array_equal(vol.array, np.asanyarray(img.dataobj))
    mask = (vol.array > np.median(vol.array)).astype(np.uint8)
    out = write_nifti(vol.like(mask), tmp_path / "mask.nii.gz")
    back = read_nifti(out)
    assert back.geometry.same_space(vol.geometry, atol_mm=1e-4)
    np.testing.assert_array_equal(back.array, mask)


def test_sct_t2_orientation_matches_nibabel(shared_data):
    path = shared_data / "sct_t2" / "t2.nii.gz"
    # nibabel codes name the side each axis increases towards, as ours do.
    assert read_nifti(path).geometry.orientation == "".join(nib.aff2axcodes(nib.load(path).affine))


def test_scaling_is_applied_and_integers_kept_without_it(tmp_path):
    g = Geometry((3, 4, 5), spacing=(1, 2, 3))
    raw = np.arange(60, dtype=np.int16).reshape(g.shape)
    img = nib.Nifti1Image(raw, g.ras_affine)
    img.header.set_slope_inter(2.0, -5.0)
    nib.save(img, tmp_path / "scaled.nii.gz")
    vol = read_nifti(tmp_path / "scaled.nii.gz")
    np.testing.assert_allclose(vol.array, raw * 2.0 - 5.0)
    assert vol.array.dtype == np.float32
    write_nifti(raw, tmp_path / "plain.nii", geometry=g)
    plain = read_nifti(tmp_path / "plain.nii")
    assert plain.array.dtype == np.int16 and plain.geometry.same_space(g)


def test_4d_is_refused_or_first_volume_taken_with_warning(tmp_path):
    data = np.stack([np.full((2, 3, 4), k, np.int16) for k in range(3)], axis=-1)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "four.nii.gz")
    with pytest.raises(InputError, match=r"four\.nii\.gz: is 4D"):
        read_nifti(tmp_path / "four.nii.gz")
    with pytest.warns(UserWarning, match="first volume"):
        vol = read_nifti(tmp_path / "four.nii.gz", first_volume_of_4d=True)
    assert vol.array.shape == (2, 3, 4) and np.all(vol.array == 0)


def test_first_volume_of_a_scaled_4d_image_is_scaled_once(tmp_path):
    data = np.stack([np.full((2, 3, 4), k + 1, np.int16) for k in range(3)], axis=-1)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(2.0, -5.0)
    nib.save(img, tmp_path / "scaled4d.nii.gz")
    with pytest.warns(UserWarning, match="first volume"):
        vol = read_nifti(tmp_path / "scaled4d.nii.gz", first_volume_of_4d=True)
    np.testing.assert_allclose(vol.array, 1 * 2.0 - 5.0)
    assert vol.array.dtype == np.float32


def test_trailing_unit_dimensions_are_dropped(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4, 1, 1)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "five.nii.gz")
    vol = read_nifti(tmp_path / "five.nii.gz")
    np.testing.assert_array_equal(vol.array, data[..., 0, 0])


def test_corrupt_and_truncated_files_give_specific_errors(shared_data, tmp_path):
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"this is not a nifti file at all")
    with pytest.raises(InputError, match=r"junk\.nii\.gz: is named \.gz but is not gzip-compressed"):
        load(junk)
    src = (shared_data / "sct_t2" / "t2.nii.gz").read_bytes()
    truncated = tmp_path / "cut.nii.gz"
    truncated.write_bytes(src[: len(src) // 2])
    with pytest.raises(InputError, match=r"cut\.nii\.gz: .*(truncated|corrupt|readable)"):
        load(truncated)
    raw = tmp_path / "raw.nii"
    raw.write_bytes(gzip.decompress(src)[:400])  # header only, no voxels
    with pytest.raises(InputError, match=r"raw\.nii"):
        load(raw)


def test_write_is_atomic_and_leaves_no_partial_file(tmp_path):
    g = Geometry((2, 2, 2))
    with pytest.raises(ValueError):
        write_nifti(np.zeros((3, 3, 3)), tmp_path / "bad.nii.gz", geometry=g)
    assert list(tmp_path.iterdir()) == []
