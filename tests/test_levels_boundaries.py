"""Disc boundaries of the level model from landmarks: where missing discs go, which discs exist, and
the exact errors for duplicate and out-of-order landmarks (the other refusals: test_levels_contract.py).

Expected disc positions are worked out by hand from the rules in the module docstring of
:mod:`lesionview.levels.model`: level coordinate (body of level n at n, disc k at k + 0.5), linear
interpolation between the bracketing anchors, one unit beyond the outermost anchors.
"""

import numpy as np
import pytest

from lesionview.errors import InputError
from lesionview.levels import LevelModel


def _on_z(zs):
    """Points on the z axis (LPS mm), superior first."""
    return [[0.0, 0.0, float(z)] for z in zs]


def _problem(names, positions) -> str:
    with pytest.raises(InputError) as err:
        LevelModel.from_landmarks(names, positions)
    return err.value.problem


# ---------------------------------------------------------------------------- where discs go
def test_uneven_body_centres_place_each_disc_from_its_own_neighbours():
    # Vertebral heights 10, 20, 30 mm: a disc is midway between the two bodies it separates, and
    # the outermost discs lie half of the nearest height beyond C3 and C6.
    m = LevelModel.from_landmarks(["C3", "C4", "C5", "C6"], _on_z([0, -10, -30, -60]))
    assert m.disc_names == ["C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7"]
    np.testing.assert_allclose(m.disc_points, _on_z([5, -5, -20, -45, -75]), atol=1e-9)
    np.testing.assert_allclose(m.disc_normals, _on_z([-1] * 5), atol=1e-9)
    z = [4.0, 6.0, -44.0, -46.0, -74.0, -76.0]
    assert m.level_names_of(_on_z(z)) == ["C3", "", "C5", "C6", "C6", ""]


def test_anchors_levels_apart_spread_the_missing_discs_evenly():
    # C2 and C5 bodies 30 mm apart: three vertebral heights of 10 mm.
    m = LevelModel.from_landmarks(["C2", "C5"], _on_z([0, -30]))
    assert m.disc_names == ["C1/C2", "C2/C3", "C3/C4", "C4/C5", "C5/C6"]
    np.testing.assert_allclose(m.disc_points, _on_z([5, -5, -15, -25, -35]), atol=1e-9)
    # Discs C2/C3 and C6/C7 40 mm apart: four heights of 10 mm, one more beyond each end.
    m = LevelModel.from_landmarks(["C2/C3", "C6/C7"], _on_z([0, -40]))
    assert m.disc_names == ["C1/C2", "C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7", "C7/T1"]
    np.testing.assert_allclose(m.disc_points, _on_z([10, 0, -10, -20, -30, -40, -50]), atol=1e-9)


def test_landmarks_in_order_are_accepted_however_close():
    # C4 and C5 centres half a millimetre apart along the spine are thin but in order.
    m = LevelModel.from_landmarks(["C3", "C4", "C5"], _on_z([0, -15, -15.5]))
    np.testing.assert_allclose(m.disc_points[:, 2], [7.5, -7.5, -15.25, -15.75], atol=1e-9)


def test_discs_start_at_c0_c1():
    # One unit above C0/C1 would be a disc above the occiput: there is none.
    m = LevelModel.from_landmarks(["C0/C1", "C1/C2"], _on_z([0, -10]))
    assert m.disc_names == ["C0/C1", "C1/C2", "C2/C3"]
    assert m.modelled_levels == ["C1", "C2"]


def test_discs_end_at_l5_s1():
    # One unit below L5/S1 would be a disc below S1: there is none.
    m = LevelModel.from_landmarks(["L4/L5", "L5/S1"], _on_z([0, -30]))
    assert m.disc_names == ["L3/L4", "L4/L5", "L5/S1"]
    np.testing.assert_allclose(m.disc_points[:, 2], [30, 0, -30], atol=1e-9)
    assert m.modelled_levels[:2] == ["L4", "L5"]   # (S1 below L5/S1: docs/levels.md)


# ---------------------------------------------------------------------------- errors
def test_duplicate_landmarks_are_named_once_each():
    names = ["C2", "C3", "C3", "C4/C5", "C4-C5", "C6"]
    problem = _problem(names, _on_z([10, 0, -1, -20, -21, -40]))
    assert problem == "landmark(s) given more than once: C3, C4/C5."


def test_out_of_order_landmarks_name_each_bad_pair():
    # C3 and C4 at one point; C6 half a millimetre above C5; C7 and T1 0.5 mm apart but in order.
    names = ["C2", "C3", "C4", "C5", "C6", "C7", "T1"]
    problem = _problem(names, _on_z([0, -10, -10, -30, -29.5, -50, -50.5]))
    assert problem == "landmarks out of anatomical order along the spine: C3 / C4, C5 / C6."


def test_two_vertebrae_at_one_point_are_out_of_order():
    problem = _problem(["C3", "C4", "C5"], _on_z([0, -15, -15]))
    assert problem == "landmarks out of anatomical order along the spine: C4 / C5."
