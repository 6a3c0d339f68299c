"""lesionview.study: one Study loaded from explicit paths, a study folder, a BIDS session or a JSON,
measured as the CLI measures it."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need, need_module

from lesionview.errors import InputError
from lesionview.io import load_volume
from lesionview.levels import read_levels
from lesionview.measure import measure
from lesionview.study import Study, load_study

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
TWIN = SAMPLE / "twin"
T1C_SERIES = "05_SAG_T1_TSE_C"


def _needs(case: str) -> Path:
    folder = SAMPLE / case
    need((folder / "dicom" / T1C_SERIES).is_dir() and (folder / "lesion.nii.gz").is_file(),
         f"sample_data/{case} has no DICOM series: run `make sample`")
    return folder


def _numbers(result) -> dict:
    """What a radiologist reads, by lesion / edema id."""
    lesions = {les.id: (les.volume_mm3, les.max_diameter_mm, les.axial_long_mm, les.axial_short_mm,
                        les.craniocaudal_mm, les.cord_occupancy or 0.0, les.enhancement_ratio or 0.0,
                        les.levels.label if les.levels else "") for les in result.lesions}
    edema = {ed.id: (ed.volume_mm3, ed.craniocaudal_mm, ed.levels.label if ed.levels else "") for ed in result.edema}
    return {"lesions": lesions, "edema": edema, "kind": result.multiplicity.kind.value}


def _assert_same(a: dict, b: dict) -> None:
    assert a["kind"] == b["kind"] and a["lesions"].keys() == b["lesions"].keys()
    assert a["edema"].keys() == b["edema"].keys()
    for what in ("lesions", "edema"):
        for k, row in a[what].items():
            assert row[-1] == b[what][k][-1], (what, k)            # levels
            assert row[:-1] == pytest.approx(b[what][k][:-1], abs=1e-3), (what, k)


def _core(folder: Path) -> dict:
    """The sample measured by hand, each file loaded with the core loaders, as the CLI did before Study."""
    lesions = load_volume(folder / "lesion.nii.gz")
    return _numbers(measure(lesions, image=load_volume(folder / "dicom" / T1C_SERIES),
                            edema=load_volume(folder / "edema.nii.gz"), cord=load_volume(folder / "cord.nii.gz"),
                            levels=read_levels(folder / "landmarks.csv")))


@pytest.fixture(scope="module")
def twin_core() -> dict:
    return _core(_needs("twin"))


# ----------------------------------------------------------------------------- from_paths
def test_from_paths_measures_what_the_core_measures(twin_core):
    study = Study.from_paths(TWIN / "lesion.nii.gz", image=TWIN / "dicom" / T1C_SERIES, edema=TWIN / "edema.nii.gz",
                             cord=TWIN / "cord.nii.gz", levels=TWIN / "landmarks.csv")
    assert list(study.images) == ["t1c"] and study.image is study.images["t1c"]
    assert study.patient_id and study.study_uid and len(study.study_date) == 8
    assert [r.role for r in study.inputs] == ["lesions", "image", "edema", "cord", "levels"]
    assert all(len(r.sha256) == 64 for r in study.inputs)
    result = study.measure()
    _assert_same(_numbers(result), twin_core)
    truth = json.loads((TWIN / "truth.json").read_text(encoding="utf-8"))
    # The phantom's own truth: levels and diameters as drawn (partial volume: within a voxel).
    assert [les.levels.label for les in result.lesions] == [t["levels"] for t in truth["lesions"]]
    assert [les.max_diameter_mm for les in result.lesions] == pytest.approx(
        [t["max_diameter_mm"] for t in truth["lesions"]], abs=0.6)


def test_from_paths_keeps_the_cli_refusals(tmp_path):
    _needs("twin")
    with pytest.raises(InputError, match="does not exist"):
        Study.from_paths(tmp_path / "missing.nii.gz")
    with pytest.raises(InputError, match="--edema-segment chooses segments of a DICOM SEG"):
        Study.from_paths(TWIN / "lesion.nii.gz", edema=TWIN / "edema.nii.gz", edema_segment=["1"])


def test_measure_options_override_and_a_study_without_lesions_is_refused():
    _needs("twin")
    study = Study.from_paths(TWIN / "lesion.nii.gz", cord=TWIN / "cord.nii.gz")
    assert study.image is None and study.reference_image is None
    assert study.measure(twin_gap_mm=0.0).multiplicity.kind.value != study.measure().multiplicity.kind.value
    with pytest.raises(InputError, match="no lesion mask"):
        Study(images={}).measure()


# ----------------------------------------------------------------------------- from_folder
@pytest.mark.parametrize("case", ["twin", "solitary"])
def test_from_folder_finds_every_part_of_a_sample(case):
    folder = _needs(case)
    study = Study.from_folder(folder)
    assert study.label == case and set(study.images) == {"t1c", "t2"}
    assert study.images["t1c"].info.series_description == "SAG T1 TSE +C"
    assert study.image.info.role.value == "T1+C" and study.images["t2"].info.role.value == "T2"
    assert study.lesions is not None and study.edema is not None and study.cord is not None
    assert study.levels is not None and study.patient_id.startswith("LV-PHANTOM")
    roles = {r.role: r.path for r in study.inputs}
    assert roles["levels"].endswith("landmarks.csv") and roles["image"].endswith(T1C_SERIES)
    _assert_same(_numbers(study.measure()), _core(folder))


def _copy_study(tmp_path: Path, *, masks=("lesion", "edema", "cord")) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(TWIN / "dicom", folder / "dicom")
    for name in masks:
        shutil.copy(TWIN / f"{name}.nii.gz", folder / f"{name}.nii.gz")
    shutil.copy(TWIN / "landmarks.csv", folder / "landmarks.csv")
    return folder


def test_from_folder_takes_common_names(tmp_path, twin_core):
    _needs("twin")
    folder = _copy_study(tmp_path, masks=())
    shutil.copy(TWIN / "lesion.nii.gz", folder / "sub-01_T1w_label-lesion_seg.nii.gz")
    shutil.copy(TWIN / "cord.nii.gz", folder / "sub-01_T2w_label-SC_seg.nii.gz")
    shutil.copy(TWIN / "edema.nii.gz", folder / "Edema_T2.nii.gz")
    (folder / "landmarks.csv").rename(folder / "landmarks_manual.csv")
    study = Study.from_folder(folder)
    assert Path(study.inputs[0].path).name == "sub-01_T1w_label-lesion_seg.nii.gz"
    _assert_same(_numbers(study.measure()), twin_core)


def test_from_folder_refuses_two_lesion_masks_and_none(tmp_path):
    _needs("twin")
    folder = _copy_study(tmp_path)
    shutil.copy(TWIN / "lesion.nii.gz", folder / "lesions_v2.nii.gz")
    with pytest.raises(InputError, match=r"2 lesion mask files \(lesion.nii.gz, lesions_v2.nii.gz\).*ambiguous"):
        Study.from_folder(folder)
    (folder / "lesion.nii.gz").unlink()
    (folder / "lesions_v2.nii.gz").unlink()
    with pytest.raises(InputError, match="holds no lesion mask") as err:
        Study.from_folder(folder)
    assert "lesion.nii.gz" in err.value.hint


def test_from_folder_reads_the_masks_of_a_dicom_seg(tmp_path, twin_core):
    need_module("highdicom", "highdicom cannot be imported (pip install -e .)")
    from lesionview.report.dicom_seg import write_seg

    _needs("twin")
    folder = _copy_study(tmp_path, masks=())
    masks = {k: load_volume(TWIN / f"{k}.nii.gz") for k in ("lesion", "edema", "cord")}
    write_seg(TWIN / "dicom" / T1C_SERIES, masks, folder / "segmentation.dcm")
    study = Study.from_folder(folder)
    assert {r.role for r in study.inputs if r.segments} == {"lesions", "edema", "cord"}
    assert study.lesions.geometry.same_space(study.image.geometry)
    got = _numbers(study.measure())
    _assert_same(got, twin_core)   # the SEG holds the same voxels on the same grid
    shutil.copy(TWIN / "lesion.nii.gz", folder / "lesion.nii.gz")   # the lesions twice: which?
    with pytest.raises(InputError, match=r"two lesion masks \(lesion.nii.gz and the DICOM SEG segmentation.dcm"):
        Study.from_folder(folder)


# ----------------------------------------------------------------------------- from_bids
def _bids(tmp_path: Path, *, sessions=("ses-01",)) -> Path:
    """A BIDS dataset of the twin sample: images in sub-01/ses-*/anat, labels in derivatives/labels."""
    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text('{"Name": "twin", "BIDSVersion": "1.9.0"}', encoding="utf-8")
    for ses in sessions:
        anat, labels = root / "sub-01" / ses / "anat", root / "derivatives" / "labels" / "sub-01" / ses / "anat"
        anat.mkdir(parents=True)
        labels.mkdir(parents=True)
        t1c = f"sub-01_{ses}_ce-gadolinium_T1w"
        shutil.copy(TWIN / "t1c.nii.gz", anat / f"{t1c}.nii.gz")
        shutil.copy(TWIN / "t2.nii.gz", anat / f"sub-01_{ses}_T2w.nii.gz")
        (anat / f"{t1c}.json").write_text(json.dumps({"StudyInstanceUID": "1.2.826.0.1.99",
                                                      "AcquisitionDateTime": "2024-05-06T10:11:12.000000"}),
                                          encoding="utf-8")
        shutil.copy(TWIN / "lesion.nii.gz", labels / f"{t1c}_label-lesion_seg.nii.gz")
        (labels / f"{t1c}_label-lesion_seg.json").write_text('{"Author": "x"}', encoding="utf-8")
        shutil.copy(TWIN / "cord.nii.gz", labels / f"sub-01_{ses}_T2w_label-SC_seg.nii.gz")
        shutil.copy(TWIN / "edema.nii.gz", labels / f"sub-01_{ses}_T2w_label-edema_seg.nii.gz")
        shutil.copy(TWIN / "landmarks.csv", labels / "landmarks.csv")
    return root


def test_from_bids_reads_a_session_with_sct_label_names(tmp_path, twin_core):
    root = _bids(tmp_path)
    study = Study.from_bids(root, "01", "01")
    assert study.label == "ses-01" and study.patient_id == "sub-01"
    assert study.study_uid == "1.2.826.0.1.99" and study.study_date == "20240506"
    assert set(study.images) == {"t1c", "t2"} and study.image.info.source.endswith("ce-gadolinium_T1w.nii.gz")
    assert study.edema is not None and study.cord is not None and study.levels is not None
    _assert_same(_numbers(study.measure()), twin_core)
    # The session folder alone is enough, and gives the same study.
    again = load_study(root / "sub-01" / "ses-01")
    assert again.label == "ses-01" and again.study_uid == study.study_uid
    assert [Path(r.path).name for r in again.inputs] == [Path(r.path).name for r in study.inputs]


def test_from_bids_refusals(tmp_path):
    root = _bids(tmp_path, sessions=("ses-01", "ses-02"))
    with pytest.raises(InputError, match=r"2 sessions \(ses-01, ses-02\)"):
        Study.from_bids(root, "sub-01")
    with pytest.raises(InputError, match="no subject sub-02"):
        Study.from_bids(root, "02", "01")
    with pytest.raises(InputError, match="BIDS dataset, not one study"):
        load_study(root)
    for f in (root / "derivatives" / "labels" / "sub-01" / "ses-02" / "anat").glob("*lesion_seg*"):
        f.unlink()
    with pytest.raises(InputError, match="holds no lesion mask"):
        Study.from_bids(root, "01", "ses-02")


def test_load_study_reads_a_study_json(tmp_path, twin_core):
    _needs("twin")
    spec = {"lesions": str(TWIN / "lesion.nii.gz"), "image": str(TWIN / "dicom" / T1C_SERIES),
            "edema": str(TWIN / "edema.nii.gz"), "cord": str(TWIN / "cord.nii.gz"),
            "levels": str(TWIN / "landmarks.csv"), "label": "t0"}
    (tmp_path / "study.json").write_text(json.dumps(spec), encoding="utf-8")
    study = load_study(tmp_path / "study.json")
    assert study.label == "t0"
    _assert_same(_numbers(study.measure()), twin_core)
    (tmp_path / "bad.json").write_text('{"lesions": "x", "colour": "red"}', encoding="utf-8")
    with pytest.raises(InputError, match="unknown keys colour"):
        load_study(tmp_path / "bad.json")


# ----------------------------------------------------------------------------- the CLI modules
def _imports(module: str) -> set[str]:
    """Modules a CLI module imports (absolute names), read from its source."""
    src = Path(__file__).resolve().parents[1] / "src" / "lesionview" / "cli" / f"{module}.py"
    found = set()
    for node in ast.walk(ast.parse(src.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = "lesionview.cli." * (node.level == 1) + "lesionview." * (node.level == 2) + (node.module or "")
            found |= {base.rstrip(".")} | {f"{base}.{a.name}".replace("..", ".") for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_measure_and_report_cli_do_not_import_each_other():
    assert not {"lesionview.cli.report"} & _imports("measure")
    assert not {"lesionview.cli.measure"} & _imports("report")
    # And at run time: importing one does not load the other.
    code = ("import sys, importlib; importlib.import_module('lesionview.cli.{0}'); "
            "print('lesionview.cli.{1}' in sys.modules)")
    for a, b in (("measure", "report"), ("report", "measure")):
        out = subprocess.run([sys.executable, "-c", code.format(a, b)], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "False", (a, b)


def test_a_study_writes_its_report_set(tmp_path):
    """The API door of ``lesionview report``: ``Study.report`` measures and writes the set, with the
    study's DICOM image (so SEG and SR too) and the same numbers as ``measure()``."""
    from lesionview.study import load_study

    study = load_study(TWIN)
    done = study.report(tmp_path / "out", formats="json,seg")
    assert done.complete and sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "measurements.json", "segmentation.dcm"]
    data = json.loads((tmp_path / "out" / "measurements.json").read_text())
    assert [les["max_diameter_mm"] for les in data["lesions"]] == [
        les.max_diameter_mm for les in study.measure().lesions]
