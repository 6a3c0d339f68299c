"""Axial (RANO/RECIST bidimensional) diameters in planes perpendicular to the cord axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..geometry import SUPERIOR, Geometry
from ._hull import crop, hull_points, line_ends, unit
from .thick import THICK_SLICE_MM  # also for axial diameters: slices lying in the plane

#: Default cord axis: the patient superior direction (LPS +z). The one definition in lesionview.


#: A section with fewer centres than this has no edge to read: its allowance is the whole box.
MIN_TIP_CENTRES = 3

_THETAS = np.linspace(0.0, np.pi, 360, endpoint=False)
_GOLDEN = (np.sqrt(5.0) - 1) / 2


@dataclass(frozen=True)
class AxialDiameters:
    """Bidimensional (RANO/RECIST) diameters in the plane perpendicular to the cord axis.

    Attributes
    ----------
    long_mm : float
        Longest in-plane diameter over all axial cross-sections.
    short_mm : float
        Extent of that same cross-section perpendicular to ``long_mm``, in the plane.
    long_endpoints, short_endpoints : (2, 3) ndarray
        LPS mm ends of the two calipers (as drawn: allowances included).
    plane_position : (3,) ndarray
        LPS mm point where the measured plane meets the axis through the lesion's voxel centroid.
    axis : (3,) ndarray
        Unit LPS normal of the plane (the cord axis used).
    uncertainty_mm : float or None
        +- this much on both diameters when slices of 3 mm or more lie in the plane, else None.
    note : str
        Why there is an uncertainty ("" when there is none).
    """

    long_mm: float
    short_mm: float
    long_endpoints: np.ndarray
    short_endpoints: np.ndarray
    plane_position: np.ndarray
    axis: np.ndarray
    uncertainty_mm: float | None = None
    note: str = ""


def axial_diameters(mask: np.ndarray, geometry: Geometry, axis=None) -> AxialDiameters:
    """Long and short axial diameters (RANO/RECIST practice) perpendicular to the cord axis.

    Definition: planes perpendicular to ``axis`` (the cord tangent at the lesion, LPS unit
    vector; default superior ``(0, 0, 1)``) are swept through the lesion. A plane's cross-section
    is the set of lesion voxels whose **box** the plane cuts, each represented by its centre
    projected onto the plane; no resampling. When ``axis`` is along an array axis the sections are
    exactly the voxel layers along it; for an oblique axis the planes are spaced half the smallest
    voxel spacing apart and a voxel belongs to every plane crossing its box.

    In a section, for an in-plane unit direction ``e`` let ``w(e)`` be the caliper width of its
    centres along ``e``. Its diameter along ``e`` is ``w(e) + a(e)``: with 3 or more centres the
    calibrated allowance ``a(e) = s(e) / 2``, ``s(e) = sum_a spacing[a] * (e . d_a)**2`` (the
    expected gap to a smooth edge, about a quarter voxel at each end), with fewer the voxel-box
    rule ``a(e) = sum_a spacing[a] * |e . d_a|`` (the box projected on ``e``: one voxel is as wide
    as its box). The section's long diameter maximises it over ``e``, its short one is taken along
    ``e'`` perpendicular to the maximising ``e`` in the plane (short <= long). ``long_mm`` is the
    largest long diameter over all sections, ``short_mm`` the short one of that section (ties:
    larger short, then the plane nearest the lesion's centroid). The maximum over ``e`` is sampled
    every 0.5 degree and refined by golden-section search (converged to rounding).

    When the largest spacing of an array axis lying in the plane (within 45 degrees) is 3 mm or
    more, as across the slices of a sagittal acquisition, ``uncertainty_mm`` is that spacing and
    ``note`` says why: the lesion's edge can be anywhere inside the outermost thick slice.

    Examples
    --------
    >>> axial_grid = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]      # array axes: S, P, L
    >>> g = Geometry((1, 1, 4), spacing=(3.0, 0.5, 0.5), direction=axial_grid)  # 1 slice, 4 pixels
    >>> a = axial_diameters(np.ones(g.shape, bool), g)
    >>> a.long_mm, a.short_mm, a.uncertainty_mm
    (1.75, 0.5, None)
    """
    mask, geometry = crop(mask, geometry)
    spacing = np.array(geometry.spacing)
    n_world = unit(SUPERIOR if axis is None else axis, "axis")
    n = geometry.direction_matrix.T @ n_world             # the axis in the grid-mm frame
    aligned = int(np.argmax(np.abs(n)))
    is_aligned = abs(abs(n[aligned]) - 1.0) < 1e-9
    if is_aligned:
        # Within a layer only the first and last voxel of each grid line can be extreme.
        idx = line_ends(mask, max((a for a in range(3) if a != aligned), key=lambda a: mask.shape[a]))
    else:
        idx = np.argwhere(mask).astype(float)
    centres = idx * spacing
    proj = centres @ n
    e1 = np.cross(n, np.eye(3)[int(np.argmin(np.abs(n)))])
    e1 /= np.linalg.norm(e1)
    basis = np.stack([e1, np.cross(n, e1)], axis=1)       # in-plane unit vectors, grid-mm frame
    xy = centres @ basis
    positions, groups = _sections(idx, proj, aligned if is_aligned else None,
                                  0.5 * float(np.abs(n) @ spacing), 0.5 * float(spacing.min()))
    if is_aligned:      # idx holds line ends only: count the layer's voxels
        per_layer = mask.sum(axis=tuple(a for a in range(3) if a != aligned))
        counts = [int(per_layer[int(idx[g[0], aligned])]) for g in groups]
    else:
        counts = [len(g) for g in groups]
    centroid = np.array(ndimage.center_of_mass(mask)) * spacing
    sections = [(t, hull_points(xy[g]), _SectionDiameter(basis, spacing, c))
                for t, g, c in zip(positions, groups, counts) if len(g)]
    coarse = [float(_caliper_values(h, a, _THETAS)[0].max()) for _, h, a in sections]
    # Sampling 0.5 degrees misses a maximum by at most diameter * (1 - cos 0.25 deg) < 1e-5 of it.
    margin = 1e-5 * max(coarse) + 1e-9
    best = None
    for (t, hull2, allow), c in zip(sections, coarse):
        if c < max(coarse) - margin:
            continue
        for cand in _section_calipers(hull2, allow):
            key = (round(cand[0], 9), round(cand[1], 9), -abs(t - float(centroid @ n)))
            if best is None or key > best[0]:
                best = (key, t, cand)
    _, t, (long_mm, short_mm, long2, short2) = best

    def to_world(xy2):
        return geometry.index_to_world((xy2 @ basis.T + t * n) / spacing)

    thick = max((spacing[a] for a in range(3) if abs(n[a]) < np.sqrt(0.5)), default=0.0)
    uncertainty, note = None, ""
    if thick >= THICK_SLICE_MM:
        uncertainty = float(thick)
        note = (f"{thick:g} mm slices lie in the axial plane: the lesion edge can be anywhere in the "
                f"outermost slice, so the axial diameters are uncertain by ±{thick:g} mm")
    return AxialDiameters(
        long_mm=float(long_mm), short_mm=float(short_mm),
        long_endpoints=to_world(long2), short_endpoints=to_world(short2),
        plane_position=geometry.index_to_world((centroid + (t - float(centroid @ n)) * n) / spacing),
        axis=n_world, uncertainty_mm=uncertainty, note=note,
    )


def _sections(idx, proj, aligned, half_box, step):
    """Plane positions along the axis and, for each, the indices of the centres in its section."""
    if aligned is not None:
        # One plane per voxel layer along that array axis.
        layer = idx[:, aligned].astype(int)
        order = np.argsort(layer, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(layer[order])) + 1)
        return [float(proj[g[0]]) for g in groups], groups
    positions = list(np.arange(proj.min() - half_box + step / 2, proj.max() + half_box, step))
    order = np.argsort(proj)
    lo = np.searchsorted(proj[order], np.subtract(positions, half_box), side="left")
    hi = np.searchsorted(proj[order], np.add(positions, half_box), side="left")
    return positions, [order[a:b] for a, b in zip(lo, hi)]


class _SectionDiameter:
    """Diameters ``w(e) + a(e)`` of one section along in-plane unit directions ``e`` (rows, 2D)."""

    def __init__(self, basis: np.ndarray, spacing: np.ndarray, centres: int):
        self.basis, self.spacing = basis, spacing
        self.box_only = centres < MIN_TIP_CENTRES
        self.s2 = basis.T @ np.diag(spacing) @ basis       # s(e) = e @ s2 @ e

    def __call__(self, width: np.ndarray, e: np.ndarray) -> np.ndarray:
        box = np.abs(e @ self.basis.T) @ self.spacing       # the voxel box projected on e
        if self.box_only:
            return width + box
        return np.maximum(width + 0.5 * np.einsum("ki,ij,kj->k", e, self.s2, e), box)


def _caliper_values(hull2: np.ndarray, diameter: _SectionDiameter, theta: np.ndarray):
    """Diameters of 2D points for directions at angles ``theta``."""
    e = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    proj = hull2 @ e.T
    return diameter(proj.max(axis=0) - proj.min(axis=0), e), e


def _section_calipers(hull2: np.ndarray, allow: _SectionDiameter) -> list:
    """Long and short calipers of one cross-section: ``[(long, short, long_ends, short_ends)]``.

    The long caliper maximises ``w(e) + a(e)`` over in-plane directions (sampled every 0.5 degree,
    then refined by golden-section search to 1e-12 rad); the short one is perpendicular to it.
    Several candidates are returned when local maxima nearly tie.
    """
    vals, _ = _caliper_values(hull2, allow, _THETAS)
    peak = (vals >= np.roll(vals, 1)) & (vals >= np.roll(vals, -1)) & (vals >= vals.max() - 1e-5 * vals.max() - 1e-9)
    idx = np.flatnonzero(peak)
    idx = idx[np.argsort(-vals[idx], kind="stable")][:8]
    step = _THETAS[1]
    lo, hi = _THETAS[idx] - step, _THETAS[idx] + step
    while np.max(hi - lo) > 1e-12:
        a = hi - _GOLDEN * (hi - lo)
        b = lo + _GOLDEN * (hi - lo)
        left = _caliper_values(hull2, allow, a)[0] >= _caliper_values(hull2, allow, b)[0]
        hi = np.where(left, b, hi)
        lo = np.where(left, lo, a)
    refined = (lo + hi) / 2
    # Keep the sampled angle when refining gains nothing (flat tops, grid-aligned sections):
    # the short caliper is then exact instead of off by the search's last 1e-8 rad.
    gain = _caliper_values(hull2, allow, refined)[0] - vals[idx]
    thetas = np.where(gain > 1e-12 * vals[idx] + 1e-15, refined, _THETAS[idx])
    out = []
    for theta in thetas:
        e = np.array([np.cos(theta), np.sin(theta)])
        v = np.array([-e[1], e[0]])
        pe, pv = hull2 @ e, hull2 @ v
        i_lo, i_hi = int(np.argmin(pe)), int(np.argmax(pe))
        long_mm = float(allow(np.array([pe[i_hi] - pe[i_lo]]), e[None])[0])
        short_mm = float(allow(np.array([pv.max() - pv.min()]), v[None])[0])
        ce, cv = long_mm - (pe[i_hi] - pe[i_lo]), short_mm - (pv.max() - pv.min())   # allowances
        at_v = (pv[i_lo] + pv[i_hi]) / 2               # the long caliper runs through its two contacts
        at_e = (pe[i_lo] + pe[i_hi]) / 2               # the short one crosses it in the middle
        long2 = np.stack([(pe[i_lo] - ce / 2) * e + at_v * v, (pe[i_hi] + ce / 2) * e + at_v * v])
        short2 = np.stack([at_e * e + (pv.min() - cv / 2) * v, at_e * e + (pv.max() + cv / 2) * v])
        out.append((long_mm, short_mm, long2, short2))
    return out
