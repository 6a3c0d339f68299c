"""Editing helpers: new arrays every time, label by label, sizes in physical units."""

import numpy as np
import pytest

from lesionview.geometry import Geometry
from lesionview.segment.edit import (
    fill_holes,
    merge_labels,
    remove_islands,
    smooth_mask,
    split_label,
)


def _two_labels():
    m = np.zeros((12, 12, 12), np.uint16)
    m[1:6, 1:6, 1:6] = 3
    m[3, 3, 3] = 0            # a hole in label 3
    m[7:11, 7:11, 7:11] = 5
    m[8, 8, 8] = 0            # a hole in label 5
    return m


def test_fill_holes_per_label_and_input_untouched():
    m = _two_labels()
    before = m.copy()
    out = fill_holes(m)
    np.testing.assert_array_equal(m, before)
    assert out[3, 3, 3] == 3 and out[8, 8, 8] == 5
    assert np.count_nonzero(out) == np.count_nonzero(m) + 2
    assert fill_holes(m > 0).dtype == bool


def test_remove_islands_uses_physical_volume():
    g = Geometry((10, 10, 10), spacing=(3.0, 0.5, 0.5))  # 0.75 mm^3 voxels
    m = np.zeros(g.shape, np.uint8)
    m[1:3, 1:5, 1:5] = 1      # 32 voxels = 24 mm^3
    m[6, 8, 8] = 1            # 0.75 mm^3 island
    out = remove_islands(m, g, min_volume_mm3=5.0)
    assert out[6, 8, 8] == 0 and np.count_nonzero(out) == 32
    assert np.count_nonzero(remove_islands(m, g, min_volume_mm3=30.0)) == 0
    assert m[6, 8, 8] == 1


def test_split_label_largest_keeps_its_id():
    m = np.zeros((10, 10, 10), np.uint8)
    m[0:2, 0:2, 0:2] = 4      # 8 voxels
    m[5:8, 5:8, 5:8] = 4      # 27 voxels: the largest
    m[0, 9, 9] = 2
    out = split_label(m, 4)
    assert np.count_nonzero(out == 4) == 27
    assert np.count_nonzero(out == 5) == 8     # max + 1
    assert np.count_nonzero(out == 2) == 1 and np.count_nonzero(m == 4) == 35


def test_merge_labels():
    m = _two_labels()
    out = merge_labels(m, [3, 5])
    assert set(np.unique(out)) == {0, 3} and set(np.unique(m)) == {0, 3, 5}
    assert set(np.unique(merge_labels(m, [3, 5], into=9))) == {0, 9}


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (3.0, 0.5, 0.5)])
def test_smooth_keeps_a_ball_and_removes_a_spike(spacing):
    g = Geometry((40, 60, 60), spacing=spacing)
    centre = g.index_to_world(np.array(g.shape) / 2)
    world = g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3)
    ball = np.linalg.norm(world - centre, axis=-1) <= 6.0
    spiky = ball.copy()
    i, j, k = (np.array(g.shape) // 2).tolist()
    spiky[i, j, k:] = True    # a one-voxel spike sticking out of the ball
    out = smooth_mask(spiky, g, sigma_mm=1.0)
    assert not out[i, j, -1]
    assert abs(int(out.sum()) - int(ball.sum())) <= 0.1 * ball.sum()
