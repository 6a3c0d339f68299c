"""Contract of ``lesionview.measure.sections`` against hand-computed values and array oracles.

Complements ``test_sections.py`` where mutation testing found it silent:

* boundary voxels: a voxel with a face outside the region is on the boundary, one deep inside is
  not, and a voxel on the array's edge touches the outside;
* extents of an empty set (0) and of a single voxel box (its projected box);
* cord occupancy: the documented 15 mm section radius on both sides of it, slabs that hold one
  voxel layer each on off-origin, anisotropic, reversed and oblique grids (oracle: the same
  fractions counted on array slices), a lesion at either end of the cord, empty inputs;
* closest gaps: empty, single-voxel, overlapping and one-voxel-apart regions, a gap that is
  never negative, a unit direction, an immutable result.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lesionview.geometry import SUPERIOR, Geometry
from lesionview.measure.sections import (
    boundary_points,
    closest_gap,
    cord_occupancy,
    extent_along,
    voxel_extent_along,
    world_points,
)


def _as_set(points) -> set[tuple[float, ...]]:
    return {tuple(np.round(p, 6)) for p in np.asarray(points)}


# ----------------------------------------------------------------------------- boundary voxels
def test_boundary_of_a_cube_excludes_its_centre_and_warns_nothing():
    g = Geometry((5, 5, 5), spacing=(0.5, 0.5, 3.0), origin=(-12.0, 30.5, -84.0))
    cube = np.zeros(g.shape, bool)
    cube[1:4, 1:4, 1:4] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an ordinary mask must not raise numpy warnings
        pts = boundary_points(cube, g)
    # 27 voxels, all but the centre have a face outside the cube.
    assert len(pts) == 26
    expected = _as_set(world_points(cube, g)) - _as_set(g.index_to_world([[2, 2, 2]]))
    assert _as_set(pts) == expected


def test_voxels_on_the_array_edge_touch_the_outside():
    g = Geometry((3, 3, 3), spacing=(1.0, 1.0, 3.0), origin=(5.0, -5.0, 40.0))
    full = np.ones(g.shape, bool)  # a region filling the array: only its centre is inside
    pts = boundary_points(full, g)
    assert len(pts) == 26
    assert _as_set(g.index_to_world([[1, 1, 1]])) & _as_set(pts) == set()


# ----------------------------------------------------------------------------- extents
def test_extent_of_nothing_is_zero():
    g = Geometry((4, 4, 4), spacing=(0.5, 0.5, 3.0))
    assert extent_along(np.zeros((0, 3)), SUPERIOR, g) == 0.0


def test_extent_of_one_voxel_is_its_box_along_the_direction():
    g = Geometry((4, 4, 4), spacing=(0.5, 0.5, 3.0), origin=(1.0, 2.0, -50.0))
    m = np.zeros(g.shape, bool)
    m[2, 1, 3] = True
    one = world_points(m, g)
    assert extent_along(one, SUPERIOR, g) == pytest.approx(3.0)  # one 3 mm slice is 3 mm long
    u = np.array([3.0, 0.0, 4.0]) / 5.0
    assert extent_along(one, u, g) == pytest.approx(0.5 * 0.6 + 3.0 * 0.8)


# ----------------------------------------------------------------------------- cord occupancy
def _layered_masks(cord_n: dict, lesion_n: dict, n_layers: int, cord_axis: int, section=(4, 4)):
    """Cord and lesion masks whose layers along ``cord_axis`` hold ``cord_n[k]`` / ``lesion_n[k]``
    voxels of a ``section`` cross-section (lesion inside the cord, first voxels in C order)."""
    size = section[0] * section[1]
    cord = np.zeros((*section, n_layers), bool)
    lesion = np.zeros_like(cord)
    for k in range(n_layers):
        c, n = cord_n.get(k, 0), lesion_n.get(k, 0)
        assert n <= c <= size
        cord[..., k].flat[:c] = True
        lesion[..., k].flat[:n] = True
    return np.moveaxis(cord, 2, cord_axis), np.moveaxis(lesion, 2, cord_axis)


def _slice_oracle(cord, lesion, cord_axis: int) -> float:
    """Largest lesion / cord fraction over the array slices across ``cord_axis``."""
    others = tuple(a for a in range(3) if a != cord_axis)
    c = cord.sum(axis=others)
    n = lesion.sum(axis=others)
    return float(np.max(n[c > 0] / c[c > 0]))


FULL = 16
PATTERNS = {
    # name: (cord voxels per layer, lesion voxels per layer, layers)
    "largest in the middle": ({**dict.fromkeys(range(12), FULL), 6: 12}, {4: 2, 5: 4, 6: 6, 7: 3}, 12),
    "largest at the first layer": ({**dict.fromkeys(range(12), FULL), 4: 10}, {4: 8, 5: 4, 6: 3}, 12),
    "largest at the last layer": ({**dict.fromkeys(range(12), FULL), 6: 10}, {4: 3, 5: 4, 6: 8}, 12),
    "lesion at the cord's upper end": (dict.fromkeys(range(7), FULL), {5: 4, 6: 4}, 12),
    "lesion at the cord's lower end": (dict.fromkeys(range(4, 12), FULL), {4: 4, 5: 4}, 12),
    "long lesion, largest at its end": ({**dict.fromkeys(range(12), FULL), 10: 10},
                                        {**dict.fromkeys(range(1, 10), 2), 10: 8}, 12),
}


def _oblique(degrees: float) -> np.ndarray:
    return Rotation.from_rotvec(np.radians(degrees) * np.array([1.0, 2.0, 0.5]) / np.sqrt(5.25)).as_matrix()


GRIDS = {
    # name: (spacing, origin, direction, cord array axis, sign of the axis given)
    "axial 3 mm below the origin": ((0.5, 0.5, 3.0), (12.5, -40.25, -120.0), np.eye(3), 2, 1.0),
    "sagittal, cord along 0.5 mm pixels": ((3.0, 0.5, 0.5), (-3.1, 60.2, 35.7), np.eye(3), 1, 1.0),
    "1 mm, axis given pointing down": ((1.0, 1.0, 1.0), (-7.0, -7.0, -7.0), np.eye(3), 0, -1.0),
    "oblique, 3 mm slices": ((0.5, 0.5, 3.0), (20.3, -11.7, -95.1), _oblique(23.0), 2, 1.0),
    "oblique, 0.5 mm along the cord": ((0.75, 0.75, 0.5), (-4.4, 8.8, 61.3), _oblique(31.0), 2, -1.0),
    "oblique 7 degrees, 0.5 mm isotropic": ((0.5, 0.5, 0.5), (20.3, -11.7, -95.1), _oblique(7.0), 2, 1.0),
}


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("grid", GRIDS)
def test_occupancy_counts_one_voxel_layer_per_slab(grid, pattern):
    spacing, origin, direction, cord_axis, sign = GRIDS[grid]
    cord_n, lesion_n, n_layers = PATTERNS[pattern]
    cord, lesion = _layered_masks(cord_n, lesion_n, n_layers, cord_axis)
    g = Geometry(cord.shape, spacing=spacing, origin=origin, direction=direction)
    axis = sign * g.direction_matrix[:, cord_axis]
    occ = cord_occupancy(world_points(lesion, g), world_points(cord, g), g, axis)
    assert occ == pytest.approx(_slice_oracle(cord, lesion, cord_axis), abs=1e-9)


def test_patterns_have_the_hand_computed_fractions():
    """The oracle itself, on the patterns above, against fractions worked out by hand."""
    expected = [6 / 12, 8 / 10, 8 / 10, 4 / 16, 4 / 16, 8 / 10]
    for (cord_n, lesion_n, n), want in zip(PATTERNS.values(), expected):
        cord, lesion = _layered_masks(cord_n, lesion_n, n, 2)
        assert _slice_oracle(cord, lesion, 2) == pytest.approx(want)


def test_section_radius_is_15_mm_inclusive():
    # One lesion voxel; in its section, cord 14.5 mm and exactly 15 mm away counts, cord 15.5 mm
    # away (another part of a curved cord) does not: 1 lesion voxel of 3 cord voxels.
    g = Geometry((80, 80, 3), spacing=(0.5, 0.5, 1.0), origin=(-20.0, -20.0, -60.0))
    lesion = np.zeros(g.shape, bool)
    lesion[40, 40, 1] = True
    cord = lesion.copy()
    cord[40 + 29, 40, 1] = True   # 14.5 mm
    cord[40 - 30, 40, 1] = True   # 15.0 mm
    cord[40, 40 + 31, 1] = True   # 15.5 mm
    occ = cord_occupancy(world_points(lesion, g), world_points(cord, g), g, SUPERIOR)
    assert occ == pytest.approx(1 / 3)


def test_lesion_filling_a_section_wider_than_the_radius_occupies_all_of_it():
    # A 41 mm wide section, all lesion: the fraction is 1 although the section reaches past 15 mm.
    g = Geometry((41, 1, 3), spacing=(1.0, 1.0, 1.0), origin=(-20.0, 3.0, 17.0))
    lesion = np.zeros(g.shape, bool)
    lesion[:, 0, 1] = True
    pts = world_points(lesion, g)
    assert cord_occupancy(pts, pts, g, SUPERIOR) == pytest.approx(1.0)


def test_occupancy_of_single_voxels_and_empty_inputs():
    g = Geometry((6, 6, 6), spacing=(0.5, 0.5, 3.0), origin=(-1.0, 4.0, -30.0))
    one = np.zeros(g.shape, bool)
    one[2, 2, 2] = True
    p1 = world_points(one, g)
    section = one.copy()
    section[2:4, 2:4, 2] = True   # the voxel and three cord neighbours in its slice
    none = np.zeros((0, 3))
    assert cord_occupancy(p1, p1, g, SUPERIOR) == pytest.approx(1.0)  # the whole cord section
    assert cord_occupancy(p1, world_points(section, g), g, SUPERIOR) == pytest.approx(0.25)
    assert cord_occupancy(none, world_points(section, g), g, SUPERIOR) == 0.0
    assert cord_occupancy(p1, none, g, SUPERIOR) == 0.0
    assert cord_occupancy(none, none, g, SUPERIOR) == 0.0


def test_cord_beyond_the_section_radius_is_like_no_cord():
    # Cord only 30 mm to the side of the lesion: no cross-section there, as with no cord at all.
    g = Geometry((40, 4, 4), spacing=(1.0, 1.0, 1.0), origin=(-5.0, 0.0, 0.0))
    lesion = np.zeros(g.shape, bool)
    lesion[2, 1:3, 1:3] = True
    cord = np.zeros(g.shape, bool)
    cord[32:36, :, :] = True
    occ = cord_occupancy(world_points(lesion, g), world_points(cord, g), g, SUPERIOR)
    assert occ == 0.0


# ----------------------------------------------------------------------------- gaps
def _box(g: Geometry, *slices) -> np.ndarray:
    m = np.zeros(g.shape, bool)
    m[slices] = True
    return boundary_points(m, g)


@pytest.mark.parametrize("which", ["first", "second", "both"])
def test_gap_with_an_empty_region_is_unknown(which):
    g = Geometry((6, 6, 6), spacing=(0.5, 0.5, 3.0))
    region = _box(g, slice(1, 3), slice(1, 3), slice(1, 3))
    empty = np.zeros((0, 3))
    a, b = {"first": (empty, region), "second": (region, empty), "both": (empty, empty)}[which]
    gap = closest_gap(a, b, g)
    assert np.isnan(gap.gap_mm) and np.isnan(gap.uncertainty_mm) and np.isnan(gap.extent_mm)
    assert np.linalg.norm(gap.direction) == pytest.approx(1.0)  # still a unit vector


def test_gap_between_single_voxels_across_thick_slices():
    # 3 mm slices; a one-voxel lesion two empty slices above another: 6 mm apart, +-3 mm.
    g = Geometry((6, 6, 8), spacing=(0.5, 0.5, 3.0), origin=(10.0, -20.0, -70.0))
    low = _box(g, 2, 3, 1)
    high = _box(g, 2, 3, 4)
    assert len(low) == len(high) == 1
    for a, b, sign in [(low, high, 1.0), (high, low, -1.0)]:
        gap = closest_gap(a, b, g)
        assert gap.gap_mm == pytest.approx(6.0)
        assert gap.extent_mm == pytest.approx(3.0)
        assert gap.uncertainty_mm == pytest.approx(3.0)
        assert gap.direction == pytest.approx(sign * SUPERIOR)  # from the first to the second


def test_one_empty_half_millimetre_voxel_between_regions_is_half_a_millimetre():
    g = Geometry((10, 6, 6), spacing=(0.5, 0.5, 3.0), origin=(-3.0, 7.0, 12.0))
    a = _box(g, slice(1, 4), slice(1, 4), slice(1, 3))
    b = _box(g, slice(5, 8), slice(1, 4), slice(1, 3))   # centres 1.0 mm apart along x
    gap = closest_gap(a, b, g)
    assert gap.gap_mm == pytest.approx(0.5)
    assert gap.extent_mm == pytest.approx(0.5)
    assert gap.direction == pytest.approx([1.0, 0.0, 0.0])


def test_overlapping_regions_have_zero_gap_and_a_nominal_superior_direction():
    g = Geometry((8, 8, 8), spacing=(0.5, 0.5, 3.0), origin=(4.0, -4.0, -40.0))
    a = _box(g, slice(1, 4), slice(1, 4), slice(1, 4))
    b = _box(g, slice(3, 6), slice(3, 6), slice(3, 6))   # shares voxel (3, 3, 3) on both boundaries
    gap = closest_gap(a, b, g)
    assert gap.gap_mm == 0.0
    assert gap.uncertainty_mm == pytest.approx(3.0)
    assert gap.direction == pytest.approx(SUPERIOR)


@pytest.mark.parametrize("degrees", [7.0, 23.0, 41.0, 58.0])
def test_diagonally_touching_voxels_on_an_oblique_grid_have_a_gap_of_zero_not_less(degrees):
    # Voxels sharing an edge: centre distance equals the box extent along the line, so the gap is
    # 0 exactly in theory; round-off must not make it negative.
    g = Geometry((4, 4, 4), spacing=(0.7, 1.3, 3.1), origin=(11.1, -7.3, 2.9), direction=_oblique(degrees))
    for offset in [(1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1), (1, -1, 1)]:
        a = _box(g, 1, 1, 1)
        b = _box(g, 1 + offset[0], 1 + offset[1], 1 + offset[2])
        gap = closest_gap(a, b, g)
        assert gap.gap_mm >= 0.0
        assert gap.gap_mm == pytest.approx(0.0, abs=1e-9)
        assert np.linalg.norm(gap.direction) == pytest.approx(1.0)
        assert gap.extent_mm == pytest.approx(voxel_extent_along(g, gap.direction))


def test_gap_is_immutable():
    g = Geometry((6, 6, 6))
    gap = closest_gap(_box(g, 1, 1, 1), _box(g, 4, 1, 1), g)
    assert gap.gap_mm == pytest.approx(2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        gap.gap_mm = 0.0
