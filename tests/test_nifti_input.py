"""Bad NIfTI input (issue 9): each kind is refused with a specific InputError, or loads with a problem.

Every bad file is built here, in tmp_path: a small image written by ``write_nifti`` (or a real SCT
file) whose header is then edited with nibabel's header fields, as a broken writer would leave it.
"""

import gzip
import os
import socket

import fuzzing
import nibabel as nib
import numpy as np
import pytest

from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.io import nifti_header, read_nifti, write_nifti

SHAPE = (4, 5, 6)
SPACING = (1.0, 2.0, 3.0)
VALUES = np.arange(120, dtype=np.int16).reshape(SHAPE)
GEOMETRY = Geometry(SHAPE, spacing=SPACING, origin=(10.0, -20.0, 30.0))
#: Bytes in the small file: the 352-byte header block, then 120 int16 voxels.
NBYTES = 352 + 120 * 2
#: Its smallest slice (4 x 5 voxels, across the last axis) in bytes: a damaged dim changes the size
#: by at least this.
SLICE = 4 * 5 * 2


def _nifti(tmp_path, name="edited.nii", *, extra=b"", cut=None, **fields):
    """The small image, its header fields set to ``fields`` (a dict value edits single elements)."""
    raw = write_nifti(VALUES, tmp_path / "source.nii", geometry=GEOMETRY).read_bytes()
    hdr = nib.Nifti1Header(raw[:348], check=False)
    for field, value in fields.items():
        if isinstance(value, dict):
            for index, element in value.items():
                hdr[field][index] = element
        else:
            hdr[field] = value
    raw = (hdr.binaryblock + raw[348:] + extra)[:cut]
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    return path


def _refused(path, match=None):
    with pytest.raises(InputError, match=match) as info:
        read_nifti(path)
    assert info.value.path.endswith(path.name) and info.value.hint
    return info.value


# ----------------------------------------------------------------------------- sound files
def test_a_valid_file_loads_as_before(shared_data):
    path = shared_data / "sct_t2" / "t2.nii.gz"
    img = nib.load(path)
    vol = read_nifti(path)
    np.testing.assert_array_equal(vol.array, np.asanyarray(img.dataobj))
    assert vol.array.dtype == img.get_data_dtype() and vol.problems == ()
    np.testing.assert_allclose(vol.geometry.ras_affine, img.affine, atol=1e-4)


@pytest.mark.parametrize("name", ["t2.nii.gz", "t2_seg-manual.nii.gz", "t2_fake_lesion.nii.gz",
                                  "t2_fake_lesion_lesion_seg.nii.gz", "labels.nii.gz"])
def test_real_files_have_no_problems(shared_data, name):
    assert read_nifti(shared_data / "sct_t2" / name).problems == ()


@pytest.mark.parametrize("name", ["small.nii", "small.nii.gz"])
def test_the_small_file_round_trips(tmp_path, name):
    vol = read_nifti(_nifti(tmp_path, name))
    np.testing.assert_array_equal(vol.array, VALUES)
    assert vol.geometry.same_space(GEOMETRY) and vol.problems == () and vol.array.dtype == np.int16


def test_big_endian_and_nifti2_files_load(tmp_path):
    header = nib.Nifti1Header(endianness=">")
    nib.save(nib.Nifti1Image(VALUES, GEOMETRY.ras_affine, header), tmp_path / "big.nii")
    nib.save(nib.Nifti2Image(VALUES, GEOMETRY.ras_affine), tmp_path / "two.nii.gz")
    for name in ("big.nii", "two.nii.gz"):
        vol = read_nifti(tmp_path / name)
        np.testing.assert_array_equal(vol.array, VALUES)
        assert vol.geometry.same_space(GEOMETRY)


def test_nibabel_repairs_print_nothing_and_an_unusual_offset_loads(tmp_path, capfd):
    # vox_offset 360 is valid but "not SPM compatible": nibabel logs that to stderr.
    raw = write_nifti(VALUES, tmp_path / "source.nii", geometry=GEOMETRY).read_bytes()
    hdr = nib.Nifti1Header(raw[:348], check=False)
    hdr["vox_offset"] = 360
    (tmp_path / "offset.nii").write_bytes(hdr.binaryblock + bytes(12) + raw[352:])
    np.testing.assert_array_equal(read_nifti(tmp_path / "offset.nii").array, VALUES)
    assert capfd.readouterr().err == ""


# ----------------------------------------------------------------------------- header fields
@pytest.mark.parametrize("fields, match", [
    ({"sizeof_hdr": 0}, r"not a NIfTI file: its first field \(sizeof_hdr\) is 0, not 348"),
    ({"magic": b"ni1"}, r"magic is 'ni1' \(that of a \.hdr/\.img pair"),
    ({"magic": b"n+2"}, r"magic is 'n\+2'.* not 'n\+1'"),
    ({"dim": {0: 9}}, r"dim\[0\] \(the number of dimensions\) is 9"),
    ({"dim": {2: 0}}, r"dim\[2\] is 0: every dimension needs at least one voxel"),
    ({"dim": {1: -5}}, r"dim\[1\] is -5"),
    ({"datatype": 3}, r"datatype code 3 is not a NIfTI data type"),
    ({"datatype": 0}, r"datatype code 0 is not a NIfTI data type"),
    ({"magic": b""}, r"header magic is empty"),
    ({"datatype": 128, "bitpix": 24}, r"datatype RGB.* is not a scalar image"),
    ({"datatype": 32, "bitpix": 64}, r"datatype complex64 .* is not a scalar image"),
    ({"vox_offset": 7}, r"vox_offset is 7, but .* at byte 352 or later"),
    ({"vox_offset": -352}, r"vox_offset is -352"),
    ({"vox_offset": np.nan}, r"vox_offset \(where the voxels start\) is nan"),
    ({"sform_code": 7}, r"sform_code is 7, not a NIfTI code"),
    ({"qform_code": -1}, r"qform_code is -1, not a NIfTI code"),
    ({"scl_slope": np.inf}, r"scl_slope is inf"),
    ({"scl_slope": 2.0, "scl_inter": np.nan}, r"scl_inter is nan \(with scl_slope 2\)"),
])
def test_damaged_header_fields_are_refused(tmp_path, fields, match):
    _refused(_nifti(tmp_path, **fields), match)


def test_each_kind_has_its_own_message(tmp_path):
    messages = {_refused(_nifti(tmp_path, **fields)).problem
                for fields in ({"sizeof_hdr": 0}, {"dim": {2: 0}}, {"datatype": 3}, {"vox_offset": 7},
                               {"sform_code": 7}, {"scl_slope": np.inf})}
    assert len(messages) == 6


# ----------------------------------------------------------------------------- affines
@pytest.mark.parametrize("fields, match", [
    ({"srow_x": {0: np.nan}}, r"the sform holds non-finite values"),
    ({"srow_y": {0: -1.0, 1: 0.0, 2: 0.0}}, r"the sform is singular"),
    ({"srow_x": {0: -1e30}}, r"the sform gives voxel sizes \(1e\+30, 2, 3\) mm, outside"),
    ({"srow_z": {3: 1e30}}, r"the sform places the image 1e\+30 mm from the scanner origin"),
    ({"sform_code": 0, "pixdim": {2: 0.0}},
     r"pixdim\[2\] \(a voxel size\) is 0, which makes the affine singular: with no sform, the qform"),
    ({"sform_code": 0, "pixdim": {3: -3.0}}, r"pixdim\[3\] \(a voxel size\) is -3; voxel sizes must be"),
    ({"sform_code": 0, "qform_code": 0, "pixdim": {1: 0.0}},
     r"pixdim\[1\] .* is 0.*with no sform, the voxel sizes \(pixdim\) set"),
    ({"sform_code": 0, "pixdim": {1: np.nan}}, r"pixdim\[1\] \(a voxel size\) is nan"),
    ({"sform_code": 0, "quatern_b": 2.0, "quatern_c": 2.0}, r"qform quaternion .* is not a rotation"),
    ({"sform_code": 0, "qoffset_y": np.inf}, r"qform quaternion or offsets are not finite"),
    ({"sform_code": 0, "pixdim": {0: -3.0}}, r"pixdim\[0\] \(qfac\) is -3, not -1 or 1"),
])
def test_affines_that_cannot_place_voxels_are_refused(tmp_path, fields, match):
    _refused(_nifti(tmp_path, **fields), match)


def test_pixdim_zero_with_a_valid_sform_loads_with_a_problem(tmp_path):
    vol = read_nifti(_nifti(tmp_path, pixdim={3: 0.0}))
    assert vol.geometry.same_space(GEOMETRY)  # the sform's sizes, never 1 mm
    [problem] = vol.problems
    assert problem == "pixdim gives voxel sizes (1, 2, 0) mm but the sform (1, 2, 3) mm; the sform's are used"


def test_qform_and_sform_that_disagree_by_more_than_a_voxel_say_which_is_used(tmp_path):
    vol = read_nifti(_nifti(tmp_path, srow_x={3: -10.0 - 10.0}))  # the sform moved 10 mm along x
    assert vol.geometry.origin[0] == pytest.approx(20.0)
    [problem] = vol.problems
    assert problem.startswith("the qform and sform disagree by up to 10 mm (more than a voxel, 3 mm)")
    assert "the sform (code scanner) is used" in problem
    # Within a voxel: nothing to say.
    assert read_nifti(_nifti(tmp_path, srow_x={3: -10.0 - 2.5})).problems == ()


def test_a_broken_qform_beside_a_valid_sform_is_reported(tmp_path):
    vol = read_nifti(_nifti(tmp_path, quatern_b=2.0, quatern_c=2.0))
    assert vol.geometry.same_space(GEOMETRY)
    assert vol.problems[0].startswith("the qform cannot be used (the qform quaternion")


def test_no_sform_and_no_qform_loads_with_a_problem(tmp_path):
    vol = read_nifti(_nifti(tmp_path, sform_code=0, qform_code=0))
    assert vol.geometry.spacing == SPACING
    [problem] = vol.problems
    assert problem == ("neither an sform nor a qform is set (both codes are 0): the orientation is "
                       "unknown, and voxel positions come from the voxel sizes (pixdim) alone")


# ----------------------------------------------------------------------------- sizes
def test_truncated_uncompressed_file_is_refused(tmp_path):
    _refused(_nifti(tmp_path, cut=500), r"is truncated: its header describes 4 x 5 x 6 int16 voxels "
                                        r"from byte 352 \(592 bytes in all\), but it holds only 500 bytes")
    _refused(_nifti(tmp_path, cut=352), r"is truncated")
    _refused(_nifti(tmp_path, cut=200), r"is too short to be a NIfTI file: it has 200 bytes")
    _refused(_nifti(tmp_path, cut=0), r"is empty")


def test_vox_offset_beyond_the_end_is_refused(tmp_path):
    _refused(_nifti(tmp_path, vox_offset=1e6), r"voxels start at byte 1000000, beyond the end")


@pytest.mark.parametrize("name, whose", [("padded.nii", "the file"), ("padded.nii.gz", "its gzip stream")])
def test_a_few_bytes_after_the_voxels_load_with_a_problem(tmp_path, name, whose):
    # Fewer than a slice of voxels cannot come from damaged dims or datatype; nibabel, FSL and ITK
    # read such files.
    for extra in (b"\xff" * 4, bytes(SLICE - 1)):
        path = _nifti(tmp_path, name, extra=extra)
        vol = read_nifti(path)
        np.testing.assert_array_equal(vol.array, VALUES)
        np.testing.assert_array_equal(vol.array, np.asanyarray(nib.load(path).dataobj))
        assert vol.geometry.same_space(GEOMETRY)
        assert vol.problems == (f"{whose} holds {len(extra)} bytes after its voxels; they were ignored",)


def test_more_data_than_the_header_describes_is_refused(tmp_path):
    _refused(_nifti(tmp_path, extra=bytes(SLICE)), r"it holds 632 bytes, 40 bytes more than its header")
    _refused(_nifti(tmp_path, "slice.nii.gz", extra=bytes(SLICE)),
             r"its gzip stream holds more than the 592 bytes its header describes")
    _refused(_nifti(tmp_path, "large.nii", extra=bytes(5 * 6 * 2)),  # a slice across the first axis
             r"it holds 652 bytes, 60 bytes more")
    _refused(_nifti(tmp_path, "small.nii.gz", dim={3: 5}),  # one slice fewer than stored
             r"its gzip stream holds more than the 552 bytes its header describes")
    _refused(_nifti(tmp_path, "uint8.nii", datatype=2, bitpix=8),  # int16 stored, uint8 described
             r"it holds 592 bytes, 120 bytes more than its header describes \(4 x 5 x 6 uint8")


def test_a_lowered_vox_offset_is_not_taken_for_spare_bytes(tmp_path):
    # A 32-byte extension, then the voxels at 384; a vox_offset of 352 would shift every voxel by
    # 32 bytes, and leave 32 bytes (less than a slice) "after the voxels".
    img = nib.Nifti1Image(VALUES, GEOMETRY.ras_affine)
    img.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"a comment"))
    nib.save(img, tmp_path / "ext.nii")
    raw = (tmp_path / "ext.nii").read_bytes()
    hdr = nib.Nifti1Header(raw[:348], check=False)
    assert hdr["vox_offset"] == 384
    np.testing.assert_array_equal(read_nifti(tmp_path / "ext.nii").array, VALUES)
    for offset, match in [
        (352, r"holds 32 bytes after its voxels, and vox_offset says they start at byte 352, inside a head"),
        (np.nextafter(np.float32(384), np.float32(0)),  # the lowest mantissa bit: nibabel reads 383
         r"holds 1 byte after its voxels, and vox_offset \(where they start\) is 383.99997, not a whole"),
    ]:
        hdr["vox_offset"] = offset
        (tmp_path / "lowered.nii").write_bytes(hdr.binaryblock + raw[348:])
        _refused(tmp_path / "lowered.nii", match)
    # Raised by a fraction, with nothing after the voxels, it reads as nibabel reads it.
    hdr["vox_offset"] = np.nextafter(np.float32(384), np.float32(1000))
    (tmp_path / "raised.nii").write_bytes(hdr.binaryblock + raw[348:])
    np.testing.assert_array_equal(read_nifti(tmp_path / "raised.nii").array, VALUES)


def test_an_intact_gzip_of_a_truncated_file_is_refused(tmp_path):
    _refused(_nifti(tmp_path, "cut.nii.gz", cut=500),
             r"is truncated: .* but its gzip stream \(intact\) holds only 500 bytes")


def test_dims_beyond_memory_are_refused_before_reading(tmp_path):
    path = _nifti(tmp_path, dim={1: 32767, 2: 32767, 3: 32767}, datatype=64, bitpix=64)
    # The computer's memory, or a smaller limit of a container or ulimit where the test runs.
    _refused(path, r"32767 x 32767 x 32767 float64 voxels .* more than this (computer|container|process)")


def _no_memory_limits(monkeypatch, tmp_path):
    """Only the computer's memory counts: no cgroup file, no address-space limit."""
    monkeypatch.setattr(nifti_header, "CGROUP_MEMORY_FILES", (tmp_path / "v2", tmp_path / "v1"))
    monkeypatch.setattr(nifti_header.resource, "getrlimit",
                        lambda which: (nifti_header.resource.RLIM_INFINITY,) * 2)
    physical, what = nifti_header.memory_limit()
    assert what.startswith("this computer's memory") and physical > 10**8


@pytest.mark.parametrize("v2, v1, limited", [
    ("2000000\n", None, True),
    ("max\n", None, False),                          # v2: no limit
    (None, "2000000\n", True),
    (None, "9223372036854771712\n", False),          # v1: "no limit" is a number near 2**63
])
def test_a_container_memory_limit_is_the_limit(monkeypatch, tmp_path, v2, v1, limited):
    # Inside a container the host's memory is what SC_PHYS_PAGES says: the cgroup says what is allowed.
    _no_memory_limits(monkeypatch, tmp_path)
    for name, text in (("v2", v2), ("v1", v1)):
        if text is not None:
            (tmp_path / name).write_text(text)
    path = _nifti(tmp_path, dim={1: 100, 2: 100, 3: 100}, datatype=64, bitpix=64)  # 8 MB of float64
    if limited:
        error = _refused(path, r"100 x 100 x 100 float64 voxels from byte 352 \(8,000,352 bytes\), more than "
                               r"this container's memory limit \(2,000,000 bytes, .*\) can load")
        assert "raise that limit" in error.hint
    else:
        _refused(path, r"is truncated")  # the memory check passed; the file holds 120 voxels


def test_an_address_space_limit_is_the_limit(monkeypatch, tmp_path):
    _no_memory_limits(monkeypatch, tmp_path)
    monkeypatch.setattr(nifti_header.resource, "getrlimit", lambda which: (3_000_000, 10**10))
    assert nifti_header.memory_limit()[0] == 3_000_000
    (tmp_path / "v2").write_text("2000000\n")
    assert nifti_header.memory_limit()[0] == 2_000_000  # the smallest of the three
    (tmp_path / "v2").unlink()
    _refused(_nifti(tmp_path, dim={1: 100, 2: 100, 3: 100}, datatype=64, bitpix=64),
             r"more than this process's address-space limit \(3,000,000 bytes, ulimit -v\) can load")
    np.testing.assert_array_equal(read_nifti(_nifti(tmp_path)).array, VALUES)  # a small file still loads


def test_a_gzip_stream_far_smaller_than_its_dims_is_refused_before_inflating(tmp_path):
    _refused(_nifti(tmp_path, "huge.nii.gz", dim={1: 500, 2: 500, 3: 500}, datatype=2, bitpix=8),
             r"is too small: a gzip stream of \d+ bytes cannot hold the 125,000,352 bytes")


def test_a_gzip_bomb_is_not_inflated_beyond_the_header(tmp_path):
    path = _nifti(tmp_path, "bomb.nii.gz", extra=bytes(20_000_000))  # 20 kB compressed
    _refused(path, r"its gzip stream holds more than the 592 bytes its header describes")


def test_a_gzip_stream_that_runs_out_of_memory_is_refused_with_the_size(tmp_path, monkeypatch):
    """Memory running out while inflating (another process took it) is said with the image's size
    and what to do, not raised as a bare MemoryError."""
    from lesionview.io import nifti

    def out_of_memory(stream, limit):
        raise MemoryError

    monkeypatch.setattr(nifti, "_inflate", out_of_memory)
    error = _refused(_nifti(tmp_path, "small.nii.gz"), r"does not fit in memory \(592 bytes\)")
    assert "more memory" in error.hint


# ----------------------------------------------------------------------------- gzip damage
def _damaged_mask(shared_data, tmp_path, damage):
    data = bytearray((shared_data / "sct_t2" / "t2_seg-manual.nii.gz").read_bytes())
    damage(data)
    path = tmp_path / "mask.nii.gz"
    path.write_bytes(bytes(data))
    assert fuzzing.gzip_is_corrupt(bytes(data))
    return path


def _flip_late(data):
    for i in range(len(data) * 3 // 4, len(data) * 3 // 4 + 3):
        data[i] ^= 0x55


@pytest.mark.parametrize("damage, match", [
    (lambda d: d.__setitem__(-8, d[-8] ^ 0xFF), r"fails its gzip CRC check"),
    (lambda d: d.__setitem__(-3, d[-3] ^ 0x01), r"fails its gzip length check"),
    (lambda d: d.extend(b"garbage after the stream"), r"trailing garbage"),
    (lambda d: d.__delitem__(slice(-3, None)), r"is truncated: its gzip stream ends before its end marker"),
    (_flip_late, r"gzip"),  # bytes late in the stream, which nibabel's lazy read never checks
])
def test_a_corrupt_gzip_stream_is_refused(shared_data, tmp_path, damage, match):
    _refused(_damaged_mask(shared_data, tmp_path, damage), match)


def test_corrupt_gzip_mutants_are_all_refused(shared_data, tmp_path):
    corrupt = [m for m in fuzzing.mutants("nifti-mask", 80, seed=1) if m.corrupt_gzip]
    assert len(corrupt) >= 5
    for m in corrupt:
        with pytest.raises(InputError):
            read_nifti(m.write(tmp_path))


def test_the_name_and_the_compression_must_agree(tmp_path):
    plain = _nifti(tmp_path, "plain.nii")
    os.rename(plain, tmp_path / "plain.nii.gz")
    _refused(tmp_path / "plain.nii.gz", r"is named \.gz but is not gzip-compressed")
    packed = _nifti(tmp_path, "packed.nii.gz")
    os.rename(packed, tmp_path / "packed.nii")
    _refused(tmp_path / "packed.nii", r"is gzip-compressed but not named \.gz")


# ----------------------------------------------------------------------------- not a regular file
def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.nii"
    os.mkfifo(fifo)
    with fuzzing.time_limit(20):  # opening a FIFO for reading would block until a writer comes
        _refused(fifo, r"is a named pipe \(FIFO\), not a file: opening it would wait forever")


def test_devices_sockets_and_folders_are_refused(tmp_path):
    (tmp_path / "null.nii").symlink_to("/dev/null")
    _refused(tmp_path / "null.nii", r"is a character device, not a file")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock.nii"))
        _refused(tmp_path / "sock.nii", r"is a socket")
    finally:
        server.close()
    (tmp_path / "folder.nii").mkdir()
    _refused(tmp_path / "folder.nii", r"is a folder, not a NIfTI file")


def test_missing_files_and_broken_links_say_which(tmp_path):
    _refused(tmp_path / "missing.nii.gz", r"missing\.nii\.gz: does not exist")
    (tmp_path / "link.nii.gz").symlink_to(tmp_path / "gone.nii.gz")
    _refused(tmp_path / "link.nii.gz", r"is a broken symbolic link \(to .*gone\.nii\.gz.*, which does not exist\)")
    (tmp_path / "a.nii").symlink_to(tmp_path / "b.nii")
    (tmp_path / "b.nii").symlink_to(tmp_path / "a.nii")
    _refused(tmp_path / "a.nii", r"is a symbolic link loop")


# ----------------------------------------------------------------------------- scaling
def test_a_scaling_that_overflows_is_refused(tmp_path):
    _refused(_nifti(tmp_path, scl_slope=1e37, scl_inter=0.0),
             r"scl_slope 1e\+37 and scl_inter 0 turn \d+ stored values into infinite or undefined")


def test_a_nan_slope_means_no_scaling(tmp_path):
    vol = read_nifti(_nifti(tmp_path, scl_slope=np.nan, scl_inter=5.0))
    np.testing.assert_array_equal(vol.array, VALUES)
    assert vol.array.dtype == np.int16
