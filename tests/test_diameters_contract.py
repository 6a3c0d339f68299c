"""Contracts of the diameters' machinery that the analytic-lesion tests cannot reach: farthest
pairs in large tied sets, near-tied long calipers and oblique sections at a lesion's far end."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist

from lesionview.geometry import Geometry
from lesionview.measure import _axial
from lesionview.measure._hull import centre_candidates, diameter_pairs, hull_points
from lesionview.measure.diameters import axial_diameters, craniocaudal_length


def test_every_tied_farthest_pair_is_returned_once_in_a_large_set():
    """3000 points on a sphere, symmetric through its centre: every antipodal pair is a farthest
    pair (2 apart), so all 1500 tie. They are returned once each, also when the pairwise search
    runs in blocks (over 2000 points) and after the convex hull (over 450)."""
    rng = np.random.default_rng(3)
    half = rng.normal(size=(1500, 3))
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    points = np.concatenate([half, -half])[rng.permutation(3000)] * 7.0 + (10.0, -4.0, 2.5)
    distance, pairs = diameter_pairs(points)
    assert distance == pytest.approx(14.0, abs=1e-9)
    assert pairs.shape == (1500, 2, 3)
    assert np.allclose(pairs[:, 0] + pairs[:, 1], 2 * np.array([10.0, -4.0, 2.5]), atol=1e-9)  # antipodal
    ends = np.round(pairs.reshape(-1, 3), 6)
    assert len(np.unique(ends, axis=0)) == 3000                       # every point in exactly one pair


def test_the_long_caliper_is_refined_from_a_sample_that_is_not_the_highest():
    """Two local maxima of a section's width a hair apart: the diagonal of length L lies between
    two sampled angles (0.25 degree off: sampled at L cos 0.25 deg), the other, 3e-6 L shorter, on
    a sampled angle. The shorter one samples higher, but the search refines every near-tied peak,
    so the long caliper is the longer diagonal, L."""
    length = 20.0
    a = np.radians(40.25)                                      # midway between two 0.5 degree samples
    b = a + np.radians(90.25)                                  # on a sample
    pa = 0.5 * length * np.array([np.cos(a), np.sin(a)])
    pb = 0.5 * length * (1 - 3e-6) * np.array([np.cos(b), np.sin(b)])
    hull = np.stack([pa, pb, -pa, -pb])
    diameter = _axial._Diameter(np.eye(3)[:, :2], np.zeros(3))   # no allowance: widths only
    sampled = [diameter(hull, np.bool_(False), _axial._THETAS)]
    assert sampled[0].max() == pytest.approx(length * (1 - 3e-6), abs=1e-12)   # the shorter samples higher
    _, thetas = _axial._long_directions([hull], np.array([False]), sampled, diameter,
                                        length / np.cos(_axial._THETAS[1] / 2))
    best = max(float(diameter(hull, np.bool_(False), np.array([t]))[0]) for t in thetas)
    assert best == pytest.approx(length, abs=_axial.SEARCH_TOLERANCE_MM)


@pytest.mark.parametrize("axis", [(0.2, 0.3, 0.93), (-0.2, -0.3, -0.93), (0.45, -0.1, 0.88)])
def test_an_oblique_cone_measures_its_base(axis):
    """A cone along an oblique cord axis, its 12 mm base at the far end: the planes are swept up to
    the last voxel box, so the widest section, at the base, is measured (12 mm within a voxel)."""
    n = np.array(axis) / np.linalg.norm(axis)
    g = Geometry((64, 64, 64), (0.5, 0.5, 0.5))
    pts = g.index_to_world(np.argwhere(np.ones(g.shape, bool))).reshape(*g.shape, 3)
    rel = pts - pts[32, 32, 32]
    h = rel @ n                                                # -8 (apex) .. 8 (base) mm along n
    radial = np.linalg.norm(rel - h[..., None] * n, axis=-1)
    cone = (np.abs(h) <= 8.0) & (radial <= 6.0 * (h + 8.0) / 16.0)
    a = axial_diameters(cone, g, axis=n)
    assert a.long_mm == pytest.approx(12.0, abs=0.5)
    assert a.short_mm == pytest.approx(12.0, abs=0.5)
    assert float((a.plane_position - pts[32, 32, 32]) @ n) == pytest.approx(8.0, abs=0.5)


@pytest.mark.parametrize("scale", [0.2, 5.0])
def test_an_axis_of_any_length_is_a_direction(scale):
    """The cord axis is a direction: scaled, it gives the same diameters and lengths, and comes
    back as a unit vector."""
    rng = np.random.default_rng(8)
    m = np.zeros((12, 12, 12), bool)
    m[2:9, 3:10, 4:8] = rng.random((7, 7, 4)) > 0.3
    g = Geometry(m.shape, (0.5, 0.8, 3.0))
    axis = np.array([0.2, 0.3, 0.93]) / np.linalg.norm([0.2, 0.3, 0.93])
    unit_result = axial_diameters(m, g, axis=axis)
    scaled = axial_diameters(m, g, axis=scale * axis)
    assert (scaled.long_mm, scaled.short_mm) == pytest.approx((unit_result.long_mm, unit_result.short_mm), abs=1e-9)
    assert np.allclose(scaled.axis, axis, atol=1e-12)
    assert craniocaudal_length(m, g, axis=scale * axis) == pytest.approx(craniocaudal_length(m, g, axis=axis),
                                                                          abs=1e-9)


def test_one_point_is_its_own_farthest_pair():
    distance, pairs = diameter_pairs(np.array([[1.0, -2.0, 3.5]]))
    assert distance == 0.0
    assert pairs.shape == (1, 2, 3) and np.all(pairs == [1.0, -2.0, 3.5])


@pytest.mark.parametrize("direction", [(0.3, -1.2), (1.0, 0.0), (0.5, 0.2, -0.9), (0.0, 0.5, 0.0)],
                         ids=["2D oblique", "2D along a grid line", "3D oblique", "3D along a grid line"])
def test_the_extreme_points_of_points_on_one_line_are_its_two_ends(direction):
    """Twelve points on one line (a one-voxel-thin section), in shuffled order: its two ends."""
    rng = np.random.default_rng(2)
    direction = np.array(direction)
    t = rng.permutation(np.arange(12.0)) * 0.7
    points = 3.0 + t[:, None] * direction
    ends = hull_points(points)
    assert len(ends) == 2
    got = sorted(map(tuple, np.round(ends, 9)))
    want = sorted(map(tuple, np.round(points[[int(np.argmin(t)), int(np.argmax(t))]], 9)))
    assert got == want


def _point_sets():
    """Random point sets of every shape the diameters meet: clouds, distinct grid points (ties), sphere
    shells (every point extreme), planes, lines and 2D sets; at the origin, at negative and at
    large coordinates; from 2 points to beyond the Qhull crossover (450) and the block size."""
    rng = np.random.default_rng(5)
    sets = []
    for offset in (0.0, -40.0, 700.0):
        for n in (2, 3, 9, 30, 600):
            sets += [rng.normal(size=(n, 3)) * rng.uniform(0.5, 20) + offset,
                     rng.permutation(np.argwhere(np.ones((6, 6, 6))))[:n] * 0.5 + offset,
                     np.c_[rng.normal(size=(n, 2)) * 5, np.zeros(n)] + offset,
                     rng.normal(size=(n, 1)) * [[1.0, 2.0, -0.5]] + offset,
                     rng.normal(size=(n, 2)) * 4 + offset]
        shell = rng.normal(size=(2500, 3))
        sets.append(shell / np.linalg.norm(shell, axis=1, keepdims=True) * 9 + offset)
    return sets


def test_farthest_pairs_and_extreme_points_against_every_pair():
    """The pruned, hull-first, block-wise search gives the largest distance over all pairs, every
    pair it returns is that far apart, and the extreme points keep that distance."""
    for points in _point_sets():
        truth = pdist(points).max()
        distance, pairs = diameter_pairs(points.copy())
        assert distance == pytest.approx(truth, rel=1e-9, abs=1e-12)
        assert np.allclose(np.linalg.norm(pairs[:, 0] - pairs[:, 1], axis=1), truth, rtol=1e-9)
        assert pdist(hull_points(points.copy())).max() == pytest.approx(truth, rel=1e-9, abs=1e-12)


def _masks():
    """Random blobs, and height-map shapes whose lines along the longest axis end at index 0 or
    jump: the pruning of line ends compares each end with its neighbours'."""
    rng = np.random.default_rng(4)
    masks = []
    for _ in range(12):
        shape = tuple(int(x) for x in rng.integers(3, 12, 3))
        masks.append(ndimage.gaussian_filter(rng.random(shape), 1.2) > 0.5)
    for _ in range(12):
        heights = rng.integers(0, 14, size=(5, 6))
        heights[rng.random((5, 6)) < 0.3] = 0                  # lines holding only their first voxel
        masks.append(np.arange(14)[:, None, None] <= heights[None])
    return [m for m in masks if m.sum() >= 2]


def test_line_end_candidates_hold_every_hull_vertex():
    """The first and last voxel of each line along the longest axis, pruned against their
    neighbours, keep every vertex of the convex hull of all the lesion's voxel centres."""
    for mask in _masks():
        centres = np.argwhere(mask).astype(float)
        candidates = {tuple(p) for p in centre_candidates(mask)}
        if np.linalg.matrix_rank(centres - centres.mean(axis=0)) == 3:     # Qhull's exact vertices
            assert {tuple(p) for p in centres[ConvexHull(centres).vertices]} <= candidates
        assert pdist(np.array(sorted(candidates))).max() == pytest.approx(pdist(centres).max(), abs=1e-9)
