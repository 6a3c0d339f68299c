"""Spinal cord segments beside the vertebral levels: the published correspondence, the level
coordinate it is placed on, a segment label image (rootlets), and the fields every output carries.

Expected segments are derived here by hand from the published numbers (Cadotte et al. AJNR 2015,
Figure 3; Frostell et al. Front Neurol 2016, Table 3; Kim et al. J Korean Neurosurg Soc 2012;
Saifuddin et al. Spine 1998), never read back from the implementation's tables.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lesionview.cord import centerline_from_mask
from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.io import load_volume, write_nifti
from lesionview.levels import LevelModel
from lesionview.levels.segments import (
    estimate_segments,
    estimated_centres,
    extra_segments,
    level_coordinate,
    segment_index,
    segment_name,
    segments_cell,
    segments_from_image,
)
from lesionview.measure import measure
from lesionview.measure.models import StudyMeasurements
from lesionview.phantom import sample_path
from lesionview.volume import Volume

# ------------------------------------------------------------------ the published numbers, by hand
# Cadotte 2015, Figure 3: mm from the pontomedullary junction along the cord (mean, SD).
BODY_MM = {3: 69.99, 4: 86.11, 5: 101.16, 6: 115.54, 7: 130.08}
C3 = 3 + (51.46 - 69.99) / (86.11 - 69.99)          # 1.8505: above the C3 body, at the C3-C4 spacing
C4 = 3 + (65.68 - 69.99) / (86.11 - 69.99)          # 2.7326
C5 = 3 + (81.08 - 69.99) / (86.11 - 69.99)          # 3.6880
C6 = 4 + (95.39 - 86.11) / (101.16 - 86.11)         # 4.6166
C7 = 5 + (109.33 - 101.16) / (115.54 - 101.16)      # 5.5682
C8 = 6 + (122.77 - 115.54) / (130.08 - 115.54)      # 6.4973
SD = {"C3": 3.15 / 16.12, "C4": 3.96 / 16.12, "C5": 5.15 / 16.12, "C6": 5.68 / 15.05, "C7": 6.05 / 14.38,
      "C8": 7.03 / 14.54}
# Frostell 2016, Table 3: C1 1.6 %, C2 2.2 %, C3 3.5 %, C4 3.5 % of the cord length; C1 and C2 stacked
# above C3 at the C3-C4 scale (3.5 % between their centres), with C3's SD.
PER_PERCENT = (C4 - C3) / 3.5
C2 = C3 - PER_PERCENT * (2.2 + 3.5) / 2             # 1.1322
C1 = C2 - PER_PERCENT * (1.6 + 2.2) / 2             # 0.6534
# Kim 2012: thoracic segment Tn at the body of vertebra T(n-2): T3 at T1 (coordinate 8), T8 at T6 (13).
T3 = 8.0
T1, T2 = C8 + (T3 - C8) / 3, C8 + 2 * (T3 - C8) / 3  # evenly between C8 and T3
SD_T1 = SD["C8"] + (0.5 - SD["C8"]) / 3
SD_T2 = SD["C8"] + 2 * (0.5 - SD["C8"]) / 3


def _straight_spine() -> LevelModel:
    """Body centres C1..L2 every 20 mm down the z axis: body centre of level n at z = -20 n, so a
    point's level coordinate is -z / 20."""
    return LevelModel.from_landmarks([name for name in _body_names()], [[0, 0, -20.0 * n] for n in range(1, 22)])


def _body_names():
    return [f"C{i}" for i in range(1, 8)] + [f"T{i}" for i in range(1, 13)] + ["L1", "L2"]


def _at(u: float) -> np.ndarray:
    return np.array([[0.0, 0.0, -20.0 * u]])


# ------------------------------------------------------------------ the correspondence
def test_names_follow_the_sct_numbering():
    assert [segment_name(i) for i in (1, 2, 8, 9, 20, 21, 25, 26, 30)] == [
        "C1", "C2", "C8", "T1", "T12", "L1", "L5", "S1", "S5"]
    assert segment_index("c8") == 8 and segment_index("T1") == 9
    with pytest.raises(InputError):
        segment_index("C9")


def test_segment_centres_are_the_published_ones():
    centre, sd = estimated_centres()
    names = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "T1", "T2", "T3"]
    want = [C1, C2, C3, C4, C5, C6, C7, C8, T1, T2, T3]
    assert centre[1:12] == pytest.approx(want, abs=1e-6), names
    assert sd[3:9] == pytest.approx([SD[n] for n in ("C3", "C4", "C5", "C6", "C7", "C8")], abs=1e-6)
    assert sd[1] == sd[2] == pytest.approx(SD["C3"])
    assert sd[9:11] == pytest.approx([SD_T1, SD_T2], abs=1e-6)
    # Kim 2012: T8 at the T6 body (vertebra T6 = level 13), T12 at T10 (17); SD 0.5 assumed.
    assert centre[16] == pytest.approx(13.0) and centre[20] == pytest.approx(17.0) and sd[16] == 0.5
    # Saifuddin 1998: the cord (S5) ends at the lower third of L1 (20.3); lumbar and sacral segments
    # lie in order between the T12 centre and there, within the T11-L1 vertebrae.
    lumbosacral = centre[21:]
    assert np.all(np.diff(lumbosacral) > 0) and 17.0 < lumbosacral[0] < lumbosacral[-1] < 20.3
    assert estimate_segments(None).hi[-1] == pytest.approx(20.3)


# Each vertebral-body centre (level coordinate n) and the cord segment there, by hand: boundaries
# midway between the centres above (C1/C2 0.893, C2/C3 1.491, C3/C4 2.292, C4/C5 3.210, C5/C6 4.152,
# C6/C7 5.092, C7/C8 6.033, C8/T1 6.748, T1/T2 7.249, T2/T3 7.750, then every T n+0.5).
BODY_TO_SEGMENT = [("C1", 1, "C2"), ("C2", 2, "C3"), ("C3", 3, "C4"), ("C4", 4, "C5"), ("C5", 5, "C6"),
                   ("C6", 6, "C7"), ("C7", 7, "T1"), ("T1", 8, "T3"), ("T6", 13, "T8"), ("T10", 17, "T12")]


@pytest.mark.parametrize(("vertebra", "u", "segment"), BODY_TO_SEGMENT)
def test_each_vertebral_body_maps_to_its_published_segment(vertebra, u, segment):
    model = estimate_segments(_straight_spine())
    assert level_coordinate(model.levels, _at(u))[0] == pytest.approx(u)
    span = model.span(_at(u))
    assert (span.kind, span.estimated, span.first, span.last, span.count) == ("cord segment", True, segment,
                                                                              segment, 1)


def test_the_possible_range_moves_every_boundary_by_one_sd():
    model = estimate_segments(_straight_spine())
    # C5 body (5.0): in C6 (4.152-5.092). Boundaries 1 SD lower (C5/C6 SD (SD C5 + SD C6) / 2 = 0.348,
    # C6/C7 0.399): C6 spans 4.501-5.491, still C6 above; 1 SD higher: C7 starts at 5.092 - 0.399 =
    # 4.693 < 5.0, so it may lie in C7.
    c5 = model.span(_at(5.0))
    assert (c5.first, c5.possible_first, c5.possible_last) == ("C6", "C6", "C7")
    # C7 body (7.0): in T1 (6.748-7.249). 1 SD lower: C8 reaches 6.748 + (SD C8 + SD T1) / 2 = 7.234
    # > 7.0, so C8; 1 SD higher: T2 starts at 7.249 - (SD T1 + SD T2) / 2 = 6.757 < 7.0, so T2.
    c7 = model.span(_at(7.0))
    assert (c7.label, c7.possible_label) == ("T1", "C8-T2")
    assert extra_segments(c7) == ["C8", "T2"] and segments_cell(c7) == "T1 (C8? T2?)"
    # Between the two, fractions by volume, C1..C8 then T1.
    both = model.span(np.concatenate([_at(5.0), _at(5.5), _at(7.0)]))
    assert (both.label, both.count) == ("C6-T1", 4)
    assert both.fractions == pytest.approx({"C6": 1 / 3, "C7": 1 / 3, "T1": 1 / 3}, abs=1e-3)  # rounded to 4 places


def test_outside_the_vertebral_levels_no_segment_is_guessed():
    model = estimate_segments(_straight_spine())
    span = model.span(np.concatenate([_at(5.0), _at(30.0)]))        # 30: far below the last landmark
    assert span.first == span.last == "C6" and span.outside_fraction == pytest.approx(0.5)
    none = model.span(_at(-3.0))
    assert none.first is None and none.outside_fraction == 1.0 and none.kind == "cord segment"


# ------------------------------------------------------------------ the level coordinate
def test_level_coordinate_agrees_with_the_level_model_on_a_curved_cord():
    """On the twin phantom's lordotic spine, with and without the cord centerline: a point's
    coordinate rounds to the level the disc planes give it (level n spans n - 0.5 .. n + 0.5)."""
    twin = sample_path("twin")
    base = LevelModel.from_file(twin / "landmarks.csv")
    cord = load_volume(twin / "cord.nii.gz")
    line = centerline_from_mask(cord.array != 0, cord.geometry)
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(-10, 10, 4000), rng.uniform(-5, 15, 4000), rng.uniform(-90, 85, 4000)])
    for model in (base, base.with_centerline(line)):
        u = level_coordinate(model, points)
        level = model.level_of(points)
        inside = level > 0
        assert inside.mean() > 0.9 and np.all(np.isfinite(u[inside])) and np.all(np.isnan(u[~inside]))
        assert np.array_equal(np.floor(u[inside] + 0.5).astype(int), level[inside])


# ------------------------------------------------------------------ the twin phantom
def _plane_coordinate(planes: list[dict], point) -> float:
    """The level coordinate of a point from the phantom's own boundary planes (landmarks.json):
    interpolated between the two planes around it by its distances to them."""
    names = ["C0/C1", "C1/C2", "C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7", "C7/T1", "T1/T2", "T2/T3"]
    by_name = {p["name"]: p for p in planes}
    d = [float(np.dot(np.subtract(point, by_name[n]["point"]), by_name[n]["normal"])) for n in names]
    k = max(i for i, v in enumerate(d) if v > 0)                         # the last plane it is below
    return k + 0.5 + d[k] / (d[k] - d[k + 1])


@pytest.fixture(scope="module")
def twin_result():
    twin = sample_path("twin")
    return measure(load_volume(twin / "lesion.nii.gz"), edema=load_volume(twin / "edema.nii.gz"),
                   cord=load_volume(twin / "cord.nii.gz"), levels=LevelModel.from_file(twin / "landmarks.csv"))


def test_twin_edema_reads_the_segments_derived_by_hand(twin_result):
    """Edema over vertebral levels C1-C7. From the phantom's truth and its own boundary planes, its
    top lies at level coordinate 0.90 and its bottom at 7.07. With the published table:

    * top 0.90: C1/C2 boundary at (C1 + C2) / 2 = (0.653 + 1.132) / 2 = 0.893, so C2, by 0.007 level
      (~0.1 mm, less than a voxel: the measured mask may read C1 or C2); boundaries 1 SD lower
      (SD C1 = SD C2 = SD C3 = 3.15 / 16.12 = 0.195): C1 reaches 1.088, so possibly C1;
    * bottom 7.07: T1 spans C8/T1 (6.497 + 6.998) / 2 = 6.748 to T1/T2 (6.998 + 7.499) / 2 = 7.249, so
      T1, by 0.18 level (~3 mm); boundaries 1 SD higher: T2 starts at 7.249 - 0.492 = 6.757, so
      possibly T2.

    So "estimated cord segments C2-T1, possibly C1-T2" (8 segments: C2..C8 and T1).
    """
    twin = sample_path("twin")
    truth = json.loads((twin / "truth.json").read_text())["edema"]
    planes = json.loads((twin / "landmarks.json").read_text())["planes"]
    top, bottom = (_plane_coordinate(planes, truth[k]) for k in ("top_lps_mm", "bottom_lps_mm"))
    assert top == pytest.approx(0.90, abs=0.02) and bottom == pytest.approx(7.07, abs=0.02)
    c1_c2, c8_t1, t1_t2 = (C1 + C2) / 2, (C8 + T1) / 2, (T1 + T2) / 2
    assert abs(top - c1_c2) < 0.03 and c8_t1 < bottom < t1_t2 - 0.15
    assert top < c1_c2 + SD["C3"] and bottom > t1_t2 - (SD_T1 + SD_T2) / 2

    (edema,) = twin_result.edema
    assert edema.levels.kind == "vertebral" and edema.levels.label == "C1-C7"
    span = edema.cord_segments
    assert (span.kind, span.estimated) == ("cord segment", True)
    assert span.first in ("C1", "C2") and span.last == "T1"            # C2 by 0.1 mm, see above
    assert span.count == segment_index("T1") - segment_index(span.first) + 1
    assert (span.possible_first, span.possible_last) == ("C1", "T2")
    assert sum(span.fractions.values()) == pytest.approx(1.0, abs=1e-3) and span.outside_fraction == 0
    assert "Cadotte" in twin_result.parameters.segment_source
    assert "cord segment" in twin_result.parameters.level_convention


def test_twin_lesions_get_segments_below_their_vertebrae(twin_result):
    """Lesion 1 (vertebral C5, centre at coordinate ~5.36 between the C5 body and the C5/C6 disc)
    lies in the C7 segment (5.092-6.033): the cervical cord segments sit 1-2 levels above the
    vertebrae of the same name."""
    first, second = twin_result.lesions
    assert first.levels.label == "C5" and first.cord_segments.label == "C7"
    assert second.levels.label == "C6" and second.cord_segments.first == "C7"
    assert all(les.cord_segments.possible_first for les in twin_result.lesions)  # always set for an estimate


# ------------------------------------------------------------------ a segment label image
GRID = Geometry((40, 40, 160), spacing=(1.0, 1.0, 1.0), origin=(-20.0, -20.0, -80.0))
#: Rostral end (z, mm) of each rootlet: C2 at 60, then every 15 mm down to C8 at -30.
ROOTLET_TOP = {n: 60.0 - 15.0 * (n - 2) for n in range(2, 9)}


def _world(grid: Geometry) -> np.ndarray:
    return grid.index_to_world(np.indices(grid.shape).reshape(3, -1).T).reshape(*grid.shape, 3)


def _rootlets(grid: Geometry) -> np.ndarray:
    """Rootlet-like labels: for each level a pair of thin oblique bundles leaving the cord surface
    (radius 5 mm) at its rostral end and running 12 mm down and 10 mm out, value n = segment n."""
    w = _world(grid)
    x, y, z = w[..., 0], w[..., 1], w[..., 2]
    out = np.zeros(grid.shape, np.uint8)
    for n, top in ROOTLET_TOP.items():
        t = (top - z) / 12.0                                       # 0 at the cord, 1 at the foramen
        along = (t >= 0) & (t <= 1)
        lateral = np.abs(np.abs(x) - (5.5 + 10.0 * t)) <= 0.8
        out[along & lateral & (np.abs(y) <= 1.0)] = n
    return out


@pytest.fixture(scope="module")
def rootlet_study():
    w = _world(GRID)
    r = np.hypot(w[..., 0], w[..., 1])
    z = w[..., 2]
    cord = (r <= 5.0).astype(np.uint8)
    lesions = np.zeros(GRID.shape, np.uint8)
    lesions[(np.linalg.norm(w - (0, 0, 37.0), axis=-1) <= 3.0)] = 1    # z 34..40: in C3 (45 > z >= 30)
    lesions[(r <= 2.0) & (z >= 63) & (z <= 70)] = 2                     # above the C2 rootlets: no segment
    edema = ((r <= 4.0) & (z >= -20) & (z <= 50) & (lesions == 0)).astype(np.uint8)  # C2 (z 50) .. C7 (z -20)
    return {"lesions": Volume(lesions, GRID), "cord": Volume(cord, GRID), "edema": Volume(edema, GRID),
            "rootlets": Volume(_rootlets(GRID), GRID)}


def test_rootlet_image_gives_the_segments(rootlet_study):
    s = rootlet_study
    result = measure(s["lesions"], edema=s["edema"], cord=s["cord"], segments=s["rootlets"])
    above, first = sorted(result.lesions, key=lambda les: -les.centroid_lps_mm[2])
    assert first.levels is None                                        # no vertebral levels given
    assert (first.cord_segments.label, first.cord_segments.estimated) == ("C3", False)
    assert first.cord_segments.possible_label is None                   # an image has no SD
    assert above.cord_segments.first is None and above.cord_segments.outside_fraction == 1.0
    (edema,) = result.edema
    assert edema.cord_segments.label == "C2-C7" and edema.cord_segments.count == 6
    # 15 mm per segment, the edema 70 mm long: C2 holds z 45..50 (6 of 71 slices), C3-C6 15 each.
    assert edema.cord_segments.fractions["C4"] == pytest.approx(15 / 71, abs=0.01)
    assert result.parameters.segment_source == "segment label image"
    assert any("outside the cord segments labelled" in w for w in result.warnings)


def test_rootlet_image_on_another_grid_gives_the_same_segments(rootlet_study):
    """Physical space decides: rootlets on a coarser, shifted grid stored upside down."""
    other = Geometry((30, 30, 100), spacing=(1.4, 1.4, 1.6), origin=(-21.0, -21.0, 79.0),
                     direction=np.diag([1.0, 1.0, -1.0]))
    s = rootlet_study
    model = segments_from_image(Volume(_rootlets(other), other))
    same = segments_from_image(s["rootlets"])
    assert model.index.tolist() == same.index.tolist() == list(range(2, 9))
    assert model.lo == pytest.approx(same.lo, abs=1.7)                   # within one slice of either grid
    lesion = np.argwhere(s["lesions"].array == 1)
    assert model.span(GRID.index_to_world(lesion)).label == "C3"


@pytest.mark.parametrize(("array", "words"), [
    (np.full((4, 4, 4), 0.5, np.float32), "whole-number"),
    (np.full((4, 4, 4), 31, np.uint8), "outside 1..30"),
    (np.zeros((4, 4, 4), np.uint8), "none"),
])
def test_bad_segment_images_are_refused(array, words):
    with pytest.raises(InputError, match=words):
        segments_from_image(Volume(array, Geometry(array.shape)))


def test_segments_out_of_order_are_refused():
    a = np.zeros((4, 4, 20), np.uint8)
    a[:, :, 2:5], a[:, :, 10:13] = 3, 4                        # 4 above 3 (z grows superiorly)
    with pytest.raises(InputError, match="out of order"):
        segments_from_image(Volume(a, Geometry(a.shape)))


# ------------------------------------------------------------------ JSON and the CLI
def test_json_names_the_kind_of_every_level(twin_result):
    data = json.loads(twin_result.model_dump_json())
    for row in data["lesions"] + data["edema"]:
        assert row["levels"]["kind"] == "vertebral" and row["levels"]["estimated"] is None
        assert row["cord_segments"]["kind"] == "cord segment" and row["cord_segments"]["estimated"] is True
    back = StudyMeasurements.model_validate_json(twin_result.model_dump_json())
    assert back.edema[0].cord_segments == twin_result.edema[0].cord_segments


def test_csv_html_and_summary_name_the_kind(twin_result, tmp_path):
    import csv

    from lesionview.report.html import render_html
    from lesionview.report.tabular import CSV_COLUMNS, write_csv

    at = CSV_COLUMNS.index("cord_segments")  # added after the older columns, before later additions
    assert CSV_COLUMNS[at:at + 3] == ["cord_segments", "cord_segments_possible", "cord_segments_estimated"]
    assert at > CSV_COLUMNS.index("same_edema")
    with open(write_csv(twin_result, tmp_path / "m.csv"), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    (edema_row,) = [row for row in rows if row["kind"] == "edema"]
    span = twin_result.edema[0].cord_segments
    assert (edema_row["levels"], edema_row["cord_segments"], edema_row["cord_segments_possible"],
            edema_row["cord_segments_estimated"]) == ("C1-C7", span.label, "C1-T2", "True")
    lesion_rows = [row for row in rows if row["kind"] == "lesion"]
    assert [row["cord_segments"] for row in lesion_rows] == [les.cord_segments.label for les in twin_result.lesions]
    assert all(row["cord_segments"] == "" for row in rows if row["kind"] == "pair")
    # The summary: the edema's segments after its vertebral levels, named as estimated.
    assert (f"T2 cord edema at vertebral levels C1-C7 (7 levels, longitudinally extensive; estimated cord segments "
            f"{span.label}, possibly C1-T2).") in twin_result.summary
    page = render_html(twin_result)
    assert "<th>vertebral levels</th><th>cord segments (est.)</th>" in page
    assert f"{span.label}, possibly C1-T2 (estimated from the vertebral levels" in page


@pytest.mark.parametrize("command", ["measure", "report"])
def test_cli_reads_a_segment_image(rootlet_study, tmp_path, command):
    files = {}
    for role in ("lesions", "cord", "rootlets"):
        files[role] = tmp_path / f"{role}.nii.gz"
        write_nifti(rootlet_study[role], files[role])
    out = tmp_path / "out"
    formats = ["--format", "json"] if command == "report" else []
    res = subprocess.run([sys.executable, "-m", "lesionview", command, files["lesions"], "--cord", files["cord"],
                          "--spinal-levels", files["rootlets"], "--out", out, *formats],
                         check=False, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "measurements.json").read_text())
    first = next(les for les in data["lesions"] if les["centroid_lps_mm"][2] < 50)   # the one at z 37
    assert first["cord_segments"]["first"] == first["cord_segments"]["last"] == "C3"
    assert data["parameters"]["segment_source"].endswith("rootlets.nii.gz")
    assert [r["role"] for r in data["inputs"]][-1] == "segments"


def test_thick_slices_widen_an_image_range_by_their_reach():
    """3 mm axial slices: a lesion drawn on z 40.5..43.5 (slices at 40.5, 43.5) lies in C3 (45 > z >= 30),
    but its top may be up to one slice higher (46.5), in C2: "C3 (C2?)"."""
    grid = Geometry((40, 40, 54), spacing=(1.0, 1.0, 3.0), origin=(-20.0, -20.0, -79.5))
    w = _world(grid)
    r, z = np.hypot(w[..., 0], w[..., 1]), w[..., 2]
    lesion = ((r <= 2.0) & (z > 40) & (z < 44)).astype(np.uint8)
    result = measure(Volume(lesion, grid), cord=Volume((r <= 5.0).astype(np.uint8), grid),
                     segments=Volume(_rootlets(GRID), GRID))
    (les,) = result.lesions
    assert les.thick_slices_mm == 3.0
    span = les.cord_segments
    assert (span.label, span.possible_label, segments_cell(span)) == ("C3", "C2-C3", "C3 (C2?)")
