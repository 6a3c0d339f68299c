"""``lesionview batch``: a cohort from a BIDS dataset, a folder of studies or a CSV manifest, on
dask.distributed, written as a BIDS derivative dataset; broken studies isolated, re-runs resumed.

The CLI runs as a subprocess through the installed entry point, as a user runs it. The numbers
are checked against the phantoms' analytic truth (sample_data/*/truth.json), the layout against
the BIDS validator.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lesionview.batch import derivatives as bids
from lesionview.batch.inputs import find_jobs
from lesionview.batch.run import run_participants
from lesionview.batch.task import DONE, FAILED, SKIPPED, Settings
from lesionview.errors import InputError

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
LESIONVIEW = Path(sys.executable).with_name("lesionview")
SETTINGS = Settings(twin_gap_mm=10.0)


def _truth(case: str) -> dict:
    return json.loads((SAMPLE / case / "truth.json").read_text(encoding="utf-8"))


def _run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(LESIONVIEW), "batch", *map(str, args)], check=False, capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def _bids(root: Path) -> Path:
    """sub-01 with two sessions (twin, solitary), sub-02 with one (twin, no sessions), and sub-03 a
    control without a lesion mask; labels named as the spinal cord community names them."""
    root.mkdir()
    (root / "dataset_description.json").write_text('{"Name": "cohort", "BIDSVersion": "1.9.0"}', encoding="utf-8")
    sessions = {("01", "01"): "twin", ("01", "02"): "solitary", ("02", None): "twin", ("03", None): None}
    for (sub, ses), case in sessions.items():
        rel = Path(f"sub-{sub}", *([f"ses-{ses}"] if ses else []), "anat")
        stem = f"sub-{sub}" + (f"_ses-{ses}" if ses else "")
        (root / rel).mkdir(parents=True)
        src = SAMPLE / (case or "twin")
        shutil.copy(src / "t2.nii.gz", root / rel / f"{stem}_T2w.nii.gz")
        if case is None:
            continue
        shutil.copy(src / "t1c.nii.gz", root / rel / f"{stem}_ce-gadolinium_T1w.nii.gz")
        labels = root / "derivatives" / "labels" / rel
        labels.mkdir(parents=True)
        shutil.copy(src / "lesion.nii.gz", labels / f"{stem}_ce-gadolinium_T1w_label-lesion_seg.nii.gz")
        shutil.copy(src / "cord.nii.gz", labels / f"{stem}_T2w_label-SC_seg.nii.gz")
        shutil.copy(src / "edema.nii.gz", labels / f"{stem}_T2w_label-edema_seg.nii.gz")
        shutil.copy(src / "landmarks.csv", labels / "landmarks.csv")
    return root


def _rows(out: Path, name: str) -> list[dict]:
    return bids.read_tsv(out / name)


def _report(out: Path) -> dict[str, dict]:
    return {r["study"]: r for r in _rows(out, "batch_report.tsv")}


def _lesions(out: Path, sub: str, ses: str | None) -> list[dict]:
    folder = bids.session_folder(out, sub, ses)
    rows = bids.read_tsv(folder / f"{bids.prefix(sub, ses)}_{bids.MEASUREMENTS}.tsv")
    return [r for r in rows if r["kind"] == "lesion"]


def _assert_case(rows: list[dict], case: str) -> None:
    """The session's lesions are the phantom's: count, multiplicity, levels, diameters within 1 mm."""
    truth = _truth(case)
    assert len(rows) == truth["lesion_count"]
    assert {r["multiplicity"] for r in rows} == {truth["multiplicity"]}
    for row, lesion in zip(rows, truth["lesions"], strict=True):
        assert row["levels"] == lesion["levels"]
        assert float(row["max_diameter_mm"]) == pytest.approx(lesion["max_diameter_mm"], abs=1.0)


# ----------------------------------------------------------------------------- BIDS in, BIDS out, on dask
def test_bids_dataset_on_a_local_dask_cluster(tmp_path):
    root = _bids(tmp_path / "bids")
    out = root / "derivatives" / "lesionview"          # where a BIDS App writes
    done = _run(root, out, "participant", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "dask local cluster: 2 workers x 1 thread, memory limit 4.00 GiB each" in done.stderr
    report = _report(out)
    assert {k: r["status"] for k, r in report.items()} == {
        "sub-01/ses-01": DONE, "sub-01/ses-02": DONE, "sub-02": DONE, "sub-03": "left out"}
    assert "no lesion mask" in report["sub-03"]["reason"]
    _assert_case(_lesions(out, "01", "01"), "twin")
    _assert_case(_lesions(out, "01", "02"), "solitary")
    _assert_case(_lesions(out, "02", None), "twin")
    description = json.loads((out / "dataset_description.json").read_text(encoding="utf-8"))
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Name"] == "lesionview"
    assert description["GeneratedBy"][0]["Version"]

    # The label image holds each lesion under its table id, on the input mask's grid.
    import nibabel as nib
    import numpy as np

    folder = bids.session_folder(out, "01", "01")
    dseg = nib.load(folder / "sub-01_ses-01_desc-lesion_dseg.nii.gz")
    source = nib.load(root / "derivatives/labels/sub-01/ses-01/anat/sub-01_ses-01_ce-gadolinium_T1w_label-lesion_seg.nii.gz")
    np.testing.assert_allclose(dseg.affine, source.affine, atol=1e-4)
    values = np.asarray(dseg.dataobj)
    rows = _lesions(out, "01", "01")
    assert sorted(np.unique(values)) == [0, 1, 2]
    assert [int((values == int(r["id"])).sum()) for r in rows] == [int(r["voxel_count"]) for r in rows]
    assert (values > 0).sum() == (np.asarray(source.dataobj) > 0).sum()
    assert bids.read_tsv(folder / "sub-01_ses-01_desc-lesion_dseg.tsv") == [
        {"index": "1", "name": "lesion 1"}, {"index": "2", "name": "lesion 2"}]
    dictionary = json.loads((folder / f"sub-01_ses-01_{bids.MEASUREMENTS}.json").read_text(encoding="utf-8"))
    assert dictionary["max_diameter_mm"]["Units"] == "mm" and "kind" in dictionary
    assert (folder / "sub-01_ses-01_desc-lesions_report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    page = json.loads((folder / "sub-01_ses-01_desc-lesions_report.json").read_text(encoding="utf-8"))
    assert len(page["lesions"]) == 2

    # The group level, from the dataset the participant level wrote: one row per lesion and edema region.
    group = _run(root, out, "group")
    assert group.returncode == 0, group.stderr
    cohort = bids.read_tsv(out / "group" / "cohort_measurements.tsv")
    lesions = [r for r in cohort if r["kind"] == "lesion"]
    assert [(r["participant_id"], r["session_id"], r["multiplicity"]) for r in lesions] == [
        ("sub-01", "ses-01", "adjacent pair"), ("sub-01", "ses-01", "adjacent pair"),
        ("sub-01", "ses-02", "solitary"), ("sub-02", "", "adjacent pair"), ("sub-02", "", "adjacent pair")]
    summary = json.loads((out / "group" / "cohort_summary.json").read_text(encoding="utf-8"))
    assert summary["counts"] == {"participants": 2, "sessions": 3, "sessions_with_lesions": 3, "lesions": 5,
                                 "edema_regions": 3}
    # Twin lesions at C5 and C6 twice, the solitary one across C5-C6 (truth.json of each phantom).
    assert summary["lesions_per_level"] == {"C5": 3, "C6": 3}
    assert summary["multiplicity_by_session"] == {"solitary": 1, "adjacent pair": 2, "multiple": 0, "none": 0}
    assert "cohort.html" in group.stderr
    _assert_bids_valid(out)      # with the group folder in it


def _assert_bids_valid(out: Path) -> None:
    """The BIDS validator (the deno build, run offline) finds no error in the derivative dataset."""
    validator = shutil.which("bids-validator-deno", path=str(Path(sys.executable).parent))
    assert validator, "bids-validator-deno is in the test extra: pip install -e .[test]"
    done = subprocess.run([validator, str(out), "--format", "json"], check=False, capture_output=True, text=True,
                          timeout=120)
    issues = json.loads(done.stdout)["issues"]["issues"]
    errors = [f"{i['code']}: {i.get('location')}" for i in issues if i["severity"] == "error"]
    assert errors == []


# ----------------------------------------------------------------------------- resumption
def test_a_rerun_skips_current_studies_and_redoes_changed_ones(tmp_path):
    root = _bids(tmp_path / "bids")
    out = tmp_path / "out"
    first = run_participants(root, out, settings=SETTINGS, workers=0)
    assert first.counts[DONE] == 3
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*_measurements.tsv")}

    again = run_participants(root, out, settings=SETTINGS, workers=0)
    assert again.counts == {SKIPPED: 3}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*_measurements.tsv")} == stamps

    # New content in one input: that session only is measured again.
    t2 = root / "sub-02" / "anat" / "sub-02_T2w.nii.gz"
    shutil.copy(SAMPLE / "solitary" / "t2.nii.gz", t2)
    changed = run_participants(root, out, settings=SETTINGS, workers=0)
    assert {o.name: o.status for o in changed.outcomes} == {
        "sub-01/ses-01": SKIPPED, "sub-01/ses-02": SKIPPED, "sub-02": DONE}

    # Other parameters, a lost output, or --force: measured again.
    other = run_participants(root, out, settings=Settings(twin_gap_mm=1.5), workers=0)
    assert other.counts == {DONE: 3}
    assert {r["multiplicity"] for r in _lesions(out, "01", "01")} == {"multiple"}   # gap 3.1 mm > 1.5 mm
    next(out.rglob("sub-01_ses-02_desc-lesion_dseg.nii.gz")).unlink()
    lost = run_participants(root, out, settings=Settings(twin_gap_mm=1.5), workers=0)
    assert {o.name: o.status for o in lost.outcomes}["sub-01/ses-02"] == DONE and lost.counts[SKIPPED] == 2
    forced = run_participants(root, out, settings=Settings(twin_gap_mm=1.5), workers=0, force=True)
    assert forced.counts == {DONE: 3}


def test_a_study_interrupted_while_writing_is_measured_again(tmp_path, monkeypatch):
    """The provenance record is removed first and written last: a crash in between leaves no claim."""
    from lesionview.batch import task

    root = _bids(tmp_path / "bids")
    out = tmp_path / "out"
    assert run_participants(root, out, settings=SETTINGS, workers=0, participants=["02"]).counts == {DONE: 1}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(task, "write_session", crash)
    with pytest.raises(KeyboardInterrupt):
        run_participants(root, out, settings=SETTINGS, workers=0, participants=["02"], force=True)
    report = _report(out)
    assert report["sub-02"]["status"] == "not run" and report["sub-02"]["reason"].startswith("interrupted")
    assert not list(out.rglob(f"*_{bids.PROVENANCE}.json"))
    monkeypatch.undo()
    assert run_participants(root, out, settings=SETTINGS, workers=0, participants=["02"]).counts == {DONE: 1}


# ----------------------------------------------------------------------------- isolation, folders, manifests
def test_a_broken_study_is_reported_and_the_batch_goes_on(tmp_path):
    studies = tmp_path / "studies"
    studies.mkdir()
    for name in ("case_a", "case-b"):
        shutil.copytree(SAMPLE / "twin", studies / name, ignore=shutil.ignore_patterns("dicom"))
    (studies / "broken").mkdir()
    (studies / "broken" / "lesion.nii.gz").write_bytes(b"not a nifti")
    (studies / "empty").mkdir()
    out = tmp_path / "out"
    done = _run(studies, out, "--workers", "2")
    assert done.returncode == 102, done.stderr          # 100 + 2 failed studies
    report = _report(out)
    assert report["sub-casea"]["status"] == DONE and report["sub-caseb"]["status"] == DONE
    assert report["sub-broken"]["status"] == FAILED and "not gzip-compressed" in report["sub-broken"]["reason"]
    assert report["sub-empty"]["status"] == FAILED and "lesion" in report["sub-empty"]["reason"]
    assert "failed sub-broken" in done.stderr and "2 failed" in done.stderr
    _assert_case(_lesions(out, "casea", None), "twin")
    summary = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))
    assert (summary["done"], summary["failed"], summary["cluster"]["workers"]) == (2, 2, 2)


def test_a_csv_manifest_with_parts_or_study_folders(tmp_path):
    cases = tmp_path / "data"
    for case in ("twin", "solitary"):
        shutil.copytree(SAMPLE / case, cases / case, ignore=shutil.ignore_patterns("dicom"))
    manifest = cases / "cohort.csv"
    manifest.write_text(
        "participant_id,session_id,study,lesions,image,edema,cord,levels\n"
        "sub-P1,ses-pre,twin,,,,,\n"
        "P1,post,,solitary/lesion.nii.gz,solitary/t1c.nii.gz,solitary/edema.nii.gz,solitary/cord.nii.gz,"
        "solitary/landmarks.csv\n", encoding="utf-8")
    out = tmp_path / "out"
    done = _run(manifest, out, "--workers", "0", "--session-label", "post")
    assert done.returncode == 0, done.stderr
    assert set(_report(out)) == {"sub-P1/ses-post"}
    _assert_case(_lesions(out, "P1", "post"), "solitary")
    assert _run(manifest, out, "--workers", "0").returncode == 0
    _assert_case(_lesions(out, "P1", "pre"), "twin")
    assert _report(out)["sub-P1/ses-post"]["status"] == SKIPPED


@pytest.mark.parametrize(("text", "message"), [
    ("subject_name,lesions\nx,a.nii.gz\n", "unknown columns subject_name"),
    ("participant_id,image\n01,a.nii.gz\n", "no study or lesions column"),
    ("participant_id,lesions\n01,a.nii.gz\n01,b.nii.gz\n", "two studies the same name sub-01"),
    ("participant_id,lesions\n,a.nii.gz\n", "row 2 has no participant_id"),
    ("participant_id,lesions\n", "lists no study"),
])
def test_a_bad_manifest_is_refused_before_anything_runs(tmp_path, text, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(text, encoding="utf-8")
    done = _run(manifest, tmp_path / "out", "--workers", "0")
    assert done.returncode == 2 and message in " ".join(done.stderr.split())
    assert str(manifest) in " ".join(done.stderr.split())
    assert not (tmp_path / "out").exists()


def test_labels_choose_subjects_and_sessions(tmp_path):
    root = _bids(tmp_path / "bids")
    jobs, left = find_jobs(root, participants=["sub-01"], sessions=["02"])
    assert [j.name for j in jobs] == ["sub-01/ses-02"] and left == []
    jobs, left = find_jobs(root, participants=["03"])
    assert jobs == [] and left[0][0] == "sub-03"
    with pytest.raises(InputError, match="has no subject 09"):
        find_jobs(root, participants=["09"])


def test_outputs_inside_an_input_or_another_dataset_are_refused(tmp_path):
    studies = tmp_path / "studies"
    shutil.copytree(SAMPLE / "twin", studies / "twin", ignore=shutil.ignore_patterns("dicom"))
    inside = _run(studies, studies / "out", "--workers", "0")
    assert inside.returncode == 2 and "read as a study next time" in inside.stderr
    other = tmp_path / "fmriprep"
    other.mkdir()
    (other / "dataset_description.json").write_text('{"Name": "x", "GeneratedBy": [{"Name": "fMRIPrep"}]}')
    taken = _run(studies, other, "--workers", "0")
    assert taken.returncode == 2 and "holds other files" in taken.stderr
    assert sorted(p.name for p in other.iterdir()) == ["dataset_description.json"]


def test_ctrl_c_stops_the_cluster_cleanly_and_a_rerun_resumes(tmp_path):
    """Ctrl-C as a terminal sends it (to the whole process group, workers included): exit 130 with no
    traceback, the batch report lists what was not run, and the next run measures only that."""
    import os
    import signal
    import time

    studies, n = tmp_path / "studies", 40      # enough that the batch is still running at the Ctrl-C
    seed = tmp_path / "seed"
    shutil.copytree(SAMPLE / "twin", seed, ignore=shutil.ignore_patterns("dicom", "t2*"))
    for i in range(n):
        (studies / f"s{i:02d}").mkdir(parents=True)
        for f in seed.iterdir():
            os.link(f, studies / f"s{i:02d}" / f.name)
    out = tmp_path / "out"
    proc = subprocess.Popen([str(LESIONVIEW), "batch", str(studies), str(out), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.rglob(f"*_{bids.PROVENANCE}.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)      # the outcome of the first study reaches the client
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.rstrip().endswith("interrupted")
    statuses = [r["status"] for r in _report(out).values()]
    done = statuses.count(DONE)
    assert done + statuses.count("not run") == n and statuses.count("not run") > 0
    # A study running at the Ctrl-C (or finished but not yet heard of) may still leave its record:
    # at most the 4 studies the 2 workers hold (each its study and the next).
    finished = len(list(out.rglob(f"*_{bids.PROVENANCE}.json")))
    assert 1 <= finished and done <= finished <= done + 4

    again = _run(studies, out, "--workers", "0")
    assert again.returncode == 0, again.stderr
    statuses = [r["status"] for r in _report(out).values()]
    assert statuses.count(SKIPPED) == finished and statuses.count(DONE) == n - finished


def test_a_study_over_the_memory_limit_fails_alone(tmp_path):
    """The local workers' memory is bounded: a study too large for it kills only its own worker,
    is reported with the limit, and the other studies are measured."""
    import nibabel as nib
    import numpy as np

    studies = tmp_path / "studies"
    shutil.copytree(SAMPLE / "twin", studies / "small", ignore=shutil.ignore_patterns("dicom", "t2*"))
    huge = studies / "huge"
    huge.mkdir()
    shape, affine = (640, 640, 400), np.diag([0.5, 0.5, 0.5, 1.0])   # 164 M voxels
    lesion = np.zeros(shape, np.uint8)
    lesion[300:310, 300:310, 100:300] = 1
    nib.save(nib.Nifti1Image(lesion, affine), huge / "lesion.nii.gz")
    del lesion
    image = np.zeros(shape, np.int16)
    image[::7] = 5
    nib.save(nib.Nifti1Image(image, affine), huge / "t1c.nii.gz")
    del image
    out = tmp_path / "out"
    done = _run(studies, out, "--workers", "1", "--memory-per-worker", "1GiB")
    assert done.returncode == 101, done.stderr
    report = _report(out)
    assert report["sub-small"]["status"] == DONE
    assert report["sub-huge"]["status"] == FAILED
    assert "over its memory limit (1.00 GiB)" in report["sub-huge"]["reason"]
    assert "memory limit 1.00 GiB each" in done.stderr


# ----------------------------------------------------------------------------- what makes a study current
def _twin_copy(folder: Path) -> Path:
    shutil.copytree(SAMPLE / "twin", folder, ignore=shutil.ignore_patterns("dicom", "t2*", "truth*"))
    return folder


def test_a_study_json_is_current_only_while_the_files_it_names_are(tmp_path):
    data = _twin_copy(tmp_path / "data")
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "p1.json").write_text(json.dumps({"lesions": "../data/lesion.nii.gz", "image": "../data/t1c.nii.gz",
                                                 "levels": "../data/landmarks.csv"}), encoding="utf-8")
    out = tmp_path / "out"
    assert run_participants(studies, out, settings=SETTINGS, workers=0).counts == {DONE: 1}
    assert len(_lesions(out, "p1", None)) == 2
    shutil.copy(SAMPLE / "solitary" / "lesion.nii.gz", data / "lesion.nii.gz")     # only the named file changes
    assert run_participants(studies, out, settings=SETTINGS, workers=0).counts == {DONE: 1}
    assert len(_lesions(out, "p1", None)) == 1


def test_a_manifest_row_is_current_only_while_its_options_and_parts_are(tmp_path):
    _twin_copy(tmp_path / "twin")
    manifest = tmp_path / "m.csv"

    def write(edema_column: str, kind: str) -> None:
        manifest.write_text(f"participant_id,lesions,{edema_column},levels,levels_kind\n"
                            f"01,twin/lesion.nii.gz,twin/edema.nii.gz,twin/landmarks.csv,{kind}\n", encoding="utf-8")

    out = tmp_path / "out"
    write("edema", "auto")
    assert run_participants(manifest, out, settings=SETTINGS, workers=0).counts == {DONE: 1}
    assert run_participants(manifest, out, settings=SETTINGS, workers=0).counts == {SKIPPED: 1}
    write("edema", "landmarks")                       # the same files, another option
    assert run_participants(manifest, out, settings=SETTINGS, workers=0).counts == {DONE: 1}
    write("cord", "landmarks")                        # the same file in another part
    assert run_participants(manifest, out, settings=SETTINGS, workers=0).counts == {DONE: 1}
    folder = bids.session_folder(out, "01", None)
    assert not [r for r in bids.read_tsv(folder / f"sub-01_{bids.MEASUREMENTS}.tsv") if r["kind"] == "edema"]


def test_a_failed_rerun_leaves_no_old_outputs_for_the_group_to_read(tmp_path):
    studies = tmp_path / "studies"
    a, b = _twin_copy(studies / "a"), _twin_copy(studies / "b")
    out = tmp_path / "out"
    assert run_participants(studies, out, settings=SETTINGS, workers=0).counts == {DONE: 2}
    assert (bids.session_folder(out, "b", None) / "sub-b_desc-edema_dseg.nii.gz").is_file()
    (a / "lesion.nii.gz").write_bytes(b"broken")
    (b / "edema.nii.gz").unlink()                   # b now has no edema: its old edema labels must go
    again = run_participants(studies, out, settings=SETTINGS, workers=0)
    assert {o.name: o.status for o in again.outcomes} == {"sub-a": FAILED, "sub-b": DONE}
    assert list(bids.session_folder(out, "a", None).iterdir()) == []
    assert not list(bids.session_folder(out, "b", None).glob("*edema_dseg*"))
    from lesionview.batch.group import write_group

    assert write_group(out).participants == 1


def test_an_edema_mask_stored_in_another_axis_order_gets_its_label_image(tmp_path):
    import nibabel as nib
    import numpy as np

    study = _twin_copy(tmp_path / "studies" / "p")
    edema = nib.load(study / "edema.nii.gz")
    flipped = nib.as_closest_canonical(edema)            # the same voxels, stored RAS
    assert not np.allclose(flipped.affine, edema.affine)
    nib.save(flipped, study / "edema.nii.gz")
    out = tmp_path / "out"
    assert run_participants(tmp_path / "studies", out, settings=SETTINGS, workers=0).counts == {DONE: 1}
    folder = bids.session_folder(out, "p", None)
    rows = [r for r in bids.read_tsv(folder / f"sub-p_{bids.MEASUREMENTS}.tsv") if r["kind"] == "edema"]
    labels = np.asarray(nib.load(folder / "sub-p_desc-edema_dseg.nii.gz").dataobj)
    assert [int((labels == int(r["id"])).sum()) for r in rows] == [int(r["voxel_count"]) for r in rows]


def test_one_ambiguous_bids_session_fails_alone(tmp_path):
    root = _bids(tmp_path / "bids")
    labels = root / "derivatives/labels/sub-02/anat"
    shutil.copy(labels / "sub-02_ce-gadolinium_T1w_label-lesion_seg.nii.gz", labels / "sub-02_T2w_label-lesion_seg.nii.gz")
    result = run_participants(root, tmp_path / "out", settings=SETTINGS, workers=0)
    outcomes = {o.name: o for o in result.outcomes}
    assert outcomes["sub-02"].status == FAILED and "2 lesion mask" in outcomes["sub-02"].reason
    assert outcomes["sub-01/ses-01"].status == DONE and outcomes["sub-01/ses-02"].status == DONE


def test_a_study_label_three_ways_and_blank_manifest_rows(tmp_path):
    studies = tmp_path / "studies"
    _twin_copy(studies / "sub-01")
    _twin_copy(studies / "patient_02")
    jobs, _ = find_jobs(studies, participants=["patient_02"])
    assert [j.name for j in jobs] == ["sub-patient02"]
    assert sorted(j.name for j in find_jobs(studies)[0]) == ["sub-01", "sub-patient02"]
    manifest = tmp_path / "m.csv"
    manifest.write_text("participant_id,study\nsub-01,studies/sub-01\n,\n,,\n", encoding="utf-8")
    assert [j.name for j in find_jobs(manifest)[0]] == ["sub-01"]


def test_manifest_booleans_and_lists_are_parsed_or_refused(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("participant_id,lesions,resample,lesion_segment\n01,l.nii.gz,false,1; 3\n02,l.nii.gz,yes,\n",
                        encoding="utf-8")
    jobs = find_jobs(manifest)[0]
    assert [j.spec.get("resample") for j in jobs] == [False, True] and jobs[0].spec["lesion_segment"] == ["1", "3"]
    manifest.write_text("participant_id,lesions,resample\n01,l.nii.gz,maybe\n", encoding="utf-8")
    done = _run(manifest, tmp_path / "out", "--workers", "0")
    assert done.returncode == 2 and "row 2: resample is 'maybe', not true or false" in done.stderr


def test_a_fifo_in_a_manifest_fails_its_study_without_hanging(tmp_path):
    import os

    _twin_copy(tmp_path / "twin")
    os.mkfifo(tmp_path / "fifo.nii.gz")
    manifest = tmp_path / "m.csv"
    manifest.write_text("participant_id,lesions\n01,fifo.nii.gz\n02,twin/lesion.nii.gz\n", encoding="utf-8")
    result = run_participants(manifest, tmp_path / "out", settings=SETTINGS, workers=0)
    outcomes = {o.name: o for o in result.outcomes}
    assert outcomes["sub-01"].status == FAILED and "FIFO" in outcomes["sub-01"].reason
    assert outcomes["sub-02"].status == DONE


@pytest.mark.parametrize(("args", "said"), [
    (("--memory-per-worker", "lots"), "--memory-per-worker 'lots' is not an amount of memory"),
    (("--session-label", "99"), "has no session 99"),
    (("--workers", "-1"), "--workers is -1"),
])
def test_bad_options_are_refused_before_anything_is_written(tmp_path, args, said):
    root = _bids(tmp_path / "bids")
    out = tmp_path / "out"
    done = _run(root, out, *args)
    assert done.returncode == 2 and said in done.stderr
    assert not out.exists()


def test_output_folders_that_would_mix_with_other_files_are_refused(tmp_path):
    root = _bids(tmp_path / "bids")
    notes = tmp_path / "project"
    notes.mkdir()
    (notes / "README").write_text("My project notes", encoding="utf-8")
    done = _run(root, notes, "--workers", "0")
    assert done.returncode == 2 and "holds other files" in done.stderr
    assert (notes / "README").read_text(encoding="utf-8") == "My project notes"
    holds = _run(root, root / "derivatives", "--workers", "0")      # it holds derivatives/labels
    assert holds.returncode == 2 and "holds the input" in holds.stderr
    # A flat manifest's files protect only themselves: an output folder beside them is fine.
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(SAMPLE / "twin" / "lesion.nii.gz", flat / "p1_lesion.nii.gz")
    (flat / "m.csv").write_text("participant_id,lesions\n01,p1_lesion.nii.gz\n", encoding="utf-8")
    assert _run(flat / "m.csv", flat / "derivatives" / "lesionview", "--workers", "0").returncode == 0


def test_one_study_given_as_the_folder_of_studies_is_refused(tmp_path):
    study = _twin_copy(tmp_path / "p1")
    with pytest.raises(InputError, match="is one study"):
        find_jobs(study)


def test_label_values_beyond_16_bits_keep_their_ids(tmp_path):
    import nibabel as nib
    import numpy as np

    study = _twin_copy(tmp_path / "studies" / "p")
    lesion = nib.load(study / "lesion.nii.gz")
    from scipy import ndimage

    parts, n = ndimage.label(np.asarray(lesion.dataobj) > 0, np.ones((3, 3, 3)))
    assert n == 2
    labels = np.where(parts == 1, 70000, np.where(parts == 2, 3, 0)).astype(np.int32)   # a label mask
    nib.save(nib.Nifti1Image(labels, lesion.affine), study / "lesion.nii.gz")
    out = tmp_path / "out"
    run_participants(tmp_path / "studies", out, settings=SETTINGS, workers=0)
    folder = bids.session_folder(out, "p", None)
    ids = [int(r["id"]) for r in bids.read_tsv(folder / f"sub-p_{bids.MEASUREMENTS}.tsv") if r["kind"] == "lesion"]
    values = set(np.unique(np.asarray(nib.load(folder / "sub-p_desc-lesion_dseg.nii.gz").dataobj))) - {0}
    assert values == set(ids) == {3, 70000}


def test_two_batches_with_relative_paths_share_a_running_cluster(tmp_path):
    """--scheduler: the workers run elsewhere (another working folder), and another batch may use
    the same cluster at the same time with the same subject names."""
    from distributed import LocalCluster

    _bids(tmp_path / "bids")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        runs = [subprocess.Popen([str(LESIONVIEW), "batch", "bids", out, "--scheduler", cluster.scheduler_address],
                                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for out in ("out_a", "out_b")]
        for run in runs:
            _, err = run.communicate(timeout=300)
            assert run.returncode == 0, err
            assert f"dask cluster at {cluster.scheduler_address}: 1 workers x 2 thread" in err
    for out in ("out_a", "out_b"):
        _assert_case(_lesions(tmp_path / out, "01", "01"), "twin")
        _assert_case(_lesions(tmp_path / out, "01", "02"), "solitary")


def test_a_study_queued_behind_one_that_kills_its_worker_is_measured(tmp_path):
    """With one worker, the next study waits on it: when the first kills the worker (over its
    memory limit), the second dies too, is run again alone, and is measured; only the culprit fails."""
    import nibabel as nib
    import numpy as np

    studies = tmp_path / "studies"
    for name in ("b_small", "c_small"):
        shutil.copytree(SAMPLE / "twin", studies / name, ignore=shutil.ignore_patterns("dicom", "t2*"))
    huge = studies / "a_huge"
    huge.mkdir()
    shape, affine = (640, 640, 400), np.diag([0.5, 0.5, 0.5, 1.0])
    lesion = np.zeros(shape, np.uint8)
    lesion[300:310, 300:310, 100:300] = 1
    nib.save(nib.Nifti1Image(lesion, affine), huge / "lesion.nii.gz")
    result = run_participants(studies, tmp_path / "out", settings=SETTINGS, workers=1, memory="600MiB")
    statuses = {o.name: o.status for o in result.outcomes}
    assert statuses == {"sub-ahuge": FAILED, "sub-bsmall": DONE, "sub-csmall": DONE}


def _written(folder, pattern: str) -> bool:
    """Whether a file matching ``pattern`` is under ``folder`` yet, while the batch writes into it:
    its temporary folders may vanish while the walk is in them."""
    try:
        return any(True for _ in folder.rglob(pattern))
    except FileNotFoundError:
        return False


def test_sigterm_stops_the_batch_like_ctrl_c(tmp_path):
    """`kill PID` (or a SLURM time limit on the process running the batch): exit 130, no traceback,
    the batch report written with the studies not reached as "not run"."""
    import os
    import signal
    import time

    studies = tmp_path / "studies"
    seed = _twin_copy(tmp_path / "seed")
    for i in range(40):
        (studies / f"s{i:02d}").mkdir(parents=True)
        for f in seed.iterdir():
            os.link(f, studies / f"s{i:02d}" / f.name)
    out = tmp_path / "out"
    proc = subprocess.Popen([str(LESIONVIEW), "batch", str(studies), str(out), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _written(out, f"*_{bids.PROVENANCE}.json") and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    statuses = [r["status"] for r in _report(out).values()]
    assert "not run" in statuses and len(statuses) == 40
