"""Occupancy, extents and gaps in world space, against hand-computed values."""

import numpy as np
import pytest

from lesionview.geometry import Geometry, reorient
from lesionview.measure.sections import (
    boundary_points,
    cord_occupancy,
    extent_along,
    surface_gap,
    voxel_extent_along,
    world_points,
)


def test_voxel_extent_along_axes_and_diagonal():
    g = Geometry((2, 2, 2), spacing=(3.0, 0.5, 0.5))
    assert voxel_extent_along(g, [1, 0, 0]) == pytest.approx(3.0)
    assert voxel_extent_along(g, [0, 0, 1]) == pytest.approx(0.5)
    assert voxel_extent_along(g, np.array([1, 1, 0]) / np.sqrt(2)) == pytest.approx(3.5 / np.sqrt(2))


def test_extent_of_a_single_thick_slice_is_its_thickness():
    g = Geometry((5, 5, 5), spacing=(1.0, 1.0, 3.0))
    m = np.zeros(g.shape, bool)
    m[1:4, 2, 2] = True
    assert extent_along(world_points(m, g), [0, 0, 1], g) == pytest.approx(3.0)
    assert extent_along(world_points(m, g), [1, 0, 0], g) == pytest.approx(3.0)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.5, 0.5, 3.0), (3.0, 0.5, 0.5)])
def test_gap_between_boxes_along_an_axis(spacing):
    g = Geometry((12, 12, 12), spacing=spacing)
    a = np.zeros(g.shape, bool)
    b = np.zeros(g.shape, bool)
    a[2:4, 2:4, 2:4] = True
    b[7:9, 2:4, 2:4] = True  # three empty voxels between them along axis 0
    gap, uncertainty = surface_gap(boundary_points(a, g), boundary_points(b, g), g)
    assert gap == pytest.approx(3 * spacing[0])
    assert uncertainty == pytest.approx(max(spacing))


def test_touching_regions_have_zero_gap():
    g = Geometry((6, 6, 6))
    a = np.zeros(g.shape, bool)
    b = np.zeros(g.shape, bool)
    a[1:3, 1:3, 1:3] = True
    b[3:5, 1:3, 1:3] = True
    assert surface_gap(boundary_points(a, g), boundary_points(b, g), g) == (0.0, 1.0)  # +- one voxel


def test_occupancy_of_a_quarter_of_a_square_cord_and_invariance():
    g = Geometry((10, 10, 30), spacing=(1.0, 1.0, 1.0))  # z is superior-inferior
    cord = np.zeros(g.shape, bool)
    cord[1:9, 1:9, :] = True
    lesion = np.zeros(g.shape, bool)
    lesion[1:5, 1:5, 10:14] = True  # 16 of 64 voxels of each section
    occ = cord_occupancy(world_points(lesion, g), world_points(cord, g), g, [0, 0, 1])
    assert occ == pytest.approx(0.25)
    cord2, g2 = reorient(cord, g, "PIR")
    lesion2, _ = reorient(lesion, g, "PIR")
    assert cord_occupancy(world_points(lesion2, g2), world_points(cord2, g2), g2, [0, 0, 1]) == pytest.approx(occ)
