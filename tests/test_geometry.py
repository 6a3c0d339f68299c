"""Geometry: index<->world, orientation codes, same-space test and resampling-free reorientation."""

import itertools

import numpy as np
import pytest

from lesionview.geometry import Geometry, reorient


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _oblique_geometry(seed=0, shape=(7, 9, 11)) -> Geometry:
    return Geometry(shape, spacing=(3.0, 0.5, 0.7), origin=(10.0, -20.0, 35.5), direction=_rotation(seed))


def test_index_to_world_and_back_are_inverse():
    g = _oblique_geometry()
    idx = np.random.default_rng(1).uniform(-2, 12, size=(50, 3))
    np.testing.assert_allclose(g.world_to_index(g.index_to_world(idx)), idx, atol=1e-9)


def test_index_to_world_uses_spacing_along_each_axis():
    g = _oblique_geometry()
    d = g.direction_matrix
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = 1
        moved = g.index_to_world(step) - g.index_to_world(np.zeros(3))
        np.testing.assert_allclose(moved, d[:, axis] * g.spacing[axis], atol=1e-12)
        assert np.linalg.norm(moved) == pytest.approx(g.spacing[axis])


def test_from_affine_round_trip():
    g = _oblique_geometry(3)
    g2 = Geometry.from_affine(g.affine, g.shape)
    assert g2.same_space(g, atol_mm=1e-9)
    np.testing.assert_allclose(g2.spacing, g.spacing)


@pytest.mark.parametrize(("direction", "code"), [
    (np.eye(3), "LPS"),
    (np.diag([-1.0, -1.0, 1.0]), "RAS"),
    # SCT's t2.nii.gz storage: axis0 -> posterior, axis1 -> superior, axis2 -> right
    (np.array([[0, 0, -1], [1, 0, 0], [0, 1, 0]], float), "PSR"),
])
def test_orientation_code(direction, code):
    assert Geometry((2, 2, 2), direction=direction).orientation == code


def test_plane_names_and_oblique_threshold():
    sag = Geometry((10, 20, 20), direction=np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float))
    assert sag.plane(0) == "sagittal"
    assert sag.plane(1) == "axial"
    c, s = np.cos(np.radians(25)), np.sin(np.radians(25))
    tilted = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])  # 25 degrees about z
    assert Geometry((5, 5, 5), direction=tilted).plane(0) == "oblique"
    assert Geometry((5, 5, 5), direction=tilted).tilt_degrees(0) == pytest.approx(25)


def test_same_space_tolerance_and_differences():
    g = _oblique_geometry()
    assert g.same_space(Geometry(g.shape, g.spacing, np.add(g.origin, 5e-4), g.direction))
    assert not g.same_space(Geometry(g.shape, g.spacing, np.add(g.origin, 0.01), g.direction))
    assert not g.same_space(g.with_shape((7, 9, 12)))
    # A spacing error that accumulates to more than the tolerance across the grid.
    assert not g.same_space(Geometry(g.shape, np.add(g.spacing, 1e-3), g.origin, g.direction))


@pytest.mark.parametrize("target", ["LPS", "RAS", "PSR", "LIP", "SAL"])
@pytest.mark.parametrize("seed", range(4))
def test_reorient_keeps_every_voxel_at_its_world_position(target, seed):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(3)
    signs = rng.choice([-1.0, 1.0], size=3)
    direction = np.eye(3)[:, perm] * signs
    g = Geometry((4, 5, 6), spacing=(3.0, 0.5, 0.8), origin=(1, 2, 3), direction=direction)
    a = rng.integers(0, 1000, size=g.shape)
    b, g2 = reorient(a, g, target)
    assert g2.orientation == target
    assert sorted(b.shape) == sorted(a.shape)
    # Each voxel of the original is found in the reoriented array at the same world position.
    for idx in itertools.product(*[range(n) for n in g.shape]):
        new_idx = np.rint(g2.world_to_index(g.index_to_world(idx))).astype(int)
        assert b[tuple(new_idx)] == a[idx]
    np.testing.assert_allclose(g2.voxel_volume, g.voxel_volume)


def test_reorient_oblique_keeps_positions():
    g = _oblique_geometry(5)
    a = np.arange(np.prod(g.shape)).reshape(g.shape)
    b, g2 = reorient(a, g, "RAS")
    for idx in [(0, 0, 0), (6, 8, 10), (3, 1, 7)]:
        new_idx = g2.world_to_index(g.index_to_world(idx))
        np.testing.assert_allclose(new_idx, np.rint(new_idx), atol=1e-9)
        assert b[tuple(np.rint(new_idx).astype(int))] == a[idx]


def test_invalid_inputs_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="orthonormal"):
        Geometry((2, 2, 2), direction=[[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="spacing"):
        Geometry((2, 2, 2), spacing=(0, 1, 1))
    with pytest.raises(ValueError, match="orientation code"):
        reorient(np.zeros((2, 2, 2)), Geometry((2, 2, 2)), "LLS")


def test_contains_with_margin():
    g = Geometry((10, 10, 10))
    assert g.contains([9.4, 0, 0]) and not g.contains([9.6, 0, 0]) and not g.contains([0, -0.6, 0])


def test_cropped_geometry_keeps_world_positions():
    g = _oblique_geometry(2)
    sl = (slice(2, 5), slice(1, 9), slice(0, 4))
    c = g.cropped(sl)
    assert c.shape == (3, 8, 4)
    np.testing.assert_allclose(c.index_to_world([1, 2, 3]), g.index_to_world([3, 3, 3]), atol=1e-12)
