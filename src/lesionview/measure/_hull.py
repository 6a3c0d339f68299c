"""Convex-hull machinery shared by the diameters: cropping, hull candidates, farthest pairs."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from ..geometry import Geometry
from .components import nonzero_box


def crop(mask: np.ndarray, geometry: Geometry) -> tuple[np.ndarray, Geometry]:
    """The mask cut to its bounding box (bool) and the matching geometry; empty masks raise."""
    mask, box = _lesion_box(mask, geometry)
    return mask[box].astype(bool, copy=False), geometry.cropped(box)


def crop_mask(mask: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The mask cut to its bounding box (bool), for callers that need only the spacing (a cropped
    Geometry costs about as much as a 10^3-voxel lesion's IBSI diameter); empty masks raise."""
    mask, box = _lesion_box(mask, geometry)
    return mask[box].astype(bool, copy=False)


def _lesion_box(mask, geometry: Geometry) -> tuple[np.ndarray, tuple[slice, ...]]:
    """The mask as an array and the box of its voxels; raises when it is empty or off its grid."""
    mask = np.asarray(mask)
    if mask.shape != geometry.shape:
        raise ValueError(f"mask shape {mask.shape} does not match its geometry ({geometry.describe()})")
    box = nonzero_box([mask])
    if box is None:
        raise ValueError("the lesion mask is empty: there is nothing to measure")
    return mask, box


def line_ends(mask: np.ndarray, axis: int) -> np.ndarray:
    """Indices (float, (2n, 3)) of the first and last lesion voxel of every grid line along ``axis``."""
    m = np.moveaxis(mask, axis, -1)
    has = m.any(axis=-1)
    first = np.argmax(m, axis=-1)[has]
    last = (m.shape[-1] - 1 - np.argmax(m[..., ::-1], axis=-1))[has]
    others = np.argwhere(has)
    return np.concatenate([assemble(others, first, axis), assemble(others, last, axis)])


def assemble(others: np.ndarray, along: np.ndarray, axis: int) -> np.ndarray:
    """Index points (n, 3) from the two other indices and the coordinate along ``axis``."""
    pts = np.empty((along.size, 3))
    rest = [a for a in range(3) if a != axis]
    pts[:, rest[0]] = others[:, 0]
    pts[:, rest[1]] = others[:, 1]
    pts[:, axis] = along
    return pts


def centre_candidates(mask: np.ndarray) -> np.ndarray:
    """Indices (float, (n, 3)) of lesion voxel centres that include every convex-hull vertex.

    Along the longest array axis only the first and last lesion voxel of each grid line can be
    hull vertices (the others lie between them). Seen as height maps over the two other axes,
    a first end that is not strictly below the mean of its two opposite neighbours (along either
    axis or diagonal) lies in the hull of those neighbours and its own line's last end, so it is
    dropped (likewise for last ends). Hull vertices are strictly convex there, so none is ever dropped.
    """
    axis = int(np.argmax(mask.shape))
    m = np.moveaxis(mask, axis, 0)
    n = m.shape[0]
    has = m.any(axis=0)
    first = np.where(has, np.argmax(m, axis=0), 0).astype(float)
    last = np.where(has, n - 1 - np.argmax(m[::-1], axis=0), 0).astype(float)
    keep_first, keep_last = has.copy(), has.copy()
    s_, lo_, hi_ = slice(1, -1), slice(None, -2), slice(2, None)
    # Neighbour pairs along the two axes and the two diagonals of the height map.
    for lo, hi in [((lo_, s_), (hi_, s_)), ((s_, lo_), (s_, hi_)),
                   ((lo_, lo_), (hi_, hi_)), ((lo_, hi_), (hi_, lo_))]:
        mid = (s_, s_)
        both = has[lo] & has[hi] & has[mid]
        keep_first[mid] &= ~(both & (2 * first[mid] >= first[lo] + first[hi]))
        keep_last[mid] &= ~(both & (2 * last[mid] <= last[lo] + last[hi]))
    return np.concatenate([assemble(np.argwhere(keep), along[keep], axis)
                           for keep, along in ((keep_first, first), (keep_last, last))])


#: Up to this many points left by the pruning (:func:`farthest_candidates`), every pair is
#: compared directly; beyond it their convex hull (Qhull) is taken first. Measured (``python -m
#: benchmarks diameter``, "crossover" rows) on sphere shells, the worst case (other lesions leave
#: a few dozen points): pairwise wins below 450 to 750 points, depending on the machine's load
#: (434 points: 0.49 ms against 0.70 ms through Qhull), Qhull above (1169 points: 3.9 ms against
#: 3.1 ms; 689 points on a loaded machine: 5.8 ms against 1.2 ms).
PAIRWISE_UP_TO = 450


def hull_points(points: np.ndarray) -> np.ndarray:
    """The extreme points of ``points`` (a subset containing every convex-hull vertex).

    Handles flat and colinear sets (Qhull needs full dimension) by working in their own span.
    """
    points = np.asarray(points, float)
    if len(points) <= 8:
        return points
    centre = points.mean(axis=0)
    centred = points - centre
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.sum(sv > 1e-9 * max(sv[0], 1e-300)))
    if rank == 0:
        return points[:1]
    if rank == 1:
        t = centred @ vt[0]
        return points[[int(np.argmin(t)), int(np.argmax(t))]]
    coords = centred @ vt[:rank].T if rank < points.shape[1] else points
    try:
        # Joggled input (QJ): grid points are massively coplanar and Qhull's exact merging is
        # 2-3x slower. A joggle of ~1e-11 relative can only drop a vertex lying that close to
        # the hull of the others, which changes no distance by more than that.
        return points[ConvexHull(coords, qhull_options="QJ").vertices]
    except QhullError:
        # Nearly degenerate for Qhull although numerically of full rank: all points are exact too.
        return points


def diameter_pairs(points: np.ndarray, rtol: float = 1e-9) -> tuple[float, np.ndarray]:
    """Largest distance between two of ``points`` (n, d) and every pair attaining it.

    Returns ``(distance, pairs)`` with ``pairs`` of shape (m, 2, d): all pairs within ``rtol`` of
    the maximum (grids make ties common; callers break them in an orientation-independent way).
    """
    pts = np.asarray(points, float)
    if len(pts) == 1:
        return 0.0, np.stack([pts[0], pts[0]])[None]
    pts, centre, best = farthest_candidates(pts)
    if len(pts) > PAIRWISE_UP_TO:
        # Both ends of every farthest pair are hull vertices of the candidates (a distance is
        # strictly convex along a segment, so its maximum is never inside an edge or a face).
        pts = hull_points(pts)
    centred = pts - centre                  # small coordinates keep the Gram form accurate
    sq = np.einsum("ij,ij->i", centred, centred)
    n = len(pts)
    chunk = max(1, 4_000_000 // n)
    cand_a, cand_b = [], []
    best2 = best * best
    for start in range(0, n, chunk):
        block = centred[start:start + chunk]
        # Gram form is fast but rounds; keep a margin and recompute the survivors exactly.
        d2 = sq[start:start + chunk, None] + sq[None, :] - 2.0 * block @ centred.T
        # The block's own largest distance tightens the bound: on round sets the walk's bound
        # may sit a voxel below it, which would let a good share of all pairs through.
        best2 = max(best2, float(d2.max()))
        a, b = np.nonzero(d2 >= best2 * (1 - 1e-6))
        keep = start + a < b
        cand_a.append(start + a[keep])
        cand_b.append(b[keep])
    a = np.concatenate(cand_a)
    b = np.concatenate(cand_b)  # never empty: the walk's own pair passes the margin
    dist = np.linalg.norm(pts[a] - pts[b], axis=1)
    top = float(dist.max())
    sel = dist >= top * (1 - rtol)
    return top, np.stack([pts[a[sel]], pts[b[sel]]], axis=1)


def farthest_candidates(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The points (n >= 2, float) that may end a farthest pair, their centroid ``c`` and a lower
    bound of the largest distance.

    The bound comes from a farthest-point walk; a point ``p`` is dropped when it cannot reach it:
    ``|p - q| <= |p - c| + |q - c| <= r_p + r_max``. On lesions a few dozen points remain.
    """
    centre = points.mean(axis=0)
    r = np.linalg.norm(points - centre, axis=1)
    i = int(np.argmax(r))
    best = 0.0
    for _ in range(4):
        d = np.linalg.norm(points - points[i], axis=1)
        j = int(np.argmax(d))
        if d[j] <= best:
            break
        best, i = float(d[j]), j
    return points[r + r.max() >= best * (1 - 1e-9)], centre, best


def unit(vector, name: str) -> np.ndarray:
    """``vector`` as a unit LPS 3-vector; raises naming ``name`` when it is zero or not 3D."""
    v = np.asarray(vector, float).reshape(-1)
    norm = np.linalg.norm(v) if v.size == 3 else 0.0
    if not np.isfinite(norm) or norm < 1e-9:
        raise ValueError(f"{name} must be a non-zero LPS 3-vector, got {vector!r}")
    return v / norm
