"""`lesionview info`: a table of series, JSON for scripts, and a non-zero exit on bad input."""

import json
import subprocess
import sys

import pytest


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lesionview", *map(str, args)], check=False,
                          capture_output=True, text=True, timeout=300)


def test_info_on_nifti_lists_one_series_as_json(shared_data):
    res = run_cli("info", shared_data / "sct_t2" / "t2.nii.gz", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    (row,) = out["series"]
    assert row["shape"] == [60, 55, 52] and row["spacing_mm"] == [1.0, 1.0, 1.0]
    assert row["orientation"] == "PSR" and row["role"] == "T2"


def test_info_table_on_dicom_series(shared_data):
    res = run_cli("info", shared_data / "dicom" / "sagittal_t1_series")
    assert res.returncode == 0, res.stderr
    assert "1 series" in res.stdout and "sagittal" in res.stdout and "35" in res.stdout


def test_info_reports_missing_slice_problem(shared_data):
    res = run_cli("info", shared_data / "dicom" / "edge_cases" / "missing_slice", "--json")
    assert res.returncode == 0, res.stderr
    problems = json.loads(res.stdout)["series"][0]["problems"]
    assert any("gap" in p or "missing" in p for p in problems), problems


@pytest.mark.parametrize("make", ["missing", "empty", "not_dicom"])
def test_info_bad_input_exits_non_zero_with_message(tmp_path, make):
    target = tmp_path / "input"
    if make == "empty":
        target.mkdir()
    elif make == "not_dicom":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
    res = run_cli("info", target)
    assert res.returncode == 2
    assert str(target) in res.stderr.replace("\n", "")
    assert "Traceback" not in res.stderr
