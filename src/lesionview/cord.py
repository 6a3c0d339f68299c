"""The spinal cord centerline: a smooth curve in LPS millimetres, from superior to inferior.

Conventions
-----------
- Points are world LPS mm (see :mod:`lesionview.geometry`), ordered from the most superior
  end (arc length ``s = 0``) to the most inferior end (``s = length_mm``).
- Tangents point **inferior** (the direction of increasing arc length).
- :meth:`Centerline.arclength_of` projects a point onto the nearest point of the curve; a
  point beyond either end is projected onto the straight extension of the end segment, so it
  gets ``s < 0`` above the curve and ``s > length_mm`` below it (lengths stay meaningful a
  little past a short centerline instead of piling up at the ends).

A centerline is sampled densely (``spacing_mm``, 0.5 mm by default) so that the polyline is a
faithful stand-in for the smooth spline it came from: the length error of a 0.5 mm chord on a
cord with a 50 mm radius of curvature is below 1e-5 relative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .geometry import Geometry

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

#: Unit LPS vector towards the patient's head.


@dataclass(frozen=True, eq=False)
class Centerline:
    """An ordered, densely sampled curve along the cord (LPS mm, superior first).

    Parameters
    ----------
    points : (N, 3) array
        Samples from superior to inferior, N >= 2, consecutive samples distinct.
    source : str
        Where it came from (for reports and error messages).

    Examples
    --------
    >>> cl = Centerline.from_points([[0, 0, 40], [0, 0, 0], [0, 0, 20]])
    >>> round(cl.length_mm, 3)
    40.0
    >>> round(float(cl.arclength_of([[5.0, 0.0, 10.0]])[0]), 3)
    30.0
    """

    points: np.ndarray
    source: str = ""
    _tree: cKDTree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) < 2 or not np.all(np.isfinite(pts)):
            raise ValueError(f"a centerline needs (N>=2, 3) finite points, got shape {pts.shape}")
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        if np.any(seg <= 0):
            raise ValueError("centerline has repeated consecutive points")
        pts.flags.writeable = False
        object.__setattr__(self, "points", pts)
        # Imported here: scipy.spatial costs ~0.1 s, which `lesionview --help` and `info` need not pay.
        from scipy.spatial import cKDTree

        object.__setattr__(self, "_tree", cKDTree(pts))

    # ------------------------------------------------------------------ properties
    @property
    def segment_lengths(self) -> np.ndarray:
        return np.linalg.norm(np.diff(self.points, axis=0), axis=1)

    @property
    def arclength(self) -> np.ndarray:
        """Cumulative arc length (mm) at each sample, 0 at the superior end."""
        return np.concatenate([[0.0], np.cumsum(self.segment_lengths)])

    @property
    def length_mm(self) -> float:
        return float(self.segment_lengths.sum())

    @property
    def segment_directions(self) -> np.ndarray:
        d = np.diff(self.points, axis=0)
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    # ------------------------------------------------------------------ queries
    def _project(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Arc length and segment index of the nearest curve point to each point."""
        p = np.atleast_2d(np.asarray(points, dtype=float))
        n_seg = len(self.points) - 1
        _, nearest = self._tree.query(p)
        s_all = self.arclength
        d = self.segment_directions
        lengths = self.segment_lengths
        best_s = np.full(len(p), np.nan)
        best_seg = np.zeros(len(p), dtype=int)
        best_dist = np.full(len(p), np.inf)
        # The nearest point of the polyline lies on one of the two segments touching the
        # nearest vertex (dense sampling makes this exact for points near the cord).
        for offset in (-1, 0):
            seg = np.clip(nearest + offset, 0, n_seg - 1)
            rel = p - self.points[seg]
            t = np.einsum("ij,ij->i", rel, d[seg])
            lo = np.where(seg == 0, -np.inf, 0.0)           # extend beyond the superior end
            hi = np.where(seg == n_seg - 1, np.inf, lengths[seg])  # ... and the inferior end
            t = np.clip(t, lo, hi)
            foot = self.points[seg] + t[:, None] * d[seg]
            dist = np.linalg.norm(p - foot, axis=1)
            better = dist < best_dist
            best_dist[better] = dist[better]
            best_s[better] = s_all[seg[better]] + t[better]
            best_seg[better] = seg[better]
        return best_s, best_seg

    def arclength_of(self, points) -> np.ndarray:
        """Arc length (mm from the superior end) of the nearest point of the curve.

        Points beyond an end are projected onto the straight extension of the end segment
        (negative above the curve, beyond ``length_mm`` below it).
        """
        return self._project(points)[0]

    def point_at(self, s) -> np.ndarray:
        """World position(s) at arc length(s) ``s`` (linear extrapolation beyond the ends)."""
        s = np.atleast_1d(np.asarray(s, dtype=float))
        cum = self.arclength
        seg = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(cum) - 2)
        return self.points[seg] + (s - cum[seg])[:, None] * self.segment_directions[seg]

    def tangent_at(self, points) -> np.ndarray:
        """Unit tangent (pointing inferior) at the curve point nearest each point, (M, 3).

        The tangent is interpolated between neighbouring segments so it varies smoothly.
        """
        s, _ = self._project(points)
        return self.tangent_at_arclength(s)

    def tangent_at_arclength(self, s) -> np.ndarray:
        s = np.atleast_1d(np.asarray(s, dtype=float))
        d = self.segment_directions
        if len(d) == 1:
            return np.repeat(d, len(s), axis=0)
        mids = self.arclength[:-1] + self.segment_lengths / 2
        out = np.stack([np.interp(s, mids, d[:, k]) for k in range(3)], axis=1)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def length_between(self, a, b) -> float:
        """Length (mm) along the cord between the projections of two world points."""
        s = self.arclength_of(np.array([a, b], dtype=float).reshape(2, 3))
        return float(abs(s[1] - s[0]))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_points(cls, points, *, spacing_mm: float = 0.5, smoothing_mm: float = 0.5,
                    weights=None, source: str = "points") -> Centerline:
        """A smooth curve through a few clicked points (3-10 typical), superior first.

        Points are ordered along their main direction (principal axis, oriented superior
        first), then a cubic smoothing spline (``scipy.interpolate.splprep``) is fitted with a
        residual allowance of ``smoothing_mm`` per point, and resampled every ``spacing_mm``.
        """
        pts = np.asarray(points, dtype=float).reshape(-1, 3)
        if not np.all(np.isfinite(pts)):
            raise InputError("centerline points must be finite numbers.")
        w = None if weights is None else np.asarray(weights, dtype=float).reshape(-1)
        order = _superior_first_order(pts)
        pts = pts[order]
        w = None if w is None else w[order]
        keep = np.concatenate([[True], np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-6])
        pts, w = pts[keep], (None if w is None else w[keep])
        if len(pts) < 2:
            raise InputError("a centerline needs at least two distinct points.",
                             hint="Click the cord at two or more levels.")
        return cls(_smooth_curve(pts, w, spacing_mm=spacing_mm, smoothing_mm=smoothing_mm),
                   source=source)


def _superior_first_order(pts: np.ndarray) -> np.ndarray:
    """Order points along their principal axis, the more superior end first."""
    if len(pts) < 2:
        return np.arange(len(pts))
    centred = pts - pts.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    if axis[2] > 0:              # make the axis point inferior
        axis = -axis
    return np.argsort(centred @ axis, kind="stable")


def _smooth_curve(pts: np.ndarray, weights, *, spacing_mm: float, smoothing_mm: float) -> np.ndarray:
    """Cubic smoothing spline through ordered points, resampled at equal arc length."""
    n = len(pts)
    if n == 2:
        dense = pts
    else:
        # Imported here: scipy.interpolate costs ~0.4 s (it brings scipy.optimize and scipy.special).
        from scipy import interpolate

        k = min(3, n - 1)
        w = np.ones(n) if weights is None else np.sqrt(weights / np.mean(weights))
        # splprep's s bounds sum((w * residual)^2); allow smoothing_mm RMS per point.
        u = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        tck, _ = interpolate.splprep(pts.T, w=w, u=u, k=k, s=n * smoothing_mm ** 2, quiet=2)
        fine = np.linspace(u[0], u[-1], max(int(np.ceil(u[-1] / (spacing_mm / 4))), 8))
        dense = np.stack(interpolate.splev(fine, tck), axis=1)
        # A smoothing spline's ends are loosely held (a light end point lets them overshoot):
        # end the curve where it passes closest to the first and last data points.
        first = int(np.argmin(np.linalg.norm(dense - pts[0], axis=1)))
        last = int(np.argmin(np.linalg.norm(dense - pts[-1], axis=1)))
        if last - first >= 1:
            dense = dense[first:last + 1]
    # Resample at (nearly) equal arc length.
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
    m = max(int(np.ceil(cum[-1] / spacing_mm)), 1)
    s = np.linspace(0.0, cum[-1], m + 1)
    return np.stack([np.interp(s, cum, dense[:, k]) for k in range(3)], axis=1)


def centerline_from_mask(mask, geometry: Geometry, *, spacing_mm: float = 0.5,
                         smoothing_mm: float | None = None, source: str = "cord mask",
                         name: str = "cord mask", path: str | None = None) -> Centerline:
    """Cord centerline from a binary cord mask: centroids of slabs across the cord, smoothed.

    1. Slabs perpendicular to the cord's main (superior-inferior) direction, as thick as the
       voxel grid's step along that direction (so 5 mm axial slices give 5 mm slabs and a
       sagittal stack with thick left-right slices still gives fine slabs); the centroid of
       each slab, weighted by its voxel count, feeds a smoothing spline.
    2. The curved cord (cervical lordosis) is handled by a second pass: voxels are binned by
       their arc length along the first curve, i.e. slabs perpendicular to the cord itself.

    Everything is in world mm; the storage orientation does not matter. ``name`` and ``path``
    say in messages which input was at fault.
    """
    from .measure.components import nonzero_indices  # (measure imports this module)

    m = np.asarray(mask)
    if m.shape != geometry.shape:
        raise InputError(f"{name} shape {m.shape} does not match its geometry ({geometry.describe()}).",
                         path=path)
    idx = nonzero_indices(m)
    if len(idx) < 2:
        raise InputError(f"the {name} is empty (or a single voxel); no centerline can be drawn.",
                         path=path, hint="Check that the right file was given.")
    pts = geometry.index_to_world(idx)
    axis = _main_axis(pts)
    step = _grid_step_along(geometry, axis)
    smooth = max(step, 1.0) if smoothing_mm is None else smoothing_mm
    centres, counts = _slab_centroids(pts @ axis, pts, step)
    if len(centres) < 2:
        raise InputError(f"the {name} covers a single slab; no centerline direction can be found.",
                         path=path)
    first = Centerline.from_points(centres, spacing_mm=spacing_mm, smoothing_mm=smooth,
                                   weights=counts, source=source)
    if len(centres) < 4:
        return first
    s = first.arclength_of(pts)
    centres2, counts2 = _slab_centroids(s, pts, step)
    if len(centres2) < 2:
        return first
    return Centerline.from_points(centres2, spacing_mm=spacing_mm, smoothing_mm=smooth,
                                  weights=counts2, source=source)


def centerline_from_label(volume, *, spacing_mm: float = 0.5, smoothing_mm: float | None = None) -> Centerline:
    """Centerline from a label image drawn along the cord (e.g. SCT ``t2_centerline-manual``).

    Any nonzero voxel is a centerline sample; several per slab are averaged. Values that no label
    image holds (NaN, fractions, negatives) are refused: the file is likely an image.
    """
    from .measure.components import check_mask  # (measure imports this module)

    path = getattr(volume.info, "source", "") or None
    check_mask(volume.array, name="the centerline label image", source=path)
    return centerline_from_mask(volume.array != 0, volume.geometry, spacing_mm=spacing_mm,
                                smoothing_mm=smoothing_mm, source=path or "centerline label",
                                name="centerline label image", path=path)


def _main_axis(pts: np.ndarray) -> np.ndarray:
    """Principal axis of a point cloud, pointing inferior."""
    centred = pts - pts.mean(axis=0)
    if len(pts) < 3:
        axis = centred[-1] - centred[0]
        axis = axis / np.linalg.norm(axis)
    else:
        # Covariance of every point (no subsampling: a symmetric cord must give an exactly
        # symmetric axis, whatever order its voxels are stored in).
        w, v = np.linalg.eigh(centred.T @ centred)
        axis = v[:, np.argmax(w)]
    return -axis if axis[2] > 0 else axis


def _grid_step_along(geometry: Geometry, axis: np.ndarray) -> float:
    """Largest distance between voxel centres along ``axis``: the thinnest slab that is never empty."""
    proj = np.abs(geometry.direction_matrix.T @ axis) * np.array(geometry.spacing)
    return float(max(proj.max(), 0.5))


def _slab_centroids(t: np.ndarray, pts: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    # Voxel layers sit at bin centres, not on bin edges where round-off would split them.
    bins = np.floor((t - t.min()) / step + 0.5).astype(int)
    counts = np.bincount(bins)
    sums = np.stack([np.bincount(bins, weights=pts[:, k]) for k in range(3)], axis=1)
    # Drop nearly empty slabs (a few voxels clipped at an end, or binning aliasing): their
    # centroid is off the cord axis and would bend the ends of the curve.
    keep = counts >= max(0.25 * np.median(counts[counts > 0]), 1)
    return sums[keep] / counts[keep, None], counts[keep].astype(float)
