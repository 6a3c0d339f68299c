"""Bad and unusual DICOM input: each gives a specific error or problem, and nothing is modified."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from lesionview.errors import InputError
from lesionview.io import load
from lesionview.io.dicom import scan

SAGITTAL = ("dicom", "sagittal_t1_series")


def _first_dcm(shared_data) -> Path:
    return min((shared_data.joinpath(*SAGITTAL)).glob("*.dcm"))


def _tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_empty_folder(tmp_path):
    found = scan(tmp_path)
    with pytest.raises(InputError, match="is empty") as err:
        found.require_series()
    assert err.value.path == str(tmp_path) and err.value.hint


def test_folder_without_dicom(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    with pytest.raises(InputError, match=r"contains 2 files but none is DICOM") as err:
        scan(tmp_path).require_series()
    assert "notes.txt" in str(err.value) and "photo.jpg" in str(err.value)


def test_truncated_file_given_directly(shared_data, tmp_path):
    data = _first_dcm(shared_data).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 1000])  # ends inside the pixel data
    with pytest.raises(InputError, match="truncated") as err:
        scan(cut)
    assert err.value.path == str(cut)
    header_only = tmp_path / "header.dcm"
    header_only.write_bytes(data[:600])  # ends inside the header
    with pytest.raises(InputError, match="truncated"):
        scan(header_only)


def test_truncated_file_in_a_series_is_a_problem_and_leaves_a_gap(shared_data, tmp_path):
    folder = tmp_path / "series"
    shutil.copytree(shared_data.joinpath(*SAGITTAL), folder)
    files = sorted(folder.glob("*.dcm"))
    victim = files[10]
    victim.write_bytes(victim.read_bytes()[:-5000])
    found = scan(folder)
    (series,) = found.series
    assert series.n_slices == 34
    assert any(victim.name in p and "truncated" in p for p in found.problems)
    assert [i.kind for i in found.ignored if i.path == victim.name] == ["corrupt"]
    (gap,) = series.gaps
    assert gap.missing == 1 and gap.step_mm == pytest.approx(9.6, abs=1e-3)
    assert "1 slice missing" in " ".join(series.load().problems)


def _strip_pixels(src: Path, dst: Path) -> None:
    ds = dcmread(src)
    del ds.PixelData
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    ds.save_as(dst)


def test_dicom_without_pixel_data_given_directly(shared_data, tmp_path):
    target = tmp_path / "report.dcm"
    _strip_pixels(_first_dcm(shared_data), target)
    with pytest.raises(InputError, match="without pixel data"):
        scan(target)


def test_folder_of_dicom_without_pixel_data(shared_data, tmp_path):
    _strip_pixels(_first_dcm(shared_data), tmp_path / "sr.dcm")
    (tmp_path / "README").write_text("export log")
    with pytest.raises(InputError, match=r"contains only DICOM objects without pixel data \(SR, PR") as err:
        scan(tmp_path).require_series()
    assert "sr.dcm" in str(err.value) and "Basic Text SR" in str(err.value)


@pytest.mark.parametrize("member", ["../evil.dcm", "study/../../evil.dcm", "/etc/evil.dcm"])
def test_zip_with_member_escaping_the_archive_is_refused(tmp_path, member):
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("study/ok.txt", "fine")
        zf.writestr(member, b"x" * 10)
    with pytest.raises(InputError, match="zip member") as err:
        scan(archive)
    assert repr(member) in str(err.value)
    assert not (tmp_path.parent / "evil.dcm").exists()


def test_zip_of_a_series_loads_like_the_folder(shared_data, tmp_path):
    folder = shared_data.joinpath(*SAGITTAL)
    archive = tmp_path / "sag.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"export/{folder.name}/{f.name}")
    before = set(tmp_path.iterdir())
    from_zip = scan(archive)
    (zs,) = from_zip.series
    (fs,) = scan(folder).series
    assert zs.files[0].startswith("export/") and len(zs.files) == 35
    assert [Path(f).name for f in zs.files] == [Path(f).name for f in fs.files]
    zv, fv = zs.load(), fs.load()
    assert zv.geometry == fv.geometry and np.array_equal(zv.array, fv.array)
    assert zv.info.source == str(archive)
    assert set(tmp_path.iterdir()) == before, "nothing may be extracted beside the zip"


def test_loading_never_modifies_the_input(shared_data):
    folder = shared_data / "dicom" / "edge_cases"
    before = _tree_hash(folder)
    volumes = load(folder)
    assert len(volumes) == 8
    assert _tree_hash(folder) == before


def test_load_api_returns_volumes_with_problems(shared_data):
    (volume,) = load(shared_data / "dicom" / "edge_cases" / "missing_slice")
    assert volume.array.shape == (5, 512, 512)  # 4 slices and an empty slot for the missing one
    assert any("1 slice missing" in p for p in volume.problems)
    assert any("1 empty slice(s) inserted" in p for p in volume.problems)


def test_progress_is_called_for_each_file(shared_data):
    calls = []
    scan(shared_data.joinpath(*SAGITTAL), progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (36, 36) and len(calls) == 36  # 35 slices + LICENSE


def test_slices_with_another_orientation_are_split_off_and_named(shared_data, tmp_path):
    folder = tmp_path / "series"
    shutil.copytree(shared_data.joinpath(*SAGITTAL), folder)
    odd = sorted(folder.glob("*.dcm"))[-2:]  # the two last positions: the rest stays gap-free
    for f in odd:
        ds = dcmread(f)
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]  # axial, as a localiser saved in the series
        ds.save_as(f)
    found = scan(folder)
    # The two axial ones sit at the same height, so they cannot share a grid either: 1 + 1.
    assert sorted(s.n_slices for s in found.series) == [1, 1, 33]
    main = next(s for s in found.series if s.n_slices == 33)
    assert main.gaps == [] and main.plane == "sagittal"
    (split_note,) = [p for p in main.problems if "differ in orientation" in p]
    assert "2 slice(s)" in split_note and any(f.name in split_note for f in odd)
    assert len({s.uid for s in found.series}) == 3
    assert all(s.info.series_uid == main.info.series_uid for s in found.series)


def test_zip_bomb_member_is_ignored_without_inflating_it(tmp_path, monkeypatch):
    import zipfile

    from lesionview.io.dicom import scan

    bomb = tmp_path / "bomb.zip"
    with (zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf,
          zf.open("series/IM1.dcm", "w", force_zip64=True) as fh):
        fh.write(b"\0" * 128 + b"DICM")           # starts like DICOM ...
        chunk = b"\0" * 2**20
        for _ in range(80):                         # ... then 80 MB of zeros (~80 kB zipped)
            fh.write(chunk)
    assert bomb.stat().st_size < 2**20
    read, inflate = [], zipfile.ZipExtFile.read
    monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda self, n=-1: read.append(n) or inflate(self, n))
    found = scan(bomb)
    assert read == [144]  # the first bytes only, never the 80 MB
    (entry,) = found.ignored
    assert entry.kind == "unsupported" and "would inflate" in entry.reason and "not inflated" in entry.reason
    with pytest.raises(InputError, match=r"no usable DICOM image series: bomb.zip!series/IM1.dcm: would inflate"):
        found.require_series()
