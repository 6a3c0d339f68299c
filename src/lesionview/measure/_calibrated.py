"""Calibrated maximum 3D diameter: farthest voxel centres plus the expected gap to each smooth tip."""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry
from ._hull import centre_candidates, crop, diameter_pairs
from .sections import extent_along, voxel_extent_along

#: Voxel centres read at each end of the diameter to estimate the gap to the true tip.
TIP_POINTS = 20

#: Calibration of the tip gap on analytic ellipsoids (see :func:`max_diameter`).
TIP_GAP_FACTOR = 0.75


def max_diameter(mask: np.ndarray, geometry: Geometry) -> float:
    """Calibrated maximum 3D diameter (mm): farthest voxel centres plus an allowance at each end.

    Definition: ``D = max(|p - q| + a_p + a_q, B)``. ``p, q`` are the two lesion voxel centres
    farthest apart and ``u = (p - q) / |p - q|``. At an end with a tip to read, the allowance is
    ``a = 0.75 g``, ``g`` the expected gap between the outermost centre and a smooth rounded tip:
    with ``T`` the depth below ``p`` along ``u`` of the ``K + 1``-th lesion voxel centre counted
    from that end (``K = 20``, fewer for tiny lesions), ``g = (b + sqrt(b**2 + pi T**2 / K)) / 2``,
    ``b = pi T / (2 K)`` (a locally paraboloid tip sampled by a lattice whose density is read from
    the mask; 0.75 calibrated on analytic ellipsoids, offsetting the upward bias of picking the
    farthest of many pairs). At an end with no tip to read (fewer than 3 centres in the lesion,
    or an end one voxel thin across ``u``: its ``K + 1`` shallowest centres on one line, as in a
    rod) the allowance is half the voxel box projected on ``u``, so such a lesion measures
    its centres' distance plus one whole projected box. ``B`` is the lesion's largest voxel-box
    extent along an array axis or a world (LPS) axis (centre extent plus one box, as
    :func:`craniocaudal_length`), so the diameter is never shorter than the lesion's extent along
    the grid or its craniocaudal length; a single voxel measures its box's diagonal. Ties
    between farthest pairs: the largest result, so storage order does not matter.

    Why not the IBSI value: its mesh puts each end half a voxel outside the last centre along
    the grid line and then picks the direction where that half voxel is largest, so on 3 mm
    slices it overestimates round lesions by about 2 mm (bias table in the module docstring).

    Examples
    --------
    >>> g = Geometry((1, 1, 2), spacing=(3.0, 0.5, 0.5))   # two voxels side by side
    >>> max_diameter(np.ones(g.shape, bool), g)           # the 3 mm slice: no extent is longer
    3.0
    """
    mask, geometry = crop(mask, geometry)
    spacing = np.array(geometry.spacing)
    cand = centre_candidates(mask)                        # index units; hull vertices included
    d, pairs = diameter_pairs(cand * spacing)             # grid-mm frame: array axis a = e_a
    world = geometry.index_to_world(cand)
    floor = max(extent_along(world, e, geometry) for e in [*np.eye(3), *geometry.direction_matrix.T])
    if d == 0.0:        # one voxel: no direction is given, so its box's longest extent (diagonal)
        return max(float(np.linalg.norm(spacing)), floor)
    k = min(TIP_POINTS, int(np.count_nonzero(mask)) - 1)
    # Only the direction matters: every farthest pair along u has its ends on the two extreme
    # planes perpendicular to u, so the tip depths are the same. Dedupe up to sign and rounding;
    # each end's gap then reads only a small box of the mask around it.
    u_all = (pairs[:, 0] - pairs[:, 1]) / d
    flip = u_all[np.arange(len(u_all)), np.argmax(np.abs(u_all), axis=1)] < 0
    u_all[flip] *= -1.0
    pairs[flip] = pairs[flip][:, ::-1]
    best = 0.0
    for i in np.unique(np.round(u_all, 9), axis=0, return_index=True)[1]:
        u, (p, q) = u_all[i], pairs[i] / spacing
        half_box = 0.5 * voxel_extent_along(geometry, geometry.direction_matrix @ u)
        proj = cand * spacing @ u
        ends = [_tip_gap(mask, spacing, u, p, proj.max() - proj, k, d),
                _tip_gap(mask, spacing, -u, q, proj - proj.min(), k, d)]
        best = max(best, d + sum(half_box if g is None else TIP_GAP_FACTOR * g for g in ends))
    return float(max(best, floor))


def _tip_gap(mask, spacing, u, end, cand_depths, k, d) -> float | None:
    """Expected distance from the outermost lattice point ``end`` (index) to a paraboloid tip along ``u``.

    ``T`` is the depth of the ``k + 1``-th shallowest lesion centre. Every lesion centre lies
    within ``d`` of the opposite end, so centres at most ``t`` deep lie within ``sqrt(2 d t)`` of
    ``end``: only a box around it is read, grown until it holds that cap (at most the cap of the
    same order statistic over the hull candidates ``cand_depths``). Exact. Returns None when
    ``k < 2`` or the shallowest centres lie on one line (no tip to read). ``T`` is never 0: a
    second centre as deep as ``end`` would lie farther than ``d`` from the opposite end.
    """
    if k < 2:
        return None
    bound = np.sqrt(2.0 * d * float(np.partition(cand_depths, k)[k])) if len(cand_depths) > k else np.inf
    reach = 2.0 * float(spacing.max())
    while True:
        reach = min(reach, bound)
        lo = np.maximum(np.floor(end - reach / spacing) - 1, 0).astype(int)
        hi = np.minimum(np.ceil(end + reach / spacing) + 2, mask.shape).astype(int)
        idx = np.argwhere(mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]) + lo
        depths = float(end * spacing @ u) - idx * spacing @ u
        if len(depths) > k:
            t = float(np.partition(depths, k)[k])
            if np.sqrt(2.0 * d * max(t, 0.0)) <= reach or reach >= bound:
                break
        reach *= 4.0
    # The paraboloid counts centres in a cap whose count grows faster than its depth. Where the
    # lesion is one voxel thin across u (its shallowest centres on one line: a rod) the count grows
    # only linearly, which the model reads as a blunt tip: a 21-voxel rod measured 27 mm. Such an
    # end has no tip to read. (A one-slice plate's cap still grows faster than linearly, and
    # the calibration holds there: the 11 mm lesion on 3 mm slices in the bias table.)
    cap = (idx[depths <= t + 1e-9] - end) * spacing
    if np.linalg.matrix_rank(cap, tol=1e-6 * float(spacing.min())) < 2:
        return None
    # A tip of curvature radius rho holds ~ (pi rho / V) ((t + g)^2 - g^2) centres within depth t
    # of the outermost one (V = voxel volume), and E[g] = sqrt(V / rho) / 2 for a random lattice
    # offset; eliminating rho / V gives g^2 - b g - pi t^2 / (4 k) = 0 with b = pi t / (2 k).
    b = np.pi * t / (2 * k)
    return 0.5 * (b + float(np.sqrt(b * b + np.pi * t * t / k)))
