"""Bad DICOM input (issue 9): a file's content can only produce an InputError, saying which file,
what is wrong and what to do; in a folder one bad file is ignored with its reason and the others
still load; nothing hangs; nothing corrupt or misread is used.

Each bad file is made here from a real one (``../shared/data``), by editing one element with
pydicom the way a broken writer would have written it (``fuzzing._set``).
"""

from __future__ import annotations

import io
import os
import re
import socket
import zipfile
from pathlib import Path

import fuzzing
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import RLELossless

from lesionview.errors import InputError
from lesionview.io import load, load_volume
from lesionview.io.dicom import discover, scan

pytestmark = pytest.mark.shared_data

SAGITTAL = ("dicom", "sagittal_t1_series")
ENHANCED = ("dicom", "edge_cases", "enhanced_multiframe_philips", "IM-0001-0170-0001.dcm")
MOSAIC = ("dicom", "transfer_syntaxes", "1.dcm")
#: A slice in the middle of the sagittal series: without it, the series has one gap.
VICTIM = 10
#: Per call that could block (FIFO, device): far beyond what a scan of these files takes.
NO_HANG_S = 20


def _series(shared_data) -> list[Path]:
    return sorted(shared_data.joinpath(*SAGITTAL).glob("*.dcm"))


def _edited(src: Path, dst: Path, edits: dict) -> Path:
    """``src`` with each element of ``edits`` set (None deletes it), saved as ``dst``."""
    with fuzzing._lenient_pydicom():
        ds = dcmread(src)
        for key, value in edits.items():
            fuzzing._set(ds, key, value)
        ds.save_as(dst, enforce_file_format=False)
    return dst


def _folder(shared_data, tmp_path: Path, replace: dict[str, bytes] | None = None) -> Path:
    """The 35-file sagittal series as links to the real files (nothing copied), with some files
    replaced by the bytes given."""
    folder = tmp_path / "series"
    folder.mkdir()
    for f in _series(shared_data):
        if replace and f.name in replace:
            (folder / f.name).write_bytes(replace[f.name])
        else:
            (folder / f.name).symlink_to(f)
    return folder


def _fail_if_called(*args, **kwargs):
    raise AssertionError("dcmread was called: the file should have been refused from its first bytes")


# ----------------------------------------------------------------------------- the matrix
# (source, edits, the reason expected, the kind of the ignored entry); one case per kind named in issue 9
CASES = {
    "IPP wrong count": ("classic", {"ImagePositionPatient": "1\\2"},
                        r"ImagePositionPatient in the header has 2 values", "invalid"),
    "IPP text": ("classic", {"ImagePositionPatient": "a\\b\\c"},
                 r"ImagePositionPatient .* not a number", "invalid"),
    "IPP NaN": ("classic", {"ImagePositionPatient": "nan\\0\\0"},
                r"ImagePositionPatient .* not a finite number", "invalid"),
    "IPP inf": ("classic", {"ImagePositionPatient": "0\\inf\\0"},
                r"ImagePositionPatient .* not a finite number", "invalid"),
    "IPP missing": ("classic", {"ImagePositionPatient": None}, r"no ImagePositionPatient", "unsupported"),
    "IOP wrong count": ("classic", {"ImageOrientationPatient": "1\\0\\0"},
                        r"ImageOrientationPatient .* 3 values", "invalid"),
    "IOP all zero": ("classic", {"ImageOrientationPatient": "0\\0\\0\\0\\0\\0"},
                     r"a direction is all zeros", "invalid"),
    "IOP parallel": ("classic", {"ImageOrientationPatient": "0\\1\\0\\0\\1\\0"},
                     r"not perpendicular", "invalid"),
    "IOP not unit": ("classic", {"ImageOrientationPatient": "0\\2\\0\\0\\0\\-2"},
                     r"not unit vectors", "invalid"),
    "IOP NaN": ("classic", {"ImageOrientationPatient": "nan\\0\\0\\0\\1\\0"},
                r"not a finite number", "invalid"),
    "PixelSpacing wrong count": ("classic", {"PixelSpacing": "1"},
                                 r"PixelSpacing in the header has 1 value ", "invalid"),
    "PixelSpacing text": ("classic", {"PixelSpacing": "a\\b"}, r"PixelSpacing .* not a number", "invalid"),
    "PixelSpacing zero": ("classic", {"PixelSpacing": "0\\0"}, r"PixelSpacing .* zero, negative", "invalid"),
    "PixelSpacing negative": ("classic", {"PixelSpacing": "-1\\1"},
                              r"PixelSpacing .* zero, negative", "invalid"),
    "PixelSpacing NaN": ("classic", {"PixelSpacing": "nan\\1"},
                         r"PixelSpacing .* not a finite number", "invalid"),
    "PixelSpacing absurd": ("classic", {"PixelSpacing": "1e-300\\1"}, r"PixelSpacing .* misread", "invalid"),
    "RescaleSlope multi-valued": ("classic", {"RescaleSlope": "1\\2"},
                                  r"RescaleSlope in the header has 2 values", "invalid"),
    "RescaleSlope zero": ("classic", {"RescaleSlope": "0"}, r"RescaleSlope is 0", "invalid"),
    "RescaleSlope text": ("classic", {"RescaleSlope": "abc"}, r"RescaleSlope .* not a number", "invalid"),
    "RescaleSlope overflow": ("classic", {"RescaleSlope": "1e300"}, r"would overflow", "invalid"),
    "RescaleIntercept multi-valued": ("classic", {"RescaleIntercept": "1\\2"},
                                      r"RescaleIntercept in the header has 2 values", "invalid"),
    "NumberOfFrames multi-valued": ("classic", {"NumberOfFrames": "2\\3"},
                                    r"NumberOfFrames has 2 values", "invalid"),
    "NumberOfFrames zero": ("classic", {"NumberOfFrames": "0"}, r"NumberOfFrames is 0", "invalid"),
    "NumberOfFrames beyond the pixel data": ("classic", {"NumberOfFrames": "100000"},
                                             r"pixel data holds 131072 bytes", "invalid"),
    "SamplesPerPixel multi-valued": ("classic", {"SamplesPerPixel": [1, 1]},
                                     r"SamplesPerPixel has 2 values", "invalid"),
    "SamplesPerPixel zero": ("classic", {"SamplesPerPixel": 0}, r"SamplesPerPixel is 0", "invalid"),
    "Rows missing": ("classic", {"Rows": None}, r"no Rows", "invalid"),
    "Columns zero": ("classic", {"Columns": 0}, r"256 x 0 pixels", "invalid"),
    "Rows wrong by a frame": ("classic", {"Rows": 128},
                              r"pixel data holds 131072 bytes .* a whole frame or more .* do not describe", "invalid"),
    "BitsAllocated 12": ("classic", {"BitsAllocated": 12}, r"BitsAllocated is 12", "invalid"),
    "BitsAllocated 1": ("classic", {"BitsAllocated": 1}, r"1-bit", "unsupported"),
    "BitsStored above BitsAllocated": ("classic", {"BitsStored": 17},
                                       r"BitsStored is 17 with BitsAllocated 16", "invalid"),
    "BitsStored missing": ("classic", {"BitsStored": None}, r"no BitsStored", "invalid"),
    "PixelRepresentation 2": ("classic", {"PixelRepresentation": 2}, r"PixelRepresentation is 2", "invalid"),
    "PhotometricInterpretation colour": ("classic", {"PhotometricInterpretation": "RGB"},
                                         r"colour image \(RGB\)", "unsupported"),
    "PhotometricInterpretation unknown": ("classic", {"PhotometricInterpretation": "FOO"},
                                          r"PhotometricInterpretation is 'FOO'", "invalid"),
    "PhotometricInterpretation missing": ("classic", {"PhotometricInterpretation": None},
                                          r"no PhotometricInterpretation", "invalid"),
    "compressed syntax, plain pixels": ("classic", {"_syntax": "1.2.840.10008.1.2.4.50"},
                                        r"JPEG Baseline .* not encapsulated", "invalid"),
    "enhanced: Rows missing": ("enhanced", {"Rows": None}, r"no Rows", "invalid"),
    "enhanced: frame position NaN": (
        "enhanced", {"_frame_ipp": "nan\\0\\0"},
        r"ImagePositionPatient in the functional groups of frame 3 .* not a finite", "invalid"),
    "enhanced: NumberOfFrames wrong": ("enhanced", {"NumberOfFrames": "7"},
                                       r"pixel data holds|NumberOfFrames is 7 but", "invalid"),
    "mosaic: NumberOfImagesInMosaic absurd": (
        "mosaic", {(0x0019, 0x100A): 1000},
        r"NumberOfImagesInMosaic \(0019,100A\) is 1000 but the Siemens CSA header says 35", "invalid"),
}


def _bad_file(shared_data, tmp_path, source: str, edits: dict) -> Path:
    src = {"classic": _series(shared_data)[VICTIM], "enhanced": shared_data.joinpath(*ENHANCED),
           "mosaic": shared_data.joinpath(*MOSAIC)}[source]
    dst = tmp_path / f"bad-{source}.dcm"
    edits = dict(edits)
    syntax = edits.pop("_syntax", None)
    frame_ipp = edits.pop("_frame_ipp", None)
    _edited(src, dst, edits)
    if frame_ipp is not None:
        with fuzzing._lenient_pydicom():
            ds = dcmread(dst)
            fuzzing._set(ds.PerFrameFunctionalGroupsSequence[2].PlanePositionSequence[0], "ImagePositionPatient",
                         frame_ipp)
            ds.save_as(dst, enforce_file_format=False)
    if syntax is not None:
        dst.write_bytes(fuzzing._claim_syntax(dst.read_bytes(), syntax))
    return dst


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_value_is_refused_with_a_specific_reason(shared_data, tmp_path, case):
    source, edits, reason, _ = CASES[case]
    bad = _bad_file(shared_data, tmp_path, source, edits)
    with pytest.raises(InputError, match=reason) as err:
        scan(bad)
    assert err.value.path == str(bad) and "cannot be used" in err.value.problem
    with pytest.raises(InputError, match=reason):
        load(bad)


@pytest.mark.parametrize("case", [c for c, v in CASES.items() if v[0] == "classic"])
def test_in_a_folder_the_bad_file_is_ignored_and_the_series_still_loads(shared_data, tmp_path, case):
    _, edits, reason, kind = CASES[case]
    victim = _series(shared_data)[VICTIM]
    bad = _bad_file(shared_data, tmp_path, "classic", edits)
    folder = _folder(shared_data, tmp_path, {victim.name: bad.read_bytes()})
    found = scan(folder)
    (series,) = found.series
    assert series.n_slices == 34
    (entry,) = [i for i in found.ignored if i.path == victim.name]
    assert entry.kind == kind
    assert re.search(reason, entry.reason), entry.reason
    assert any(victim.name in p for p in found.problems)
    (volume,) = load(folder)
    assert volume.array.shape == (35, 256, 256)  # the missing slice is an empty slot, said so
    assert any("1 slice missing" in p for p in volume.problems)


INFORMATIVE = [{"SeriesNumber": "abc"}, {"InstanceNumber": "1\\2"}, {"RepetitionTime": "abc"}, {"EchoTime": "inf"},
               {"PatientName": "\xff\xfe"}, {"SeriesDescription": "T1\x00\x07 sag"}, {"SliceThickness": "1\\2"},
               {"SpacingBetweenSlices": "nan"}]


@pytest.mark.parametrize("edits", INFORMATIVE, ids=lambda e: next(iter(e)))
def test_values_that_only_inform_never_stop_loading(shared_data, tmp_path, edits):
    victim = _series(shared_data)[VICTIM]
    bad = _edited(victim, tmp_path / "bad.dcm", edits)
    (series,) = scan(bad).series
    info = series.info
    assert info.repetition_time_ms is None or np.isfinite(info.repetition_time_ms)
    assert info.echo_time_ms is None or np.isfinite(info.echo_time_ms)
    assert all(c.isprintable() for c in info.series_description + info.patient_name)
    folder = _folder(shared_data, tmp_path, {victim.name: bad.read_bytes()})
    assert [s.n_slices for s in scan(folder).series] == [35]


# ----------------------------------------------------------------------------- sound files scanners write
def test_high_bit_is_information_only_as_in_pydicom(shared_data, tmp_path):
    # HighBit 15 on the 12-bit series (the standard says 11): pydicom ignores HighBit and masks by
    # BitsStored, and so does lesionview; the junk above bit 11 shows that it really masks.
    src = _series(shared_data)[VICTIM]
    junk = _with_garbage_high_bits(src, tmp_path / "junk.dcm", signed=False, rle=False)
    bad = _edited(junk, tmp_path / "high-bit-15.dcm", {"HighBit": 15})
    assert dcmread(bad).HighBit == 15
    (volume,) = load(bad)
    assert np.array_equal(volume.array[0], dcmread(bad).pixel_array)
    assert np.array_equal(volume.array[0], dcmread(src).pixel_array)
    # Said, all the same: when BitsStored is the damaged one, values are cut.
    assert [p for p in volume.problems if p.startswith("HighBit is 15 with BitsStored 12")]
    found = scan(_folder(shared_data, tmp_path, {src.name: bad.read_bytes()}))
    assert [s.n_slices for s in found.series] == [35] and found.ignored == []
    assert any(p.startswith("HighBit is 15") for p in found.series[0].problems)


@pytest.mark.parametrize("extra", [2, 512], ids=["padding", "a row"])
def test_pixel_data_longer_by_less_than_a_frame_loads(shared_data, tmp_path, extra):
    src = _series(shared_data)[VICTIM]
    ds = dcmread(src)
    ds.PixelData = ds.PixelData + bytes(extra)  # 512 bytes: a row of 256 16-bit pixels
    bad = tmp_path / "long.dcm"
    ds.save_as(bad)
    (volume,) = load(bad)
    assert np.array_equal(volume.array[0], dcmread(src).pixel_array)
    said = [p for p in volume.problems if f"pixel data holds {extra} bytes more" in p]
    assert len(said) == (extra >= 512)  # a row or more is said (a damaged Columns would look so)
    (series,) = scan(_folder(shared_data, tmp_path, {src.name: bad.read_bytes()})).series
    assert series.n_slices == 35 and series.gaps == []


def _mosaic_without(shared_data, tmp_path, edits: dict) -> Path:
    return _edited(shared_data.joinpath(*MOSAIC), tmp_path / "mosaic.dcm", edits)


def test_mosaic_step_without_spacing_between_slices_comes_from_the_csa_series_header(shared_data, tmp_path):
    # SliceThickness (here 2 mm) is the slab; the step is 3.6 mm (the protocol's slice positions).
    (sound,) = scan(shared_data.joinpath(*MOSAIC)).series
    bad = _mosaic_without(shared_data, tmp_path, {"SpacingBetweenSlices": None, "SliceThickness": "2"})
    (series,) = scan(bad).series
    assert series.geometry.spacing[0] == pytest.approx(3.6, abs=1e-6)
    assert np.allclose(series.geometry.affine, sound.geometry.affine, atol=1e-5)
    assert series.problems == []


def test_mosaic_without_any_step_but_slice_thickness_says_so(shared_data, tmp_path):
    bad = _mosaic_without(shared_data, tmp_path, {"SpacingBetweenSlices": None, "SliceThickness": "2",
                                                  (0x0029, 0x1020): None})  # no CSA series header
    (series,) = scan(bad).series
    assert series.geometry.spacing[0] == pytest.approx(2.0)
    (said,) = series.problems
    assert said.startswith("slice spacing taken from SliceThickness (2 mm)") and "too short" in said
    (volume,) = load(bad)
    assert volume.problems == (said,)


def test_mosaic_with_a_damaged_csa_slice_position_does_not_use_it(shared_data, tmp_path):
    bad = _mosaic_without(shared_data, tmp_path, {"SpacingBetweenSlices": None, "SliceThickness": "2"})
    data = bad.read_bytes()
    at = data.index(b"sSliceArray.asSlice[1].sPosition.dTra")
    assert data[at:at + 60].count(b"-70.3") == 1
    bad.write_bytes(data[:at] + data[at:at + 60].replace(b"-70.3", b"-60.3") + data[at + 60:])  # one digit
    (series,) = scan(bad).series  # the positions are no longer evenly spaced: not used
    assert series.geometry.spacing[0] == pytest.approx(2.0)
    assert series.problems[0].startswith("slice spacing taken from SliceThickness (2 mm)")


@pytest.mark.parametrize("csa", [True, False], ids=["CSA positions", "SliceThickness"])
def test_mosaic_with_a_damaged_spacing_between_slices_falls_through_and_says_so(shared_data, tmp_path, csa):
    edits = {"SpacingBetweenSlices": "1\\2"} | ({} if csa else {(0x0029, 0x1020): None})
    (series,) = scan(_mosaic_without(shared_data, tmp_path, edits)).series
    assert series.geometry.spacing[0] == pytest.approx(3.6 if csa else 3.0, abs=1e-6)  # (SliceThickness 3)
    said = series.problems[0]
    assert re.match(r"SpacingBetweenSlices has 2 values .*; passed over", said), said
    assert ("CSA series header" in said) == csa
    assert len(series.problems) == (1 if csa else 2)


def test_mosaic_without_any_usable_step_is_refused(shared_data, tmp_path):
    bad = _mosaic_without(shared_data, tmp_path, {"SpacingBetweenSlices": "abc", "SliceThickness": None,
                                                  (0x0029, 0x1020): None})
    with pytest.raises(InputError, match=r"SpacingBetweenSlices is 'abc'.*distance between the slices"):
        scan(bad)


def test_header_running_into_zeros_is_stopped(shared_data, tmp_path):
    data = _series(shared_data)[VICTIM].read_bytes()
    bad = tmp_path / "zeros-after-header.dcm"
    bad.write_bytes(data[:700] + bytes(8 * 2**20))  # a valid start, then 8 MB where elements should be
    with pytest.raises(InputError, match="block of zeros"):
        scan(bad)


# ----------------------------------------------------------------------------- zip members
def _stored_zip(files: list[Path], archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in files:
            zf.write(f, f"export/{f.name}")
    return archive


def test_zip_member_with_a_bad_crc_is_ignored_and_the_rest_loads(shared_data, tmp_path):
    files = _series(shared_data)
    archive = _stored_zip(files, tmp_path / "series.zip")
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(f"export/{files[VICTIM].name}")
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 200_000] ^= 0xFF  # a pixel byte: the member still parses, but fails its CRC-32
    archive.write_bytes(bytes(data))
    found = scan(archive)
    (series,) = found.series
    assert series.n_slices == 34
    (entry,) = [i for i in found.ignored if i.path.endswith(files[VICTIM].name)]
    assert entry.kind == "corrupt" and "CRC" in entry.reason
    assert load(archive)[0].array.shape == (35, 256, 256)


def test_zip_member_inflating_too_much_is_ignored_and_the_rest_loads(shared_data, tmp_path):
    files = _series(shared_data)
    archive = _stored_zip(files, tmp_path / "series.zip")
    ds = dcmread(files[0])
    ds.SeriesInstanceUID, ds.Rows, ds.Columns = "1.2.3.4", 6000, 6000
    del ds.PixelData
    head = io.BytesIO()
    ds.save_as(head)
    size = 6000 * 6000 * 2  # 72 MB of zeros, about 70 kB deflated: a real DICOM image, mostly air
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as zf, \
            zf.open("export/extra.dcm", "w", force_zip64=True) as fh:
        fh.write(head.getvalue() + b"\xe0\x7f\x10\x00OW\x00\x00" + size.to_bytes(4, "little"))  # PixelData
        for _ in range(size // 2**20):
            fh.write(bytes(2**20))
        fh.write(bytes(size % 2**20))
    found = scan(archive)
    assert [s.n_slices for s in found.series] == [35]
    (entry,) = found.ignored
    assert entry.path.endswith("export/extra.dcm") and entry.kind == "unsupported"
    assert re.search(r"would inflate from .* kiB to 68.8 MiB, more than 100 times, .* not inflated", entry.reason)
    assert any("extra.dcm" in p for p in found.problems)


def test_zero_filled_zip_member_is_refused_from_its_first_bytes(tmp_path, monkeypatch):
    archive = tmp_path / "zeros.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/IM1.dcm", bytes(128) + b"DICM" + bytes(60 * 2**20))  # 60 MB, below the bomb limit
    monkeypatch.setattr(discover, "dcmread", _fail_if_called)
    found = scan(archive)
    (entry,) = found.ignored
    assert entry.kind == "corrupt" and "no valid DICOM element" in entry.reason


def test_files_and_zip_members_over_the_size_cap_are_not_read(shared_data, tmp_path, monkeypatch):
    files = _series(shared_data)
    archive = _stored_zip(files[:3], tmp_path / "three.zip")
    monkeypatch.setattr(discover, "MAX_FILE_BYTES", 100_000)  # the real files are 265 kB
    monkeypatch.setattr(discover, "dcmread", _fail_if_called)
    with pytest.raises(InputError, match=r"259 kiB, more than the 97.7 kiB a DICOM image file is read up to"):
        scan(files[0])
    found = scan(archive)
    assert [i.kind for i in found.ignored] == ["unsupported"] * 3
    assert "more than the 97.7 kiB" in found.ignored[0].reason


# ----------------------------------------------------------------------------- no hang
def test_twenty_megabytes_of_zeros_are_refused_from_their_first_bytes(tmp_path, monkeypatch):
    zeros = tmp_path / "zeros.dcm"
    with open(zeros, "wb") as fh:
        fh.truncate(20 * 2**20)  # 20 MB of zeros (sparse)
    read = []

    class Counting(io.BufferedReader):
        def read(self, size=-1):
            data = super().read(size)
            read.append(len(data))
            return data

    def counting_open(name):
        return Counting(io.FileIO(name)), None

    monkeypatch.setattr(discover, "dcmread", _fail_if_called)
    monkeypatch.setattr(discover, "open_listed", counting_open)
    with pytest.raises(InputError, match="not a DICOM file") as err:
        scan(zeros)
    assert err.value.path == str(zeros)
    assert 0 < sum(read) <= 4096
    with pytest.raises(InputError, match="none is DICOM"):
        load(tmp_path)


@pytest.fixture
def series_links(shared_data, tmp_path):
    return _folder(shared_data, tmp_path)


def test_fifo_in_a_folder_is_skipped_without_being_opened(series_links):
    os.mkfifo(series_links / "pipe.dcm")
    with fuzzing.time_limit(NO_HANG_S):
        found = scan(series_links)
    assert [s.n_slices for s in found.series] == [35]
    (entry,) = [i for i in found.ignored if i.path == "pipe.dcm"]
    assert "named pipe (FIFO)" in entry.reason and entry.kind == "not-dicom"


def test_links_to_devices_and_link_loops_in_a_folder_are_skipped(series_links):
    (series_links / "zero.dcm").symlink_to("/dev/zero")
    (series_links / "a.dcm").symlink_to(series_links / "b.dcm")
    (series_links / "b.dcm").symlink_to(series_links / "a.dcm")
    (series_links / "gone.dcm").symlink_to(series_links / "nowhere.dcm")
    (series_links / "up").symlink_to(series_links, target_is_directory=True)  # a loop through a folder
    with fuzzing.time_limit(NO_HANG_S):
        found = scan(series_links)
    assert [s.n_slices for s in found.series] == [35]
    reasons = {i.path: i.reason for i in found.ignored}
    assert "character device" in reasons["zero.dcm"]
    assert "symbolic link loop" in reasons["a.dcm"] and "symbolic link loop" in reasons["b.dcm"]
    assert "broken symbolic link" in reasons["gone.dcm"]


def test_a_unix_socket_in_a_folder_is_skipped(series_links):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(series_links / "sock"))
        with fuzzing.time_limit(NO_HANG_S):
            found = scan(series_links)
    assert "socket" in {i.path: i.reason for i in found.ignored}["sock"]


@pytest.mark.parametrize("what", ["fifo", "device link", "link loop", "broken link"])
@pytest.mark.parametrize("call", [load, scan, load_volume], ids=lambda f: f.__name__)
def test_special_paths_given_directly_are_refused_without_opening_them(tmp_path, what, call):
    path = tmp_path / "input.dcm"
    if what == "fifo":
        os.mkfifo(path)
    elif what == "device link":
        path.symlink_to("/dev/zero")
    elif what == "link loop":
        path.symlink_to(tmp_path / "other.dcm")
        (tmp_path / "other.dcm").symlink_to(path)
    else:
        path.symlink_to(tmp_path / "nowhere")
    expected = {"fifo": "named pipe", "device link": "character device", "link loop": "symbolic link loop",
                "broken link": "broken symbolic link"}[what]
    with fuzzing.time_limit(NO_HANG_S), pytest.raises(InputError, match=expected) as err:
        call(path)
    assert err.value.path == str(path) and err.value.hint


# ----------------------------------------------------------------------------- never misread
def _with_garbage_high_bits(src: Path, dst: Path, *, signed: bool, rle: bool) -> Path:
    """``src`` with values using all 16 bits where BitsStored is 12 (as some scanners leave them)."""
    ds = dcmread(src)
    stored = ds.pixel_array.astype(np.uint16)
    if signed:
        ds.PixelRepresentation = 1
        stored = ((stored.astype(np.int32) - 1024) & 0x0FFF).astype(np.uint16)  # 12-bit two's complement, both signs
    rng = np.random.default_rng(0)
    junk = rng.integers(0, 16, size=stored.shape, dtype=np.uint16) << 12
    ds.PixelData = (stored | junk).tobytes()
    if rle:
        ds.compress(RLELossless, encoding_plugin="pydicom")
    ds.save_as(dst)
    return dst


@pytest.mark.parametrize("rle", [False, True], ids=["uncompressed (readinto)", "RLE (pydicom decoder)"])
@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_bits_above_bits_stored_are_masked_or_sign_extended_like_pydicom(shared_data, tmp_path, signed, rle):
    src = _series(shared_data)[VICTIM]
    bad = _with_garbage_high_bits(src, tmp_path / "high-bits.dcm", signed=signed, rle=rle)
    if not rle:  # (pydicom's RLE encoder keeps all 16 bits too, but only its private decoder shows them)
        assert np.frombuffer(dcmread(bad).PixelData, np.uint16).max() > 4095  # the junk is really there
    (volume,) = load(bad)
    expected = dcmread(bad).pixel_array
    assert np.array_equal(volume.array[0], expected)
    if signed:
        assert -2048 <= volume.array.min() < 0 <= volume.array.max() <= 2047
    else:
        assert volume.array.max() <= 4095
        assert np.array_equal(volume.array[0], dcmread(src).pixel_array)


def test_the_twelve_bit_series_still_equals_pydicom(shared_data):
    (volume,) = load(shared_data.joinpath(*SAGITTAL))
    assert volume.array.max() <= 4095


def test_an_exact_duplicate_file_is_ignored_and_the_series_loads_once(shared_data, tmp_path):
    files = _series(shared_data)
    folder = _folder(shared_data, tmp_path)
    (folder / "copy of slice.dcm").write_bytes(files[VICTIM].read_bytes())
    found = scan(folder)
    (series,) = found.series
    assert series.n_slices == 35 and series.gaps == [] and "#" not in series.uid
    (dup,) = [i for i in found.ignored if i.kind == "duplicate"]
    # The file listed first is kept; the other one is the duplicate, and names it.
    kept, copy = sorted(["copy of slice.dcm", files[VICTIM].name])
    assert dup.path == copy and dup.duplicate_of == kept and kept in dup.reason
    assert any("duplicate" in p for p in found.problems)
    (volume,) = load(folder)
    assert volume.array.shape == (35, 256, 256)


def test_same_position_with_different_pixels_is_split_and_both_can_be_chosen(shared_data, tmp_path):
    files = _series(shared_data)
    ds = dcmread(files[VICTIM])
    ds.PixelData = (ds.pixel_array // 2).tobytes()  # same header, other pixels
    folder = _folder(shared_data, tmp_path)
    ds.save_as(folder / "other pixels.dcm")
    found = scan(folder)
    assert sorted(s.n_slices for s in found.series) == [1, 35]
    assert all("different pixel data" in s.problems[0] for s in found.series)
    uids = [s.uid for s in found.series]
    assert len(set(uids)) == 2 and all("#" in u for u in uids)
    assert found.series[0].info.label == found.series[1].info.label
    # Same label, same SeriesInstanceUID: messages tell them apart by uid, and each uid picks one.
    with pytest.raises(InputError, match=r"holds 2 series") as err:
        load_volume(folder)
    assert all(u in str(err.value) for u in uids)
    with pytest.raises(InputError, match=r"has 2 stacks matching") as err:
        load_volume(folder, series=found.series[0].info.series_uid)
    assert all(u in str(err.value) for u in uids)
    shapes = sorted(load_volume(folder, series=u).array.shape[0] for u in uids)
    assert shapes == [1, 35]


def test_a_file_that_cannot_be_decoded_is_named(shared_data, tmp_path):
    src = shared_data / "dicom" / "edge_cases" / "compressed_jpeg"
    folder = tmp_path / "jpeg"
    folder.mkdir()
    files = sorted(src.glob("*.dcm"))
    for f in files:
        (folder / f.name).symlink_to(f)
    damaged = folder / files[1].name
    data = bytearray(files[1].read_bytes())
    start = data.find(b"\xff\xd8\xff")  # the JPEG stream's start-of-image marker
    data[start:start + 2] = b"\0\0"
    damaged.unlink()
    damaged.write_bytes(bytes(data))
    (series,) = scan(folder).series  # the header is sound: the damage shows when decoding
    with pytest.raises(InputError, match="pixel data cannot be decoded") as err:
        series.load()
    assert err.value.path == str(damaged)
    assert "\n" not in err.value.message


def test_ctrl_c_while_pydicom_reads_a_sequence_is_not_swallowed(shared_data, monkeypatch):
    # pydicom turns any exception inside a sequence item into an OSError: it must come out as Ctrl-C.
    calls = []
    read = discover.Guarded.read

    def interrupted(self, size=-1):
        calls.append(size)
        if len(calls) == 300:  # inside the enhanced file's functional groups
            raise KeyboardInterrupt
        return read(self, size)

    monkeypatch.setattr(discover.Guarded, "read", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scan(shared_data.joinpath(*ENHANCED))
    assert len(calls) == 300


def test_fuzzed_files_in_the_series_folder_never_cost_the_series(shared_data, tmp_path):
    """tests/fuzzing.py's folder check on a few dicom-classic mutants (``make fuzz`` runs thousands)."""
    seed = int(os.environ.get("LESIONVIEW_FUZZ_SEEDS", "0").split(",")[0])
    outcomes = fuzzing.run_in_folder(40, seed=seed, folder=tmp_path, timeout=NO_HANG_S)
    bad = [o for o in outcomes if o.result != "loaded"]
    assert not bad, bad[:5]
    assert any(o.detail for o in outcomes)  # some mutants were ignored, each with its reason
