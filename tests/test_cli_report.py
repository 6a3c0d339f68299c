"""`lesionview report` end to end on the twin phantom: every format from the DICOM series, the
NIfTI case (no SEG/SR, said clearly), and the output folder rules (no overwrite, never inside
an input folder, nothing half-written)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from conftest import need
from typer.testing import CliRunner

from lesionview.cli import app
from lesionview.report.build import FILENAMES

TWIN = Path(__file__).resolve().parents[1] / "sample_data" / "twin"
DICOM_T1C = TWIN / "dicom" / "05_SAG_T1_TSE_C"
EXIT_BAD_INPUT = 2


def run(*args):
    """``lesionview report ARGS`` through the real app: a stand-in would hide a lost command."""
    return CliRunner().invoke(app, ["report", *map(str, args)])


@pytest.fixture(scope="module")
def twin():
    need(DICOM_T1C.is_dir(), "sample_data/twin not generated (make sample)")
    return TWIN


def _args(image, out, *extra):
    return [TWIN / "lesion.nii.gz", "--image", image, "--edema", TWIN / "edema.nii.gz",
            "--cord", TWIN / "cord.nii.gz", "--levels", TWIN / "landmarks.csv", "--out", out, *extra]


def _flat(text: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture(scope="module")
def dicom_run(twin, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    return run(*_args(DICOM_T1C, out)), out


def test_twin_dicom_writes_every_format(dicom_run):
    res, out = dicom_run
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILENAMES.values())   # nothing half-written
    for fmt, name in FILENAMES.items():
        assert f"wrote {fmt}" in res.output and (out / name).stat().st_size > 0


def test_twin_summary_names_the_adjacent_pair_at_c5_c6_and_extensive_edema(dicom_run):
    _, out = dicom_run
    data = json.loads((out / "measurements.json").read_text())
    summary = data["summary"]
    assert "adjacent pair" in summary and "C5" in summary and "C6" in summary
    assert [(les["levels"]["first"], les["levels"]["last"]) for les in data["lesions"]] == [("C5", "C5"),
                                                                                          ("C6", "C6")]
    assert data["multiplicity"]["kind"] == "adjacent pair"
    (edema,) = data["edema"]
    assert edema["levels"]["count"] >= 3 and edema["longitudinally_extensive"] is True
    assert re.search(r"C\d-C\d \((\d+) levels, longitudinally extensive[;)]", summary)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert summary in html
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_twin_dicom_seg_and_sr_are_deidentified_dicom(dicom_run):
    _, out = dicom_run
    source = pydicom.dcmread(next(p for p in sorted(DICOM_T1C.iterdir()) if p.is_file()), stop_before_pixels=True)
    seg = pydicom.dcmread(out / FILENAMES["seg"])
    sr = pydicom.dcmread(out / FILENAMES["sr"])
    assert seg.Modality == "SEG" and sr.Modality == "SR"
    for ds in (seg, sr):
        assert ds.StudyInstanceUID == source.StudyInstanceUID
        assert str(ds.PatientName) != str(source.PatientName) and ds.PatientID != source.PatientID
    html = (out / "report.html").read_text(encoding="utf-8")
    assert source.PatientID not in html and "PHANTOM" not in html


def test_inputs_are_recorded_without_their_folders_by_default(dicom_run):
    _, out = dicom_run
    data = json.loads((out / "measurements.json").read_text())
    assert {i["role"] for i in data["inputs"]} >= {"lesions", "image", "edema", "cord", "levels"}
    assert all("/" not in i["path"] and len(i["sha256"]) == 64 for i in data["inputs"])


def test_existing_report_is_kept_without_overwrite_and_replaced_with_it(twin, dicom_run):
    _, out = dicom_run
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    res = run(*_args(DICOM_T1C, out, "--format", "json,html"))
    assert res.exit_code == EXIT_BAD_INPUT and "--overwrite" in _flat(res.output)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    res = run(*_args(DICOM_T1C, out, "--format", "json,html", "--overwrite", "--identified"))
    assert res.exit_code == 0, res.output
    assert "wrote json" in res.output and "wrote pdf" not in res.output
    assert "PHANTOM TWIN" in (out / "report.html").read_text(encoding="utf-8")
    assert not list(out.glob(".*part*"))                       # no temporary file left behind


def test_nifti_image_writes_all_but_seg_and_sr_and_says_why(twin, tmp_path):
    res = run(*_args(TWIN / "t1c.nii.gz", tmp_path / "out"))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        FILENAMES[f] for f in ("json", "csv", "html", "pdf"))
    message = _flat(res.output)
    assert "SEG and SR not written" in message and "not DICOM" in message


@pytest.mark.parametrize("formats", ["seg", "json,sr"])
def test_nifti_image_with_seg_or_sr_asked_for_exits_2_and_writes_nothing(twin, tmp_path, formats):
    res = run(*_args(TWIN / "t1c.nii.gz", tmp_path / "out", "--format", formats))
    assert res.exit_code == EXIT_BAD_INPUT
    assert "DICOM" in _flat(res.output) and "Traceback" not in res.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_output_inside_the_input_dicom_folder_is_refused(twin):
    out = DICOM_T1C / "report"
    res = run(*_args(DICOM_T1C, out, "--format", "json"))
    assert res.exit_code == EXIT_BAD_INPUT and "inside an input folder" in _flat(res.output)
    assert not out.exists()


def test_unknown_format_is_refused_before_loading(twin, tmp_path):
    res = run(*_args(DICOM_T1C, tmp_path / "out", "--format", "json,docx"))
    assert res.exit_code == EXIT_BAD_INPUT and "docx" in res.output


# ----------------------------------------------------------------------------- the installed package
COMMANDS = ("info", "measure", "report", "compare", "batch")


def _installed(*args: str) -> subprocess.CompletedProcess:
    """The console script pip installed (not ``python -m``, not the typer app): what a user runs."""
    script = Path(sys.executable).with_name("lesionview")
    script = script if script.is_file() else Path(shutil.which("lesionview") or script)
    assert script.is_file(), f"no console script at {script}: pip install -e ."
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120, check=False,
                          env=env)


def test_installed_entry_point_lists_every_command():
    res = _installed("--help")
    assert res.returncode == 0, res.stderr
    panel = res.stdout.split("Commands", 1)[1]
    listed = [line.split()[1] for line in panel.splitlines() if line.startswith("│ ")]
    assert set(COMMANDS) <= set(listed), res.stdout


def test_installed_entry_point_shows_report_help():
    res = _installed("report", "--help")
    assert res.returncode == 0, res.stderr
    assert "Usage: lesionview report" in res.stdout
    assert all(option in res.stdout for option in ("--out", "--image", "--format", "--overwrite"))


def test_metadata_names_the_licence_and_the_project_urls():
    meta = importlib.metadata.metadata("lesionview")
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert urls["Issues"] == "https://github.com/lesionview/lesionview/issues"
    assert urls["Documentation"].startswith("https://github.com/lesionview/lesionview")
    # The file it names is the BSD 3-clause text (clause 3 is what tells it from BSD-2-Clause).
    text = " ".join((Path(__file__).resolve().parents[1] / "LICENSE").read_text().split())
    assert "Copyright (c) 2026, lesionview developers" in text
    assert "3. Neither the name of the copyright holder nor the names of its contributors may be used" in text
