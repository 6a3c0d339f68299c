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

#: The angular search stops when the long diameter is within this (mm) of its value at the maximum
#: it brackets: 1000 times below the 1e-4 mm reports print. The short diameter (the same function a
#: right angle away) is not known that well however long one searches: at a smooth maximum the long
#: diameter is flat to rounding over ~1e-8 rad, which moves the short one by up to ~D x 1e-8 mm for
#: a lesion of long diameter D (6e-7 mm at D = 113 mm, against a Newton step on the exact maximum;
#: the earlier search to 1e-12 rad spread as much). Still far below what reports print.
SEARCH_TOLERANCE_MM = 1e-7
#: Diameters within this (mm) are a tie. For the long diameter that is ten times the search's
#: tolerance; for the short one of a lesion over ~50 mm it is about its rounding spread, so which of
#: two equal calipers is drawn may then depend on rounding (their lengths differ by < 1e-6 mm).
TIE_MM = 1e-6

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
    largest long diameter over all sections, ``short_mm`` the short one of that section (ties,
    within :data:`TIE_MM`: larger short, then the plane nearest the lesion's centroid). The maximum
    over ``e`` is sampled every 0.5 degree and refined by golden-section search: the long diameter
    to within :data:`SEARCH_TOLERANCE_MM`, the short one to its rounding spread (about D x 1e-8 mm).

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
    sections = [(t, hull_points(xy[g]), c < MIN_TIP_CENTRES)      # (position, 2D points, box only)
                for t, g, c in zip(positions, groups, counts) if len(g)]
    diameter = _Diameter(basis, spacing)
    sampled = [diameter(h, np.bool_(box_only), _THETAS) for _, h, box_only in sections]
    top = max(float(v.max()) for v in sampled)
    # Sampling 0.5 degrees misses a maximum by at most diameter * (1 - cos 0.25 deg) < 1e-5 of it.
    near = [k for k, v in enumerate(sampled) if v.max() >= top - 1e-5 * top - 1e-9]
    # The diameter's slope in the angle (mm per radian) is at most the section's own diameter
    # (at most top / cos(0.25 deg)) plus the allowance's, at most the sum of the spacings.
    slope = top / np.cos(_THETAS[1] / 2) + float(spacing.sum())
    which, thetas = _long_directions([sections[k][1] for k in near], np.array([sections[k][2] for k in near]),
                                     [sampled[k] for k in near], diameter, slope)
    candidates = []
    for k, theta in zip(which, thetas):
        t, hull2, box_only = sections[near[k]]
        candidates.append((t, *_calipers(hull2, box_only, theta, diameter)))
    t, long_mm, short_mm, long2, short2 = _pick(candidates, float(centroid @ n))

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


class _Diameter:
    """Diameters ``w(e) + a(e)`` of sections along in-plane unit directions ``e`` at angles ``theta``."""

    def __init__(self, basis: np.ndarray, spacing: np.ndarray):
        self.basis, self.spacing = basis, spacing
        self.s2 = basis.T @ np.diag(spacing) @ basis       # s(e) = e @ s2 @ e

    def __call__(self, hulls: np.ndarray, box_only: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Diameters (..., T) of sections (points (..., P, 2); ``box_only`` (...): fewer than
        :data:`MIN_TIP_CENTRES` centres) along the angles ``theta`` (..., T)."""
        e = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
        proj = hulls @ np.swapaxes(e, -1, -2)
        width = proj.max(axis=-2) - proj.min(axis=-2)
        box = np.abs(e @ self.basis.T) @ self.spacing       # the voxel box projected on e
        tip = width + 0.5 * np.einsum("...i,ij,...j->...", e, self.s2, e)
        return np.where(box_only[..., None], width + box, np.maximum(tip, box))


def _long_directions(hulls: list, box_only: np.ndarray, sampled: list, diameter: _Diameter,
                     slope: float) -> tuple[np.ndarray, np.ndarray]:
    """Directions of the long calipers of sections: ``(section, theta)`` for each candidate.

    In each section the local maxima of the sampled diameters that nearly tie with its largest
    (at most 8) are candidates. All of them, whatever their section, are refined together by one
    golden-section search (one NumPy call per step, not one per section and step) in the bracket
    of one sampling step on either side. The diameter changes by at most ``slope`` mm per radian,
    so stopping when the bracket's half width is ``SEARCH_TOLERANCE_MM / slope`` leaves the long
    diameter within :data:`SEARCH_TOLERANCE_MM` of its value at the bracketed maximum. The last
    steps may compare values equal to rounding, so the short diameter (the same function a right
    angle away) is known to its rounding spread, about D x 1e-8 mm (see SEARCH_TOLERANCE_MM).
    """
    which, idx = [], []
    for k, vals in enumerate(sampled):
        peak = (vals >= np.roll(vals, 1)) & (vals >= np.roll(vals, -1)) & (vals >= vals.max() - 1e-5 * vals.max() - 1e-9)
        i = np.flatnonzero(peak)
        i = i[np.argsort(-vals[i], kind="stable")][:8]
        which += [k] * len(i)
        idx += list(i)
    which, idx = np.array(which), np.array(idx)
    size = max(len(h) for h in hulls)
    # Shorter hulls repeat their first point: widths are unchanged.
    padded = np.stack([np.concatenate([h, np.repeat(h[:1], size - len(h), axis=0)]) for h in hulls])[which]
    only = box_only[which]

    def f(theta):
        return diameter(padded, only, theta[:, None])[:, 0]

    step = _THETAS[1]
    lo, hi = _THETAS[idx] - step, _THETAS[idx] + step
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = f(a), f(b)
    # After n steps the bracket's half width is step * golden**n.
    for _ in range(max(0, int(np.ceil(np.log(SEARCH_TOLERANCE_MM / (slope * step)) / np.log(_GOLDEN))))):
        left = fa >= fb                     # the maximum lies in [lo, b]: b's point moves to a
        lo, hi = np.where(left, lo, a), np.where(left, b, hi)
        new = np.where(left, hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo))
        f_new = f(new)
        a, b, fa, fb = (np.where(left, new, b), np.where(left, a, new),
                        np.where(left, f_new, fb), np.where(left, fa, f_new))
    refined = (lo + hi) / 2
    # Keep the sampled angle when refining gains nothing (flat tops, grid-aligned sections):
    # the short caliper is then exact instead of off by the search's last step.
    start = np.array([sampled[k][i] for k, i in zip(which, idx)])
    gain = f(refined) - start
    return which, np.where(gain > 1e-12 * start + 1e-15, refined, _THETAS[idx])


def _calipers(hull2: np.ndarray, box_only: bool, theta: float, diameter: _Diameter) -> tuple:
    """``(long, short, long_ends, short_ends)`` of a section with its long caliper at ``theta``,
    the short one perpendicular to it; ends in the plane's 2D frame, allowances included."""
    e = np.array([np.cos(theta), np.sin(theta)])
    v = np.array([-e[1], e[0]])
    pe, pv = hull2 @ e, hull2 @ v
    i_lo, i_hi = int(np.argmin(pe)), int(np.argmax(pe))
    long_mm, short_mm = map(float, diameter(hull2, np.bool_(box_only), np.array([theta, theta + np.pi / 2])))
    ce, cv = long_mm - (pe[i_hi] - pe[i_lo]), short_mm - (pv.max() - pv.min())   # allowances
    at_v = (pv[i_lo] + pv[i_hi]) / 2               # the long caliper runs through its two contacts
    at_e = (pe[i_lo] + pe[i_hi]) / 2               # the short one crosses it in the middle
    long2 = np.stack([(pe[i_lo] - ce / 2) * e + at_v * v, (pe[i_hi] + ce / 2) * e + at_v * v])
    short2 = np.stack([at_e * e + (pv.min() - cv / 2) * v, at_e * e + (pv.max() + cv / 2) * v])
    return long_mm, short_mm, long2, short2


def _pick(candidates: list, centre: float) -> tuple:
    """The candidate ``(t, long, short, long_ends, short_ends)`` with the largest long diameter;
    ties (within :data:`TIE_MM`): the larger short one, then the plane nearest ``centre``."""
    longs = np.array([c[1] for c in candidates])
    tied = [c for c, x in zip(candidates, longs) if x >= longs.max() - TIE_MM]
    shorts = np.array([c[2] for c in tied])
    tied = [c for c, x in zip(tied, shorts) if x >= shorts.max() - TIE_MM]
    return min(tied, key=lambda c: abs(c[0] - centre))
