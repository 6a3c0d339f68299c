"""Contracts of the diameters' machinery that the analytic-lesion tests cannot reach: farthest
pairs in large tied sets, near-tied long calipers and oblique sections at a lesion's far end."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist

from lesionview.geometry import Geometry
from lesionview.measure import _axial
from lesionview.measure._hull import (
    centre_candidates,
    diameter_pairs,
    farthest_candidates,
    hull_points,
    line_ends,
)
from lesionview.measure.diameters import axial_diameters, craniocaudal_length

AXIAL = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]        # array axes: S, P, L


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


@pytest.mark.parametrize("base", [8.0, -8.0], ids=["base at the far end", "base at the near end"])
@pytest.mark.parametrize("axis", [(0.2, 0.3, 0.93), (-0.2, -0.3, -0.93), (0.45, -0.1, 0.88)])
def test_an_oblique_cone_measures_its_base(axis, base):
    """A cone along an oblique cord axis, its 12 mm base at one end: the planes are swept from the
    first voxel box to the last, so the widest section, at the base, is measured (12 mm within a
    voxel)."""
    n = np.array(axis) / np.linalg.norm(axis)
    g = Geometry((64, 64, 64), (0.5, 0.5, 0.5))
    pts = g.index_to_world(np.argwhere(np.ones(g.shape, bool))).reshape(*g.shape, 3)
    rel = pts - pts[32, 32, 32]
    h = rel @ n                                                # -8 .. 8 mm along n
    radial = np.linalg.norm(rel - h[..., None] * n, axis=-1)
    cone = (np.abs(h) <= 8.0) & (radial <= 6.0 * (8.0 + np.sign(base) * h) / 16.0)
    a = axial_diameters(cone, g, axis=n)
    assert a.long_mm == pytest.approx(12.0, abs=0.5)
    assert a.short_mm == pytest.approx(12.0, abs=0.5)
    assert float((a.plane_position - pts[32, 32, 32]) @ n) == pytest.approx(base, abs=0.5)


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


def test_farthest_pairs_under_a_millimetre_apart_are_returned():
    """Distances below 1 (mm) keep their pair: the tie margin is relative, never a power."""
    distance, pairs = diameter_pairs(np.array([[0.0, 0.0, 0.0], [0.3, 0.4, 0.0], [0.1, 0.1, 0.0]]))
    assert distance == pytest.approx(0.5, rel=1e-12)
    assert pairs.shape == (1, 2, 3)
    assert sorted(map(tuple, np.round(pairs[0], 12))) == [(0.0, 0.0, 0.0), (0.3, 0.4, 0.0)]


@pytest.mark.parametrize("radius", [10.0, 0.4])
def test_thousands_of_hull_points_are_paired_in_bounded_memory(radius):
    """On a sphere shell every point is a hull vertex and none is pruned: 5000 points make a
    5000 x 5000 matrix of float64 squared distances, 200 MB (and temporaries of that size). The
    pairs are taken in blocks and only those near the farthest kept, so the farthest pair is found
    holding NumPy arrays of under 160 MB at once (Qhull's own memory is not traced), and a shell
    under 1 mm across lets no more pairs through."""
    # A Fibonacci lattice: 5000 points spread evenly over the sphere, all of them hull vertices.
    k = np.arange(5000) + 0.5
    polar, azimuth = np.arccos(1 - 2 * k / k.size), np.pi * (1 + 5 ** 0.5) * k
    points = radius * np.column_stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar),
                                       np.cos(polar)])
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        before = tracemalloc.get_traced_memory()[0]
        distance, pairs = diameter_pairs(points)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert peak < 160e6
    assert distance == pytest.approx(pdist(points).max(), rel=1e-12)
    assert np.linalg.norm(pairs[:, 0] - pairs[:, 1], axis=1) == pytest.approx(distance, rel=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_farthest_pairs_do_not_change_a_kilometre_from_the_origin(seed):
    """A 1 mm blob of points 987 m from the scanner's origin (the loaders accept images up to 1 km
    away): the same farthest distance as at the origin, to 1e-9 of it, and the same as every pair's
    (a Gram form in world coordinates would round squared distances by up to about 1e-3 mm^2 there)."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.5, 0.5, (300, 3))
    far = points + np.array([5.7e5, -5.7e5, 5.7e5])
    distance, pairs = diameter_pairs(far)
    assert distance == pytest.approx(diameter_pairs(points)[0], rel=1e-9)
    assert distance == pytest.approx(pdist(points).max(), rel=1e-9)
    assert np.linalg.norm(pairs[:, 0] - pairs[:, 1], axis=1) == pytest.approx(distance, rel=1e-9)


def test_copies_of_one_point_are_one_extreme_point():
    points = np.tile([[4.0, -1.0, 2.5]], (12, 1))
    assert hull_points(points).tolist() == [[4.0, -1.0, 2.5]]


def test_a_set_qhull_refuses_keeps_every_point(monkeypatch):
    """Qhull may refuse a set that is numerically of full rank but nearly flat; every point is then
    kept (all of them are exact extreme-point candidates) and the diameter is still exact."""
    from scipy.spatial import QhullError

    from lesionview.measure import _hull

    def refuse(*args, **kwargs):
        raise QhullError("QH6154 Qhull precision error: initial simplex is flat")

    monkeypatch.setattr(_hull, "ConvexHull", refuse)
    points = np.random.default_rng(8).normal(size=(600, 3)) * [9.0, 4.0, 1e-3]
    kept = hull_points(points.copy())
    assert len(kept) == len(points) and np.array_equal(kept, points)
    assert diameter_pairs(points.copy())[0] == pytest.approx(pdist(points).max(), rel=1e-12)

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


def _axial_by_brute_force(mask, g, axis):
    """axial_diameters' definition read literally: sections by the documented planes (one per voxel
    layer along an aligned axis; else half the smallest spacing apart, the first a quarter of it
    inside the lowest voxel box), each the centres of the voxels whose box the plane cuts, and the
    diameter w(e) + a(e) over 20000 directions. Returns the long diameter and the positions along
    the axis (grid-mm frame) of the planes that reach it."""
    spacing = np.array(g.spacing)
    n = g.direction_matrix.T @ (np.array(axis, float) / np.linalg.norm(axis))
    centres = np.argwhere(mask) * spacing
    proj = centres @ n
    half_box, step = 0.5 * float(np.abs(n) @ spacing), 0.5 * float(spacing.min())
    if np.isclose(np.abs(n).max(), 1.0, rtol=0, atol=1e-9):
        positions = np.unique(np.round(proj, 9))
        sections = [np.abs(proj - t) < 1e-6 for t in positions]
    else:
        positions = np.arange(proj.min() - half_box + step / 2, proj.max() + half_box, step)
        sections = [(proj >= t - half_box) & (proj < t + half_box) for t in positions]
    e1 = np.cross(n, np.eye(3)[int(np.argmin(np.abs(n)))])
    e1 /= np.linalg.norm(e1)
    basis = np.stack([e1, np.cross(n, e1)], axis=1)
    theta = np.linspace(0.0, np.pi, 20000, endpoint=False)
    e = basis @ np.stack([np.cos(theta), np.sin(theta)])           # (3, T) in-plane, grid-mm frame
    box = spacing @ np.abs(e)
    longs = []
    for inside in sections:
        pe = centres[inside] @ e
        width = pe.max(axis=0) - pe.min(axis=0) if inside.any() else np.zeros(1)
        value = width + box if inside.sum() < 3 else np.maximum(width + 0.5 * spacing @ e ** 2, box)
        longs.append(float(value.max()) if inside.any() else 0.0)
    best = max(longs)
    return best, [float(t) for t, x in zip(positions, longs) if x >= best - 1e-6]


def _axial_cases():
    rng = np.random.default_rng(1)
    axial, sagittal = [[0, 0, 1], [0, 1, 0], [1, 0, 0]], [[0, 1, 0], [0, 0, -1], [-1, 0, 0]]
    cases = []
    for k in range(12):
        shape = tuple(int(x) for x in rng.integers(3, 10, 3))
        mask = ndimage.gaussian_filter(rng.random(shape), 1.0) > 0.5
        spacing = tuple(float(x) for x in rng.choice([0.5, 0.8, 1.0, 3.0], 3))
        g = Geometry(shape, spacing, direction=[axial, sagittal, np.eye(3)][k % 3])
        cases.append((mask, g, [(0.0, 0.0, 1.0), (0.2, 0.3, 0.93), (0.05, -0.1, 1.0)][k // 3 % 3]))
    return [c for c in cases if c[0].sum() >= 2]


@pytest.mark.parametrize("k", range(11))
def test_axial_diameters_match_their_definition(k):
    """Blobs on axial, sagittal and plain grids, with the cord axis along the grid or oblique: the
    long diameter is the definition's to the dense sampling's precision (1e-6 mm), in one of the
    planes that reach it."""
    mask, g, axis = _axial_cases()[k]
    a = axial_diameters(mask, g, axis=axis)
    long_mm, planes = _axial_by_brute_force(mask, g, axis)
    assert a.long_mm == pytest.approx(long_mm, abs=1e-6)
    n = g.direction_matrix.T @ (np.array(axis) / np.linalg.norm(axis))
    plane = float(g.direction_matrix.T @ (a.plane_position - np.array(g.origin)) @ n)
    assert np.min(np.abs(np.array(planes) - plane)) < 1e-6



@pytest.mark.parametrize("tilt", [0.1, -0.1, 0.3, -0.3])
@pytest.mark.parametrize("in_plane_axis", [1, 2])
def test_a_long_axis_a_fraction_of_a_sample_off_a_grid_axis(tilt, in_plane_axis):
    """Two pixels 100 apart along an in-plane axis, tilted by ``tilt`` degrees (through the other
    axis's spacing). Along array axis 2 the long diameter lies within one 0.5 degree sample of where
    the angles start (or of 180 degrees), where the search's bracket reaches zero and below; along
    axis 1 it lies as near 90 degrees. Its definition, read literally, fixes it."""
    other = 3 - in_plane_axis
    mask = np.zeros((1, 101, 3) if in_plane_axis == 1 else (1, 3, 101), bool)
    first, last = [0, 0, 0], [0, 0, 0]
    first[in_plane_axis], last[in_plane_axis] = 0, 100
    first[other], last[other] = (0, 1) if tilt > 0 else (2, 1)
    mask[tuple(first)] = mask[tuple(last)] = True
    spacing = [3.0, 0.3, 0.3]
    spacing[other] = 30.0 * abs(np.tan(np.radians(tilt)))
    g = Geometry(mask.shape, tuple(spacing), direction=AXIAL)
    long_mm, _ = _axial_by_brute_force(mask, g, (0, 0, 1))
    assert axial_diameters(mask, g).long_mm == pytest.approx(long_mm, abs=1e-6)


@pytest.mark.parametrize("aligned", [True, False], ids=["axial grid", "plain grid"])
def test_sections_one_line_thick_count_every_voxel(aligned):
    """Two slices, each a line of 10 pixels: a section counts its voxels, not the line ends kept
    to find its extreme points, so 10 centres are a tip to read, not a box (fewer than 3)."""
    mask = np.zeros((2, 1, 10), bool)
    mask[:, 0, :] = True
    g = Geometry(mask.shape, (3.0, 0.5, 0.5), direction=AXIAL if aligned else np.eye(3))
    axis = (0, 0, 1) if aligned else (1, 0, 0)              # across the two slices either way
    long_mm, _ = _axial_by_brute_force(mask, g, axis)
    assert axial_diameters(mask, g, axis=axis).long_mm == pytest.approx(long_mm, abs=1e-6)


def test_identical_sections_draw_the_calipers_in_the_one_nearest_the_centroid():
    """Five identical slices tie on both diameters: the calipers are drawn in the middle one."""
    mask = np.zeros((5, 4, 9), bool)
    mask[:, [0, 3, 1], [0, 8, 4]] = True
    g = Geometry(mask.shape, (2.0, 0.5, 0.5), direction=AXIAL)
    a = axial_diameters(mask, g)
    middle = g.index_to_world((2, 0, 0))[2]
    assert a.plane_position[2] == pytest.approx(middle, abs=1e-9)
    assert np.allclose(a.long_endpoints[:, 2], middle, atol=1e-9)

def test_the_long_diameter_is_refined_in_every_section_near_the_top():
    """Two slices of a 0.1 mm axial grid, three pixels each. One spans 274 x 47 pixels, 27.80018 mm,
    at an angle between two 0.5 degree samples; the other 278 x 0 pixels, 27.8 mm, on a sample, so
    it samples higher. The search refines every section sampled within 1e-5 of the top, so the
    long diameter is the longer one's: 27.80018 mm plus the calibrated allowance of half a pixel."""
    mask = np.zeros((2, 48, 279), bool)
    mask[0, [0, 23, 47], [0, 137, 274]] = True
    mask[1, [0, 1, 0], [0, 139, 278]] = True       # its short diameter is the larger: no tie-break
    g = Geometry(mask.shape, (3.0, 0.1, 0.1), direction=AXIAL)
    a = axial_diameters(mask, g)
    assert a.long_mm == pytest.approx(0.1 * np.hypot(274, 47) + 0.05, abs=1e-7)
    assert a.plane_position[2] == pytest.approx(g.index_to_world((0, 0, 0))[2], abs=1e-9)


def test_equal_long_diameters_go_to_the_larger_short_one():
    """Three slices: 10 pixels long in the middle and the top one, 1 and 3 pixels wide across; a
    small cluster below pulls the centroid towards the middle slice. The long diameters tie, so the
    larger short one decides (the top slice), not the nearness to the centroid."""
    mask = np.zeros((3, 4, 11), bool)
    mask[0, [0, 0, 1], [4, 5, 5]] = True
    mask[1, [0, 0, 1], [0, 10, 5]] = True
    mask[2, [0, 0, 3], [0, 10, 5]] = True
    g = Geometry(mask.shape, (3.0, 0.5, 0.5), direction=AXIAL)
    a = axial_diameters(mask, g)
    assert a.long_mm == pytest.approx(5.25, abs=1e-7)               # 10 pixels plus half a pixel
    assert a.short_mm == pytest.approx(1.75, abs=1e-6)              # 3 pixels plus half a pixel
    assert a.plane_position[2] == pytest.approx(g.index_to_world((2, 0, 0))[2], abs=1e-9)


@pytest.mark.parametrize("pixels", [[(0, 0)], [(0, 0), (0, 1)], [(0, 0), (0, 5), (0, 9)],
                                    [(0, 0), (3, 8), (1, 2), (2, 5)]],
                         ids=["one pixel", "two", "a line", "four"])
def test_the_calipers_drawn_are_as_long_as_the_diameters(pixels):
    """What the viewer and the report draw: each caliper's ends lie its diameter apart (allowances
    included), even where the allowance exceeds the width (one pixel, a one-pixel-wide line)."""
    mask = np.zeros((1, 4, 10), bool)
    mask[0, [p[0] for p in pixels], [p[1] for p in pixels]] = True
    a = axial_diameters(mask, Geometry(mask.shape, (3.0, 0.7, 0.4), direction=AXIAL))
    assert np.linalg.norm(np.diff(a.long_endpoints, axis=0)) == pytest.approx(a.long_mm, abs=1e-9)
    assert np.linalg.norm(np.diff(a.short_endpoints, axis=0)) == pytest.approx(a.short_mm, abs=1e-9)


@pytest.mark.parametrize("radius", [5, 10, 20])
def test_the_pruning_leaves_few_points(radius):
    """What makes the diameters fast (benchmarks/bench_diameter.py): on a voxel sphere, pruning the
    line ends against their neighbours keeps under 45 % of them, and the farthest-pair bound leaves
    a few dozen points whatever the sphere's size."""
    z, y, x = np.mgrid[-radius - 1:radius + 2, -radius - 1:radius + 2, -radius - 1:radius + 2]
    sphere = x * x + y * y + z * z <= radius * radius + 0.3
    candidates = centre_candidates(sphere)
    assert len(candidates) < 0.45 * len(line_ends(sphere, 0))
    for mm in (0.5, 0.05):                     # voxels of 0.5 mm, and a sphere under 1 mm too
        assert len(farthest_candidates(candidates * mm)[0]) <= 60
