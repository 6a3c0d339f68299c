"""SimpleITK bridge: the same voxel lands at the same world position both ways."""

import numpy as np

from lesionview.geometry import Geometry
from lesionview.resample import from_sitk, resample, to_sitk


def test_sitk_round_trip_keeps_world_positions():
    g = Geometry((4, 5, 6), spacing=(3.0, 0.5, 0.7), origin=(1, -2, 3),
                 direction=np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float))
    a = np.arange(120, dtype=np.int16).reshape(g.shape)
    img = to_sitk(a, g)
    idx = (3, 1, 4)
    world = img.TransformIndexToPhysicalPoint(tuple(int(i) for i in reversed(idx)))
    np.testing.assert_allclose(world, g.index_to_world(idx), atol=1e-9)
    b, g2 = from_sitk(img)
    np.testing.assert_array_equal(a, b)
    assert g2.same_space(g, atol_mm=1e-9)


def test_resample_labels_onto_a_finer_grid_keeps_values_and_positions():
    g = Geometry((3, 3, 3), spacing=(2.0, 2.0, 2.0))
    a = np.zeros(g.shape, np.uint8)
    a[1, 1, 1] = 7
    fine = Geometry((6, 6, 6), spacing=(1.0, 1.0, 1.0), origin=(-0.5, -0.5, -0.5))
    out = resample(a, g, fine, label=True)
    assert set(np.unique(out)) == {0, 7}
    centre = fine.index_to_world(np.argwhere(out == 7)).mean(axis=0)
    np.testing.assert_allclose(centre, g.index_to_world((1, 1, 1)), atol=1e-9)
