"""``lesionview compare`` as a user runs it: the installed console script on the seed's timeline."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from conftest import need

from lesionview.phantom import sample_path

ROOT = Path(__file__).resolve().parents[1]
TIMELINE = sample_path("twin").parent / "timeline"
LESIONVIEW = shutil.which("lesionview", path=str(ROOT / ".venv" / "bin")) or shutil.which("lesionview")
CLASSES = {"baseline": "baseline", "CR": "complete response", "PR": "partial response", "SD": "stable disease",
           "PD": "progressive disease"}


def run(*args) -> subprocess.CompletedProcess:
    if LESIONVIEW is None:
        pytest.fail("the lesionview console script is not installed (make setup)")
    return subprocess.run([LESIONVIEW, "compare", *map(str, args)], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def truth():
    need((TIMELINE / "t3" / "dicom").is_dir(), "sample_data/timeline not generated (make sample)")
    return json.loads((TIMELINE / "truth.json").read_text())


def test_compare_the_timeline_writes_the_set_with_the_true_responses(truth, tmp_path):
    out = tmp_path / "out"
    # Given out of date order: the comparison orders the studies by their dates.
    res = run(*(TIMELINE / t for t in ("t2", "t0", "t3", "t1")), "--out", out)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["comparison.csv", "comparison.json", "follow-up.html",
                                                     "follow-up.pdf"]
    data = json.loads((out / "comparison.json").read_text())
    schema = json.loads((ROOT / "schema" / "comparison.v1.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert [tp["label"] for tp in data["timepoints"]] == ["t0", "t1", "t2", "t3"]
    want = [CLASSES[r["response"]] for r in truth["response"]["timepoints"]]
    assert [r["response"] for r in data["responses"]] == want
    assert all(a["accepted"] for a in data["alignments"])
    # The printed table: every patient lesion, and the responses row.
    flat = " ".join(res.stdout.split())
    for lesion in data["lesions"]:
        assert f"│ {lesion['id']} " in res.stdout
    assert "response │ baseline │ complete response │ progressive disease │ progressive disease" in flat
    with open(out / "comparison.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["timepoint"] for r in rows} <= {"t0", "t1", "t2", "t3"} and rows
    assert data["patient_id"] == ""                       # de-identified by default


@pytest.mark.parametrize("case", ["one study", "not a study"])
def test_bad_input_exits_2_with_the_reason(truth, tmp_path, case):
    if case == "one study":
        res = run(TIMELINE / "t0")
        assert "two or more studies" in res.stderr
    else:
        (tmp_path / "empty").mkdir()
        res = run(TIMELINE / "t0", tmp_path / "empty")
        assert "empty" in res.stderr
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
