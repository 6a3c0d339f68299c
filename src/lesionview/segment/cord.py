"""The spinal cord from a few clicks: a tube around a smooth centerline, and the cord inside it on T2.

Everything is computed from world positions (LPS mm): each voxel near the curve gets its arc
length ``s`` along the centerline, its distance ``r`` from the curve and its angle ``theta``
around it, so the result does not depend on how the image is stored (sagittal with 3 mm
left-right slices, axial, oblique) and only voxels within the curve's bounding box are visited.

How the cord is found on T2 (:func:`segment_cord`)
--------------------------------------------------
1. Reference intensities per section along the centerline (``stats_mm`` long, robust
   percentiles): the cord is the lower quartile of voxels within ``core_mm`` of the curve (a
   bright lesion or edema at the centre does not lift it), the CSF the 85th percentile of the
   ring around it. The threshold sits halfway between them and is smoothed along the cord.
2. Dark voxels (below their section's threshold) within ``max_radius_mm`` of the curve and
   connected to it are cord candidates. Walking out from the curve in each angular sector, the
   cord ends at the first CSF voxel: bright voxels connected to the fluid outside the cord.
   A bright region that reaches the curve but not the outside is taken for a lesion or edema
   and is not a barrier.
3. A star-shaped model closes the cord: per section (``section_mm``) and sector, the radius is
   the farthest candidate voxel; where a sector has none (thick slices, a bright lesion) it is
   interpolated from its neighbours, and the radius is kept within ``tolerance_mm`` above a
   median-filtered radius map (cutting leaks) and never below it (filling bites taken by edema
   as bright as CSF). Every voxel inside the radius is cord; holes are filled.

   On slices much thicker than their pixels that cut along the cord (sagittal, coronal,
   oblique: 2-4 mm slices, 0.5-0.8 mm pixels) the cord spans only 2-4 slices, and a radius per
   angular sector would be guessed across the slices (it used to fill the search tube). There
   each slice holds one *chord* of the cross-section, measured along the fine in-plane direction
   across the cord: the halfway threshold marks the voxels whose partial-volume cord fraction is
   at least one half, so in an outer slice the chord is that of the slice's centre. A slice side
   whose chord no fluid closes, or that lies beyond a slice without cord, holds none; the full
   chord is a concave function of the slice position (a cross-section is convex), which cuts
   bone and fat reached through a thin CSF ring. The CSF level is then the typical brightest
   voxel per sector (a thin ring is partial volume), and a bright region touching the curve
   that holds voxels as bright as CSF is fluid, not a lesion.
4. Plausibility: the median cross-section must be a cord's (``MIN_AREA_MM2``-``MAX_AREA_MM2``)
   and clearly smaller than the search tube, and the CSF must stand ``MIN_CONTRAST_NOISE``
   noise standard deviations above the cord; otherwise the mask is empty and ``reason`` says why
   and what to do (check the clicks, or draw or import the cord).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from os import PathLike

import numpy as np
from scipy import ndimage

from ..cord import Centerline
from ..errors import GeometryMismatchError, InputError
from ..geometry import Geometry
from .result import Segmentation

__all__ = ["cord_region", "import_cord_mask", "segment_cord"]

#: Default radius of the tube around the clicked centerline (mm): the cord (semi-axes up to
#: ~7 mm at the cervical enlargement) and a margin of CSF around it.
DEFAULT_RADIUS_MM = 10.0
#: Percentile of the ring around the cord taken as the CSF intensity: high enough to be fluid,
#: low enough that fat and flow artefacts brighter than CSF do not lift the threshold
#: (85 was best on the phantom and on both SCT images; 95 over-segmented the SCT lesion image).
CSF_PERCENTILE = 85
#: Plausible cross-section of the spinal cord (mm^2): ~30 in an atrophic thoracic cord to ~120 at
#: the cervical enlargement, with margins; outside, segment_cord refuses rather than guess.
MIN_AREA_MM2 = 12.0
#: The CSF must be brighter than the cord by this many noise standard deviations.
MIN_CONTRAST_NOISE = 6.0
MAX_AREA_MM2 = 160.0


# ---------------------------------------------------------------------------------- tube geometry
@dataclass(frozen=True)
class _Tube:
    """Voxels of a bounding box around a centerline with their position relative to the curve."""

    box: tuple[slice, slice, slice]      # the box in the image grid
    index: np.ndarray                    # (M, 3) voxel indices (image grid) of the selected voxels
    s: np.ndarray                        # arc length (mm) of each voxel's foot on the curve
    r: np.ndarray                        # distance (mm) to the curve (capped ends: to the end point)
    theta: np.ndarray                    # angle (rad) around the curve, in a world-fixed frame
    length_mm: float


def _tube(centerline: Centerline, geometry: Geometry, radius_mm: float) -> _Tube:
    """Every voxel whose centre lies within ``radius_mm`` of the curve (ends capped by spheres)."""
    pts = centerline.points
    start, stop = _index_box(pts, geometry, radius_mm)
    box = tuple(slice(int(a), int(b)) for a, b in zip(start, stop))
    # Only the boxes around successive 10 mm pieces of the curve are visited: a curved cord's
    # overall box is mostly far from it.
    visit = np.zeros(tuple(stop - start), bool)
    for i in range(0, len(pts) - 1, 20):
        a, b = _index_box(pts[i:i + 21], geometry, radius_mm)
        a, b = a - start, b - start
        visit[a[0]:b[0], a[1]:b[1], a[2]:b[2]] = True
    index = np.argwhere(visit) + start
    if len(index) == 0:
        empty = np.zeros(0)
        return _Tube(box, index.reshape(0, 3), empty, empty, empty, centerline.length_mm)
    world = geometry.index_to_world(index)
    # Cheap prefilter on the distance to the nearest curve sample (samples are 0.5 mm apart).
    dist, nearest = centerline._tree.query(world, distance_upper_bound=radius_mm + 1.0)
    keep = np.isfinite(dist)
    index, world, nearest = index[keep], world[keep], nearest[keep]
    length = centerline.length_mm
    s, foot = _project(centerline, world, nearest)
    offset = world - foot
    r = np.linalg.norm(offset, axis=1)
    keep = r <= radius_mm
    index, s, r, offset = index[keep], s[keep], r[keep], offset[keep]
    theta = _angles(centerline, s, offset)
    return _Tube(box, index, s, r, theta, length)


def _project(centerline: Centerline, world: np.ndarray, nearest: np.ndarray):
    """Arc length of each point's foot on the curve (extended beyond the ends) and the nearest
    point of the curve itself (an end point beyond the ends), from the nearest curve sample.

    As :meth:`Centerline.arclength_of`, reusing the sample index the caller's query found.
    """
    pts = centerline.points
    n_seg = len(pts) - 1
    d = np.diff(pts, axis=0)
    lengths = np.linalg.norm(d, axis=1)
    d = d / lengths[:, None]
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    best_s = np.full(len(world), np.nan)
    best_foot = np.zeros_like(world)
    best = np.full(len(world), np.inf)
    for step in (-1, 0):
        seg = np.clip(nearest + step, 0, n_seg - 1)
        rel = world - pts[seg]
        t = np.einsum("ij,ij->i", rel, d[seg])
        lo = np.where(seg == 0, -np.inf, 0.0)
        hi = np.where(seg == n_seg - 1, np.inf, lengths[seg])
        t = np.clip(t, lo, hi)
        dist = np.linalg.norm(rel - t[:, None] * d[seg], axis=1)
        better = dist < best
        best[better] = dist[better]
        best_s[better] = cum[seg[better]] + t[better]
        tc = np.clip(t[better], 0.0, lengths[seg[better]])
        best_foot[better] = pts[seg[better]] + tc[:, None] * d[seg[better]]
    return best_s, best_foot


def _index_box(pts: np.ndarray, geometry: Geometry, margin_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices of the grid box holding every voxel within ``margin_mm`` of ``pts``."""
    lo, hi = pts.min(axis=0) - margin_mm, pts.max(axis=0) + margin_mm
    corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T
    ci = geometry.world_to_index(corners)
    shape = np.array(geometry.shape)
    start = np.clip(np.floor(ci.min(axis=0)).astype(int), 0, shape)
    stop = np.clip(np.ceil(ci.max(axis=0)).astype(int) + 1, 0, shape)
    return start, np.maximum(stop, start)


def _angles(centerline: Centerline, s: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Angle of each offset around the tangent, measured from the patient's left (or posterior)."""
    t = centerline.tangent_at_arclength(np.clip(s, 0.0, centerline.length_mm))
    # A world-fixed reference (left; posterior when the cord runs left-right) keeps the angle
    # independent of storage orientation.
    ref = np.where(np.abs(t[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    e1 = ref - np.einsum("ij,ij->i", ref, t)[:, None] * t
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(t, e1)
    return np.arctan2(np.einsum("ij,ij->i", offset, e2), np.einsum("ij,ij->i", offset, e1))


# ---------------------------------------------------------------------------------- input checks
def _check_geometry(geometry) -> Geometry:
    if not isinstance(geometry, Geometry):
        raise InputError(f"geometry must be a lesionview Geometry, got {type(geometry).__name__}.")
    return geometry


def _check_clicks(points, geometry: Geometry) -> tuple[np.ndarray | None, str]:
    """The clicks as (N, 3) world points, or None and the reason they cannot be used."""
    try:
        pts = np.asarray(points, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"centerline points must be numbers (LPS mm), got {points!r}.") from exc
    if pts.size == 0:
        return None, "no centerline points were given: click the cord at 3 to 10 levels."
    if pts.ndim > 2 or pts.shape[-1] != 3:
        raise InputError(f"centerline points must be an (N, 3) array of LPS mm, got shape {pts.shape}.")
    pts = pts.reshape(-1, 3)
    if not np.all(np.isfinite(pts)):
        raise InputError("centerline points must be finite numbers (LPS mm); some are NaN or infinite.")
    if len(pts) < 2:
        return None, "only one centerline point was given: click the cord at 3 to 10 levels."
    distinct = np.unique(np.round(pts, 6), axis=0)
    if len(distinct) < 2:
        return None, "the centerline points all coincide: click the cord at 3 to 10 different levels."
    inside = geometry.contains(pts, margin=0.5)
    if not np.all(inside):
        bad = ", ".join(f"#{i + 1} ({', '.join(f'{v:.1f}' for v in pts[i])})" for i in np.flatnonzero(~inside))
        return None, f"centerline point(s) {bad} mm lie outside the image; click inside it."
    return pts, ""


def _centerline(pts: np.ndarray) -> tuple[Centerline | None, str]:
    try:
        return Centerline.from_points(pts, source="clicks"), ""
    except (InputError, ValueError) as exc:
        return None, f"no centerline could be drawn through the points ({exc})."


# ---------------------------------------------------------------------------------- cord region
def cord_region(centerline_points, geometry: Geometry, *, radius_mm: float = DEFAULT_RADIUS_MM) -> Segmentation:
    """A tube of ``radius_mm`` around a smooth centerline through clicked points.

    Parameters
    ----------
    centerline_points : (N, 3) array-like
        Clicks on the cord, LPS mm, any order (3-10 typical, at least 2).
    geometry : Geometry
        Grid of the image the mask is for.
    radius_mm : float
        Voxels whose centre lies within this distance of the curve are in the region (the ends
        are capped by half-spheres).

    Returns
    -------
    Segmentation
        Boolean mask on ``geometry``; empty with a reason when the clicks cannot be used.
        ``details``: ``radius_mm``, ``centerline_length_mm``, ``n_points``.

    Examples
    --------
    >>> from lesionview.geometry import Geometry
    >>> g = Geometry((20, 20, 40), spacing=(1.0, 1.0, 1.0))
    >>> seg = cord_region([[10, 10, 5], [10, 10, 20], [10, 10, 35]], g, radius_mm=3)
    >>> seg.ok, int(seg.mask[10, 10, 20]), int(seg.mask[10, 15, 20])
    (True, 1, 0)
    """
    geometry = _check_geometry(geometry)
    if not np.isfinite(radius_mm) or radius_mm <= 0:
        raise InputError(f"radius_mm must be a positive number of mm, got {radius_mm!r}.")
    pts, reason = _check_clicks(centerline_points, geometry)
    if pts is None:
        return Segmentation.empty(geometry, reason, radius_mm=float(radius_mm))
    centerline, reason = _centerline(pts)
    if centerline is None:
        return Segmentation.empty(geometry, reason, radius_mm=float(radius_mm))
    tube = _tube(centerline, geometry, radius_mm)
    mask = np.zeros(geometry.shape, bool)
    mask[tuple(tube.index.T)] = True
    details = {"radius_mm": float(radius_mm), "centerline_length_mm": centerline.length_mm,
               "n_points": len(pts)}
    if not mask.any():
        return Segmentation(mask, geometry, "the tube around the centerline holds no voxel centre; "
                            "use a larger radius.", details)
    return Segmentation(mask, geometry, "", details)


# ---------------------------------------------------------------------------------- cord on T2
def segment_cord(t2, geometry: Geometry | None, centerline_points, *,
                 search_radius_mm: float = 12.0, max_radius_mm: float = 8.0,
                 core_mm: float = 2.5, stats_mm: float = 6.0, section_mm: float | None = None,
                 sectors: int = 16, threshold_fraction: float = 0.5,
                 min_contrast: float = 0.2, tolerance_mm: float = 1.0) -> Segmentation:
    """The spinal cord on a T2-weighted image, from a few clicks along it.

    Parameters
    ----------
    t2 : ndarray or Volume
        T2-weighted image (cord darker than the CSF around it). A :class:`~lesionview.volume.Volume`
        brings its own geometry (``geometry`` may then be None).
    geometry : Geometry or None
        Grid of ``t2``.
    centerline_points : (N, 3) array-like
        Clicks on the cord (LPS mm), at least 2, 3-10 typical, spread along the part of the cord
        wanted: the mask runs from the first to the last click along the curve.
    search_radius_mm : float
        Radius of the tube searched around the curve; holds the CSF ring used as reference.
    max_radius_mm : float
        No cord voxel lies farther than this from the curve.
    core_mm : float
        Voxels this close to the curve give the cord reference intensity.
    stats_mm : float
        Length of cord over which reference intensities are estimated.
    section_mm : float or None
        Length of the sections of the star-shaped cord model (default: the grid's step along
        the cord, at least 1 mm).
    sectors : int
        Angular sectors of the star-shaped model.
    threshold_fraction : float
        Where the threshold sits between cord (0) and CSF (1) intensity.
    min_contrast : float
        Sections whose CSF-cord difference is below this fraction of the image's median CSF-cord
        difference borrow their threshold from their neighbours.
    tolerance_mm : float
        How far the measured cord radius may stand above the smoothed radius model before it
        is treated as a leak and cut back.

    Returns
    -------
    Segmentation
        Boolean cord mask on the image grid, empty with a reason on bad input or when no
        plausible cord can be outlined (never the search tube). ``details``: thresholds,
        reference intensities, ``model`` ("star" or "chords per slice"), ``median_area_mm2``,
        ``median_radius_mm`` (of the circle of that area), ``noise_sigma``, centerline length.

    Examples
    --------
    A dark 3 mm-radius cord in bright CSF, stored sagittally with 3 mm left-right slices (the
    mask holds the voxels whose centre lies inside the cord):

    >>> from lesionview.geometry import Geometry
    >>> g = Geometry((9, 80, 40), spacing=(3.0, 0.5, 0.5), origin=(12.0, -10.0, 20.0),
    ...              direction=((-1, 0, 0), (0, 0, 1), (0, -1, 0)))   # columns: R, I, P
    >>> world = g.index_to_world(np.argwhere(np.ones(g.shape, bool))).reshape(*g.shape, 3)
    >>> t2 = np.where(np.hypot(world[..., 0], world[..., 1]) < 3.0, 400.0, 1400.0)
    >>> seg = segment_cord(t2, g, [[0, 0, 15], [0, 0.5, 0], [0, 0, -15]])
    >>> seg.ok, seg.details["model"]
    (True, 'chords per slice')

    Only the slice through the axis has its centre inside the cord: a 5.5 mm chord of voxel
    centres on one 3 mm slice.

    >>> round(seg.details["median_area_mm2"], 1)
    16.5
    """
    own = getattr(t2, "geometry", None)
    if geometry is None:
        geometry = own
    geometry = _check_geometry(geometry)
    if isinstance(own, Geometry) and not own.same_space(geometry):
        raise GeometryMismatchError(f"the T2 image's own grid ({own.describe()}) differs from the geometry "
                                    f"given ({geometry.describe()}).", hint="Pass geometry=None to use the image's.")
    image = np.asarray(getattr(t2, "array", t2))
    if image.shape != geometry.shape:
        raise InputError(f"the T2 image has shape {image.shape} but the geometry says {geometry.describe()}.")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise InputError(f"the T2 image must hold real numbers, got dtype {image.dtype}.")
    for name, value in (("search_radius_mm", search_radius_mm), ("max_radius_mm", max_radius_mm),
                        ("core_mm", core_mm), ("stats_mm", stats_mm), ("tolerance_mm", tolerance_mm + 1)):
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number of mm, got {value!r}.")
    if sectors < 4 or not 0 < threshold_fraction < 1:
        raise InputError(f"sectors must be >= 4 and threshold_fraction within (0, 1), got {sectors} "
                         f"and {threshold_fraction}.")
    pts, reason = _check_clicks(centerline_points, geometry)
    if pts is None:
        return Segmentation.empty(geometry, reason)
    centerline, reason = _centerline(pts)
    if centerline is None:
        return Segmentation.empty(geometry, reason)

    tube = _tube(centerline, geometry, search_radius_mm)
    inside = (tube.s >= 0.0) & (tube.s <= tube.length_mm)
    idx, s, r, theta = tube.index[inside], tube.s[inside], tube.r[inside], tube.theta[inside]
    values = image[tuple(idx.T)].astype(float)
    details = {"centerline_length_mm": tube.length_mm, "search_radius_mm": float(search_radius_mm),
               "max_radius_mm": float(max_radius_mm), "n_points": len(pts)}
    if len(values) == 0:
        return Segmentation.empty(geometry, "no voxel lies near the centerline.", **details)
    if not np.all(np.isfinite(values)):
        return Segmentation.empty(geometry, "the image has NaN or infinite values around the cord; "
                                  "it cannot be thresholded.", **details)
    if np.ptp(values) == 0:
        return Segmentation.empty(geometry, "the image is constant around the cord (no contrast).", **details)

    # 1. Reference intensities per section, and the threshold between them.
    sector = np.floor((theta + np.pi + np.pi / sectors) / (2 * np.pi) * sectors).astype(int) % sectors
    chords = _chord_frame(geometry, centerline, s, idx, tube.box)
    refs = _references(s, r, values, sector, tube.length_mm, core_mm=core_mm, stats_mm=stats_mm,
                       search_radius_mm=search_radius_mm, max_radius_mm=max_radius_mm, sectors=sectors,
                       thin_ring=chords is not None)
    if refs is None:
        return Segmentation.empty(geometry, "too few voxels near the centerline to estimate cord and "
                                  "CSF intensities.", **details)
    centres, cord_ref, csf_ref = refs
    contrast = csf_ref - cord_ref
    typical = np.median(contrast)
    if not typical > 0:
        return Segmentation.empty(geometry, "the cord is not darker than the fluid around it: is this "
                                  "a T2-weighted image?", **details)
    # The fluid must stand out of the noise: a cord cannot be outlined on a contrast of a few
    # noise standard deviations (no CSF around it, or the wrong series).
    noise = _noise(image, tube.box)
    details["noise_sigma"] = round(noise, 2)
    if typical < MIN_CONTRAST_NOISE * noise:
        return Segmentation.empty(geometry, f"no CSF is seen around the cord: the fluid is only {typical:.0f} "
                                  f"brighter than the cord, {typical / max(noise, 1e-9):.1f} times the noise "
                                  f"({noise:.0f}); check the clicks sit on the cord of a T2-weighted series, "
                                  "or draw or import the cord mask.", **details)
    good = contrast >= min_contrast * typical
    thresholds = cord_ref + threshold_fraction * contrast
    thresholds = np.interp(centres, centres[good], thresholds[good])
    if len(thresholds) >= 3:
        thresholds = ndimage.median_filter(thresholds, size=3, mode="nearest")
    threshold = np.interp(s, centres, thresholds)
    details.update(section_centres_mm=centres.round(2).tolist(), cord_intensity=cord_ref.round(1).tolist(),
                   csf_intensity=csf_ref.round(1).tolist(), thresholds=thresholds.round(1).tolist())

    # 2. Dark voxels near the curve, connected to it.
    box_shape = tuple(sl.stop - sl.start for sl in tube.box)
    local = idx - np.array([sl.start for sl in tube.box])
    dark = np.zeros(box_shape, bool)
    near = r <= max_radius_mm
    sel = near & (values < threshold)
    dark[tuple(local[sel].T)] = True
    labels, _ = ndimage.label(dark)
    core_labels = labels[tuple(local[near & (r <= core_mm)].T)]
    seeds = np.unique(core_labels[core_labels > 0])
    if len(seeds) == 0:
        return Segmentation.empty(geometry, "no voxel near the centerline is darker than the CSF: "
                                  "check the clicks sit on the cord.", **details)
    candidate = np.isin(labels[tuple(local.T)], seeds)

    # 3. Star-shaped closure: per section and sector, the farthest candidate voxel.
    step = section_mm if section_mm is not None else _grid_step_along(geometry, centerline)
    n_sec = max(int(np.ceil(tube.length_mm / step)), 1)
    sec = np.clip((s / tube.length_mm * n_sec).astype(int), 0, n_sec - 1)
    # Sectors centred on the patient axes: voxels of a sagittal slice through the curve sit
    # mid-sector, not on a border where round-off would scatter them (``sector``, above).
    if chords is not None:
        # Thick slices crossing the cord: each slice's cord is a chord along the fine in-plane
        # direction, measured on its own (see _chord_frame); "sectors" are (slice, side) pairs.
        sector, dist, n_ang = chords
    else:
        dist, n_ang = r, sectors
    # Walking out from the curve, the cord ends at the first bright (CSF) voxel: dark voxels
    # beyond it (dura, bone, ligaments reached through a thin CSF ring) are not cord.
    csf_at = np.interp(s, centres, csf_ref)
    # On thick slices a tight canal's CSF ring closes within the search radius, and edema
    # touching it would make the two one "lesion"; on thin slices a lesion as bright as CSF is.
    bright = near & _fluid(local, box_shape, values >= threshold, r, core_mm, max_radius_mm,
                           (values >= csf_at) if chords is not None else np.zeros_like(near))
    first_bright = np.full((n_sec, n_ang), np.inf)
    np.minimum.at(first_bright, (sec[bright], sector[bright]), dist[bright])
    candidate &= dist < first_bright[sec, sector]
    radius = np.full((n_sec, n_ang), -np.inf)
    np.maximum.at(radius, (sec[candidate], sector[candidate]), dist[candidate])
    radius[~np.isfinite(radius)] = np.nan
    if chords is not None:
        # No dark voxel before the fluid: this side of this slice lies outside the cord.
        radius[np.isnan(radius) & np.isfinite(first_bright)] = 0.0
        # ... and a chord that no fluid closes is not cord either: past a thin CSF ring, a slice
        # of bone, fat and partial-volume CSF can be as dark as the threshold all along.
        radius[~np.isfinite(first_bright)] = 0.0
        radius = _contiguous_slices(radius, geometry, centerline, tube.box, n_sec, tolerance_mm)
    raw = radius
    if chords is None:
        # A sector without candidate voxels (a bright lesion can hide the cord) borrows from
        # its neighbours; sectors wrap around the curve, sections do not.
        radius = _fill_nan(radius)
        padded = np.concatenate([radius[:, -1:], radius, radius[:, :1]], axis=1)
        smooth = ndimage.median_filter(padded, size=(5, 3), mode="nearest")[:, 1:-1]
    else:
        # A slice side without cord voxels lies outside the cord (its partial-volume cord
        # fraction is below one half), unless its neighbours along the cord have some (a
        # lesion hiding it): fill along the cord only, never across slices.
        radius = _fill_nan_along(radius)
        smooth = ndimage.median_filter(radius, size=(5, 1), mode="nearest")
    # Keep the measured radius unless it is a bite (below the smooth model: bright lesion or
    # edema at the edge) or a spike (a leak through thin CSF).
    radius = np.clip(np.nan_to_num(raw, nan=-1.0), smooth, smooth + tolerance_mm)
    if chords is not None:
        radius[smooth <= 0] = -1.0
        radius = _contiguous_slices(radius, geometry, centerline, tube.box, n_sec, tolerance_mm)
    inside_cord = near & (dist <= radius[sec, sector] + 1e-6)

    mask_box = np.zeros(box_shape, bool)
    mask_box[tuple(local[inside_cord].T)] = True
    mask_box = ndimage.binary_fill_holes(mask_box)
    labels, n = ndimage.label(mask_box)
    if n > 1:   # keep what touches the curve
        core = labels[tuple(local[inside_cord & (r <= core_mm)].T)]
        mask_box = np.isin(labels, np.unique(core[core > 0]))
    mask = np.zeros(geometry.shape, bool)
    mask[tube.box] = mask_box
    # Plausibility: a cord cross-section is ~30-120 mm^2; a mask that fills the search tube is
    # not a cord but fluid, bone or a partial-volume blur taken for it.
    per_section = np.bincount(sec[inside_cord], minlength=n_sec) * geometry.voxel_volume / step
    area = float(np.median(per_section))
    tube_area = np.pi * max_radius_mm ** 2
    details.update(section_mm=float(step), sectors=int(sectors), model="chords per slice" if chords else "star",
                   median_area_mm2=round(area, 1), median_radius_mm=float(np.sqrt(area / np.pi)),
                   threshold=float(np.median(thresholds)))
    if not mask.any():
        return Segmentation(mask, geometry, "no cord was found around the centerline.", details)
    filled = float(np.mean(per_section > 0.6 * tube_area))
    if area > MAX_AREA_MM2 or area > 0.6 * tube_area or filled > 0.25:
        return Segmentation.empty(
            geometry, f"the cord could not be told from the fluid around it: its cross-section came out "
            f"at {area:.0f} mm^2 (a cord is {MIN_AREA_MM2:.0f}-{MAX_AREA_MM2:.0f} mm^2), filling the "
            f"{max_radius_mm:g} mm search tube; on these slices the CSF beside the cord is not seen. Check the "
            "clicks sit on the cord of a T2-weighted series, or draw or import the cord mask.", **details)
    if area < MIN_AREA_MM2:
        return Segmentation.empty(
            geometry, f"no cord could be outlined around the clicks: its cross-section came out at "
            f"{area:.0f} mm^2 (a cord is {MIN_AREA_MM2:.0f}-{MAX_AREA_MM2:.0f} mm^2); either no fluid closes "
            "it within the search tube or the clicks are off the cord. Check the clicks sit on the cord "
            "of a T2-weighted series, or draw or import the cord mask.", **details)
    return Segmentation(mask, geometry, "", details)


def _fluid(local, box_shape, bright, r, core_mm, max_radius_mm, csf_bright) -> np.ndarray:
    """Which bright voxels are CSF (a barrier) rather than a lesion or edema inside the cord.

    A bright region that reaches the centerline but not the outside of the cord is taken for an
    intramedullary lesion or edema, unless it holds voxels as bright as the CSF itself
    (``csf_bright``): in a tight canal the CSF ring closes within ``max_radius_mm`` and edema
    touching it joins the two into one region. Every other bright region (connected to the CSF
    beyond ``max_radius_mm``, or a pocket of fluid that is neither) is a barrier.
    """
    grid = np.zeros(box_shape, bool)
    grid[tuple(local[bright].T)] = True
    labels, _ = ndimage.label(grid)
    lab = labels[tuple(local.T)]
    at_core = np.unique(lab[bright & (r <= core_mm)])
    outside = np.unique(lab[bright & (r > max_radius_mm)])
    inside_only = np.setdiff1d(at_core[at_core > 0], outside)
    fluid_like = np.bincount(lab[bright & csf_bright], minlength=labels.max() + 1) >= 5
    inside_only = inside_only[~fluid_like[inside_only]]
    return bright & ~np.isin(lab, inside_only)


def _references(s, r, values, sector, length, *, core_mm, stats_mm, search_radius_mm, max_radius_mm, sectors,
                thin_ring=False):
    """Section centres, cord and CSF reference intensities (robust percentiles).

    The CSF level is the larger of two estimates: the 85th percentile of the whole ring (a wide
    canal) and the typical brightest voxel per angular sector within ``max_radius_mm`` of the
    curve (a thin CSF ring, 1-2 mm in a tight thoracic canal, is a small part of the ring and
    would otherwise pass for its bone and muscle). The second is taken when it is much higher,
    or always with ``thin_ring`` (thick slices along the cord, whose CSF beside the cord is a
    partial-volume blend).
    """
    n = max(round(length / stats_mm), 1)
    edges = np.linspace(0.0, length, n + 1)
    centres, cord, csf = [], [], []
    ring = (r > core_mm) & (r <= search_radius_mm)
    near_ring = (r > core_mm) & (r <= max_radius_mm + 1.0)
    core = r <= core_mm
    for a, b in pairwise(edges):
        in_sec = (s >= a - 0.5 * stats_mm) & (s <= b + 0.5 * stats_mm)   # overlapping windows
        c, o = values[in_sec & core], values[in_sec & ring]
        if c.size < 3 or o.size < 10:
            continue
        centres.append(0.5 * (a + b))
        # Lower quartile: a bright lesion or edema at the centre does not lift the cord value.
        cord.append(np.percentile(c, 25))
        # CSF: the bright end of the ring (the cord, bone and ligaments are darker).
        level = np.percentile(o, CSF_PERCENTILE)
        sel = in_sec & near_ring
        if sel.any():
            peak = np.full(sectors, np.nan)
            np.fmax.at(peak, sector[sel], values[sel])
            if np.isfinite(peak).sum() >= sectors // 2:
                # The median sector: a fluid ring seen all around, not one bright spot. Only
                # when the ring percentile falls far short of it (a thin ring) does it replace it.
                ring_peak = float(np.nanpercentile(peak, 50))
                if thin_ring:
                    level = max(level, float(np.nanpercentile(peak, 75)))
                elif level - cord[-1] < 0.25 * (ring_peak - cord[-1]):
                    level = ring_peak
        csf.append(level)
    if not centres:
        return None
    return np.array(centres), np.array(cord), np.array(csf)


def _chord_frame(geometry: Geometry, centerline: Centerline, s, idx, box):
    """(slice, side) index and in-plane distance of each voxel, when slices are thick across the cord.

    On slices much thicker than their pixels, cut along the cord (sagittal, coronal, oblique),
    only the in-plane direction across the cord (``e_f``) is finely sampled; across the slices
    the cord spans 2-4 voxels. Each slice then holds one chord of the cord's cross-section: in a
    slice whose centre lies inside the cord, the cord fills more than half of the voxel (its
    partial-volume fraction is >= 0.5) and the voxel is darker than the halfway threshold; in a
    slice whose centre lies outside, CSF fills more than half and it is brighter. Measuring the
    chord slice by slice along ``e_f`` (where the boundary is sharp) gives the voxel-centre cord
    without ever guessing a radius across slices.

    Returns None for grids without a coarse axis across the cord (axial stacks, isotropic voxels).
    """
    spacing = np.array(geometry.spacing)
    k = int(np.argmax(spacing))
    if spacing[k] < 1.5 * np.sort(spacing)[1]:
        return None
    normal = geometry.direction_matrix[:, k]
    t = centerline.tangent_at_arclength(np.clip(s, 0.0, centerline.length_mm))
    across = normal[None, :] - (t @ normal)[:, None] * t
    norm = np.linalg.norm(across, axis=1)
    if np.median(norm) < 0.7:       # the slices cut across the cord: the in-plane star is fine
        return None
    e_f = np.cross(t, across / norm[:, None])
    world = geometry.index_to_world(idx)
    foot = centerline.point_at(np.clip(s, 0.0, centerline.length_mm))
    along = np.einsum("ij,ij->i", world - foot, e_f)
    slab = idx[:, k] - box[k].start
    return 2 * slab + (along >= 0), np.abs(along), 2 * (box[k].stop - box[k].start)


def _contiguous_slices(chord, geometry: Geometry, centerline: Centerline, box, n_sec: int,
                       tolerance_mm: float) -> np.ndarray:
    """Chords (sections x (slice, side)) trimmed to slices that hold cord on a contiguous run.

    Walking out from the slice(s) the centerline passes through, the cord ends at the first slice
    without cord: a dark slice beyond it (bone or fat past a thin CSF ring, joined through partial
    volume) is not cord. A cross-section is convex, so a slice's chord cannot exceed the one
    nearer the centre by more than ``tolerance_mm``.
    """
    k = int(np.argmax(geometry.spacing))
    n_slab = chord.shape[1] // 2
    s = (np.arange(n_sec) + 0.5) / n_sec * centerline.length_mm
    where = geometry.world_to_index(centerline.point_at(s))[:, k] - box[k].start
    out = np.nan_to_num(chord, nan=0.0).reshape(n_sec, n_slab, 2)
    out = np.maximum(out, 0.0)
    full = out.sum(axis=2)
    for i in range(n_sec):
        j0 = int(np.clip(np.floor(where[i]), 0, n_slab - 1))
        for step in (-1, 1):
            # The line of slices through the centre: the full chord of a convex section is a
            # concave function of the slice position, so f[j+1] <= 2 f[j] - f[j-1].
            inner, edge = (j0 + 1, j0) if step < 0 else (j0, j0 + 1)
            if not 0 <= edge < n_slab:
                continue
            prev2 = full[i, inner] if 0 <= inner < n_slab else full[i, edge]
            prev = full[i, edge]
            j = edge + step
            while 0 <= j < n_slab:
                bound = max(2 * prev - prev2, 0.0) + tolerance_mm if prev > 0 else 0.0
                bound = min(bound, prev + tolerance_mm)
                if full[i, j] > bound:
                    out[i, j] *= bound / full[i, j]
                    full[i, j] = bound
                if full[i, j] <= 0:
                    out[i, j] = 0.0
                    full[i, j] = 0.0
                prev2, prev = prev, full[i, j]
                j += step
    return out.reshape(n_sec, 2 * n_slab)


def _fill_nan_along(radius: np.ndarray) -> np.ndarray:
    """Replace NaN entries by interpolation along the cord (per column); all-NaN columns are 0."""
    out = radius.copy()
    sec = np.arange(out.shape[0])
    for j in range(out.shape[1]):
        col = out[:, j]
        ok = np.isfinite(col)
        if ok.any() and not ok.all():
            out[:, j] = np.interp(sec, sec[ok], col[ok])
    return np.nan_to_num(out, nan=0.0)


def _noise(image: np.ndarray, box) -> float:
    """Noise standard deviation in ``box``: MAD of neighbour differences along the finest axis."""
    crop = np.asarray(image[box], dtype=np.float32)
    d = np.diff(crop, axis=int(np.argmax(crop.shape)))
    d = d[np.isfinite(d)]
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _grid_step_along(geometry: Geometry, centerline: Centerline) -> float:
    """Voxel step along the cord's mean direction (thinnest section never empty), at least 1 mm."""
    axis = centerline.points[-1] - centerline.points[0]
    axis = axis / np.linalg.norm(axis)
    proj = np.abs(geometry.direction_matrix.T @ axis) * np.array(geometry.spacing)
    return float(max(proj.max(), 1.0))


def _fill_nan(radius: np.ndarray) -> np.ndarray:
    """Replace NaN entries by interpolation around each section (circular), then along the cord."""
    out = radius.copy()
    n_sec, n_ang = out.shape
    ang = np.arange(n_ang)
    for i in range(n_sec):
        row = out[i]
        ok = np.isfinite(row)
        if ok.any() and not ok.all():
            out[i] = np.interp(ang, ang[ok], row[ok], period=n_ang)
    sec = np.arange(n_sec)
    for j in range(n_ang):
        col = out[:, j]
        ok = np.isfinite(col)
        if ok.any() and not ok.all():
            out[:, j] = np.interp(sec, sec[ok], col[ok])
    return np.nan_to_num(out, nan=0.0)


# ---------------------------------------------------------------------------------- import
def import_cord_mask(volume_or_path, reference_geometry: Geometry, *, atol_mm: float = 1e-3) -> Segmentation:
    """An existing cord mask (e.g. Spinal Cord Toolbox ``*_seg.nii.gz``) as a Segmentation.

    Parameters
    ----------
    volume_or_path : Volume, str or path
        The mask, or a NIfTI/DICOM path read with :func:`lesionview.io.load_volume`.
    reference_geometry : Geometry
        Grid of the image the mask belongs to; the mask must lie on it (no resampling here).

    Returns
    -------
    Segmentation
        The mask binarised (voxels > 0), ``details`` with its source and voxel count.

    Raises
    ------
    GeometryMismatchError
        When the mask is not on the reference grid (both grids are described).
    """
    reference_geometry = _check_geometry(reference_geometry)
    if isinstance(volume_or_path, (str, PathLike)):
        from ..io import load_volume
        volume = load_volume(volume_or_path)
        source = str(volume_or_path)
    else:
        volume = volume_or_path
        info = getattr(volume, "info", None)
        source = getattr(info, "source", "") or ""
    if not hasattr(volume, "geometry") or not hasattr(volume, "array"):
        raise InputError(f"import_cord_mask needs a Volume or a path, got {type(volume_or_path).__name__}.")
    if not volume.geometry.same_space(reference_geometry, atol_mm=atol_mm):
        raise GeometryMismatchError(
            f"the cord mask is not on the image grid: mask {volume.geometry.describe()}; "
            f"image {reference_geometry.describe()}.", path=source or None,
            hint="Resample the mask onto the image (lesionview.resample) or pick the mask made for this image.")
    array = np.asarray(volume.array)
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise InputError("the cord mask holds NaN or infinite values.", path=source or None)
    mask = array > 0
    details = {"source": source, "n_voxels": int(mask.sum())}
    if not mask.any():
        return Segmentation(mask, reference_geometry, "the imported cord mask is empty.", details)
    return Segmentation(mask, reference_geometry, "", details)
