"""Longitudinal comparison: alignment across poses, lesion matching and classes, RANO-BM responses.

The studies are the analytic phantom rendered with the patient moved by a known rigid transform
(``pose``): the anatomy point ``a`` lies at scanner point ``R a + s``, so the image is the phantom
sampled on the scanner grid carried back by the inverse pose, and landmarks are the phantom's
moved by the pose. Expected classes and responses are derived here from the definitions.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace

import jsonschema
import numpy as np
import pytest

from lesionview.compare import compare, write_csv
from lesionview.compare import schema as compare_schema
from lesionview.compare.align import level_coordinate, rigid_fit
from lesionview.compare.models import ChangeClass, EdemaExtent, ResponseClass
from lesionview.compare.response import choose_targets, responses
from lesionview.geometry import Geometry
from lesionview.levels import LevelModel
from lesionview.measure.models import Lesion as LesionRow
from lesionview.phantom import CASES, Case, Lesion, landmarks, render, render_maps
from lesionview.study import Study
from lesionview.volume import Volume

#: Scanner grid of every phantom study: 1.5 mm pixels, 2 mm axial slices, wide enough for the
#: spine region C2-T1 after the patient moved 30 mm and turned 10 degrees.
GRID = Geometry((70, 76, 84), (1.5, 1.5, 2.0), (-52.0, -62.0, -92.0))
DISCS = ["C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7", "C7/T1"]


def rotation(axis, degrees) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.radians(degrees)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


@dataclass(frozen=True)
class Pose:
    rotation: np.ndarray
    shift: np.ndarray

    def apply(self, points) -> np.ndarray:
        return np.asarray(points, float) @ self.rotation.T + self.shift


IDENTITY = Pose(np.eye(3), np.zeros(3))


def phantom_study(lesions, pose: Pose = IDENTITY, *, label: str, date: str, with_levels=True, with_images=True):
    """The twin phantom's anatomy with ``lesions`` (phantom.Lesion), the patient moved by ``pose``."""
    case = Case("twin", "test", tuple(lesions), CASES["twin"].edema, "", "T", "LV-TEST")
    r = pose.rotation
    moved = Geometry(GRID.shape, GRID.spacing, r.T @ (np.array(GRID.origin) - pose.shift), r.T @ GRID.direction_matrix)
    maps = render_maps(case, moved)
    image = render(case, moved, "T2") if with_images else None
    marks = {m["name"]: m["position"] for m in landmarks() if m["kind"] == "disc"}
    levels = (LevelModel.from_landmarks(DISCS, pose.apply([marks[d] for d in DISCS])) if with_levels else None)
    vol = lambda a: Volume(np.asarray(a), GRID)
    return Study(images={"t2": vol(image.array)} if with_images else {}, lesions=vol(maps.lesion_labels != 0),
                  edema=vol(maps.edema), cord=vol(maps.cord), levels=levels, patient_id="LV-TEST",
                  study_uid=f"1.2.826.0.1.3680043.9.{date}", study_date=date, label=label)


# Lesions along the cord (s: mm below the foramen magnum; semi-axes: along the cord, AP, LR).
A = Lesion(s=60.0, a=-0.3, x=0.3, semi_axes=(3.0, 2.0, 2.0))
A_GROWN = Lesion(s=60.0, a=-0.3, x=0.3, semi_axes=(4.5, 3.2, 3.5))
B = Lesion(s=101.5, a=-0.3, x=-0.4, semi_axes=(5.5, 3.0, 3.6))
B_SHRUNK = Lesion(s=101.5, a=-0.3, x=-0.4, semi_axes=(3.0, 1.2, 1.4))
C = Lesion(s=125.0, a=0.0, x=0.0, semi_axes=(2.5, 1.8, 1.8))
D = Lesion(s=38.0, a=0.0, x=0.0, semi_axes=(2.5, 1.8, 1.8))

MOVED = Pose(rotation([0.3, 1.0, 0.2], 10.0), np.array([12.0, -17.0, 21.0]))   # |shift| 29.6 mm


@pytest.fixture(scope="module")
def baseline():
    return phantom_study([A, B, C], label="t0", date="20240105")


@pytest.fixture(scope="module")
def changed():
    """A grown, B shrunk, C resolved, D new; the patient moved 30 mm and turned 10 degrees."""
    return phantom_study([A_GROWN, B_SHRUNK, D], MOVED, label="t1", date="20240410")


def _by_change(interval) -> dict[str, str]:
    return {c.lesion: c.change.value for c in interval.changes}


# ------------------------------------------------------------------------------ alignment
def test_rigid_fit_recovers_a_known_pose():
    pts = np.array([[0, -11.5, 47.5], [0, -14.1, 27.5], [0, -15.2, 7.0], [0, -15.1, -13.5], [0, -13.7, -33.9]])
    fit, rms = rigid_fit(MOVED.apply(pts), pts)
    assert rms < 0.5
    # The fit maps moved points back: check on points off the landmark line too.
    probe = np.array([[20.0, 10.0, 0.0], [-15.0, 30.0, 40.0]])
    assert np.abs(fit.apply(MOVED.apply(probe)) - probe).max() < 3.0


def test_level_coordinate_is_level_plus_fraction():
    m = LevelModel.from_landmarks(["C4/C5", "C5/C6"], [[0, 0, 10], [0, 0, -10]])
    # Disc C4/C5 sits at 4.5, C5/C6 at 5.5; midway between them is the middle of C5.
    assert level_coordinate(m, [[0, 0, 10], [0, 0, 0], [0, 0, -5]]).tolist() == pytest.approx([4.5, 5.0, 5.25])


def test_alignment_across_a_30mm_10deg_pose_change_matches_exactly(baseline, changed):
    result = compare([changed, baseline])          # given out of order: sorted by study date
    assert [t.label for t in result.timepoints] == ["t0", "t1"]
    al = result.alignments[0]
    assert al.accepted and al.method == "rigid registration" and al.initialisation == "level landmarks"
    assert al.residual_mm < 2.0
    assert al.rotation_deg == pytest.approx(10.0, abs=1.5)
    # Baseline ids go superior to inferior: A (C3) L1, B (C6) L2, C (C7) L3; the new D is L4.
    classes = _by_change(result.intervals[0])
    assert classes == {"L1": "grown", "L2": "shrunk", "L3": "resolved", "L4": "new"}
    grown = next(c for c in result.intervals[0].changes if c.lesion == "L1")
    assert grown.diameter_change_mm > 0 and grown.volume_change_mm3 > 0
    assert grown.distance_mm < 2.0 and grown.dice > 0.3
    assert result.responses[1].response == ResponseClass.PD          # a new lesion
    assert result.responses[1].new_lesions == ["L4"]


def _carried(matrix, point) -> np.ndarray:
    return (np.asarray(matrix) @ np.append(point, 1.0))[:3]


def test_alignment_matrix_carries_later_lesions_onto_their_earlier_selves(baseline, changed):
    """matrix_lps maps the later frame into the earlier one: the inverse of the pose the patient took."""
    result = compare([baseline, changed])
    al = result.alignments[0]
    m = np.asarray(al.matrix_lps)
    assert m.shape == (4, 4) and np.allclose(m[3], [0, 0, 0, 1])
    assert np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-6)       # a rotation
    matched = [les for les in result.lesions if len(les.observations) == 2]
    assert len(matched) == 2                        # A (grown) and B (shrunk) are concentric with before
    for les in matched:
        before, after = (np.asarray(o.centroid_lps_mm) for o in les.observations)
        assert np.linalg.norm(_carried(al.matrix_lps, after) - before) < 1.0, les.id
    # The truth: an anatomy point a sits at R a + s in the later study and at a in the baseline.
    probe = np.array([[20.0, 10.0, 0.0], [-15.0, 30.0, 40.0], [0.0, -14.0, 10.0]])
    for a in probe:
        assert np.linalg.norm(_carried(al.matrix_lps, MOVED.apply(a)) - a) < 2.0


def test_identical_studies_are_stable_with_zero_change(baseline):
    again = phantom_study([A, B, C], label="t1", date="20240410")
    result = compare([baseline, again])
    assert result.alignments[0].residual_mm < 1.0
    m = np.asarray(result.alignments[0].matrix_lps)                 # the identity map
    assert np.allclose(m[:3, :3], np.eye(3), atol=0.01)            # 0.01 rad: about half a degree
    assert np.linalg.norm(m[:3, 3]) < 0.5
    changes = result.intervals[0].changes
    assert {c.change for c in changes} == {ChangeClass.STABLE} and len(changes) == 3
    for c in changes:
        assert c.diameter_change_mm == pytest.approx(0.0, abs=1e-6)
        assert c.volume_change_mm3 == pytest.approx(0.0, abs=1e-6)
        assert c.dice > 0.95
    # The measurable lesions (maximum diameter >= 10 mm, >= 5 mm across the cord) are the targets.
    measured = baseline.measure()
    targets = [les for les in measured.lesions if les.max_diameter_mm >= 10 and les.axial_long_mm >= 5]
    assert len(result.responses[0].target_lesions) == len(targets)
    want = ResponseClass.SD if targets else ResponseClass.NON_CR_NON_PD
    assert result.responses[1].response == want
    assert result.responses[1].edema_level_change_from_baseline == 0


def test_storage_orientation_changes_nothing(baseline, changed):
    """The same later study stored in another axis order (PIR) gives the same comparison."""
    flipped = replace(changed, images={k: v.reoriented("PIR") for k, v in changed.images.items()},
                      lesions=changed.lesions.reoriented("PIR"), edema=changed.edema.reoriented("PIR"),
                      cord=changed.cord.reoriented("PIR"))
    a, b = compare([baseline, changed]), compare([baseline, flipped])
    assert _by_change(b.intervals[0]) == _by_change(a.intervals[0])
    for x, y in zip(a.intervals[0].changes, b.intervals[0].changes, strict=True):
        assert (x.diameter_change_mm is None) == (y.diameter_change_mm is None)
        if x.diameter_change_mm is not None:
            assert y.diameter_change_mm == pytest.approx(x.diameter_change_mm, abs=0.05)
            assert y.distance_mm == pytest.approx(x.distance_mm, abs=0.5)
    assert b.alignments[0].residual_mm == pytest.approx(a.alignments[0].residual_mm, abs=0.5)


@pytest.mark.parametrize("pose", [Pose(rotation([1, 0, 0], -8.0), np.array([-25.0, 15.0, -10.0])),
                                  Pose(rotation([0, 0, 1], 10.0), np.array([0.0, 0.0, -30.0]))])
def test_matching_is_robust_to_pose_without_levels(baseline, pose):
    """No levels in the later study: initialised from the cord, checked on the cord centerline."""
    later = phantom_study([A, B, C], pose, label="t1", date="20240410", with_levels=False)
    result = compare([baseline, later])
    al = result.alignments[0]
    assert al.accepted and al.initialisation == "cord" and al.residual_kind == "cord centerline"
    assert al.residual_mm < 2.0
    assert _by_change(result.intervals[0]) == {"L1": "stable", "L2": "stable", "L3": "stable"}


def test_poor_alignment_is_refused(baseline):
    """Later landmarks scattered by 12 mm (SD) across the spine: no rigid map fits them."""
    later = phantom_study([A, B, C], MOVED, label="t1", date="20240410")
    marks = later.levels.landmark_positions
    rng = np.random.default_rng(1)
    bad = LevelModel.from_landmarks(DISCS, marks + rng.normal(0, 12.0, marks.shape) * [1, 1, 0])
    later = replace(later, levels=bad)
    result = compare([baseline, later])
    al = result.alignments[0]
    assert not al.accepted and al.residual_mm > 5.0 and "exceeds" in al.reason
    assert al.matrix_lps is None                      # refused: no map to use
    assert {c.change for c in result.intervals[0].changes} == {ChangeClass.NOT_MATCHED}
    assert result.responses[1].response == ResponseClass.NE


def test_level_coordinate_fallback_without_images(baseline, changed):
    """No images to register and only two common landmarks: matching along the cord by level."""
    def strip(s, keep):
        m = LevelModel.from_landmarks(keep, [dict(zip(s.levels.landmark_names, s.levels.landmark_positions))[k]
                                             for k in keep])
        return replace(s, images={}, levels=m)

    result = compare([strip(baseline, ["C2/C3", "C4/C5", "C7/T1"]), strip(changed, ["C3/C4", "C6/C7"])])
    assert result.alignments[0].method == "level coordinate" and result.alignments[0].accepted
    assert result.alignments[0].matrix_lps is None
    assert _by_change(result.intervals[0]) == {"L1": "grown", "L2": "shrunk", "L3": "resolved", "L4": "new"}


# ------------------------------------------------------------------------------ merge / split
def _block_study(blocks, *, label, date):
    """Boxes of lesion voxels in a straight cord on a 1 mm grid, with disc landmarks every 16 mm."""
    g = Geometry((24, 24, 100), (1.0, 1.0, 1.0), (-12.0, -12.0, -50.0))
    lesions = np.zeros(g.shape, np.uint8)
    for z0, z1 in blocks:
        lesions[9:15, 9:15, z0:z1] = 1
    cord = np.zeros(g.shape, np.uint8)
    cord[7:17, 7:17, :] = 1
    z = 40.0 - 16.0 * np.arange(6)
    levels = LevelModel.from_landmarks(DISCS, np.c_[np.zeros(6), 0.5 * np.ones(6), z])
    return Study(images={}, lesions=Volume(lesions, g), cord=Volume(cord, g), levels=levels, label=label,
                  study_date=date)


def test_merge_and_split_from_overlap():
    two = _block_study([(40, 46), (49, 55)], label="t0", date="20240101")
    one = _block_study([(40, 55)], label="t1", date="20240201")
    merged = compare([two, one], register=False)
    classes = sorted(c.change.value for c in merged.intervals[0].changes)
    assert merged.alignments[0].method == "level landmarks"
    assert classes == ["grown", "merged"] or classes == ["merged", "stable"] or classes == ["merged", "shrunk"]
    m = next(c for c in merged.intervals[0].changes if c.change == ChangeClass.MERGED)
    assert m.related and m.related[0] != m.lesion
    split = compare([_block_study([(40, 55)], label="t0", date="20240101"),
                     _block_study([(40, 46), (49, 55)], label="t1", date="20240201")], register=False)
    s = next(c for c in split.intervals[0].changes if c.change == ChangeClass.SPLIT)
    assert s.related == ["L1"] and s.lesion == "L2"


# ------------------------------------------------------------------------------ RANO-BM responses
def _row(i, ld, across=None):
    """A lesion of longest diameter ``ld`` along the cord, ``across`` (default 0.7 ld) across it."""
    across = across if across is not None else 0.7 * ld
    return LesionRow(id=i, voxel_count=100, volume_mm3=ld**3 / 2, centroid_lps_mm=(0, 0, -10.0 * i),
                     max_diameter_ibsi_mm=ld, max_diameter_mm=ld, axial_long_mm=across,
                     axial_short_mm=0.8 * across, craniocaudal_mm=ld,
                     craniocaudal_uncertainty_mm=3.0, measurable=ld >= 10)


def _responses(series, new=None, fragments=None):
    """series: {patient id: [LD or None per timepoint]} -> response classes after baseline."""
    n = len(next(iter(series.values())))
    tracks = {pid: {t: _row(k, ld) for t, ld in enumerate(lds) if ld is not None}
              for k, (pid, lds) in enumerate(series.items(), start=1)}
    targets = choose_targets({pid: tr[0] for pid, tr in tracks.items() if 0 in tr})
    new = new or [[] for _ in range(n)]
    out = responses([f"t{t}" for t in range(n)], tracks, targets, fragments or {}, new, [True] * n,
                    [EdemaExtent()] * n)
    return targets, [r.response.value for r in out[1:]], out


def test_response_partial_then_progression_over_nadir():
    # Sums: 35 (baseline), 24 (<= 70 % of 35 = 24.5: PR), 22 (nadir 24: -8 %; vs baseline -37 %: PR),
    # 30 (over the nadir 22 by 36 % >= 20 %, and L1 grew 13 -> 20 = 7 mm >= 5 mm: PD).
    targets, classes, out = _responses({"L1": [20, 14, 13, 20], "L2": [15, 10, 9, 10]})
    assert targets == ["L1", "L2"]
    assert classes == ["partial response", "partial response", "progressive disease"]
    # Against the baseline alone t3 (30 vs 35: -14 %) is stable; against the nadir alone t1 (24, nadir 35)
    # is a partial response, t2 (22 vs nadir 24: -8 %) stable.
    assert [r.response_vs_baseline.value for r in out[1:]] == ["partial response", "partial response",
                                                                "stable disease"]
    assert [r.response_vs_nadir.value for r in out[1:]] == ["partial response", "stable disease",
                                                             "progressive disease"]
    assert out[3].nadir_timepoint == "t2" and out[3].nadir_sum_mm == pytest.approx(22.0)
    assert out[3].change_from_nadir_percent == pytest.approx(100 * 8 / 22, abs=0.01)
    assert out[1].change_from_baseline_percent == pytest.approx(100 * (24 - 35) / 35, abs=0.01)


def test_response_needs_an_absolute_5mm_increase():
    # 20 + 20 = 40 -> 24 + 24 = 48: +20 % over the nadir (baseline) but each lesion only +4 mm: SD.
    _, classes, _ = _responses({"L1": [20, 24], "L2": [20, 24]})
    assert classes == ["stable disease"]
    # One lesion +5 mm, the other unchanged: 40 -> 45 is +12.5 %: below 20 %, SD.
    _, classes, _ = _responses({"L1": [20, 25], "L2": [20, 20]})
    assert classes == ["stable disease"]


def test_response_complete_new_lesion_and_targets():
    _, classes, _ = _responses({"L1": [20, None], "L2": [4, None]})
    assert classes == ["complete response"]
    # A new lesion is progression whatever the sum does.
    _, classes, _ = _responses({"L1": [20, 8], "L3": [None, 4]}, new=[[], ["L3"]])
    assert classes == ["progressive disease"]
    # Non-measurable lesions only (LD < 10 mm): no target, lesions remain.
    targets, classes, _ = _responses({"L1": [6, 6]})
    assert targets == [] and classes == ["non-CR/non-PD"]
    # At most 5 targets, largest first; a lesion 12 mm long but 4 mm across is not measurable.
    series = {f"L{k}": [10 + k, 10 + k] for k in range(1, 8)}
    assert choose_targets({p: _row(1, v[0]) for p, v in series.items()}) == ["L7", "L6", "L5", "L4", "L3"]
    assert choose_targets({"L1": _row(1, 12, across=4)}) == []      # under 5 mm across the cord


def test_split_fragments_count_for_their_target():
    # L1 (20 mm) splits into L1 (8) and L2 (9): the target's LD is 17, -15 %: SD, not PR.
    _, classes, out = _responses({"L1": [20, 8], "L2": [None, 9]}, fragments={"L2": "L1"})
    assert out[1].sum_longest_diameters_mm == pytest.approx(17.0) and classes == ["stable disease"]


# ------------------------------------------------------------------------------ the seed timeline
_SHORT = {"CR": "complete response", "PR": "partial response", "SD": "stable disease", "PD": "progressive disease",
          "baseline": "baseline"}


@pytest.fixture(scope="module")
def timeline():
    from lesionview.phantom.timeline import timeline_path

    root = timeline_path()          # sample_data/timeline, generated first when missing
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    studies = [Study.from_folder(root / tp["folder"]) for tp in truth["timepoints"]]
    return truth, compare(studies)


def test_timeline_matches_its_truth_exactly(timeline):
    truth, result = timeline
    assert [t.label for t in result.timepoints] == [tp["label"] for tp in truth["timepoints"]]
    assert all(a.accepted and a.method == "rigid registration" and a.residual_mm < 1.0 for a in result.alignments)
    # Every patient lesion is the truth's, made of the same lesion (label value) at the same timepoints.
    seen = {les.id: {o.timepoint: o.lesion_id for o in les.observations} for les in result.lesions}
    assert seen == {pid: {tp: row["id"] for tp, row in per.items()} for pid, per in truth["lesions"].items()}
    for interval, expected in zip(result.intervals, truth["intervals"], strict=True):
        got = _by_change(interval)
        want = {pid: "new" for pid in expected["new"]} | {pid: "resolved" for pid in expected["resolved"]}
        want |= {p["id"]: p["class"] for p in expected["persistent"]}
        want |= {pid: "merged" for pid in expected["merged"]} | {pid: "split" for pid in expected["split"]}
        assert got == want, interval.later
    assert [r.response.value for r in result.responses] == [
        _SHORT[tp["response"]] for tp in truth["response"]["timepoints"]]
    for key in ("response_vs_baseline", "response_vs_nadir"):
        assert [getattr(r, key) or "baseline" for r in result.responses] == [
            _SHORT[tp[key]] for tp in truth["response"]["timepoints"]]
    assert [r.new_lesions for r in result.responses] == [tp["new_lesions"] for tp in truth["response"]["timepoints"]]
    for resp, expected in zip(result.responses[1:], truth["intervals"], strict=True):
        assert resp.edema.levels == expected["edema"]["levels"][1]
        assert resp.edema_level_change_from_previous == expected["edema"]["level_count_change"]
        # Measured on 3 mm slices against the analytic length: within two slices.
        assert resp.edema_along_cord_change_from_previous_mm == pytest.approx(
            expected["edema"]["length_along_cord_change_mm"], abs=6.0)


# ------------------------------------------------------------------------------ outputs
def test_committed_schema_is_the_one_the_models_generate():
    path = compare_schema.SCHEMA_DIR / compare_schema.schema_filename()
    assert path.is_file(), f"{path} missing: run python -m lesionview.compare.schema"
    assert path.read_text(encoding="utf-8") == compare_schema.schema_text(), (
        "schema/ is out of date with the models: run python -m lesionview.compare.schema")


def test_json_validates_and_csv_has_a_row_per_lesion_per_timepoint(baseline, changed, tmp_path):
    result = compare([baseline, changed])
    jsonschema.validate(json.loads(result.model_dump_json()), compare_schema.json_schema())
    assert type(result).model_validate_json(result.model_dump_json()) == result
    path = write_csv(result, tmp_path / "out" / "comparison.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(result.lesions) * len(result.timepoints) == 8
    l4 = {r["timepoint"]: r for r in rows if r["lesion"] == "L4"}
    assert l4["t0"]["present"] == "False" and l4["t1"]["change"] == "new"
    assert [p.name for p in path.parent.iterdir()] == ["comparison.csv"]   # no temporary left behind
