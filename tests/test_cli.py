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


def _header_truth(folder):
    """Size and spacing of a one-series folder, read from the DICOM headers with pydicom alone."""
    import numpy as np
    import pydicom

    heads = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(folder.glob("*.dcm"))]
    iop = np.array(heads[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    along = np.sort([np.dot(normal, np.array(h.ImagePositionPatient, float)) for h in heads])
    return {"n": len(heads), "rows": int(heads[0].Rows), "cols": int(heads[0].Columns),
            "step": float(np.median(np.diff(along))), "pixel": [float(v) for v in heads[0].PixelSpacing],
            "series": int(heads[0].SeriesNumber), "description": str(heads[0].SeriesDescription)}


def test_info_table_on_dicom_series(shared_data):
    folder = shared_data / "dicom" / "sagittal_t1_series"
    res = run_cli("info", folder)
    assert res.returncode == 0, res.stderr
    assert res.stdout.lstrip().startswith("1 series in ")
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in res.stdout.splitlines()
            if line.startswith("│")]
    (row,) = [r for r in rows if r[0] == "1"]
    number, description, role, plane, size, spacing, problems = row[1:]
    truth = _header_truth(folder)            # 35 slices of 256 x 256, 1.016 mm pixels, 4.8 mm apart
    assert (int(number), description) == (truth["series"], truth["description"])
    assert role == "T1" and plane == "sagittal" and problems == "none"
    assert size == f"{truth['n']}x{truth['rows']}x{truth['cols']}"
    # The table prints spacing to 2 decimals (slice step first): +-0.005 mm.
    assert [float(v) for v in spacing.split(" x ")] == pytest.approx([truth["step"], *truth["pixel"]], abs=0.005)


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
