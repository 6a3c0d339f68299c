"""The timeline sample (sample_data/timeline): four studies of one patient, each in its own pose and frame.

Every check goes to the written files (DICOM headers, masks, landmarks) and holds them to the analytic
definitions in lesionview.phantom.timeline and the reference phantom (sample_data/twin).
"""

import itertools
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy.spatial.transform import Rotation

from lesionview.io import load_volume
from lesionview.levels import LevelModel
from lesionview.levels.landmark_files import read_landmarks
from lesionview.measure import measure
from lesionview.phantom import CASES, VertebralLevels
from lesionview.phantom.timeline import series_folders, timeline

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
ROOT = SAMPLE / "timeline"
LABELS = ["t0", "t1", "t2", "t3"]
POINTS = {p.label: p for p in timeline()}


def _folder(label: str) -> Path:
    folder = ROOT / label
    series = [folder / "dicom" / name for name in series_folders(POINTS[label]).values()]
    if not (folder / "truth.json").is_file() or not all(s.is_dir() for s in series):
        pytest.fail(f"{folder} is incomplete: run `make sample` (python -m lesionview.phantom.timeline "
                    "--out sample_data --only-missing) first")
    return folder


def _truth(label: str) -> dict:
    return json.loads((_folder(label) / "truth.json").read_text())


def _headers(label: str) -> list[pydicom.Dataset]:
    """The first file of each DICOM series of a timepoint."""
    return [pydicom.dcmread(min((s).iterdir()), stop_before_pixels=True)
            for s in sorted((_folder(label) / "dicom").iterdir())]


def _half_voxel_in_grid(g, a, b) -> bool:
    """Whether points ``a`` and ``b`` differ by at most half a voxel along every array axis of ``g``."""
    delta = g.direction_matrix.T @ (np.asarray(a) - np.asarray(b))
    return bool(np.all(np.abs(delta) <= np.asarray(g.spacing) / 2 + 1e-6))


def _rigid(a: np.ndarray, b: np.ndarray):
    """Rotation angle (degrees), mean displacement (mm) and rms residual (mm) of the rigid fit a -> b."""
    rot, rmsd = Rotation.align_vectors(b - b.mean(0), a - a.mean(0))
    return np.degrees(rot.magnitude()), float(np.linalg.norm(b - a, axis=1).mean()), rmsd / np.sqrt(len(a))


def test_timepoints_are_the_seed_cases():
    # t0 is the solitary case, t2 the twin, t1 has no lesion and t3 one more than t2.
    assert [les for _, les in POINTS["t0"].lesions] == list(CASES["solitary"].lesions)
    assert [les for _, les in POINTS["t2"].lesions] == list(CASES["twin"].lesions)
    assert POINTS["t1"].lesions == () and len(POINTS["t3"].lesions) == 3


@pytest.mark.parametrize("label", LABELS)
def test_masks_match_the_truth_in_the_study_s_own_frame(label):
    folder, truth = _folder(label), _truth(label)
    lesions, edema, cord = (load_volume(folder / n) for n in ("lesion.nii.gz", "edema.nii.gz", "cord.nii.gz"))
    g = lesions.geometry
    levels = VertebralLevels.from_json(folder / "landmarks.json")
    labels = sorted(set(np.unique(lesions.array)) - {0})
    assert labels == [t["id"] for t in truth["lesions"]] == list(range(1, truth["lesion_count"] + 1))
    for t in truth["lesions"]:
        points = g.index_to_world(np.argwhere(lesions.array == t["id"]))
        assert _half_voxel_in_grid(g, points.mean(0), t["centre_lps_mm"]), (label, t["lesion_id"])
        assert levels.span(points) == t["levels"], (label, t["lesion_id"])
    assert levels.span(g.index_to_world(np.argwhere(edema.array > 0))) == truth["edema"]["levels"]
    # Lesions and edema never leave the cord.
    assert not np.any((lesions.array > 0) & (cord.array == 0)) and not np.any((edema.array > 0) & (cord.array == 0))


@pytest.mark.parametrize("label", LABELS)
def test_images_share_the_masks_grid_and_the_truth_s_identifiers(label):
    folder, truth = _folder(label), _truth(label)
    mask = load_volume(folder / "lesion.nii.gz").geometry
    for series in sorted((folder / "dicom").iterdir()):
        assert load_volume(series).geometry.same_space(mask, atol_mm=1e-3), series
    for ds in _headers(label):
        assert ds.StudyInstanceUID == truth["study_uid"]
        assert ds.FrameOfReferenceUID == truth["frame_of_reference_uid"]
        assert ds.StudyDate == truth["study_date"] and ds.PatientID == truth["patient_id"]


def test_separate_studies_of_one_patient_in_date_order():
    headers = {label: _headers(label) for label in LABELS}
    everything = [ds for hs in headers.values() for ds in hs]
    assert len({ds.PatientID for ds in everything}) == 1
    assert len({ds.SeriesInstanceUID for ds in everything}) == len(everything) == 2 * len(LABELS)
    for key in ("StudyInstanceUID", "FrameOfReferenceUID", "StudyDate"):
        per_study = [{ds.data_element(key).value for ds in hs} for hs in headers.values()]
        assert all(len(v) == 1 for v in per_study), key            # one value within a study
        assert len(set.union(*per_study)) == len(LABELS), key      # a different one in each
    dates = [hs[0].StudyDate for hs in headers.values()]
    assert dates == sorted(dates)


def test_one_study_is_axial_the_others_sagittal():
    planes = {}
    for label in LABELS:
        iop = np.array(_headers(label)[0].ImageOrientationPatient, float)
        normal = np.abs(np.cross(iop[:3], iop[3:]))
        planes[label] = {0: "sagittal", 2: "axial"}.get(int(np.argmax(normal)), "coronal")
        assert normal.max() == pytest.approx(1.0)  # planned in scanner axes: the patient is what moved
    assert sorted(planes.values()) == ["axial", "sagittal", "sagittal", "sagittal"]
    assert planes == {label: _truth(label)["acquisition_plane"] for label in LABELS}


def test_the_patient_is_repositioned_rigidly_at_every_visit():
    """The landmarks of each study are the reference phantom's, moved by the study's pose (and nothing else)."""
    reference = read_landmarks(SAMPLE / "twin" / "landmarks.csv")
    marks = {label: read_landmarks(_folder(label) / "landmarks.csv") for label in LABELS}
    for label, (names, points) in marks.items():
        assert names == reference[0]
        pose = _truth(label)["pose"]
        moved = reference[1] @ np.array(pose["matrix"]).T + pose["shift_mm"]
        assert np.abs(moved - points).max() < 1e-3, label
    fits = {(a, b): _rigid(marks[a][1], marks[b][1]) for a, b in itertools.combinations(LABELS, 2)}
    assert all(residual < 1e-3 for _, _, residual in fits.values())  # rigid: no deformation
    # Really different poses: some pair differs by >= 2 degrees and >= 10 mm ...
    assert any(angle >= 2 and shift >= 10 for angle, shift, _ in fits.values())
    assert all(angle >= 1 and shift >= 5 for angle, shift, _ in fits.values())
    # ... yet within what the comparison must handle (10 degrees, 30 mm) between consecutive studies.
    for a, b in itertools.pairwise(LABELS):
        angle, shift, _ = fits[(a, b)]
        assert angle <= 10 and shift <= 30, (a, b)


@pytest.mark.parametrize("label", LABELS)
def test_measure_finds_the_truth_s_lesions_and_levels(label):
    folder, truth = _folder(label), _truth(label)
    lesions = load_volume(folder / "lesion.nii.gz")
    result = measure(lesions, edema=load_volume(folder / "edema.nii.gz"), cord=load_volume(folder / "cord.nii.gz"),
                     levels=LevelModel.from_file(folder / "landmarks.csv"))
    assert len(result.lesions) == truth["lesion_count"]
    for les, true in zip(result.lesions, truth["lesions"]):  # both cranial to caudal
        assert les.levels.label == true["levels"]
        assert _half_voxel_in_grid(lesions.geometry, les.centroid_lps_mm, true["centre_lps_mm"])
    (ed,) = result.edema
    assert ed.levels.label == truth["edema"]["levels"]
    assert result.multiplicity.kind.value == truth["multiplicity"]


def _reference_centre(label: str, lesion_id: str) -> np.ndarray:
    """A lesion's mask centroid taken back to the reference frame with the study's pose."""
    folder, truth = _folder(label), _truth(label)
    (t,) = [t for t in truth["lesions"] if t["lesion_id"] == lesion_id]
    lesions = load_volume(folder / "lesion.nii.gz")
    centre = lesions.geometry.index_to_world(np.argwhere(lesions.array == t["id"])).mean(0)
    r = np.array(truth["pose"]["matrix"])
    return r.T @ (centre - truth["pose"]["shift_mm"])


def test_patient_level_ids_follow_the_same_lesion():
    # A persistent id sits at the same place of the anatomy; a new id is far from every earlier lesion.
    for lid in ("L2", "L3"):
        assert np.linalg.norm(_reference_centre("t2", lid) - _reference_centre("t3", lid)) < 6.0
    assert np.linalg.norm(_reference_centre("t2", "L2") - _reference_centre("t3", "L3")) > 10.0
    assert min(np.linalg.norm(_reference_centre("t3", "L4") - _reference_centre("t2", lid))
               for lid in ("L2", "L3")) > 30.0


def test_truth_of_matches_and_responses():
    truth = json.loads((ROOT / "truth.json").read_text())
    per = {label: {t["lesion_id"]: t for t in _truth(label)["lesions"]} for label in LABELS}
    intervals = {(i["from"], i["to"]): i for i in truth["intervals"]}
    assert intervals[("t0", "t1")]["resolved"] == ["L1"] and not intervals[("t0", "t1")]["new"]
    assert intervals[("t1", "t2")]["new"] == ["L2", "L3"]
    last = intervals[("t2", "t3")]
    assert last["new"] == ["L4"] and not last["resolved"] and not last["merged"] and not last["split"]
    changes = {p["id"]: p for p in last["persistent"]}
    for lid, kind in (("L2", "grown"), ("L3", "shrunk")):
        before, after = per["t2"][lid], per["t3"][lid]
        assert changes[lid]["class"] == kind
        assert changes[lid]["diameter_change_mm"] == pytest.approx(after["max_diameter_mm"] - before["max_diameter_mm"])
        assert changes[lid]["volume_change_mm3"] == pytest.approx(after["volume_mm3"] - before["volume_mm3"], abs=0.01)
    assert intervals[("t0", "t1")]["edema"]["levels"] == ["C1-C7", "C3-C6"]

    # RANO-BM, recomputed from the per-study truth: sums of longest diameters >= 10 mm.
    sums = {label: sum(t["max_diameter_mm"] for t in per[label].values() if t["max_diameter_mm"] >= 10)
            for label in LABELS}
    rows = {r["label"]: r for r in truth["response"]["timepoints"]}
    for label in LABELS:
        assert rows[label]["sum_longest_diameters_mm"] == pytest.approx(sums[label])
    assert rows["t0"]["response"] == "baseline"
    assert rows["t1"]["response"] == "CR"                     # all gone
    assert rows["t2"]["response"] == "PD"                     # new lesions (though 31 % below baseline)
    assert rows["t2"]["change_from_baseline_percent"] == pytest.approx(100 * (sums["t2"] / sums["t0"] - 1))
    assert rows["t2"]["nadir_sum_mm"] == sums["t1"] == 0
    assert rows["t3"]["response"] == "PD" and rows["t3"]["new_lesions"] == ["L4"]
