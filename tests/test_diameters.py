"""Diameters: pyradiomics and SimpleITK as oracles, analytic ellipsoids as ground truth.

Ground truth masks (shared with the benchmark): an ellipsoid at a random pose and sub-voxel offset,
voxel = inside when its centre is inside. Tolerances are on the mean bias and the spread over poses
(stated per test). AXIAL: array axes S, P, L (3 mm slices along S-I); SAGITTAL: L, I, P.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import SimpleITK as sitk
from benchmarks.bench_diameter import AXIAL, SAGITTAL, THICK, axial_truth, ellipsoid
from conftest import need_module
from scipy import ndimage
from scipy.spatial.transform import Rotation

from lesionview.geometry import Geometry, reorient
from lesionview.measure.diameters import (
    SUPERIOR,
    AxialDiameters,
    axial_diameters,
    craniocaudal_length,
    max_diameter,
    max_diameter_ibsi,
)


# ---------------------------------------------------------------------------- helpers
def blob(rng, shape=(12, 14, 10)):
    m = ndimage.gaussian_filter(rng.random(shape), 1.5) > 0.5
    labels, n = ndimage.label(m)
    return labels == (1 + int(np.argmax(ndimage.sum(m, labels, range(1, n + 1))))) if n else m


def pyradiomics_max3d(mask: np.ndarray, spacing) -> float:
    shape = need_module("radiomics.shape", "pyradiomics not installed (make setup installs it)")
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    m = sitk.GetImageFromArray(mask.astype(np.uint8))
    m.SetSpacing(tuple(float(s) for s in spacing[::-1]))   # SimpleITK is x, y, z
    image = sitk.GetImageFromArray(np.zeros(mask.shape, np.float32))
    image.CopyInformation(m)
    feature = shape.RadiomicsShape(image, m)
    feature.disableAllFeatures()
    feature.enableFeatureByName("Maximum3DDiameter")
    return float(feature.execute()["Maximum3DDiameter"])


def oracle_masks():
    rng = np.random.default_rng(7)
    cases = []
    for k in range(6):
        cases.append((f"blob{k}", blob(rng), tuple(rng.choice([0.5, 1.0, 3.0], 3))))
    for k, (semi, sp) in enumerate([((4, 4, 4), (1, 1, 1)), ((5.5, 4, 3), THICK), ((6, 2, 2), (0.7, 0.7, 2.5))]):
        cases.append((f"ellipsoid{k}", ellipsoid(semi, sp, rng)[0], sp))
    one = np.zeros((3, 3, 3), bool)
    one[1, 1, 1] = True
    cases.append(("single voxel", one, THICK))
    two = one.copy()
    two[1, 1, 2] = True
    cases.append(("two voxels", two, THICK))
    sheet = np.zeros((5, 9, 9), bool)
    sheet[2, 1:8, 2:6] = True
    cases.append(("one-voxel sheet", sheet, (3.0, 0.8, 0.5)))
    line = np.zeros((4, 12, 4), bool)
    line[1, :, 2] = True                        # touches the array edge: pyradiomics pads
    cases.append(("line at border", line, (1.0, 0.5, 2.0)))
    cases.append(("full array", np.ones((3, 4, 2), bool), (1.0, 0.6, 3.0)))
    ell = np.zeros((6, 10, 12), bool)                 # concave: an L in every slice
    ell[1:5, 1:9, 1:4] = True
    ell[1:5, 6:9, 1:11] = True
    cases.append(("L-shape", ell, (3.0, 0.5, 0.5)))
    two_parts = np.zeros((7, 7, 7), bool)
    two_parts[1:3, 1:3, 1:3] = True
    two_parts[5, 4:6, 5] = True
    cases.append(("two components", two_parts, (1.0, 2.0, 0.7)))
    cases.append(("large sphere", ellipsoid((10, 10, 10), (0.5, 0.5, 0.5), rng)[0], (0.5, 0.5, 0.5)))
    return cases


# ---------------------------------------------------------------------------- IBSI vs pyradiomics
@pytest.mark.parametrize("name, mask, spacing", oracle_masks(), ids=[c[0] for c in oracle_masks()])
def test_max_diameter_ibsi_equals_pyradiomics(name, mask, spacing):
    expected = pyradiomics_max3d(mask, spacing)
    assert max_diameter_ibsi(mask, Geometry(mask.shape, spacing)) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("pairwise_up_to", [0, 10**9], ids=["always Qhull", "never Qhull"])
def test_farthest_pairs_are_exact_with_and_without_qhull(monkeypatch, pairwise_up_to):
    """Both sides of the crossover (pairwise search, or Qhull's hull first) give the IBSI value and
    the same calibrated diameter as the default."""
    from lesionview.measure import _hull

    cases = oracle_masks()
    default = [max_diameter(m, Geometry(m.shape, sp)) for _, m, sp in cases]
    monkeypatch.setattr(_hull, "PAIRWISE_UP_TO", pairwise_up_to)
    for (name, mask, spacing), calibrated in zip(cases, default):
        g = Geometry(mask.shape, spacing)
        assert max_diameter_ibsi(mask, g) == pytest.approx(pyradiomics_max3d(mask, spacing), abs=1e-6), name
        assert max_diameter(mask, g) == pytest.approx(calibrated, abs=1e-9), name


def test_ibsi_ignores_direction_and_origin():
    rng = np.random.default_rng(1)
    m = blob(rng)
    d = Rotation.random(random_state=rng).as_matrix()
    a = max_diameter_ibsi(m, Geometry(m.shape, THICK))
    assert max_diameter_ibsi(m, Geometry(m.shape, THICK, (10, -3, 7), d)) == pytest.approx(a, abs=1e-9)


# ---------------------------------------------------------------------------- degenerate masks
@pytest.mark.parametrize("func", [max_diameter_ibsi, max_diameter, axial_diameters, craniocaudal_length])
def test_empty_mask_raises(func):
    g = Geometry((3, 3, 3))
    with pytest.raises(ValueError, match="empty"):
        func(np.zeros(g.shape, bool), g)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="does not match"):
        max_diameter(np.ones((2, 2, 2), bool), Geometry((3, 3, 3)))


def test_single_voxel():
    g = Geometry((1, 1, 1), THICK, direction=AXIAL)
    m = np.ones(g.shape, bool)
    assert max_diameter_ibsi(m, g) == 3.0            # longest mesh-vertex pair: through the slice
    assert max_diameter(m, g) == pytest.approx(np.sqrt(9.5))   # the box's diagonal
    assert craniocaudal_length(m, g) == 3.0          # the slice thickness, not 0
    a = axial_diameters(m, g)
    assert (a.long_mm, a.short_mm) == pytest.approx((np.sqrt(0.5), np.sqrt(0.5)))   # the pixel's diagonal
    assert a.uncertainty_mm is None


def test_two_voxels_measure_their_boxes():
    """Two adjacent in-plane voxels on a 0.5 x 0.5 x 3 mm axial grid: no length below the boxes."""
    g = Geometry((1, 1, 2), THICK, direction=AXIAL)
    m = np.ones(g.shape, bool)
    assert craniocaudal_length(m, g) == 3.0
    assert craniocaudal_length(m, g, axis=(1, 0, 0)) == 1.0        # along the pair: two pixels
    assert max_diameter(m, g) == 3.0                               # never below the craniocaudal length
    a = axial_diameters(m, g)
    # Two centres: no edge to read, so the section is its boxes, a 1 x 0.5 mm rectangle: the long
    # caliper is its diagonal, the short one its width across that diagonal.
    assert a.long_mm == pytest.approx(np.hypot(1.0, 0.5), abs=1e-9)
    assert a.short_mm == pytest.approx(1.0 / np.hypot(1.0, 0.5), abs=1e-6)    # angle found to ~1e-8 rad


def test_max_diameter_is_never_below_any_axis_extent():
    rng = np.random.default_rng(12)
    for k in range(12):
        m = blob(rng, (9, 11, 8))
        d = Rotation.random(random_state=rng).as_matrix() if k % 2 else [AXIAL, SAGITTAL][k // 2 % 2]
        g = Geometry(m.shape, tuple(rng.choice([0.5, 1.0, 3.0], 3)), direction=d)
        value = max_diameter(m, g)
        for axis in [*np.eye(3), *g.direction_matrix.T]:
            assert value >= craniocaudal_length(m, g, axis=axis) - 1e-9


@pytest.mark.parametrize("n", [3, 4, 21])
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (3.0, 0.5, 0.7)], ids=["1 mm", "anisotropic"])
def test_a_one_voxel_rod_measures_its_boxes(n, spacing):
    """A rod one voxel thick has no rounded tip: along its own axis it measures its voxel boxes,
    n times the spacing (or its extent across, if longer), as the IBSI mesh does (its end vertices
    lie half a voxel past the centres). The tip model read the rod's linear count as a blunt tip: 21 voxels measured 27 mm.
    Stored obliquely, the rod is its definition read literally (a world-axis box extent may then
    exceed its length: the floor ``B``)."""
    oblique = Rotation.from_euler("xyz", [20, -35, 50], degrees=True).as_matrix()
    for axis in range(3):
        shape = [1, 1, 1]
        shape[axis] = n
        g = Geometry(tuple(shape), spacing)
        m = np.ones(g.shape, bool)
        # Never below the box's extent across the rod (a short rod across 3 mm slices: 3 mm).
        assert max_diameter(m, g) == pytest.approx(max(n * spacing[axis], max(spacing)), abs=1e-9)
        if n * spacing[axis] >= 2 * max(spacing):             # long enough for the ends to win
            assert max_diameter_ibsi(m, g) == pytest.approx(n * spacing[axis], abs=1e-9)
        g = Geometry(tuple(shape), spacing, direction=oblique)
        assert max_diameter(m, g) == pytest.approx(_calibrated_by_brute_force(m, g), abs=1e-9)


@pytest.mark.parametrize("n", [2, 5, 21])
def test_a_diagonal_rod_measures_centres_plus_one_box(n):
    """Voxels along the grid diagonal (1 mm): no tip to read at either end, so the centres' distance
    (n - 1) sqrt(3) plus the box projected on the diagonal, sqrt(3): n sqrt(3) in all."""
    m = np.zeros((n, n, n), bool)
    m[np.arange(n), np.arange(n), np.arange(n)] = True
    assert max_diameter(m, Geometry(m.shape)) == pytest.approx(n * np.sqrt(3.0), abs=1e-9)


def test_two_diagonal_voxels_measure_centres_plus_one_box():
    """Two voxels touching along an edge (1 mm): sqrt(2) between centres plus the box projected on
    that diagonal, sqrt(2), which is more than any axis extent (2 mm)."""
    m = np.zeros((1, 2, 2), bool)
    m[0, 0, 0] = m[0, 1, 1] = True
    assert max_diameter(m, Geometry(m.shape)) == pytest.approx(2 * np.sqrt(2.0), abs=1e-9)


def test_a_rod_reads_only_its_shallowest_centres_for_the_tip():
    """A 45-voxel rod with a side voxel 21 deep below its top end (1 mm): the 21 shallowest
    centres at each end are all on the rod's line, so neither end has a tip to read and the rod
    measures its 45 mm of boxes; the side voxel, one step deeper than the 21st centre, is no part
    of the top end's tip."""
    m = np.zeros((45, 2, 1), bool)
    m[:, 1, 0] = True                               # the rod's line misses the grid's corner
    m[21, 0, 0] = True
    g = Geometry(m.shape)
    assert max_diameter(m, g) == pytest.approx(45.0, abs=1e-9)
    assert max_diameter(m, g) == pytest.approx(_calibrated_by_brute_force(m, g), abs=1e-9)


# A blob on a 0.3 x 0.1 x 0.3 mm grid (found among random blobs): its tip depths are a fraction of a
# millimetre, where a wrong bound on the tip's search box cuts the box short.
_FINE_BLOB = [
    ["#.####...", "##.##....", "##.#.....", "###......", ".##......", ".#######.", ".########", ".##.#####"],
    ["#..###...", "#..###...", "#####....", "..#......", ".........", ".######..", ".######..", "#...#####"],
    ["#..####..", "#..###...", ".####..##", ".###..##.", "###..##..", ".##..##..", "###.####.", "##...##.."],
    ["##...###.", "##.######", ".########", ".####.###", "##...###.", "###..###.", "###..###.", "###......"]]


def test_max_diameter_matches_its_definition_on_a_sub_millimetre_grid():
    mask = np.array([[[c == "#" for c in row] for row in layer] for layer in _FINE_BLOB])
    g = Geometry(mask.shape, (0.3, 0.1, 0.3))
    assert max_diameter(mask, g) == pytest.approx(_calibrated_by_brute_force(mask, g), abs=1e-9)




def _lattice_around(centre, half_width) -> np.ndarray:
    """Index points (n, 3) of the box ``centre`` +- ``half_width`` (per axis, in index units)."""
    lo, hi = np.floor(centre - half_width), np.ceil(centre + half_width)
    return np.argwhere(np.ones((hi - lo + 1).astype(int), bool)) + lo

def _tip_on_its_bound(p, q, spacing, rings, rod=False, q_blob=0.0):
    """Centres whose tip at ``p`` lies as far from ``p`` as the tip's search box may have to reach.

    Every centre lies within d = |p - q| of ``q``, so one at depth t below ``p`` (along
    u = (p - q) / d) lies within sqrt(2 d t) of ``p``, on the sphere of radius d around ``q`` at
    most. For each ``(t, n, r_max)`` of ``rings``: the ``n`` lattice centres at depth t (to 0.02 mm)
    farthest from the axis (at most ``r_max``) inside that sphere. ``rod``: the centres of the
    segment q-p; ``q_blob``: the centres within that radius (mm) of ``q`` that keep d the largest
    distance. Indices in, a cropped mask out."""
    p, q, sp = np.array(p, float), np.array(q, float), np.array(spacing, float)
    d = float(np.linalg.norm((p - q) * sp))
    u = (p - q) * sp / d
    pts = [p, q]
    reach = max([np.sqrt(2 * d * t) for t, _, _ in rings], default=0.0) + 2
    box = _lattice_around(p, reach / sp)
    rel = (box - p) * sp
    depth, from_q = -rel @ u, np.linalg.norm((box - q) * sp, axis=1)
    off_axis = np.linalg.norm(rel + np.outer(depth, u), axis=1)
    for t, n, r_max in rings:
        ok = (np.abs(depth - t) < 0.02) & (from_q <= d * (1 - 1e-9)) & (off_axis <= r_max)
        assert ok.sum() >= n, f"only {ok.sum()} lattice centres at depth {t}"
        pts += list(box[ok][np.argsort(-off_axis[ok], kind="stable")[:n]])
    if rod:
        pts += list(np.round(q + np.linspace(0, 1, int(np.ceil(d / sp.min())) + 1)[:, None] * (p - q)))
    if q_blob:
        near = _lattice_around(q, q_blob / sp)
        near = near[np.linalg.norm((near - q) * sp, axis=1) <= q_blob]
        farthest = np.linalg.norm((near[:, None] - np.array(pts)[None]) * sp, axis=2).max(axis=1)
        pts += list(near[farthest <= d * (1 - 1e-9)])
    pts = np.array(pts, int) - np.min(pts, axis=0).astype(int)
    mask = np.zeros(pts.max(axis=0) + 1, bool)
    mask[tuple(pts.T)] = True
    return mask, Geometry(mask.shape, tuple(sp))


_TIPS_ON_THEIR_BOUND = {   # name: (p, q, spacing, rings, keywords)
    "rod and ring": ((60, 0, 0), (0, 0, 0), (1, 1, 1), [(3.0, 24, 99)], {"rod": True}),
    "rod and ring, 1.5 mm": ((40, 0, 0), (0, 0, 0), (1.5, 1.5, 1.5), [(4.5, 24, 99)], {"rod": True}),
    "rod and ring, 3 mm slices": ((30, 0, 0), (0, 0, 0), (3, 0.6, 0.6), [(6.0, 24, 99)], {"rod": True}),
    # The 21st centre is on the bound (1.3 mm deep), under a ring the first boxes hold (1.5 mm).
    "two rings": ((400, 0, 0), (0, 0, 0), (0.1, 1, 1), [(1.5, 20, 7.0), (1.3, 20, 99)], {}),
    "shallow ring": ((600, 0, 0), (0, 0, 0), (0.1, 1, 1), [(0.5, 24, 99)], {}),
    # Along u = (1, -1, 0) / sqrt(2) lattice depths are multiples of 1 / sqrt(2).
    "oblique ring, blunt end": ((40, 0, 10), (0, 40, 10), (1, 1, 1), [(5 / np.sqrt(2), 24, 99)], {"q_blob": 3.0}),
    # No ring: the tip is one centre, the other end a blunt blob (the bound read from the wrong end
    # is the blob's, far too small for the 21st centre, which lies near the other end).
    "oblique lone tip, blunt end": ((40, 0, 10), (0, 40, 10), (1, 1, 1), [], {"q_blob": 3.0}),
}


@pytest.mark.parametrize("case", list(_TIPS_ON_THEIR_BOUND))
def test_max_diameter_reads_a_tip_whose_centres_lie_on_the_search_bound(case):
    """The tip's search box grows until it holds every centre as shallow as the 21st; centres at
    depth t may lie up to sqrt(2 d t) from the end. Lesions built with their shallowest centres at
    that distance (rings on the sphere around the other end) measure their literal definition."""
    *args, keywords = _TIPS_ON_THEIR_BOUND[case]
    mask, g = _tip_on_its_bound(*args, **keywords)
    assert max_diameter(mask, g) == pytest.approx(_calibrated_by_brute_force(mask, g), abs=1e-9)

def _small_shapes():
    tromino = np.zeros((1, 2, 2), bool)
    tromino[0, 0, 0] = tromino[0, 1, 0] = tromino[0, 0, 1] = True      # 3 centres: the least with a tip
    corner = np.zeros((2, 2, 2), bool)
    corner[0, 0, 0] = corner[1, 0, 0] = corner[0, 1, 0] = corner[0, 0, 1] = True
    hook = np.zeros((6, 2, 1), bool)
    hook[:, 0, 0] = hook[5, 1, 0] = True                                # a rod bent at one end
    # A 73-voxel block whose depth bound from the hull candidates is the tightest the tip's search
    # box may use (found among random blobs): a bound from the wrong end hangs or cuts the box.
    block = np.array([[[c == "#" for c in row] for row in layer] for layer in [
        ["#....", "##...", "###..", "#####", "#####"], ["##...", "##...", "#####", "#####", "#####"],
        ["#####", "#####", "..###", "..###", "..###"], ["#####", "#####", "..###", "..###", "..###"]]])
    return [("L tromino", tromino, (1.0, 1.0, 1.0)), ("corner", corner, (3.0, 0.5, 0.5)),
            ("hook", hook, (1.0, 0.8, 2.0)), ("block", block, (1.0, 1.0, 1.0))]


@pytest.mark.parametrize("name, mask, spacing", _small_shapes(), ids=[c[0] for c in _small_shapes()])
def test_max_diameter_matches_its_definition_on_the_smallest_shapes(name, mask, spacing):
    g = Geometry(mask.shape, spacing)
    assert max_diameter(mask, g) == pytest.approx(_calibrated_by_brute_force(mask, g), abs=1e-9)


def _calibrated_by_brute_force(mask, g):
    """max_diameter's definition read literally (its documented constants: K = 20 tip points, the
    gap times 0.75): every tied pair, every lesion centre projected."""
    pts = g.index_to_world(np.argwhere(mask))
    diffs = pts[:, None] - pts[None]
    dist = np.sqrt((diffs ** 2).sum(-1))
    d = dist.max()
    floor = max(craniocaudal_length(mask, g, axis=a) for a in [*np.eye(3), *g.direction_matrix.T])
    best = 0.0
    k = min(20, len(pts) - 1)
    for i, j in zip(*np.nonzero(dist >= d * (1 - 1e-9))):
        u = diffs[i, j] / d
        x = pts @ u
        half_box = 0.5 * float(np.abs(g.direction_matrix.T @ u) @ np.array(g.spacing))
        total = d
        for depths in (x.max() - x, x - x.min()):
            if k < 2:
                total += half_box
                continue
            t = np.partition(depths, k)[k]
            assert t > 0                                   # only the end itself is that deep
            b = np.pi * t / (2 * k)
            gap = 0.5 * (b + np.sqrt(b * b + np.pi * t * t / k))
            cap = pts[depths <= t + 1e-9]                  # one voxel thin there: on one line
            thin = np.linalg.matrix_rank(cap - cap.mean(axis=0), tol=1e-6) < 2
            total += half_box if thin else 0.75 * gap
        best = max(best, total)
    return max(best, floor)


@pytest.mark.parametrize("seed", range(16))
def test_max_diameter_matches_its_definition(seed):
    """The pruned, tie-deduplicated computation equals the literal definition (ties included)."""
    rng = np.random.default_rng(seed)
    if seed == 0:
        m, g, _, _ = ellipsoid((3.0, 3.0, 3.0), (0.5, 0.5, 0.5), rng, rotation=np.eye(3), centre=np.zeros(3))
    elif seed == 1:
        m = np.zeros((3, 4, 5), bool)
        m[1, 1:3, 1:4] = True                              # a one-slice plate
        g = Geometry(m.shape, THICK, direction=AXIAL)
    else:
        m = blob(rng, (8, 9, 7))
        g = Geometry(m.shape, tuple(rng.choice([0.5, 1.0, 3.0], 3)),
                     direction=Rotation.random(random_state=rng).as_matrix())
    assert max_diameter(m, g) == pytest.approx(_calibrated_by_brute_force(m, g), abs=1e-9)


@pytest.mark.parametrize("tolerance_mm", [1e-2, 1e-4, None], ids=["1e-2 mm", "1e-4 mm", "default"])
def test_axial_search_stops_within_its_tolerance(monkeypatch, tolerance_mm):
    """The angular search's stopping rule bounds its error in mm: against the same search run to
    rounding (1e-13 mm), long and short diameters differ by at most the tolerance (plus 1e-7 mm:
    a search to rounding knows the short one only to that). One-slice eccentric ellipses, so no
    other section or direction comes within the tolerance of the winner."""
    from lesionview.measure import _axial

    rng = np.random.default_rng(21)
    cases = []
    for _ in range(12):
        semi = (rng.uniform(3.0, 9.0), rng.uniform(1.0, 2.0), 0.1)
        spacing = tuple(rng.choice([0.3, 0.5, 0.7], 2)) + (1.0,)
        cases.append(ellipsoid(semi, spacing, rng, rotation=Rotation.from_rotvec([0, 0, rng.uniform(0, np.pi)])
                               .as_matrix(), centre=np.append(rng.uniform(-0.5, 0.5, 2) * spacing[:2], 0.0))[:2])

    def calipers(tol):
        monkeypatch.setattr(_axial, "SEARCH_TOLERANCE_MM", tol)
        return np.array([(a.long_mm, a.short_mm) for a in (axial_diameters(m, g) for m, g in cases)])

    tol = _axial.SEARCH_TOLERANCE_MM if tolerance_mm is None else tolerance_mm
    tight = calipers(1e-13)
    got = calipers(tol)
    assert np.abs(got - tight).max() <= tol + 1e-7
    if tol >= 1e-4:  # the loose searches are loose indeed: the test sees their error
        assert np.abs(got - tight).max() > 1e-6


def test_bad_axis_raises():
    g = Geometry((2, 2, 2))
    with pytest.raises(ValueError, match="axis"):
        axial_diameters(np.ones(g.shape, bool), g, axis=(0, 0, 0))


# ---------------------------------------------------------------------------- analytic truth
def _bias(values):
    v = np.asarray(values)
    return float(v.mean()), float(v.std())


@pytest.mark.parametrize("semi, spacing, max_bias, max_sd", [
    ((5.5, 4.0, 3.0), THICK, 0.3, 0.55),        # the 11 mm lesion on thick slices
    ((5.5, 4.0, 3.0), (1.0, 1.0, 1.0), 0.2, 0.25),
    ((5.5, 5.5, 5.5), (0.5, 0.5, 0.5), 0.15, 0.1),
])
def test_max_diameter_against_ellipsoids(semi, spacing, max_bias, max_sd):
    rng = np.random.default_rng(11)
    err, err_ibsi = [], []
    for _ in range(30):
        m, g, _, _ = ellipsoid(semi, spacing, rng)
        err.append(max_diameter(m, g) - 2 * max(semi))
        err_ibsi.append(max_diameter_ibsi(m, g) - 2 * max(semi))
    mean, sd = _bias(err)
    assert abs(mean) < max_bias and sd < max_sd, (mean, sd)
    assert np.mean(err_ibsi) > mean                   # the mesh sits outside: IBSI overestimates


@pytest.mark.parametrize("grid, spacing, axis, tol_mean, tol_sd", [
    (None, (1.0, 1.0, 1.0), SUPERIOR, 0.3, 0.4),
    (AXIAL, THICK, SUPERIOR, 0.35, 0.4),             # axial plane = the fine 0.5 mm pixels
    (SAGITTAL, THICK, SUPERIOR, 0.5, 1.0),           # 3 mm slices cross the axial plane
    (SAGITTAL, THICK, np.array([0.2, 0.3, 0.93]) / np.linalg.norm([0.2, 0.3, 0.93]), 0.8, 1.0),
])
def test_axial_diameters_against_ellipsoids(grid, spacing, axis, tol_mean, tol_sd):
    rng = np.random.default_rng(5)
    long_err, short_err = [], []
    for _ in range(25):
        m, g, r, _ = ellipsoid((5.5, 4.0, 3.0), spacing, rng, direction=grid)
        a = axial_diameters(m, g, axis=axis)
        true_long, true_short, _ = axial_truth((5.5, 4.0, 3.0), r, axis)
        long_err.append(a.long_mm - true_long)
        short_err.append(a.short_mm - true_short)
        assert a.long_mm >= a.short_mm
        np.testing.assert_allclose(np.linalg.norm(np.diff(a.long_endpoints, axis=0)), a.long_mm, atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(np.diff(a.short_endpoints, axis=0)), a.short_mm, atol=1e-9)
        # Calipers lie in the plane perpendicular to the axis.
        assert abs(np.diff(a.long_endpoints, axis=0) @ axis).max() < 1e-9
        assert abs(np.diff(a.short_endpoints, axis=0) @ axis).max() < 1e-9
        assert abs(np.diff(a.long_endpoints, axis=0) @ np.diff(a.short_endpoints, axis=0).T).max() < 1e-9
        if a.uncertainty_mm is not None:
            assert abs(long_err[-1]) <= a.uncertainty_mm and abs(short_err[-1]) <= a.uncertainty_mm
    for err in (long_err, short_err):
        mean, sd = _bias(err)
        assert abs(mean) < tol_mean and sd < tol_sd, (mean, sd)
    thick_in_plane = grid is SAGITTAL
    assert (a.uncertainty_mm == 3.0) == thick_in_plane
    assert ("3 mm slices" in a.note) == thick_in_plane


@pytest.mark.parametrize("grid, spacing, tol_mean, tol_sd", [
    (None, (1.0, 1.0, 1.0), 0.3, 0.5),
    (SAGITTAL, THICK, 0.4, 0.5),                     # S-I along the fine 0.5 mm rows
    (AXIAL, THICK, 0.6, 1.5),                        # S-I across 3 mm slices: +-1.5 mm per end
])
def test_craniocaudal_against_ellipsoids(grid, spacing, tol_mean, tol_sd):
    rng = np.random.default_rng(9)
    err = []
    for _ in range(25):
        m, g, r, _ = ellipsoid((5.5, 4.0, 3.0), spacing, rng, direction=grid)
        err.append(craniocaudal_length(m, g) - axial_truth((5.5, 4.0, 3.0), r, SUPERIOR)[2])
    mean, sd = _bias(err)
    assert abs(mean) < tol_mean and sd < tol_sd, (mean, sd)


# ---------------------------------------------------------------------------- invariance
def _all(mask, geometry, axis):
    a = axial_diameters(mask, geometry, axis=axis)
    return (max_diameter_ibsi(mask, geometry), max_diameter(mask, geometry), a.long_mm, a.short_mm,
            craniocaudal_length(mask, geometry, axis=axis)), a


@pytest.mark.parametrize("target", ["PSR", "RAS", "SAL", "IRP", "ALI"])
def test_storage_order_does_not_change_numbers(target):
    rng = np.random.default_rng(3)
    m = blob(rng)
    d = Rotation.from_euler("xyz", [4, -7, 10], degrees=True).as_matrix() @ SAGITTAL
    g = Geometry(m.shape, THICK, (12.0, -40.0, 85.0), d)
    axis = np.array([0.1, -0.2, 1.0]) / np.linalg.norm([0.1, -0.2, 1.0])
    ref, ref_axial = _all(m, g, axis)
    m2, g2 = reorient(m, g, target)
    got, got_axial = _all(np.ascontiguousarray(m2), g2, axis)
    # Axial calipers come from a converged angular search: equal to 1e-6 mm, the rest to rounding.
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got[:2], ref[:2], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got_axial.plane_position, ref_axial.plane_position, atol=1e-6)


def test_voxel_exact_transforms_on_grid_aligned_axis():
    """Transposes and flips of an axial grid, axis along S: identical numbers and calipers."""
    rng = np.random.default_rng(4)
    m, g, _, _ = ellipsoid((5.5, 4.0, 3.0), THICK, rng, direction=AXIAL)
    ref, ref_axial = _all(m, g, SUPERIOR)
    for target in ["LPS", "RAI", "PLS", "ILA"]:
        m2, g2 = reorient(m, g, target)
        got, got_axial = _all(m2, g2, SUPERIOR)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
        np.testing.assert_allclose(got[:2], ref[:2], rtol=0, atol=1e-9)
        for ends, ref_ends in [(got_axial.long_endpoints, ref_axial.long_endpoints),
                               (got_axial.short_endpoints, ref_axial.short_endpoints)]:
            # Same caliper, possibly drawn in the other direction.
            swapped = ends[::-1]
            assert min(abs(ends - ref_ends).max(), abs(swapped - ref_ends).max()) < 1e-6


def test_axial_versus_sagittal_acquisition():
    """The same ellipsoid on an axial and on a sagittal 0.5 x 0.5 x 3 mm grid: close."""
    rng = np.random.default_rng(8)
    diffs = []
    for _ in range(15):
        r = Rotation.random(random_state=rng).as_matrix()
        c = rng.uniform(-1, 1, 3)
        ma, ga, _, _ = ellipsoid((5.5, 4.0, 3.0), THICK, rng, AXIAL, r, c)
        ms, gs, _, _ = ellipsoid((5.5, 4.0, 3.0), THICK, rng, SAGITTAL, r, c)
        a, _ = _all(ma, ga, SUPERIOR)
        s, axial_s = _all(ms, gs, SUPERIOR)
        assert axial_s.uncertainty_mm == 3.0
        diffs.append(np.subtract(s, a))
    diffs = np.array(diffs)   # columns: ibsi, calibrated, long, short, craniocaudal
    assert abs(diffs[:, 1]).mean() < 0.8                 # calibrated max diameter
    assert abs(diffs[:, 2:4]).mean() < 1.0              # axial: within a third of the 3 mm uncertainty
    assert abs(diffs[:, 4]).mean() < 1.5                 # craniocaudal: 3 mm slices on the axial grid


def test_result_type():
    g = Geometry((2, 3, 3), THICK, direction=AXIAL)
    a = axial_diameters(np.ones(g.shape, bool), g)
    assert isinstance(a, AxialDiameters)
    assert a.long_endpoints.shape == (2, 3) and a.short_endpoints.shape == (2, 3)
    with pytest.raises(AttributeError):
        a.long_mm = 1.0


# ---------------------------------------------------------------------------- SimpleITK side by side
def test_simpleitk_feret_is_the_centre_diameter():
    """Side by side with SimpleITK LabelShapeStatistics (ComputeFeretDiameterOn).

    Found: SimpleITK's Feret diameter is the largest distance between voxel *centres* (of the
    border voxels), so 0 for one voxel, and GetPhysicalSize is voxel count x voxel volume. The IBSI
    mesh hull is the centres' hull grown by the half-voxel octahedron, so IBSI exceeds Feret by
    between min(spacing) / sqrt(3) and max(spacing); the calibrated diameter is Feret plus the
    estimated gaps at both ends (never less than Feret)."""
    rng = np.random.default_rng(2)
    for k in range(8):
        spacing = tuple(rng.choice([0.5, 1.0, 3.0], 3))
        m = blob(rng, (9, 11, 8))
        if k == 0:
            m = np.zeros_like(m)
            m[4, 5, 3] = True
        img = sitk.GetImageFromArray(m.astype(np.uint8))
        img.SetSpacing(spacing[::-1])
        stats = sitk.LabelShapeStatisticsImageFilter()
        stats.ComputeFeretDiameterOn()
        stats.Execute(img)
        feret = stats.GetFeretDiameter(1)
        g = Geometry(m.shape, spacing)
        centres = np.argwhere(m) * spacing
        brute = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1)).max()
        assert feret == pytest.approx(brute, abs=1e-6)
        assert stats.GetPhysicalSize(1) == pytest.approx(m.sum() * g.voxel_volume)
        ibsi = max_diameter_ibsi(m, g)
        assert feret + min(spacing) / np.sqrt(3) - 1e-9 <= ibsi <= feret + max(spacing) + 1e-9
        assert max_diameter(m, g) > feret
