"""Reports on real-world inputs (issue 9, part 5): DICOM sources lacking optional attributes, one
format failing without costing the others, a report set replaced whole (never a mix of two runs,
whatever fails or interrupts it), and file names that are not UTF-8."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pandas as pd
import pydicom
import pytest
from conftest import need, need_tool

hd = pytest.importorskip("highdicom")

from lesionview.errors import InputError, OutputError
from lesionview.io import load_volume
from lesionview.io.dicom import scan
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.measure.models import InputRecord
from lesionview.report import build, staging
from lesionview.report import schema as report_schema
from lesionview.report.build import FILENAMES, ReportResult, write_report
from lesionview.report.dicom_seg import EMPTY_WHEN_UNKNOWN, write_seg
from lesionview.report.dicom_sr import write_sr

TWIN = Path(__file__).resolve().parents[1] / "sample_data" / "twin"
DICOM = TWIN / "dicom" / "05_SAG_T1_TSE_C"
EXIT_BAD_INPUT, EXIT_PARTIAL = 2, 3
#: Fast formats for the swap tests: every kind of writer but the PDF (HTML without key images).
SET = ("json", "csv", "seg", "sr", "html")
#: Type 2 attributes a real series may lack (highdicom 0.28 read the first eight without a
#: default), and SliceThickness, which the SEG needs in its Pixel Measures.
OPTIONAL = (*EMPTY_WHEN_UNKNOWN, "ReferringPhysicianName", "Manufacturer", "SeriesNumber",
            "InstanceNumber", "SliceThickness")


@pytest.fixture(scope="module")
def study():
    need(DICOM.is_dir(), "sample_data/twin not generated (make sample)")
    image = load_volume(DICOM)
    masks = {k: load_volume(TWIN / f"{k}.nii.gz") for k in ("lesion", "edema", "cord")}
    result = measure(masks["lesion"], image=image, edema=masks["edema"], cord=masks["cord"],
                     levels=LevelModel.from_file(TWIN / "landmarks.csv"),
                     inputs=[InputRecord(role="lesions", path=str(TWIN / "lesion.nii.gz"))])
    return {"image": image, "masks": masks, "result": result}


def _report(study, out, formats=SET, **kw) -> ReportResult:
    m = study["masks"]
    return write_report(study["result"], out, formats=formats, image=study["image"], lesions=m["lesion"],
                        edema=m["edema"], cord=m["cord"], images=False, **kw)


def _hashes(folder: Path) -> dict[str, str]:
    """Every entry of ``folder`` (hidden ones too) by name: file content hash, or "dir"."""
    return {p.name: "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.iterdir()}


def _series_copy(tmp_path: Path, name: str = "t1c", *, drop=(), values=None) -> Path:
    """The phantom's T1+C series copied, with attributes deleted or set in every file."""
    folder = tmp_path / name
    shutil.copytree(DICOM, folder)
    for f in sorted(folder.iterdir()):
        ds = pydicom.dcmread(f)
        for keyword in drop:
            if keyword in ds:
                delattr(ds, keyword)
        for keyword, value in (values or {}).items():
            setattr(ds, keyword, value)
        ds.save_as(f)
    return folder


def _header(ds) -> tuple:
    """What a source dataset holds: its tags, and the values of the attributes that get filled in."""
    return set(ds.keys()), {k: str(ds.get(k)) for k in OPTIONAL}


def _no_staging_left(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith((staging.STAGING_PREFIX, "."))]


def _dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60, check=False)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


# ----------------------------------------------------------------------------- (a) Type 2 attributes
@pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")   # the refused values, set here
@pytest.mark.parametrize("change", ["missing", "refused"])
def test_seg_and_sr_from_a_series_lacking_optional_attributes(study, tmp_path, change):
    """Missing type 2 attributes (or values highdicom refuses) are filled in empty on a copy:
    SEG and SR are written and valid, and the input files and datasets are unchanged."""
    if change == "missing":
        source = _series_copy(tmp_path, drop=OPTIONAL)
    else:
        source = _series_copy(tmp_path, values={"PatientSex": "W", "StudyDate": "2024-03-12",
                                                "StudyTime": "10:00:00", "PatientBirthDate": "unknown"})
    before = _hashes(source)
    (series,) = scan(source).series
    headers = [_header(s.dataset) for s in series.stack.slices]
    masks = study["masks"]
    seg = write_seg(series, masks, tmp_path / "seg.dcm", result=study["result"])
    sr = write_sr(study["result"], seg, series, tmp_path / "sr.dcm")

    assert _hashes(source) == before                                            # files untouched
    assert [_header(s.dataset) for s in series.stack.slices] == headers          # datasets untouched
    emptied = ("PatientSex", "StudyDate", "StudyTime")
    if change == "missing":
        emptied += ("AccessionNumber", "StudyID", "ReferringPhysicianName")
    for ds in (hd.seg.segread(seg), hd.sr.srread(sr)):
        for keyword in emptied:
            assert keyword in ds and ds.get(keyword) in ("", None), keyword
        assert ds.PatientName == "ANONYMOUS^" and ds.PatientIdentityRemoved == "YES"
    segments = hd.seg.segread(seg).get_pixels_by_source_instance(
        [str(s.dataset.SOPInstanceUID) for s in series.stack.slices], assert_missing_frames_are_empty=True)
    assert segments[..., 0].sum() == study["result"].lesions[0].voxel_count
    need_tool("dciodvfy", why="dciodvfy not installed (Debian dicom3tools): files written but not validated")
    for path in (seg, sr):
        assert not _dciodvfy_errors(path), path


def test_write_report_from_a_series_lacking_optional_attributes(study, tmp_path):
    """The whole set, through write_report, from a Volume loaded from such a series."""
    source = _series_copy(tmp_path, drop=OPTIONAL)
    before = _hashes(source)
    m = study["masks"]
    image = load_volume(source)
    done = write_report(study["result"], tmp_path / "out", formats=SET, image=image, lesions=m["lesion"],
                        edema=m["edema"], cord=m["cord"], images=False)
    assert done.complete and list(done) == ["json", "csv", "seg", "sr", "html"]
    assert _hashes(source) == before


def test_a_missing_type_1_uid_is_refused_with_why(study, tmp_path):
    source = _series_copy(tmp_path, drop=("FrameOfReferenceUID",))
    with pytest.raises(InputError, match=r"FrameOfReferenceUID \(type 1\)") as err:
        write_seg(source, study["masks"], tmp_path / "seg.dcm", result=study["result"])
    assert "frame of reference" in err.value.message and "leave seg and sr out" in err.value.message
    assert not (tmp_path / "seg.dcm").exists()


# ----------------------------------------------------------------------------- (b) one format failing
def _boom(exc):
    def fail(*args, **kwargs):
        raise exc
    return fail


@pytest.mark.parametrize(("module", "writer", "fmt", "exc"), [
    ("lesionview.report.tabular", "write_json", "json", RuntimeError("serializer broke")),
    ("lesionview.report.dicom_seg", "write_seg", "seg", AttributeError("'FileDataset' object has no attribute 'X'")),
    ("lesionview.report.dicom_sr", "write_sr", "sr", ValueError("highdicom refused it")),
    ("lesionview.report.html", "write_html", "html", OSError("a font file could not be read")),
    ("lesionview.report.html", "render_html", "html", TypeError("template broke")),
])
def test_one_format_failing_does_not_cost_the_others(study, tmp_path, monkeypatch, module, writer, fmt, exc):
    monkeypatch.setattr(f"{module}.{writer}", _boom(exc))
    out = tmp_path / "out"
    done = _report(study, out)
    lost = {fmt, "sr"} if fmt == "seg" else {fmt}
    assert set(done.failed) == lost and not done.complete
    assert set(done.written) == set(SET) - lost
    assert sorted(p.name for p in out.iterdir()) == sorted(FILENAMES[f] for f in done.written)
    assert str(exc) in done.failed[fmt] and type(exc).__name__ in done.failed[fmt]
    if fmt == "seg":
        assert "needs the SEG" in done.failed["sr"]
    assert any(line.startswith(f"{fmt} ({FILENAMES[fmt]}) not written: ") for line in done.problems())
    assert "\n" not in "".join(done.failed.values())            # one line each


def test_pdf_failing_keeps_the_html(study, tmp_path, monkeypatch):
    monkeypatch.setattr("lesionview.report.pdf.html_to_pdf", _boom(ValueError("WeasyPrint could not lay it out")))
    done = _report(study, tmp_path / "out", formats=("json", "html", "pdf"))
    assert list(done) == ["json", "html"] and "WeasyPrint" in done.failed["pdf"]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lesionview", "report", *map(str, args)], capture_output=True,
                          text=True, errors="replace", timeout=300, check=False, cwd=cwd)


def _cli_args(image, out, *extra):
    return [TWIN / "lesion.nii.gz", "--image", image, "--edema", TWIN / "edema.nii.gz", "--cord",
            TWIN / "cord.nii.gz", "--levels", TWIN / "landmarks.csv", "--out", out, *extra]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_cli_names_each_failed_format_and_exits_3(study, tmp_path):
    """A real failure: a series without FrameOfReferenceUID cannot have a SEG (nor an SR)."""
    source = _series_copy(tmp_path, drop=("FrameOfReferenceUID",))
    out = tmp_path / "out"
    run = _cli(*_cli_args(source, out, "--format", "json,csv,seg,sr"))
    assert run.returncode == EXIT_PARTIAL, run.stderr
    err = _flat(run.stderr)
    assert "seg (segmentation.dcm) not written" in err and "FrameOfReferenceUID" in err
    assert "sr (measurements-sr.dcm) not written: needs the SEG" in err
    assert "2 of 4 formats written" in err and "Traceback" not in run.stderr
    assert "wrote json" in run.stdout and "wrote csv" in run.stdout
    assert sorted(p.name for p in out.iterdir()) == ["measurements.csv", "measurements.json"]


def test_cli_partial_overwrite_removes_the_old_files_of_the_failed_formats(study, tmp_path):
    out = tmp_path / "out"
    assert _report(study, out, formats=("json", "seg", "sr")).complete
    (out / "notes.txt").write_text("not a report file")
    old_seg = _hashes(out)["segmentation.dcm"]
    source = _series_copy(tmp_path, drop=("FrameOfReferenceUID",))
    run = _cli(*_cli_args(source, out, "--format", "json,seg,sr", "--overwrite"))
    assert run.returncode == EXIT_PARTIAL, run.stderr
    err = _flat(run.stderr)
    assert "removed the old segmentation.dcm, measurements-sr.dcm: the new version failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["measurements.json", "notes.txt"]   # no mixed set
    assert (out / "notes.txt").read_text() == "not a report file"
    assert old_seg not in _hashes(out).values()


# ----------------------------------------------------------------------------- (c), (d) never a mixed set
@pytest.fixture
def old_set(tmp_path):
    """A complete old set (recognisable contents) and a file that is not a report file."""
    out = tmp_path / "out"
    out.mkdir()
    for fmt in SET:
        (out / FILENAMES[fmt]).write_bytes(f"old {fmt}".encode())
    (out / "notes.txt").write_text("mine")
    return out, _hashes(out)


def _is_complete_new(out: Path, old: dict[str, str]) -> bool:
    now = _hashes(out)
    return (set(now) == set(old) and now["notes.txt"] == old["notes.txt"]
            and all(now[FILENAMES[f]] != old[FILENAMES[f]] for f in SET))


def test_overwrite_replaces_the_complete_set(study, old_set):
    out, old = old_set
    done = _report(study, out, overwrite=True)
    assert done.complete and _is_complete_new(out, old) and _no_staging_left(out)


@pytest.mark.parametrize("module,writer", [("lesionview.report.tabular", "write_json"),
                                           ("lesionview.report.dicom_seg", "write_seg"),
                                           ("lesionview.report.html", "write_html")])
def test_disk_full_while_writing_keeps_the_old_set(study, old_set, monkeypatch, module, writer):
    out, old = old_set
    monkeypatch.setattr(f"{module}.{writer}", _boom(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OutputError, match="the disk is full") as err:
        _report(study, out, overwrite=True)
    assert "the folder is as it was" in err.value.message
    assert _hashes(out) == old


def test_ctrl_c_while_writing_keeps_the_old_set_and_stages_nothing(study, old_set, monkeypatch):
    out, old = old_set
    monkeypatch.setattr("lesionview.report.dicom_sr.write_sr", _boom(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _report(study, out, overwrite=True)
    assert _hashes(out) == old


def test_ctrl_c_while_writing_a_new_folder_leaves_it_empty(study, tmp_path, monkeypatch):
    monkeypatch.setattr("lesionview.report.html.write_html", _boom(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _report(study, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


class SwapRenames:
    """``os.replace`` that lets the writers' own renames through and acts on the ``n``-th rename of
    the swap (a file moved aside, or into the output folder): raise, or send Ctrl-C and go on."""

    def __init__(self, out: Path, n: int, action):
        self.out, self.n, self.action, self.seen = out.resolve(), n, action, 0
        self.real = os.replace

    def __call__(self, src, dst):
        dst = Path(dst)
        if dst.parent == self.out or dst.parent.name == ".replaced":
            self.seen += 1
            if self.seen == self.n:
                self.action()
        return self.real(src, dst)


def _raise(exc):
    def act():
        raise exc
    return act


@pytest.mark.parametrize("n", [1, 5, 6, 8, 10])      # 5 old files moved aside, then 5 new moved in
@pytest.mark.parametrize("exc", [OSError(errno.EIO, "Input/output error"), KeyboardInterrupt()],
                         ids=["EIO", "interrupt"])
def test_failure_during_the_swap_puts_the_old_set_back(study, old_set, monkeypatch, n, exc):
    out, old = old_set
    renames = SwapRenames(out, n, _raise(exc))
    monkeypatch.setattr(staging.os, "replace", renames)
    with pytest.raises(OutputError if isinstance(exc, OSError) else KeyboardInterrupt):
        _report(study, out, overwrite=True)
    assert renames.seen >= n
    assert _hashes(out) == old


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
@pytest.mark.parametrize("n", [1, 7])
def test_ctrl_c_during_the_swap_waits_for_the_complete_new_set(study, old_set, monkeypatch, n):
    """Ctrl-C under Python's own handler, as in a user's script: held until the swap is done, then
    raised. The test sets that handler itself: a Python started with SIGINT ignored (a background
    job of a non-interactive shell, as `make test &` in a script) keeps it ignored, and the Ctrl-C
    is then rightly dropped."""
    out, old = old_set
    renames = SwapRenames(out, n, lambda: os.kill(os.getpid(), signal.SIGINT))
    monkeypatch.setattr(staging.os, "replace", renames)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            _report(study, out, overwrite=True)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)
    assert _is_complete_new(out, old) and _no_staging_left(out)


def test_every_format_failing_leaves_the_old_set(study, old_set, monkeypatch):
    out, old = old_set
    for module, writer in [("tabular", "write_json"), ("tabular", "write_csv"), ("dicom_seg", "write_seg"),
                           ("html", "render_html")]:
        monkeypatch.setattr(f"lesionview.report.{module}.{writer}", _boom(ValueError("no")))
    done = _report(study, out, overwrite=True)
    assert not done.written and set(done.failed) == set(SET) and not done.removed
    assert _hashes(out) == old


def test_partial_overwrite_removes_the_old_files_of_the_failed_formats(study, old_set, monkeypatch):
    out, old = old_set
    monkeypatch.setattr("lesionview.report.dicom_seg.write_seg", _boom(ValueError("no")))
    done = _report(study, out, overwrite=True)
    assert set(done.removed) == {"seg", "sr"}
    assert any("removed the old segmentation.dcm" in line for line in done.problems())
    now = _hashes(out)
    assert set(now) == {FILENAMES[f] for f in ("json", "csv", "html")} | {"notes.txt"}
    assert not set(now.values()) & {old[FILENAMES[f]] for f in SET}            # nothing old is left


def test_output_folder_that_cannot_be_made_is_an_output_error(study, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        _report(study, blocker / "sub", formats=("json",))


def test_a_folder_where_a_report_file_goes_is_refused(study, tmp_path):
    (tmp_path / "out" / "report.html").mkdir(parents=True)
    with pytest.raises(InputError, match="holds a folder named report.html"):
        _report(study, tmp_path / "out", formats=("json", "html"), overwrite=True)
    assert (tmp_path / "out" / "report.html").is_dir()


# ----------------------------------------------------------------------------- a subset of the formats
def test_a_subset_without_overwrite_is_refused_by_any_report_file(study, old_set):
    """Every report file in the folder belongs to the old set, asked for now or not."""
    out, old = old_set
    for name in (n for n in old if n not in ("notes.txt", "report.html")):
        (out / name).unlink()
    left = _hashes(out)
    with pytest.raises(InputError, match=r"already holds report\.html, of an earlier run") as err:
        _report(study, out, formats=("json",))
    assert "--overwrite" in err.value.message
    assert _hashes(out) == left


def test_a_subset_with_overwrite_replaces_the_whole_old_set(study, old_set):
    """json only, over a set of five: the four old files not written again are removed (and
    named), so the folder holds one run's files; files that are not report files stay."""
    out, old = old_set
    (out / FILENAMES["pdf"]).mkdir()                  # a folder, not a report file: left alone
    done = _report(study, out, formats=("json",), overwrite=True)
    assert done.complete and list(done) == ["json"]
    assert set(done.removed) == {"csv", "seg", "sr", "html"}
    assert done.removed["html"] == out.resolve() / "report.html"
    (line,) = done.removals()   # one line names them all
    assert line.startswith("removed the old " + ", ".join(FILENAMES[f] for f in ("csv", "seg", "sr", "html")))
    assert "this run did not write them" in line
    now = _hashes(out)
    assert set(now) == {"measurements.json", "notes.txt", "report.pdf"} and now["report.pdf"] == "dir"
    assert now["measurements.json"] != old["measurements.json"] and now["notes.txt"] == old["notes.txt"]
    json.loads((out / "measurements.json").read_text())
    assert _no_staging_left(out)


def test_a_subset_that_fails_entirely_leaves_the_old_set(study, old_set, monkeypatch):
    out, old = old_set
    monkeypatch.setattr("lesionview.report.tabular.write_json", _boom(ValueError("no")))
    done = _report(study, out, formats=("json",), overwrite=True)
    assert not done.written and not done.removed and _hashes(out) == old


def test_cli_notes_the_old_files_a_subset_removed(study, tmp_path):
    out = tmp_path / "out"
    assert _report(study, out, formats=("json", "csv", "html")).complete
    run = _cli(*_cli_args(TWIN / "t1c.nii.gz", out, "--format", "json", "--overwrite"))
    assert run.returncode == 0, run.stderr
    err = _flat(run.stderr)
    assert "note: removed the old measurements.csv, report.html of an earlier run: this run did not write" in err
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["measurements.json"]


# ----------------------------------------------------------------------------- staging left by a killed run
def _staging_folder(out: Path, name: str, *, age_s: float, files=("report.html",)) -> Path:
    folder = out / f"{staging.STAGING_PREFIX}{name}"
    for f in files:
        (folder / f).parent.mkdir(parents=True, exist_ok=True)
        (folder / f).write_text("identified report of a killed run")
    when = time.time() - age_s
    for path in sorted(folder.rglob("*"), reverse=True) + [folder]:   # the folders' times last
        os.utime(path, (when, when))
    return folder


def test_staging_folders_of_a_killed_run_are_removed_after_an_hour(study, tmp_path):
    out = tmp_path / "out"
    stale = _staging_folder(out, "killed", age_s=2 * 3600)
    fresh = _staging_folder(out, "running", age_s=60)               # another run, now
    kept = _staging_folder(out, "swap-failed", age_s=2 * 3600,      # old files a failed swap kept
                           files=(f"{staging.ASIDE}/report.html",))
    not_a_folder = out / f"{staging.STAGING_PREFIX}file"
    not_a_folder.write_text("mine")
    os.utime(not_a_folder, (time.time() - 7200,) * 2)
    assert _report(study, out, formats=("json",)).complete
    assert not stale.exists()
    assert fresh.is_dir() and kept.is_dir() and (kept / staging.ASIDE / "report.html").is_file()
    assert not_a_folder.read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["measurements.json", fresh.name, kept.name, not_a_folder.name])


def test_remove_stale_on_entering_staging(tmp_path):
    out = tmp_path / "out"
    stale = _staging_folder(out, "a", age_s=staging.STALE_AFTER_S + 60)
    fresh = _staging_folder(out, "b", age_s=staging.STALE_AFTER_S - 60)
    with staging.Staging(out) as stage:
        assert not stale.exists() and fresh.is_dir() and stage.folder.is_dir()
    assert sorted(p.name for p in out.iterdir()) == [fresh.name]


# ----------------------------------------------------------------------------- (e) non-UTF-8 file names
def test_a_file_name_that_is_not_utf8_does_not_stop_json_csv_html(study, tmp_path):
    lesion = tmp_path / os.fsdecode(b"les-\xff.nii.gz")
    shutil.copyfile(TWIN / "lesion.nii.gz", lesion)
    levels = tmp_path / os.fsdecode(b"lvl-\xfe.csv")
    shutil.copyfile(TWIN / "landmarks.csv", levels)
    result = measure(load_volume(lesion), image=load_volume(TWIN / "t1c.nii.gz"),
                     levels=LevelModel.from_file(levels),
                     inputs=[InputRecord(role="lesions", path=str(lesion)), InputRecord(role="levels", path=levels)])
    assert result.inputs[0].path.endswith("les-\ufffd.nii.gz") and result.inputs[1].path.endswith("lvl-\ufffd.csv")
    for deidentify in (True, False):
        out = tmp_path / f"out-{deidentify}"
        done = write_report(result, out, formats="json,csv,html", images=False, deidentify=deidentify)
        assert done.complete, done.failed
        data = json.loads((out / "measurements.json").read_text(encoding="utf-8"))
        jsonschema.validate(data, report_schema.json_schema())
        assert data["inputs"][0]["path"].endswith("les-\ufffd.nii.gz")
        assert data["parameters"]["level_source"].endswith("lvl-\ufffd.csv")
        rows = len(result.lesions) + len(result.edema) + len(result.multiplicity.pairs)
        assert len(pd.read_csv(out / "measurements.csv")) == rows
        assert "les-\ufffd.nii.gz" in (out / "report.html").read_text(encoding="utf-8")


def test_cli_with_a_file_name_that_is_not_utf8(twin_files, tmp_path):
    lesion = tmp_path / os.fsdecode(b"les-\xff.nii.gz")
    shutil.copyfile(TWIN / "lesion.nii.gz", lesion)
    out = tmp_path / "out"
    run = _cli(lesion, "--image", TWIN / "t1c.nii.gz", "--out", out, "--format", "json,csv", "--identified")
    assert run.returncode == 0, run.stderr
    data = json.loads((out / "measurements.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, report_schema.json_schema())
    assert any(i["path"].endswith("les-\ufffd.nii.gz") for i in data["inputs"])
    assert pd.read_csv(out / "measurements.csv")["kind"].tolist() == ["lesion", "lesion", "pair"]


@pytest.fixture
def twin_files():
    need((TWIN / "lesion.nii.gz").is_file(), "sample_data/twin not generated (make sample)")


def test_report_result_reads_like_the_paths_it_wrote():
    done = ReportResult({"json": Path("o/measurements.json")}, {"sr": "needs the SEG"}, {"sr": Path("o/x")})
    assert dict(done) == {"json": Path("o/measurements.json")} and done["json"].name == "measurements.json"
    assert done.failures() == ["sr (measurements-sr.dcm) not written: needs the SEG"]
    assert done.removals()[0].startswith("removed the old x")
    assert build.ReportResult({}).complete
