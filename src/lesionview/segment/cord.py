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
    dist, _ = centerline._tree.query(world, distance_upper_bound=radius_mm + 1.0)
    keep = np.isfinite(dist)
    index, world = index[keep], world[keep]
    length = centerline.length_mm
    s = centerline.arclength_of(world)
    foot = centerline.point_at(np.clip(s, 0.0, length))
    offset = world - foot
    r = np.linalg.norm(offset, axis=1)
    keep = r <= radius_mm
    index, s, r, offset = index[keep], s[keep], r[keep], offset[keep]
    theta = _angles(centerline, s, offset)
    return _Tube(box, index, s, r, theta, length)


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
        Boolean cord mask on the image grid, empty with a reason on bad input. ``details``:
        thresholds, reference intensities, radius used, centerline length.

    Examples
    --------
    A dark 3 mm-radius cord in bright CSF, stored sagittally with 3 mm left-right slices:

    >>> from lesionview.geometry import Geometry
    >>> g = Geometry((9, 80, 40), spacing=(3.0, 0.5, 0.5), origin=(12.0, -10.0, 20.0),
    ...              direction=((-1, 0, 0), (0, 0, 1), (0, -1, 0)))   # columns: R, I, P
    >>> world = g.index_to_world(np.argwhere(np.ones(g.shape, bool))).reshape(*g.shape, 3)
    >>> t2 = np.where(np.hypot(world[..., 0], world[..., 1]) < 3.0, 400.0, 1400.0)
    >>> seg = segment_cord(t2, g, [[0, 0, 15], [0, 0.5, 0], [0, 0, -15]])
    >>> seg.ok, round(seg.details["median_radius_mm"])
    (True, 3)
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
    refs = _references(s, r, values, tube.length_mm, core_mm=core_mm, stats_mm=stats_mm,
                       search_radius_mm=search_radius_mm)
    if refs is None:
        return Segmentation.empty(geometry, "too few voxels near the centerline to estimate cord and "
                                  "CSF intensities.", **details)
    centres, cord_ref, csf_ref = refs
    contrast = csf_ref - cord_ref
    typical = np.median(contrast)
    if not typical > 0:
        return Segmentation.empty(geometry, "the cord is not darker than the fluid around it: is this "
                                  "a T2-weighted image?", **details)
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
    # mid-sector, not on a border where round-off would scatter them.
    sector = np.floor((theta + np.pi + np.pi / sectors) / (2 * np.pi) * sectors).astype(int) % sectors
    # Walking out from the curve, the cord ends at the first bright (CSF) voxel: dark voxels
    # beyond it (dura, bone, ligaments reached through a thin CSF ring) are not cord.
    bright = near & _fluid(local, box_shape, values >= threshold, r, core_mm, max_radius_mm)
    first_bright = np.full((n_sec, sectors), np.inf)
    np.minimum.at(first_bright, (sec[bright], sector[bright]), r[bright])
    candidate &= r < first_bright[sec, sector]
    radius = np.full((n_sec, sectors), -np.inf)
    np.maximum.at(radius, (sec[candidate], sector[candidate]), r[candidate])
    # A sector without candidate voxels (thick slices leave some with none near the curve, a
    # bright lesion can hide the cord in others) borrows from its neighbours.
    radius[~np.isfinite(radius)] = np.nan
    raw = radius
    radius = _fill_nan(radius)
    # Sectors wrap around the curve; sections do not.
    padded = np.concatenate([radius[:, -1:], radius, radius[:, :1]], axis=1)
    smooth = ndimage.median_filter(padded, size=(5, 3), mode="nearest")[:, 1:-1]
    # Keep the measured radius unless it is a bite (below the smooth model: bright lesion or
    # edema at the edge) or a spike (a leak through thin CSF); thick slices make the measured
    # radius ragged from sector to sector, hence the tolerance.
    radius = np.clip(np.nan_to_num(raw, nan=-1.0), smooth, smooth + tolerance_mm)
    inside_cord = near & (r <= radius[sec, sector] + 1e-6)

    mask_box = np.zeros(box_shape, bool)
    mask_box[tuple(local[inside_cord].T)] = True
    mask_box = ndimage.binary_fill_holes(mask_box)
    labels, n = ndimage.label(mask_box)
    if n > 1:   # keep what touches the curve
        core = labels[tuple(local[inside_cord & (r <= core_mm)].T)]
        mask_box = np.isin(labels, np.unique(core[core > 0]))
    mask = np.zeros(geometry.shape, bool)
    mask[tube.box] = mask_box
    radii = radius[np.isfinite(radius)]
    details.update(section_mm=float(step), sectors=int(sectors),
                   median_radius_mm=float(np.median(radii)) if radii.size else 0.0,
                   max_model_radius_mm=float(radii.max()) if radii.size else 0.0,
                   threshold=float(np.median(thresholds)))
    if not mask.any():
        return Segmentation(mask, geometry, "no cord was found around the centerline.", details)
    return Segmentation(mask, geometry, "", details)


def _fluid(local, box_shape, bright, r, core_mm, max_radius_mm) -> np.ndarray:
    """Which bright voxels are CSF (a barrier) rather than a lesion or edema inside the cord.

    A bright region that reaches the centerline but not the outside of the cord is taken for an
    intramedullary lesion or edema; every other bright region (connected to the CSF beyond
    ``max_radius_mm``, or a pocket of fluid that is neither) is a barrier.
    """
    grid = np.zeros(box_shape, bool)
    grid[tuple(local[bright].T)] = True
    labels, _ = ndimage.label(grid)
    lab = labels[tuple(local.T)]
    at_core = np.unique(lab[bright & (r <= core_mm)])
    outside = np.unique(lab[bright & (r > max_radius_mm)])
    inside_only = np.setdiff1d(at_core[at_core > 0], outside)
    return bright & ~np.isin(lab, inside_only)


def _references(s, r, values, length, *, core_mm, stats_mm, search_radius_mm):
    """Section centres, cord and CSF reference intensities (robust percentiles)."""
    n = max(round(length / stats_mm), 1)
    edges = np.linspace(0.0, length, n + 1)
    centres, cord, csf = [], [], []
    ring = (r > core_mm) & (r <= search_radius_mm)
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
        csf.append(np.percentile(o, CSF_PERCENTILE))
    if not centres:
        return None
    return np.array(centres), np.array(cord), np.array(csf)


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
