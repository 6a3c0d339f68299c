"""The validation family (lesionview.phantom.family) and its scoring (lesionview.phantom.validate).

The family must span every axis issue 11 names, its truth must be the analytic truth, the same
patient must have the same truth on any grid, and the segmentation must stay above floors on a
small subset (the whole family runs in `make validate`).
"""

import math

import numpy as np
import pytest

from lesionview.phantom.family import (
    FamilyCase,
    Spine,
    case_geometry,
    case_truth,
    family,
    get_family_case,
    render_case,
    with_plane,
)
from lesionview.phantom.validate import score_case, summarize, table


@pytest.fixture(scope="module")
def cases() -> list[FamilyCase]:
    return family()


# ----------------------------------------------------------------------------- (a) the family
def test_family_spans_every_axis(cases):
    assert len(cases) >= 24
    assert len({c.name for c in cases}) == len(cases)
    assert family() == cases                                    # deterministic
    groups = {key: {c.groups[key] for c in cases} for key in cases[0].groups}
    assert groups == {"region": {"cervical", "thoracic"}, "plane": {"sagittal", "axial", "oblique"},
                      "slice": {"2 mm", "3 mm", "4 mm"}, "noise": {"low", "high"},
                      "bias": {"none", "strong"}, "rim": {"rim", "solid"}}
    # Every region is seen in every plane, and every plane at every slice thickness.
    assert {(c.region, c.plane) for c in cases} == {(r, p) for r in groups["region"] for p in groups["plane"]}
    assert {(c.plane, c.slice_mm) for c in cases} == {(p, t) for p in ("sagittal", "axial", "oblique")
                                                      for t in (2.0, 3.0, 4.0)}
    assert {len(c.lesions) for c in cases} == {1, 2, 3}
    diameters = [les.max_diameter for c in cases for les in c.lesions]
    assert min(diameters) == 2.0 and max(diameters) == 15.0
    edema_levels = {case_truth(c)["edema"]["level_count"] for c in cases}
    assert edema_levels == set(range(1, 9))
    for c in cases:
        assert 3.0 <= c.cord_ap <= c.cord_lr <= 5.0 and 1.5 <= c.csf_ring <= 4.0
        assert 0.5 <= c.pixel_mm <= 0.8
    thoracic = [c for c in cases if c.region == "thoracic"]
    cervical = [c for c in cases if c.region == "cervical"]
    assert max(c.cord_ap for c in thoracic) < min(c.cord_ap for c in cervical)    # thoracic cords are thinner
    assert max(c.cord_lr for c in thoracic) < min(c.cord_lr for c in cervical)
    assert {c.rim for c in cases if c.region == "cervical"} == {c.rim for c in cases if c.region == "thoracic"} == {
        True, False}


def test_oblique_grids_are_oblique_and_others_are_not(cases):
    for c in cases:
        g = case_geometry(c)
        assert g.plane(0) == c.plane
        assert g.tilt_degrees(0) == pytest.approx(15.0 if c.plane == "oblique" else 0.0, abs=1e-6)
        assert g.spacing == (c.slice_mm, c.pixel_mm, c.pixel_mm)


# ----------------------------------------------------------------------------- (b) analytic truth
def test_spine_coordinates_invert_spine_points():
    for region in ("cervical", "thoracic"):
        spine = Spine(region)
        s = np.array([5.0, 40.0, 95.0, 160.0])
        a, x = np.array([2.0, -3.0, 0.5, 6.0]), np.array([0.0, 1.5, -2.0, 4.0])
        np.testing.assert_allclose(np.stack(spine.coordinates(spine.point(s, a, x))), [s, a, x], atol=1e-9)
        frame = spine.frame(60.0)
        np.testing.assert_allclose(frame.T @ frame, np.eye(3), atol=1e-12)
        step = spine.point(60.5) - spine.point(59.5)
        np.testing.assert_allclose(step / np.linalg.norm(step), frame[:, 0], atol=1e-6)


@pytest.fixture(scope="module")
def axial_case():
    """A cervical axial case, 2 mm slices: a 5 mm and a 12 mm rim-enhancing lesion, edema over 3 levels."""
    c = get_family_case("caxi06")
    assert c.plane == "axial" and c.slice_mm == 2.0 and c.rim
    assert [les.max_diameter for les in c.lesions] == [5.0, 12.0]
    return c, render_case(c)


def test_truth_masks_match_the_analytic_shapes(axial_case):
    case, images = axial_case
    v = images.geometry.voxel_volume
    for i, lesion in enumerate(case.lesions, start=1):
        assert (images.lesions == i).sum() * v == pytest.approx(4 / 3 * math.pi * np.prod(lesion.semi_axes), rel=0.05)
        assert images.truth["lesions"][i - 1]["max_diameter_mm"] == 2 * lesion.semi_axes[0]
    # The cord between the end clicks is an elliptic tube: by Pappus its volume is area x arc length.
    s0, s1 = case.s_range
    assert images.cord.sum() * v == pytest.approx(math.pi * case.cord_ap * case.cord_lr * (s1 - s0), rel=0.03)
    assert np.all(images.edema[images.lesions > 0]) and np.all(images.cord[images.edema])
    np.testing.assert_allclose(images.cord_clicks[[0, -1]], case.spine.point(np.array([s0, s1])), atol=1e-9)
    for seed, i in zip(images.lesion_seeds, range(1, 4)):
        assert images.lesions[tuple(np.rint(images.geometry.world_to_index(seed)).astype(int))] == i


def test_truth_levels_are_the_disc_planes(axial_case):
    case, images = axial_case
    spine, levels = case.spine, images.levels
    b = spine.boundaries
    first, last = case.levels
    for i in range(first + 1, last):        # just below and above every disc of the imaged levels
        below, above = spine.point(b[i] + 0.3, 2.0, 1.0), spine.point(b[i + 1] - 0.3, -2.0, -1.0)
        assert levels.level_names_of([below, above]) == [spine.level_name(i)] * 2
    # The outer levels are imaged from their middle (the first and last clicks) inwards.
    ends = spine.point(np.array(case.s_range))
    assert levels.level_names_of(ends) == [spine.level_name(first), spine.level_name(last)]
    for lesion, true in zip(case.lesions, images.truth["lesions"]):
        ends = spine.level_of_s(np.array([lesion.s - lesion.semi_axes[0], lesion.s + lesion.semi_axes[0]]))
        assert (true["first_level"], true["last_level"]) == tuple(spine.level_name(int(i)) for i in ends)
    assert [(t["first_level"], t["last_level"]) for t in images.truth["lesions"]] == [("C4", "C4"), ("C5", "C6")]
    edema = spine.level_of_s(np.array([case.edema_top, case.edema_bottom]))
    assert images.truth["edema"]["level_count"] == int(edema[1] - edema[0]) + 1 == 3
    # Every disc landmark is inside the image, as measure() requires.
    levels.check_inside(images.geometry)


def test_images_have_realistic_contrast(axial_case):
    case, images = axial_case
    t2, t1c = images.t2.array.astype(float), images.t1c.array.astype(float)
    world = images.geometry.index_to_world(np.indices(t2.shape).transpose(1, 2, 3, 0))
    _, a, x = case.spine.coordinates(world)
    sac_c, sac_ap, sac_lr = case.sac
    csf = (np.hypot(a / case.cord_ap, x / case.cord_lr) > 1.3) & (np.hypot((a - sac_c) / sac_ap, x / sac_lr) < 0.85)
    edema, normal = images.edema & (images.lesions == 0), images.cord & ~images.edema
    assert np.median(t2[csf]) > np.median(t2[edema]) > 1.3 * np.median(t2[normal])
    # T1 after contrast: a bright rim around a darker core, cord grey, CSF dark.
    lesion = case.lesions[1]
    q = (world - case.spine.point(lesion.s, lesion.a, lesion.x)) @ case.spine.frame(lesion.s)
    k = np.linalg.norm(q / np.array(lesion.semi_axes), axis=-1)
    rim, core = (k > 0.85) & (images.lesions == 2), k < 0.4
    assert np.median(t1c[rim]) > 1.3 * np.median(t1c[core])
    assert np.median(t1c[rim]) > 2 * np.median(t1c[normal]) > 2 * np.median(t1c[csf])


def test_thick_slices_blur_the_cord_edge():
    """A sagittal slice averages the tissue across its thickness (box profile), as MRI does."""
    case = get_family_case("csag00")          # cord 4.5 mm to each side, CSF to 7 mm, no bias field
    assert case.cord_lr == 4.5 and case.sac[2] == 7.0 and case.bias == "none"
    t2 = {"cord": 440.0, "csf": 1450.0}       # lesionview.phantom.family.INTENSITY["T2"]
    mid = case.spine.point(case.s_range[0] + 3.0)      # above the edema
    for thickness, x in ((4.0, 4.0), (2.0, 4.0)):      # a slice covering x - t/2 .. x + t/2
        images = render_case(with_plane(case, "sagittal", thickness))
        g = images.geometry
        idx = np.rint(g.world_to_index(mid + [x, 0, 0])).astype(int)
        assert g.index_to_world(idx)[0] == pytest.approx(x)
        value = np.median(images.t2.array[idx[0], idx[1] - 4: idx[1] + 5, idx[2]])
        cord = (case.cord_lr - (x - thickness / 2)) / thickness
        assert value == pytest.approx(cord * t2["cord"] + (1 - cord) * t2["csf"], abs=60)


# ----------------------------------------------------------------------------- (c) any grid
def test_same_patient_same_truth_on_axial_sagittal_and_oblique_grids():
    case = get_family_case("caxi06")
    volumes = {}
    for plane in ("axial", "sagittal", "oblique"):
        images = render_case(with_plane(case, plane, 1.0))
        v = images.geometry.voxel_volume
        volumes[plane] = np.array([images.cord.sum() * v, images.edema.sum() * v,
                                   *[(images.lesions == i).sum() * v for i in (1, 2)]])
        assert images.truth["lesions"] == case_truth(case)["lesions"]
    for plane in ("sagittal", "oblique"):
        np.testing.assert_allclose(volumes[plane][[0, 1, 3]], volumes["axial"][[0, 1, 3]], rtol=0.03)
        # The 5 mm lesion is ~60 mm^3, 90 voxels of 0.49 mm^3: voxel-centre sampling moves it a few %.
        assert volumes[plane][2] == pytest.approx(volumes["axial"][2], rel=0.06)


# ----------------------------------------------------------------------------- (d) floors
#: A small subset, one per plane, all with 4 mm slices: a sagittal cervical case (a 3 mm and an
#: 11 mm rim-enhancing lesion), an axial cervical one (two rim-enhancing lesions, edema over 7
#: levels) and an oblique thoracic one (a 10 mm rim-enhancing lesion).
SUBSET = ("csag01", "caxi05", "tobl21")


@pytest.fixture(scope="module")
def subset_rows():
    return [score_case(get_family_case(name)) for name in SUBSET]


def test_validation_rows_are_complete(subset_rows):
    for row in subset_rows:
        assert row["error"] == "", row.get("traceback")
        assert len(row["lesion_dice"]) == len(row["lesion_levels_ok"]) == len(row["diameter_error_mm"])
    text = table(subset_rows)
    assert "| all | 3 |" in text and "| plane: axial | 1 |" in text and "| region: thoracic | 1 |" in text


def test_a_failing_case_is_a_row_not_a_crash(monkeypatch):
    from lesionview import segment

    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(segment, "segment_cord", broken)
    row = score_case(get_family_case("csag02"))
    assert row["error"] == "RuntimeError: broken on purpose"
    assert row["cord_dice"] == row["edema_dice"] == 0.0 and row["lesion_dice"] == [0.0]
    assert "| all | 1 |" in table([row]) and summarize([row])["failed"] == 1


def test_sub_slice_lesions_are_those_no_longer_than_the_slice_is_thick():
    """The extent along the slice normal comes from the analytic shape: on axial slices it is the
    lesion's length along the cord, on sagittal ones its left-right width."""
    from lesionview.phantom.validate import is_sub_slice, lesion_extent_mm

    axial = get_family_case("taxi19")                      # 6 mm and 3 mm lesions, 3 mm axial slices
    g = case_geometry(axial)
    assert [lesion_extent_mm(axial, i, g) for i in (0, 1)] == pytest.approx([6.0, 3.0], abs=0.05)
    assert [is_sub_slice(axial, i, g) for i in (0, 1)] == [False, True]
    # The same patient on 1 mm slices: nothing is sub-slice.
    thin = with_plane(axial, "axial", 1.0)
    assert not any(is_sub_slice(thin, i, case_geometry(thin)) for i in (0, 1))
    sagittal = with_plane(get_family_case("tsag13"), "sagittal", 4.0)   # a 5 mm lesion, 4.5 mm wide
    assert lesion_extent_mm(sagittal, 0, case_geometry(sagittal)) == pytest.approx(4.5, abs=0.05)
    assert not is_sub_slice(sagittal, 0, case_geometry(sagittal))


def test_sub_slice_lesions_leave_the_dice_but_are_reported():
    groups = {"region": "thoracic", "plane": "axial", "slice": "3 mm", "noise": "low", "bias": "none", "rim": "solid"}
    row = {"case": "x", "groups": groups, "cord_dice": 0.9, "edema_dice": 0.9, "lesion_dice": [0.95, 0.0],
           "sub_slice": [False, True], "lesion_found": [True, True], "extent_mm": [6.0, 2.0],
           "lesion_levels_ok": [True, True], "edema_levels_ok": True, "diameter_error_mm": [0.1, 1.0],
           "notes": [], "error": ""}
    s = summarize([row])
    assert s["lesion_dice_median"] == s["lesion_dice_worst"] == 0.95
    assert (s["sub_slice_lesions"], s["sub_slice_found"], s["sub_slice_levels_ok"]) == (1, 1, 1)
    assert "| 1/1 | 0 |" in table([row])


def test_validation_floors_on_the_subset(subset_rows):
    """Before issue 11 (commit 9a93c3e) the subset scored: cord Dice 0.69 / 0.98 / 0.91, lesions
    0.86, 0.82 / 0.91, 0.92 / 0.89, edema 0.82 / 0.38 / 0.35, every lesion's levels right, edema
    levels right in 2 of 3, median |diameter error| 0.5 mm."""
    rows = {r["case"]: r for r in subset_rows}
    s = summarize(subset_rows)
    # floor: raise as issue 11's segmentation improves
    assert rows["csag01"]["cord_dice"] >= 0.60
    assert rows["caxi05"]["cord_dice"] >= 0.90 and rows["tobl21"]["cord_dice"] >= 0.85
    # floor: raise as issue 11's segmentation improves (rim-enhancing cores filled: 0.94-0.98 from 0.83)
    assert min(d for r in subset_rows for d, sub in zip(r["lesion_dice"], r["sub_slice"]) if not sub) >= 0.90
    # The two sub-slice lesions (3 mm across 4 mm slices) are found.
    assert [r["sub_slice"] for r in subset_rows] == [[True, False], [False, True], [False]]
    assert s["sub_slice_found"] == s["sub_slice_lesions"] == 2
    # floor: raise as issue 11's segmentation improves
    assert rows["csag01"]["edema_dice"] >= 0.70
    assert rows["caxi05"]["edema_dice"] >= 0.25 and rows["tobl21"]["edema_dice"] >= 0.25
    # floor: raise as issue 11's segmentation improves
    assert s["lesion_levels_ok_pct"] >= 80 and sum(r["edema_levels_ok"] for r in subset_rows) >= 1
    # floor: raise as issue 11's segmentation improves
    assert s["diameter_error_median_mm"] <= 1.5
