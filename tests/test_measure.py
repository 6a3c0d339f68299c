"""measure(): a synthetic twin case with known answers, invariance to storage, bad inputs."""

import json
import re

import numpy as np
import pytest

from lesionview.errors import GeometryMismatchError
from lesionview.geometry import Geometry, reorient
from lesionview.levels import LevelModel
from lesionview.measure import MultiplicityClass, measure
from lesionview.report import csv_rows, write_csv, write_json
from lesionview.volume import Volume

SPACING = 0.5
R_SMALL, R_LARGE, GAP = 1.5, 5.5, 3.0
CORD_RADIUS = 7.0


def _grid():
    # LPS-stored grid, z (axis 2) superior; 40 x 40 x 130 mm from z = -70 to +59.5.
    return Geometry((80, 80, 260), spacing=(SPACING,) * 3, origin=(-20, -20, -70))


def _case():
    """Two spheres on the cord axis (x = y = 0), the small one above, 3 mm apart; edema and cord
    cylinders around them; discs every 15 mm with C5/C6 in the gap, so the small sphere sits in
    C5 (z 12 to -3) and the large one in C6 (z -3 to -18)."""
    g = _grid()
    world = g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3)
    z_small = 0.0
    z_large = z_small - R_SMALL - GAP - R_LARGE
    r_xy = np.hypot(world[..., 0], world[..., 1])
    lesions = np.zeros(g.shape, np.uint8)
    lesions[np.linalg.norm(world - [0, 0, z_small], axis=-1) <= R_SMALL] = 1
    lesions[np.linalg.norm(world - [0, 0, z_large], axis=-1) <= R_LARGE] = 1
    cord = (r_xy <= CORD_RADIUS).astype(np.uint8)
    edema = ((r_xy <= CORD_RADIUS - 1) & (world[..., 2] < 40) & (world[..., 2] > -30) & (lesions == 0))
    # Discs C1/C2 at z = 57 down to T1/T2 at -48, every 15 mm; C5/C6 at -3. Level Ck lies
    # between discs C(k-1)/Ck and Ck/C(k+1): C7 from -18 to -33.
    names = ["C1/C2", "C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7", "C7/T1", "T1/T2"]
    z_discs = -3.0 + 15 * np.arange(4, -4, -1)
    levels = LevelModel.from_landmarks(names, [[0, 0, z] for z in z_discs])
    return g, lesions, edema.astype(np.uint8), cord, levels, (z_small, z_large)


@pytest.fixture(scope="module")
def case():
    return _case()


@pytest.fixture(scope="module")
def result(case):
    g, lesions, edema, cord, levels, _ = case
    return measure(Volume(lesions, g), edema=Volume(edema, g), cord=Volume(cord, g), levels=levels)


def test_two_lesions_numbered_superior_to_inferior_with_true_volumes(case, result):
    _g, lesions, *_ , (z_small, z_large) = case
    small, large = result.lesions
    assert (small.id, large.id) == (1, 2)
    assert small.centroid_lps_mm[2] == pytest.approx(z_small, abs=0.05)
    assert large.centroid_lps_mm[2] == pytest.approx(z_large, abs=0.05)
    assert small.voxel_count + large.voxel_count == lesions.sum()
    assert large.volume_mm3 == pytest.approx(large.voxel_count * SPACING**3)
    assert large.volume_mm3 == pytest.approx(4 / 3 * np.pi * R_LARGE**3, rel=0.03)
    # The sphere's outermost voxel centres lie on its surface, so its voxel boxes reach half a
    # voxel beyond: the calibrated diameter, never below the box extent, is within one voxel.
    assert large.max_diameter_mm == pytest.approx(2 * R_LARGE, abs=SPACING)
    assert large.axial_long_mm == pytest.approx(2 * R_LARGE, abs=0.5)
    assert large.craniocaudal_mm == pytest.approx(2 * R_LARGE, abs=0.5)
    assert large.measurable and not small.measurable


def test_levels_gap_and_adjacent_pair(result):
    small, large = result.lesions
    assert small.levels.label == "C5" and large.levels.label == "C6"
    m = result.multiplicity
    assert m.kind is MultiplicityClass.ADJACENT_PAIR and m.count == 2
    (pair,) = m.pairs
    assert pair.gap_mm == pytest.approx(GAP, abs=SPACING)
    assert pair.same_edema and pair.level_distance == 1 and pair.adjacent


def test_edema_levels_and_lesions_inside(result):
    (ed,) = result.edema
    assert ed.levels.first == "C3" and ed.levels.last == "C7"  # z from 40 (C3) down to -30 (C7)
    assert ed.levels.count == 5 and ed.longitudinally_extensive
    assert ed.lesion_ids == [1, 2]
    assert ed.craniocaudal_mm == pytest.approx(70, abs=1.0)
    assert ed.length_ratio == pytest.approx(70 / (2 * R_SMALL + GAP + 2 * R_LARGE), rel=0.05)


def test_cord_occupancy_is_the_largest_section_fraction(result):
    small, large = result.lesions
    assert large.cord_occupancy == pytest.approx((R_LARGE / CORD_RADIUS) ** 2, abs=0.05)
    # The small sphere's equator (z = 0, a voxel centre) against the cord's disc: (1.5 / 7)^2 = 0.046.
    # Its voxel count is known to a band half a voxel either side of its circle, area 4 R h with
    # h = 0.25 mm: +-0.031 of the cord's area (the cord's own band, 2 h / 7 = 7 %, adds < 0.004).
    assert small.cord_occupancy == pytest.approx(
        (R_SMALL / CORD_RADIUS) ** 2, abs=4 * R_SMALL * (SPACING / 2) / CORD_RADIUS**2)


def test_summary_names_the_pair_and_vertebral_levels(result):
    s = result.summary
    # No image was given: "lesions", not "enhancing lesions" (nothing says they enhance).
    assert s.startswith("Two intramedullary lesions (adjacent pair) at vertebral levels C5 (maximum diameter ")
    m = re.search(r"gap (\d+\.\d) ± (\d+\.\d) mm", s)
    gap, plus_minus = float(m.group(1)), float(m.group(2))
    large = float(re.search(r" and C6 \((\d+\.\d) mm\)", s).group(1))
    assert large == pytest.approx(2 * R_LARGE, abs=SPACING) and gap == pytest.approx(GAP, abs=SPACING)
    assert plus_minus == pytest.approx(SPACING)      # one voxel along the line joining the spheres' poles
    assert "T2 cord edema at vertebral levels C3-C7 (5 levels, longitudinally extensive; estimated cord segments " in s


@pytest.mark.parametrize(("description", "agent", "word"), [
    ("SAG T1 TSE", "Gadoterate", "Two enhancing intramedullary lesions"),
    ("SAG T1 TSE", "", "Two intramedullary lesions"),
    ("SAG T2 TSE", "", "Two intramedullary lesions"),
])
def test_lesions_are_enhancing_only_on_a_t1_post_contrast_image(case, description, agent, word):
    from lesionview.series import SeriesInfo, with_guessed_role

    g, lesions, edema, cord, levels, _ = case
    info = with_guessed_role(SeriesInfo(series_description=description, contrast_agent=agent))
    image = Volume(np.where(lesions > 0, 300.0, 100.0).astype(np.float32), g, info=info)
    r = measure(Volume(lesions, g), edema=Volume(edema, g), cord=Volume(cord, g), levels=levels, image=image)
    assert r.summary.startswith(word + " (adjacent pair)")
    assert r.parameters.image_role == info.role.value


def test_lesions_outside_the_levels_given_are_named_so(case):
    g, lesions, _edema, _cord, _levels, (_z_small, z_large) = case
    # Only the discs around the large lesion: the small one lies above every modelled level.
    from lesionview.levels import LevelModel

    far = LevelModel.from_landmarks(["C6/C7", "C7/T1"], [(0, 0, z_large - 8), (0, 0, z_large - 24)])
    r = measure(Volume(lesions, g), levels=far)
    assert r.summary.startswith("Two intramedullary lesions (adjacent pair): lesion 1 outside the vertebral "
                                "levels given (maximum diameter 3.5 mm) and lesion 2 at vertebral level C6 (")
    none = measure(Volume(lesions, g))
    assert none.summary.startswith("Two intramedullary lesions (adjacent pair): lesion 1 (maximum diameter ")


@pytest.mark.parametrize("target", ["PSR", "RAS", "SAL", "ILP"])
def test_same_numbers_whatever_the_storage_orientation(case, result, target):
    g, lesions, edema, cord, levels, _ = case
    vols = {}
    for name, arr in (("lesions", lesions), ("edema", edema), ("cord", cord)):
        a, g2 = reorient(arr, g, target)
        vols[name] = Volume(np.ascontiguousarray(a), g2)
    other = measure(vols["lesions"], edema=vols["edema"], cord=vols["cord"], levels=levels)
    a = result.model_dump(exclude={"created_utc"})
    b = other.model_dump(exclude={"created_utc"})
    # Spacing is listed in storage order, and SCT's sagittal slice numbers count along the stored axis
    # (as SCT's own); everything else must be the same.
    assert sorted(a.pop("voxel_spacing_mm")) == sorted(b.pop("voxel_spacing_mm"))
    for les_a, les_b in zip(a["lesions"], b["lesions"]):
        slices = [les["sct"].pop("sct_bridges_per_slice") for les in (les_a, les_b)]
        for m in (les_a, les_b):
            m["sct"].pop("sct_midsagittal_slice")
        assert sorted(x["lateral_offset_mm"] for x in slices[0]) == pytest.approx(
            sorted(x["lateral_offset_mm"] for x in slices[1]), abs=1e-6)
    _assert_close(a, b)


def _assert_close(a, b, path="result"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, abs=1e-6), path
    else:
        assert a == b, path


def test_json_and_csv_carry_the_same_numbers(result, tmp_path):
    write_json(result, tmp_path / "m.json")
    write_csv(result, tmp_path / "m.csv")
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["multiplicity"]["kind"] == "adjacent pair"
    assert data["parameters"]["connectivity"] == 26
    rows = csv_rows(result)
    assert [r["kind"] for r in rows] == ["lesion", "lesion", "edema", "pair"]
    assert rows[1]["max_diameter_mm"] == data["lesions"][1]["max_diameter_mm"]
    assert [r["multiplicity"] for r in rows[:2]] == ["adjacent pair", "adjacent pair"]
    pair = rows[3]
    assert pair["lesion_ids"] == "1 2" and pair["adjacent"] is True and pair["level_distance"] == 1
    assert pair["gap_mm"] == pytest.approx(GAP, abs=SPACING)
    assert pair["gap_uncertainty_mm"] == pytest.approx(SPACING)      # one voxel's longest side
    assert pair["id"] == "" and pair["volume_mm3"] == ""
    assert (tmp_path / "m.csv").read_text().splitlines()[0].startswith("kind,id,levels")


def test_masks_on_another_grid_are_refused_or_resampled(case):
    g, lesions, _edema, cord, _levels, _ = case
    shifted = Geometry(g.shape, g.spacing, np.add(g.origin, 1.0), g.direction)
    with pytest.raises(GeometryMismatchError, match="cord mask is not in the lesion mask's space") as err:
        measure(Volume(lesions, g), cord=Volume(cord, shifted))
    assert "origin (-19.00" in str(err.value) and "origin (-20.00" in str(err.value)
    r = measure(Volume(lesions, g), cord=Volume(cord, shifted), resample=True)
    # Resampled, the cord is the same cylinder moved by +1 mm along x, y and z: its axis at x = y = 1.
    small, large = r.lesions
    assert small.voxel_count + large.voxel_count == np.count_nonzero(lesions)       # lesions untouched
    # The large sphere's equator (radius 5.5) lies wholly in the moved cord (sqrt(2) + 5.5 < 7):
    # the same share as before, tolerance as in test_cord_occupancy_is_the_largest_section_fraction.
    assert large.cord_occupancy == pytest.approx((R_LARGE / CORD_RADIUS) ** 2, abs=0.05)
    sct = large.sct
    # SCT's mid-sagittal slice is the moved cord's centre, x = 1 mm (a voxel centre of the grid).
    assert g.index_to_world([[sct.sct_midsagittal_slice, 0, 0]])[0, 0] == pytest.approx(1.0, abs=1e-6)
    # In that slice the sphere's chord is +-sqrt(5.5^2 - 1) mm about y = 0 and the cord runs from
    # y = 1 - 7 (ventral) to 1 + 7 (dorsal): bridges 0.59 and 2.59 mm, counted in 0.5 mm voxels
    # (each edge to half a voxel, so +-0.5 mm). Without the move both would be 1.59 mm.
    half_chord = np.sqrt(R_LARGE**2 - 1.0)
    assert sct.sct_ventral_bridge_mm == pytest.approx(CORD_RADIUS - 1.0 - half_chord, abs=SPACING)
    assert sct.sct_dorsal_bridge_mm == pytest.approx(CORD_RADIUS + 1.0 - half_chord, abs=SPACING)


def test_empty_mask_is_a_valid_no_lesion_result():
    g = Geometry((10, 10, 10))
    r = measure(np.zeros(g.shape, np.uint8), geometry=g)
    assert r.lesions == [] and r.multiplicity.kind is MultiplicityClass.NONE
    assert r.summary == "No intramedullary lesion."


def test_label_image_keeps_painted_ids_and_two_far_lesions_are_multiple_not_twin():
    g = Geometry((40, 40, 200), spacing=(0.5, 0.5, 0.5))
    m = np.zeros(g.shape, np.uint8)
    m[18:22, 18:22, 150:156] = 4   # superior
    m[18:22, 18:22, 20:26] = 9     # 62 mm below
    r = measure(m, geometry=g, connectivity=6)
    assert [les.id for les in r.lesions] == [4, 9]
    assert r.multiplicity.kind is MultiplicityClass.MULTIPLE
    assert r.parameters.mask_kind == "labels" and r.parameters.connectivity == 6


def test_empty_cord_and_lesion_outside_the_cord_are_said_not_measured(case):
    g, lesions, _edema, cord, _levels, _ = case
    r = measure(Volume(lesions, g), cord=Volume(np.zeros_like(cord), g))
    assert all(les.cord_occupancy is None for les in r.lesions)
    assert any("cord mask is empty" in w for w in r.warnings)
    elsewhere = np.zeros_like(cord)
    elsewhere[:10, :10, :] = 1  # a "cord" that misses both lesions
    r = measure(Volume(lesions, g), cord=Volume(elsewhere, g))
    assert all(les.cord_occupancy is None for les in r.lesions)
    assert sum("lies in the cord mask" in w for w in r.warnings) == 2


def _blobs_at(g, centres, radius):
    world = g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3)
    m = np.zeros(g.shape, np.uint8)
    for c in centres:
        m[np.linalg.norm(world - c, axis=-1) <= radius] = 1
    return m


@pytest.mark.parametrize("target", ["RAS", "PSR", "IPL"])
def test_ids_do_not_depend_on_storage_even_for_ties(target):
    """Two lesions at the same height and two edema regions: ids follow reading order
    (superior first, then patient left first), whatever the storage order."""
    g = Geometry((40, 40, 60), spacing=(0.5, 0.5, 0.5), origin=(-10, -10, -15))
    lesions = _blobs_at(g, [(-5, 0, 0), (5, 0, 0)], 2.0)          # same z: right and left
    edema = _blobs_at(g, [(0, 0, 10), (0, 0, -10)], 3.0)           # two regions, above and below
    base = measure(Volume(lesions, g), edema=Volume(edema, g))
    a, g2 = reorient(lesions, g, target)
    e, _ = reorient(edema, g, target)
    other = measure(Volume(np.ascontiguousarray(a), g2), edema=Volume(np.ascontiguousarray(e), g2))
    assert [les.centroid_lps_mm for les in base.lesions] == [les.centroid_lps_mm for les in other.lesions]
    assert base.lesions[0].centroid_lps_mm[0] == pytest.approx(5, abs=0.1)  # patient left (+x) first
    assert [ed.id for ed in other.edema] == [1, 2]
    assert other.edema[0].volume_mm3 == base.edema[0].volume_mm3
    assert [ed.craniocaudal_mm for ed in base.edema] == [ed.craniocaudal_mm for ed in other.edema]


def test_three_painted_ids_out_of_reading_order_are_kept():
    """Ids 9, 4 and 6 painted from superior to inferior: listed in reading order under their own
    ids, not renumbered 1-3 nor named by their rank among the ids."""
    g = Geometry((20, 20, 120), spacing=(0.5, 0.5, 0.5))
    m = np.zeros(g.shape, np.uint8)
    for label, z in ((9, 100), (4, 60), (6, 20)):
        m[8:12, 8:12, z:z + 6] = label
    assert [les.id for les in measure(m, geometry=g).lesions] == [9, 4, 6]


def test_huge_label_ids_are_kept_and_pieces_are_warned():
    g = Geometry((20, 20, 40))
    m = np.zeros(g.shape, np.uint32)
    m[2:5, 2:5, 30:34] = 2**31 + 5
    m[2:5, 2:5, 5:9] = 7
    m[12:15, 12:15, 5:9] = 7          # label 7 painted in two pieces
    r = measure(m, geometry=g)
    assert [les.id for les in r.lesions] == [2**31 + 5, 7]
    assert any("lesion 7 is painted in 2 separate pieces" in w for w in r.warnings)


def test_a_short_cord_mask_does_not_tilt_the_axis(case):
    g, lesions, _edema, cord, _levels, _ = case
    short = np.zeros_like(cord)
    short[:, :, 130:134] = cord[:, :, 130:134]   # 2 mm of cord: its "axis" would be anything
    r = measure(Volume(lesions, g), cord=Volume(short, g))
    assert r.parameters.axis == "superior-inferior"
    assert any("too short or tilted" in w for w in r.warnings)
    base = measure(Volume(lesions, g))
    assert [les.axial_long_mm for les in r.lesions] == [les.axial_long_mm for les in base.lesions]


def test_load_problems_and_mask_checks_reach_the_result(case):
    g, lesions, edema, _cord, *_ = case
    flagged = Volume(lesions, g, problems=("gap of 6 mm between slices at 3 mm and 9 mm",))
    r = measure(flagged, image=Volume(lesions.astype(np.float32), g))
    assert "lesions: gap of 6 mm between slices at 3 mm and 9 mm" in r.warnings
    assert any("no cord mask: the enhancement ratio" in w for w in r.warnings)
    from lesionview.errors import InputError

    with pytest.raises(InputError, match="edema mask has fractional values"):
        measure(Volume(lesions, g), edema=Volume(edema * 0.4, g))
