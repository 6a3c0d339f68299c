"""measurements.json against its published schema, and measurements.csv read back by pandas."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from conftest import need

from lesionview.io import load_volume
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.measure.models import InputRecord, StudyMeasurements
from lesionview.report import schema as report_schema
from lesionview.report.build import deidentified
from lesionview.report.tabular import CSV_COLUMNS, write_csv, write_json

TWIN = Path(__file__).resolve().parents[1] / "sample_data" / "twin"


@pytest.fixture(scope="module")
def result() -> StudyMeasurements:
    need((TWIN / "truth.json").is_file(), "sample_data/twin not generated (make sample)")
    inputs = [InputRecord(role="lesions", path=str(TWIN / "lesion.nii.gz"), sha256="0" * 64)]
    return measure(load_volume(TWIN / "lesion.nii.gz"), image=load_volume(TWIN / "t1c.nii.gz"),
                   edema=load_volume(TWIN / "edema.nii.gz"), cord=load_volume(TWIN / "cord.nii.gz"),
                   levels=LevelModel.from_file(TWIN / "landmarks.csv"), inputs=inputs)


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    out = tmp_path_factory.mktemp("tabular")
    return write_json(result, out / "measurements.json"), write_csv(result, out / "measurements.csv")


# ------------------------------------------------------------------------------------ schema
def test_committed_schema_is_the_one_the_models_generate():
    path = report_schema.SCHEMA_DIR / report_schema.schema_filename()
    assert path.is_file(), f"{path} missing: run python -m lesionview.report.schema"
    assert path.read_text(encoding="utf-8") == report_schema.schema_text(), (
        "schema/ is out of date with the models: run python -m lesionview.report.schema and commit it")


def test_schema_is_versioned_like_the_results():
    s = report_schema.json_schema()
    version = StudyMeasurements.model_fields["schema_version"].default
    assert report_schema.schema_filename() == f"study-measurements.v{version}.schema.json"
    assert s["$schema"].endswith("2020-12/schema")
    jsonschema.Draft202012Validator.check_schema(s)
    # units in the names of every numeric field of a lesion
    lesion = s["$defs"]["Lesion"]["properties"]
    for name in ("volume_mm3", "max_diameter_mm", "axial_long_mm", "craniocaudal_mm", "centroid_lps_mm"):
        assert name in lesion


def test_regenerating_writes_the_same_file(tmp_path):
    path = report_schema.write_schema(tmp_path)
    assert path.name == report_schema.schema_filename()
    assert path.read_text(encoding="utf-8") == (report_schema.SCHEMA_DIR / path.name).read_text(encoding="utf-8")


def test_json_validates_against_the_published_schema(written):
    data = json.loads(written[0].read_text())
    schema = json.loads((report_schema.SCHEMA_DIR / report_schema.schema_filename()).read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["schema_version"] == report_schema.SCHEMA_VERSION
    assert data["lesionview_version"] and data["created_utc"] and data["parameters"]["connectivity"] == 26
    assert data["inputs"][0]["sha256"] == "0" * 64


def test_schema_rejects_a_broken_result(written):
    data = json.loads(written[0].read_text())
    validator = jsonschema.Draft202012Validator(report_schema.json_schema())
    broken = copy.deepcopy(data)
    del broken["lesions"][0]["volume_mm3"]
    assert not validator.is_valid(broken)
    broken = copy.deepcopy(data)
    broken["lesions"][0]["cord_occupancy"] = 1.5           # a fraction
    assert not validator.is_valid(broken)
    broken = copy.deepcopy(data)
    broken["lesions"][0]["diameter_in_inches"] = 1.0       # no unknown fields
    assert not validator.is_valid(broken)


def test_json_reads_back_into_the_model(result, written):
    again = StudyMeasurements.model_validate_json(written[0].read_text())
    assert again == result


# ------------------------------------------------------------------------------------ CSV
def _same(csv_value, json_value) -> bool:
    if json_value is None:
        return csv_value is None or (isinstance(csv_value, float) and math.isnan(csv_value))
    if isinstance(json_value, bool):
        return str(csv_value).lower() == str(json_value).lower()
    if isinstance(json_value, (int, float)):
        return float(csv_value) == pytest.approx(float(json_value), rel=1e-12, abs=1e-12)
    return str(csv_value) == str(json_value)


def test_csv_round_trips_into_pandas_with_the_json_numbers(written):
    data = json.loads(written[0].read_text())
    df = pd.read_csv(written[1])
    assert list(df.columns) == CSV_COLUMNS
    lesions = df[df["kind"] == "lesion"].reset_index(drop=True)
    edema = df[df["kind"] == "edema"].reset_index(drop=True)
    assert len(lesions) == len(data["lesions"]) == 2 and len(edema) == len(data["edema"]) == 1
    for row, les in zip(lesions.to_dict("records"), data["lesions"]):
        for key in ("id", "voxel_count", "volume_mm3", "max_diameter_mm", "max_diameter_ibsi_mm",
                    "axial_long_mm", "axial_short_mm", "axial_uncertainty_mm", "craniocaudal_mm",
                    "craniocaudal_along_cord_mm", "cord_occupancy", "enhancement_ratio", "measurable",
                    "edema_id"):
            assert _same(row[key], les[key]), (key, row[key], les[key])
        for axis, value in zip("xyz", les["centroid_lps_mm"]):
            assert _same(row[f"centroid_{axis}_lps_mm"], value)
        assert row["levels"] == les["levels"]["first"] and row["level_count"] == les["levels"]["count"]
    (row,), ed = edema.to_dict("records"), data["edema"][0]
    for key in ("id", "voxel_count", "volume_mm3", "craniocaudal_mm", "craniocaudal_along_cord_mm",
                "longitudinally_extensive", "length_ratio"):
        assert _same(row[key], ed[key]), (key, row[key], ed[key])
    assert row["levels"] == f"{ed['levels']['first']}-{ed['levels']['last']}"
    assert str(row["lesion_ids"]).split() == [str(i) for i in ed["lesion_ids"]]
    assert pd.isna(row["max_diameter_mm"])                  # lesion-only columns empty on edema rows


def test_csv_numbers_are_written_at_full_precision(written, result):
    df = pd.read_csv(written[1])
    assert df.loc[0, "max_diameter_ibsi_mm"] == result.lesions[0].max_diameter_ibsi_mm   # exact float


def test_deidentified_result_keeps_hashes_and_drops_folders(result):
    clean = deidentified(result)
    assert clean.inputs[0].path == "lesion.nii.gz" and clean.inputs[0].sha256 == result.inputs[0].sha256
    assert "/" not in (clean.parameters.level_source or "")
    assert clean.lesions == result.lesions and clean.summary == result.summary
