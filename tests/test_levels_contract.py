"""The level model's contract, on hand geometry: discs on known planes along z, points at known places.

Covers lesionview.levels.model: where interpolated and extrapolated discs go, the extension by
one unit beyond the outermost landmarks, span / fractions / modelled levels of a mask, the
labelled cord as truth on its own voxels (and only there), the field-of-view check, and the
refusals with the landmarks they name. Every expected value is worked out by hand in the
comments, from the rules in the module docstring.
"""

import dataclasses
import json

import numpy as np
import pytest

from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.levels import LabelledCord, Landmark, LevelModel
from lesionview.volume import Volume


def on_axis(z) -> np.ndarray:
    """Points at x = y = 0 with the given z (mm, LPS: z grows towards the head)."""
    z = np.atleast_1d(np.asarray(z, dtype=float))
    return np.c_[np.zeros((len(z), 2)), z]


# ---------------------------------------------------------------------------- disc placement
def test_interpolated_discs_use_the_bracketing_pair_of_uneven_body_centres():
    # Body centres C3..C6 at z = 0, -10, -30, -40 (uneven heights). Each missing disc lies
    # midway between its two neighbours: C3/C4 at -5, C4/C5 at -20, C5/C6 at -35; beyond the
    # ends, half the nearest spacing: C2/C3 at +5 (C3-C4 spacing), C6/C7 at -45 (C5-C6).
    m = LevelModel.from_landmarks(["C3", "C4", "C5", "C6"], on_axis([0, -10, -30, -40]))
    assert m.disc_names == ["C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7"]
    np.testing.assert_allclose(m.disc_points[:, 2], [5, -5, -20, -35, -45])
    z = [5.5, 4.5, -4.5, -5.5, -19.5, -20.5, -34.5, -35.5, -44.5, -45.5]
    assert m.level_names_of(on_axis(z)) == ["", "C3", "C3", "C4", "C4", "C5", "C5", "C6", "C6", ""]


def test_landmarks_closer_than_a_millimetre_are_still_in_order():
    # Small-animal scale: C3 centre, C3/C4 disc, C4 centre 0.75 mm apart. Discs C2/C3 at
    # +0.75, C3/C4 at -0.75 (given), C4/C5 at -2.25.
    m = LevelModel.from_landmarks(["C3", "C3/C4", "C4"], on_axis([0, -0.75, -1.5]))
    assert m.disc_names == ["C2/C3", "C3/C4", "C4/C5"]
    assert m.level_names_of(on_axis([1.0, 0.5, -1.0, -2.0, -2.5])) == ["", "C3", "C4", "C4", ""]


def test_lumbosacral_landmarks_keep_the_last_nameable_disc():
    # L5 and S1 centres 30 mm apart: discs L4/L5 (+15) and L5/S1 (-15). There is no disc
    # below S1 to name, so the model has exactly these two boundaries. (Below L5/S1 the planes
    # give no level yet; not pinned here: docs/levels.md.)
    m = LevelModel.from_landmarks(["L5", "S1"], on_axis([0, -30]))
    assert m.disc_names == ["L4/L5", "L5/S1"]
    np.testing.assert_allclose(m.disc_points[:, 2], [15, -15])
    assert m.level_names_of(on_axis([16, 14, 0, -14])) == ["", "L5", "L5", "L5"]


# ---------------------------------------------------------------------------- masks
# Discs C2/C3 at z = 0 and C4/C5 at z = -30 (given), so C3/C4 at -15, and one vertebral height
# (15 mm) beyond: C1/C2 at +15, C5/C6 at -45. Modelled levels C2..C5; z > 15 is outside.
SPAN_MODEL = (["C2/C3", "C4/C5"], on_axis([0, -30]))
SPAN_GRID = Geometry((3, 3, 80), spacing=(1, 1, 1), origin=(-1, -1, -49.5))   # z = -49.5 .. 29.5


def _column(z_from, z_to) -> np.ndarray:
    """Mask of the voxels at x = y = 0 with z_from <= z <= z_to."""
    z = SPAN_GRID.origin[2] + np.arange(SPAN_GRID.shape[2])
    mask = np.zeros(SPAN_GRID.shape, bool)
    mask[1, 1, (z >= z_from) & (z <= z_to)] = True
    return mask


def test_span_and_fractions_of_a_mask_reaching_outside_the_modelled_levels():
    m = LevelModel.from_landmarks(*SPAN_MODEL)
    assert m.modelled_levels == ["C2", "C3", "C4", "C5"]
    # z = -39.5 .. 19.5, 60 voxels: C5 10 (-39.5..-30.5), C4 15, C3 15, C2 15 (0.5..14.5),
    # outside 5 (15.5..19.5).
    mask = _column(-39.5, 19.5)
    assert m.span(mask, SPAN_GRID) == ("C2", "C5", 4)
    assert m.span_label(mask, SPAN_GRID) == "C2-C5"
    fr = m.level_fractions(mask, SPAN_GRID)
    assert list(fr) == ["C2", "C3", "C4", "C5"]
    assert fr == pytest.approx({"C2": 15 / 60, "C3": 15 / 60, "C4": 15 / 60, "C5": 10 / 60})
    # A mask in one level spans one level.
    assert m.span(_column(-29.5, -15.5), SPAN_GRID) == ("C4", "C4", 1)


def test_craniocervical_landmarks_start_at_the_upper_border_of_c1():
    # Discs C0/C1 at z = 0 and C2/C3 at -30 (given): C1/C2 midway at -15, C3/C4 one height
    # below at -45. Nothing is above C0/C1: C1 is the first level.
    m = LevelModel.from_landmarks(["C0/C1", "C2/C3"], on_axis([0, -30]))
    assert m.disc_names == ["C0/C1", "C1/C2", "C2/C3", "C3/C4"]
    np.testing.assert_allclose(m.disc_points[:, 2], [0, -15, -30, -45])
    assert m.level_names_of(on_axis([1, -1, -14, -16, -44, -46])) == ["", "C1", "C1", "C2", "C3", ""]
    # z = -20.5 .. 5.5, 27 voxels: outside 6 (0.5..5.5), C1 15 (-14.5..-0.5), C2 6.
    mask = _column(-20.5, 5.5)
    assert m.span(mask, SPAN_GRID) == ("C1", "C2", 2)
    assert m.level_fractions(mask, SPAN_GRID) == pytest.approx({"C1": 15 / 27, "C2": 6 / 27})


def test_mask_of_another_shape_is_refused():
    m = LevelModel.from_landmarks(*SPAN_MODEL)
    for shape in [(4, 3, 80), (3, 3, 79), (2, 3, 80)]:
        with pytest.raises(InputError, match="does not match"):
            m.level_fractions(np.ones(shape, bool), SPAN_GRID)


def test_every_point_of_a_large_batch_gets_its_level():
    # More points than fit in one pass of the plane test; every one lies in C3 (z = -7).
    m = LevelModel.from_landmarks(*SPAN_MODEL)
    levels = m.level_of(on_axis(np.full(200_001, -7.0)))
    assert len(levels) == 200_001
    assert np.all(levels == 3)


# ---------------------------------------------------------------------------- labelled cord
def test_labelled_voxels_answer_only_for_points_inside_the_grid():
    # Planes: discs C3/C4 at z = +10 and C4/C5 at -10, so every point below is in C4 by the
    # planes. A 3x3x3 labelled grid (voxel centres at -1, 0, 1 on each axis) says C6
    # everywhere, so which of the two answered is visible.
    planes = LevelModel.from_landmarks(["C3/C4", "C4/C5"], on_axis([10, -10]))
    g = Geometry((3, 3, 3), spacing=(1, 1, 1), origin=(-1, -1, -1))
    m = LevelModel(planes.landmarks, labelled=LabelledCord(np.full(g.shape, 6, np.int16), g))
    corners = [[-1, -1, -1], [1, 1, 1], [-1, 1, 0], [0, 0, -1]]       # voxels on the grid's edges
    assert m.level_of(corners).tolist() == [6, 6, 6, 6]
    # One voxel beyond each face: off the labelled grid, so the planes answer (C4).
    beyond = [[-2, 0, 0], [0, -2, 0], [0, 0, -2], [2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert m.level_of(beyond).tolist() == [4] * 6
    # Planes C3 (one height above C3/C4), C4, C5 (one height below C4/C5), and the labels' C6.
    assert m.modelled_levels == ["C3", "C4", "C5", "C6"]


def test_a_labelled_cord_of_one_level_has_no_disc_planes():
    g = Geometry((5, 5, 20), spacing=(1, 1, 1))
    a = np.zeros(g.shape, np.int16)
    a[2, 2, :] = 4
    m = LevelModel.from_sct_labeled_cord(Volume(a, g))
    assert m.landmarks == () and m.disc_names == []
    assert m.disc_points.shape == (0, 3) and m.disc_normals.shape == (0, 3)
    assert m.modelled_levels == ["C4"]
    assert m.level_of([[2, 2, 5], [0, 0, 5]]).tolist() == [4, 0]
    m.check_inside(g)                       # no landmarks: nothing can be outside


def test_a_labelled_cord_of_two_levels_gives_one_landmark():
    # C1 in the upper half of a column (z index 10..19), C2 in the lower half: one boundary,
    # the C1/C2 landmark, and no plane model (it needs two).
    g = Geometry((5, 5, 20), spacing=(1, 1, 1))
    a = np.zeros(g.shape, np.int16)
    a[2, 2, 10:], a[2, 2, :10] = 1, 2
    m = LevelModel.from_sct_labeled_cord(Volume(a, g))
    assert m.landmark_names == ["C1/C2"]
    assert m.modelled_levels == ["C1", "C2"]
    assert m.level_of([[2, 2, 15], [2, 2, 4], [0, 0, 15]]).tolist() == [1, 2, 0]
    m.check_inside(g)
    with pytest.raises(InputError, match=r"C1/C2 at \("):
        m.check_inside(Geometry((5, 5, 5), spacing=(1, 1, 1), origin=(100, 100, 100)))


# ---------------------------------------------------------------------------- field of view
@pytest.mark.parametrize(("x", "inside"), [(-0.8, True), (-1.2, False), (18.8, True), (19.2, False)])
def test_check_inside_uses_the_field_of_view_edge(x, inside):
    # 2 mm voxels with centres at x = 0 .. 18: the field of view runs from -1 to 19 mm.
    g = Geometry((10, 10, 40), spacing=(2, 2, 2), origin=(0, 0, -60))
    m = LevelModel.from_landmarks(["C4/C5", "C5/C6"], [[x, 10, 0], [10, 10, -10]])
    if inside:
        m.check_inside(g)
    else:
        with pytest.raises(InputError, match=r"C4/C5 at \(") as err:
            m.check_inside(g)
        assert "C5/C6" not in str(err.value)


# ---------------------------------------------------------------------------- refusals
def test_refusals_name_the_offending_landmarks():
    with pytest.raises(InputError, match="3 landmark names but 2 positions"):
        LevelModel.from_landmarks(["C3", "C4", "C5"], on_axis([0, -15]))
    with pytest.raises(InputError, match="2 landmark names but 3 positions"):
        LevelModel.from_landmarks(["C3", "C4"], on_axis([0, -15, -30]))
    with pytest.raises(InputError, match="at least two landmarks, got 0"):
        LevelModel.from_landmarks([], [])
    # Many names and as many positions: the count matches, the repetition is what is wrong.
    with pytest.raises(InputError, match="more than once: C3"):
        LevelModel.from_landmarks(["C3"] * 300, on_axis(-np.arange(300.0)))
    with pytest.raises(InputError, match="more than once") as err:
        LevelModel.from_landmarks(["C3", "C4/C5", "C4-C5"], on_axis([0, -20, -21]))
    assert "C4/C5" in str(err.value) and "C3" not in str(err.value)
    # C5 placed above C4 (positions swapped): the pair out of order is named, C3 is not.
    with pytest.raises(InputError, match="order") as err:
        LevelModel.from_landmarks(["C3", "C4", "C5"], on_axis([0, -30, -15]))
    assert "C4 / C5" in str(err.value) and "C3" not in str(err.value)
    # C5 above C6, and C3 / C4 only 0.75 mm apart but in order: only C5 / C6 is named.
    with pytest.raises(InputError, match="order") as err:
        LevelModel.from_landmarks(["C3", "C4", "C5", "C6"], on_axis([0, -0.75, -30, -15]))
    assert "C5 / C6" in str(err.value) and "C3" not in str(err.value) and "C4" not in str(err.value)


def test_landmarks_at_one_place_are_refused():
    with pytest.raises(InputError, match="apart"):
        LevelModel.from_landmarks(["C4/C5", "C5/C6"], [[3, 4, -5], [3, 4, -5]])
    # The message names the outermost two.
    with pytest.raises(InputError, match="landmarks C3 and C5 lie 0.00 mm apart"):
        LevelModel.from_landmarks(["C4", "C3", "C5"], [[3, 4, -5]] * 3)


def test_landmarks_running_obliquely_upwards_are_refused():
    # C3 at the origin, C4 and C5 posterior and superior of it: the spine runs upwards. The
    # message names the outermost two.
    with pytest.raises(InputError, match="upwards: C3 is below C5"):
        LevelModel.from_landmarks(["C3", "C4", "C5"], [[0, 0, 0], [0, 10, 12], [0, 20, 25]])


# ---------------------------------------------------------------------------- API
def test_constructors_take_their_arguments_by_keyword(tmp_path):
    m = LevelModel.from_landmarks(names=["C4/C5", "C5/C6"], positions=on_axis([0, -10]))
    assert m.level_names_of(on_axis([-5])) == ["C5"]
    path = m.save_landmarks(tmp_path / "marks.csv")
    assert LevelModel.from_file(path=path).landmark_names == ["C4/C5", "C5/C6"]


def _two_vertebrae(first: int, second: int) -> Volume:
    """Two 16 mm blocks labelled ``first`` (superior) and ``second``, 4 mm apart, 1 mm voxels."""
    g = Geometry((20, 20, 44), spacing=(1, 1, 1), origin=(-10, -10, -22))
    a = np.zeros(g.shape, np.int16)
    a[5:15, 5:15, 24:40], a[5:15, 5:15, 4:20] = first, second
    return Volume(a, g)


def test_volume_constructors_take_the_volume_by_keyword():
    g = Geometry((5, 5, 60))
    points = np.zeros(g.shape, np.int16)
    points[2, 2, 40], points[2, 2, 25] = 4, 5
    assert LevelModel.from_sct_disc_labels(volume=Volume(points, g)).landmark_names == ["C3/C4", "C4/C5"]
    assert LevelModel.from_sct_body_labels(volume=Volume(points, g)).landmark_names == ["C4", "C5"]
    assert LevelModel.from_verse(volume=_two_vertebrae(3, 4)).landmark_names[0] == "C3/C4"
    assert LevelModel.from_spineps(volume=_two_vertebrae(3, 4)).landmark_names[0] == "C3/C4"
    # TotalSegmentator 'total': vertebrae_C3 = 48, vertebrae_C4 = 47.
    ts = LevelModel.from_totalsegmentator(volume=_two_vertebrae(48, 47), task="total")
    assert ts.landmark_names[0] == "C3/C4"
    LevelModel.from_sct_body_labels(Volume(points, g)).check_inside(geometry=g)


def test_a_built_model_cannot_be_altered():
    m = LevelModel.from_landmarks(*SPAN_MODEL)
    for name in ("disc_indices", "disc_points", "disc_normals"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(m, name)[0] = 0
    g = Geometry((3, 3, 3))
    cord = LabelledCord(np.zeros(g.shape, np.int16), g)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cord.array = np.ones(g.shape, np.int16)


def test_name_helpers_work_on_a_model():
    m = LevelModel.from_landmarks(*SPAN_MODEL)
    assert m.name_of(5) == "C5" and m.index_of("T1") == 8


def test_landmark_kind_read_from_a_file_is_recognised():
    # A kind string built at run time (here decoded from JSON) is equal to "body" but is not
    # the same object as the literal.
    kind = json.loads('"body"')
    mark = Landmark(kind, 5, (0.0, 0.0, 0.0))
    assert mark.name == "C5" and mark.coordinate == 5.0
    assert Landmark(json.loads('"disc"'), 5, (0.0, 0.0, 0.0)).name == "C5/C6"


def test_a_labelled_cord_is_read_with_the_volume_by_keyword():
    g = Geometry((3, 3, 40))
    a = np.zeros(g.shape, np.int16)
    a[1, 1, 20:40], a[1, 1, 0:20] = 3, 4           # C3 above C4
    assert LevelModel.from_sct_labeled_cord(volume=Volume(a, g)).level_names_of([[1.0, 1.0, 30.0]]) == ["C3"]


def test_one_voxel_mask_has_its_level_fraction():
    m = LevelModel.from_landmarks(*SPAN_MODEL)
    one = _column(-7.5, -7.5)                      # one voxel at z = -7.5: C3 (between -15 and 0)
    assert int(one.sum()) == 1
    assert m.level_fractions(one, SPAN_GRID) == {"C3": 1.0}
