"""Enhancing lesions: grow one from a seed click, or propose every candidate in the cord.

Both tools threshold *relative to normal cord*: intensities are compared with a robust estimate
(median, MAD) of cord that is not lesion, so they work on any scanner scale, on a T1 after
gadolinium, on a subtraction (T1+C minus T1) or on any contrast where the lesion is bright
(a T2-hyperintense lesion).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from ..geometry import Geometry
from ._stats import (
    box_around,
    component_at,
    dilate_mm,
    distance_mm,
    fmt_point,
    image_array,
    mask_array,
    noise_sigma,
    robust_stats,
    seed_index,
    smooth_mm,
    touches_border,
)
from .result import Segmentation

#: Half-width of the first crop around the seed (mm); doubled while the lesion reaches its edge.
CROP_MM = 30.0
#: Cord within this distance of the seed is left out of the normal-cord reference (mm).
SEED_EXCLUSION_MM = 12.0
#: Without a cord region, the first reference is a shell around the seed (inner, outer radius, mm).
SHELL_MM = (12.0, 20.0)
#: Without a cord region, the reference is then refined on a ring around the region, between
#: these distances from it (mm): past the lesion's blurred rim, within the tissue around it.
RING_MM = (1.0, 2.5)
#: The seed's local peak is searched this close to it (mm); the seed snaps to it when needed.
PEAK_RADIUS_MM = 2.0
#: The lesion's peak is re-read within this distance of the seed after each pass (mm), so a
#: brighter neighbour (a twin lesion) never sets the threshold of the clicked one.
PEAK_REGION_MM = 6.0
#: The cord region is widened by this much (mm): lesions at the cord surface keep their rim.
CORD_MARGIN_MM = 1.0
#: Smoothing before peaks are read (mm), so one noisy voxel is not "the peak".
PEAK_SMOOTH_MM = 0.35
#: A seed is on enhancing tissue when its local peak exceeds normal cord by this many robust
#: standard deviations and by this fraction of normal cord.
MIN_CONTRAST_SIGMA = 4.0
MIN_CONTRAST_FRACTION = 0.15
#: Two bright lobes of a grown region are two lesions when the valley between them is at least
#: this fraction of the lesion's contrast deep (image smoothed at VALLEY_SMOOTH_MM).
VALLEY_FRACTION = 0.4
VALLEY_SMOOTH_MM = 0.5
#: Lowest threshold ever used, in robust standard deviations above normal cord.
FLOOR_SIGMA = 2.0
#: An array axis whose spacing is at least this many times the finest one (and at least
#: THICK_POLE_MM) holds thick slices: a slice at a pole along it is kept only when the lesion
#: fills it at half maximum, whatever the sensitivity (a whole slice is a lot of length).
COARSE_RATIO = 2.0
THICK_POLE_MM = 2.0
#: Fraction of the lesion's contrast a pole slice must reach (half maximum: half of it is lesion).
POLE_FRACTION = 0.5
#: A grown region is an intramedullary lesion only if at least this fraction of it lies in the
#: cord mask ("mostly inside": the 1 mm margin lets a lesion at the cord surface keep its rim).
MIN_INSIDE_CORD = 0.5
#: Without a cord mask, the region must fit in the widest spinal cord. The adult cord is widest
#: at the cervical enlargement (C5-C6), about 13-14 mm left-right by 8-9 mm front-back, a
#: cross-section of about 90 mm^2; these limits add a margin for partial volume (a 3 mm slice
#: more) and a swollen cord. Grown from a click on the phantom, each vertebral body C2-T1
#: (2,200-4,600 mm^3: 15-20 mm across, 95-210 mm^2) fails at least one of them, the enhancing
#: epidural tissue around the CSF (4,700-9,000 mm^3, 23-39 mm across) both; a lesion filling
#: the cord over many levels passes (its width and cross-section are the cord's).
MAX_WIDTH_MM = 16.0
MAX_SECTION_MM2 = 100.0


def _empty(geometry: Geometry, reason: str, **details) -> Segmentation:
    return Segmentation.empty(geometry, reason, **details)


def grow_lesion(t1c, geometry: Geometry, seed_world_mm, *, cord_region=None,
                sensitivity: float = 0.5, pre=None, check: bool = True) -> Segmentation:
    """Segment the enhancing lesion under one seed click.

    The region grows in 3D from the seed through voxels brighter than a threshold set between
    the intensity of *normal cord* and the *peak* of the lesion near the seed:
    ``threshold = normal + (1 - sensitivity) * (peak - normal)``. With the default
    ``sensitivity=0.5`` this is the half-maximum, where a partial-volume voxel is half lesion:
    the mask holds the voxels whose centres lie inside the lesion. Only the connected part
    (face neighbours) holding the seed is returned, so an adjacent lesion separated by a thin
    gap of darker cord stays out. Inside a cord region, a rim-enhancing lesion is taken whole: the
    dark core its bright rim encloses (in 3D, or in any plane of the grid) and a cap of the rim
    that touches the rest only through that core.

    Normal cord is the median (and MAD) of the cord region farther than 12 mm from the seed,
    within 30 mm. Without a cord region it is first the median of a 12-20 mm shell around the
    seed, then the median of a 1.5 mm ring of tissue around the grown region (what surrounds the
    lesion), re-grown until stable. The peak is the highest lightly smoothed intensity of the
    region within 6 mm of the seed (at the first pass: within 2 mm; the seed snaps to it when the
    clicked voxel itself is below the threshold, as on a lesion's rim).

    Parameters
    ----------
    t1c : ndarray or Volume
        T1 after contrast (or any image where the lesion is bright). NaN voxels are ignored.
    geometry : Geometry
        Its grid.
    seed_world_mm : sequence of 3 float
        The click, LPS mm.
    cord_region : ndarray or Volume of bool, optional
        Cord mask on the same grid. The lesion is kept inside it, widened by 1 mm.
    sensitivity : float in [0, 1]
        Where the threshold sits between normal cord (1: grow into anything brighter than normal
        cord) and the lesion's peak (0: only the brightest voxels). 0.5 = half-maximum. Raise it
        when the mask misses a faint rim, lower it when it leaks.
    pre : ndarray or Volume, optional
        T1 before contrast on the same grid: the subtraction ``t1c - pre`` is segmented, so
        tissue that is bright before contrast (fat, blood products) does not count as enhancing.
    check : bool
        Refuse a region that cannot be an intramedullary lesion (:func:`check_lesion`: mostly
        outside the cord region, or, without one, wider than any cord). False returns it anyway.

    Returns
    -------
    Segmentation
        Boolean mask on ``geometry``; an empty mask with ``reason`` when the seed is outside the
        image or the cord region, the image has no contrast or no value at the seed, the seed
        is not on enhancing tissue, or (``check``) the region grown is not a plausible lesion
        (then ``details["refused"]`` is True and holds what :func:`check_lesion` measured).
        ``details`` holds the numbers used (normal-cord median and spread, peak, threshold,
        enhancement ratio, seed voxel, volume).

    Examples
    --------
    >>> import numpy as np
    >>> from lesionview.geometry import Geometry
    >>> g = Geometry((20, 20, 20))
    >>> img = np.full(g.shape, 100.0); img[8:12, 8:12, 8:12] = 300.0
    >>> seg = grow_lesion(img, g, g.index_to_world([9, 9, 9]))
    >>> int(seg.mask.sum()), seg.reason
    (64, '')
    """
    if not 0.0 <= float(sensitivity) <= 1.0:
        raise ValueError(f"sensitivity must be between 0 and 1, got {sensitivity}")
    image = image_array(t1c, geometry, "t1c")
    pre_arr = None if pre is None else image_array(pre, geometry, "pre (T1 before contrast)")
    cord = mask_array(cord_region, geometry, "cord_region")
    idx = seed_index(geometry, seed_world_mm)
    if idx is None:
        return _empty(geometry, f"the seed {fmt_point(seed_world_mm)} is outside the image "
                                f"({geometry.describe()})")
    if cord is not None and not cord.any():
        return _empty(geometry, "the cord region is empty")

    radius = CROP_MM
    while True:
        box = box_around(geometry, idx, radius)
        out = _grow_in_box(image, pre_arr, cord, box, idx, geometry.spacing, float(sensitivity))
        if isinstance(out, str):
            return _empty(geometry, out, seed_index=list(idx))
        region, details = out
        whole = all(sl.start == 0 and sl.stop == n for sl, n in zip(box, geometry.shape))
        if whole or not touches_border(region, box, geometry.shape):
            break
        radius *= 2  # the lesion reaches the crop: look wider
    mask = np.zeros(geometry.shape, bool)
    mask[box] = region
    details.update(seed_index=list(idx), crop_mm=radius, volume_mm3=float(region.sum()) * geometry.voxel_volume,
                   sensitivity=float(sensitivity), subtraction=pre is not None,
                   cord_region=cord is not None)
    if check:
        problem, numbers = check_lesion(mask, geometry, cord_region=cord)
        if problem:
            return _empty(geometry, problem, **{**details, **numbers, "refused": True})
    return Segmentation(mask, geometry, "", details)


def check_lesion(mask, geometry: Geometry, *, cord_region=None) -> tuple[str, dict]:
    """Why a region cannot be an intramedullary lesion ("" when it can), and what was measured.

    With a cord mask, at least half the region must lie in it (:data:`MIN_INSIDE_CORD`). Without
    one, it must fit in the widest spinal cord: at most :data:`MAX_WIDTH_MM` across its long
    axis, and a mean cross-section (volume / length along that axis) of at most
    :data:`MAX_SECTION_MM2`. (With a cord mask the cord itself bounds the size: a region mostly
    inside it cannot be larger than the cord around it.) Axes are the region's principal axes in
    world mm, so the answer does not depend on how the image is stored.

    Parameters
    ----------
    mask : ndarray or Volume of bool
        The region, on ``geometry``.
    geometry : Geometry
    cord_region : ndarray or Volume of bool, optional
        Cord mask on the same grid (ignored when empty).

    Returns
    -------
    (str, dict)
        The problem in words, with what to do (empty when the region is plausible), and
        ``volume_mm3``, ``inside_cord`` (fraction, with a cord), ``length_mm``, ``width_mm``
        (the two extents across the long axis) and ``section_mm2``.

    Examples
    --------
    >>> import numpy as np
    >>> from lesionview.geometry import Geometry
    >>> g = Geometry((40, 40, 40))
    >>> small = np.zeros(g.shape, bool); small[18:22, 18:22, 15:25] = True
    >>> check_lesion(small, g)[0]
    ''
    >>> block = np.zeros(g.shape, bool); block[5:25, 5:25, 5:25] = True   # 20 mm across
    >>> check_lesion(block, g)[0].startswith("the region is 20 mm across")
    True
    """
    region = mask_array(mask, geometry, "mask")
    cord = mask_array(cord_region, geometry, "cord_region")
    if region is None or not region.any():
        return "", {"volume_mm3": 0.0}
    box = ndimage.find_objects(region.view(np.uint8))[0]
    index = np.argwhere(region[box]) + [sl.start for sl in box]
    volume = float(len(index) * geometry.voxel_volume)
    numbers = {"volume_mm3": float(volume)}
    if cord is not None and cord.any():
        inside = float(np.count_nonzero(cord[box][region[box]])) / len(index)
        numbers["inside_cord"] = inside
        if inside < MIN_INSIDE_CORD:
            return (f"only {inside:.0%} of the region grown from this click ({volume:,.0f} mm³) lies "
                    "inside the cord, so it is not an intramedullary lesion: click on the enhancing "
                    "lesion inside the cord"), numbers
        return "", numbers
    length, widths = _extents_mm(index, geometry)
    section = float(volume / length)
    numbers.update(length_mm=length, width_mm=widths, section_mm2=section)
    what = "click on the enhancing lesion inside the cord, or segment the cord first"
    if widths[0] > MAX_WIDTH_MM:
        return (f"the region is {widths[0]:.0f} mm across its long axis ({volume:,.0f} mm³): wider "
                f"than any spinal cord (at most {MAX_WIDTH_MM:.0f} mm), so not an intramedullary "
                f"lesion (a vertebral body, the fluid or fat around the cord?): {what}"), numbers
    if section > MAX_SECTION_MM2:
        return (f"the region ({volume:,.0f} mm³ over {length:.0f} mm) is {section:.0f} mm² in "
                f"cross-section: more than any spinal cord (at most {MAX_SECTION_MM2:.0f} mm²), so "
                f"not an intramedullary lesion (a vertebral body?): {what}"), numbers
    return "", numbers


def _extents_mm(index: np.ndarray, geometry: Geometry) -> tuple[float, list[float]]:
    """Length along the long (first principal) axis and the two widths across it (mm) of a set
    of voxels, each extent counting the voxels' own size along that axis."""
    world = geometry.index_to_world(index)
    centred = world - world.mean(axis=0)
    if len(index) > 1:
        _, vectors = np.linalg.eigh(np.cov(centred.T))
        axes = vectors[:, ::-1].T                    # largest variance first
    else:
        axes = np.eye(3)
    spread = np.ptp(centred @ axes.T, axis=0)
    # A voxel spans sum_i |axis . e_i| * spacing_i along an axis (e_i: the grid's directions).
    steps = geometry.direction_matrix * np.asarray(geometry.spacing)
    footprint = np.abs(axes @ steps).sum(axis=1)
    extent = spread + footprint
    return float(extent[0]), sorted((float(extent[1]), float(extent[2])), reverse=True)


def _grow_in_box(image, pre, cord, box, idx, spacing, sensitivity):
    """Grow inside one crop. Returns (region, details) or the reason why nothing was grown."""
    crop = image[box].astype(np.float32)
    if pre is not None:
        crop -= pre[box].astype(np.float32)
    seed = tuple(i - sl.start for i, sl in zip(idx, box))
    finite = np.isfinite(crop)
    if not finite[seed]:
        return "the image has no value (NaN) at the seed"
    if not finite.any() or np.ptp(crop[finite]) == 0:
        return "the image has no contrast (every voxel has the same value)"
    if cord is not None:
        cord_box = cord[box]
        allowed = dilate_mm(cord_box, spacing, CORD_MARGIN_MM) & finite
        if not allowed[seed]:
            return "the seed is outside the cord region: click on the lesion inside the cord"
    else:
        cord_box, allowed = None, finite
    dist = distance_mm(crop.shape, spacing, seed)

    ref_source = "cord region"
    ref_voxels = None
    if cord_box is not None:
        ref_voxels = cord_box & finite & (dist > SEED_EXCLUSION_MM)
        if ref_voxels.sum() < 30:  # a short cord region: the rest of the cord near the seed
            ref_voxels = cord_box & finite & (dist > 2 * PEAK_RADIUS_MM)
        if ref_voxels.sum() < 30:
            ref_voxels = None
    if ref_voxels is None:
        ref_source = "shell around the seed"
        ref_voxels = finite & (dist >= SHELL_MM[0]) & (dist <= SHELL_MM[1])
        if ref_voxels.sum() < 30:
            ref_voxels = finite & (dist > 2 * PEAK_RADIUS_MM)
    ref, sigma = robust_stats(crop[ref_voxels])
    if cord_box is None or ref_source != "cord region":
        # A shell mixes tissues: its spread says nothing about noise. Use the image noise.
        sigma = noise_sigma(crop, finite, spacing)
    if not np.isfinite(ref):
        return "no normal tissue around the seed to compare it with"
    filled = np.where(finite, crop, np.float32(ref))
    smooth = smooth_mm(filled, spacing, PEAK_SMOOTH_MM)

    near = allowed & (dist <= PEAK_RADIUS_MM)
    near_idx = np.flatnonzero(near)
    best = near_idx[np.argmax(smooth.ravel()[near_idx])]
    peak_at = np.unravel_index(best, crop.shape)
    peak = float(smooth[peak_at])
    scale = max(abs(ref), float(np.ptp(crop[finite])) * 1e-3)
    sigma = sigma if sigma > 0 else scale * 1e-3
    if peak - ref < max(MIN_CONTRAST_SIGMA * sigma, MIN_CONTRAST_FRACTION * scale):
        return (f"the seed is not on enhancing tissue: its local peak ({peak:.4g}) is not clearly "
                f"above normal {'cord' if cord is not None else 'tissue'} ({ref:.4g} +- {sigma:.3g})")

    seed_peak = peak  # the clicked lobe's own peak: sets how deep a valley splits lobes
    region, threshold, iterations = None, None, 0
    for iterations in range(1, 6):
        thr = max(ref + (1.0 - sensitivity) * (peak - ref), ref + FLOOR_SIGMA * sigma)
        if threshold is not None and abs(thr - threshold) <= 1e-3 * max(abs(thr), 1.0):
            break
        threshold = thr
        candidate = allowed & (filled >= threshold)
        start = seed if candidate[seed] else peak_at
        region = component_at(candidate, start)
        if not region.any():
            break
        # The lesion's own peak, near the seed, sets the next threshold.
        inner = region & (dist <= PEAK_REGION_MM)
        peak = max(peak, float(smooth[inner].max())) if iterations == 1 else float(smooth[inner].max())
        if cord_box is None:
            # What surrounds the region is the normal tissue the lesion stands out from.
            ring = dilate_mm(region, spacing, RING_MM[1]) & ~dilate_mm(region, spacing, RING_MM[0]) & finite
            if ring.sum() >= 10:
                ref_source = "ring around the lesion"
                ref = float(np.median(crop[ring]))
    if region is None or not region.any():
        return "nothing above the threshold is connected to the seed"
    region, poles = _trim_poles(region, smooth, spacing, start, ref, peak)
    whole = region
    region, split = _split_at_valleys(region, filled, spacing, start, seed_peak - ref)
    if cord_box is not None:
        region = _close_rim(region, candidate & ~(whole & ~region))
        region, more = _trim_poles(region, smooth, spacing, start, ref, peak)
        poles += more
    region = _fill_holes(region, planes=cord_box is not None)
    if cord_box is not None:
        region &= allowed
    details = {"split_from_neighbour": split, "normal_median": float(ref), "normal_sigma": float(sigma), "normal_reference": ref_source,
               "peak": float(peak), "threshold": float(threshold),
               "enhancement_ratio_peak": float(peak / ref) if ref > 0 else None,
               "iterations": iterations, "seed_snapped": start != seed,
               "pole_slices_removed": poles}
    return region, details


def _trim_poles(region, smooth, spacing, start, ref, peak):
    """Drop pole slices along a thick-slice axis that the lesion does not fill at half maximum.

    Along an axis of thick slices (COARSE_RATIO x the finest spacing and THICK_POLE_MM or more) a
    partial slice at either end of the region is kept only when its brightest (smoothed) voxel
    is at least POLE_FRACTION of the way from normal cord to the lesion's peak: the lesion fills
    at least half of it. In-plane, the sensitivity sets the edge; across thick slices a whole
    slice would be added (3 mm on 3 mm slices: a 12 mm lesion read 15 mm, a 9 mm gap read 6), so
    the half-maximum decides. The slice holding ``start`` is never dropped. Returns the region
    and the number of slices dropped.
    """
    spacing = np.asarray(spacing, float)
    axis = int(np.argmax(spacing))
    if spacing[axis] < max(COARSE_RATIO * spacing.min(), THICK_POLE_MM) or peak <= ref:
        return region, 0
    dropped = 0
    while True:
        present = np.flatnonzero(np.any(region, axis=tuple(a for a in range(3) if a != axis)))
        if present.size < 2:
            break
        trimmed = False
        for k in (present[0], present[-1]):
            if k == start[axis]:
                continue
            index = [slice(None)] * 3
            index[axis] = k
            index = tuple(index)
            fraction = (float(smooth[index][region[index]].max()) - ref) / (peak - ref)
            if fraction < POLE_FRACTION:
                region = region.copy()
                region[index] = False
                dropped += 1
                trimmed = True
        if not trimmed:
            break
        region = component_at(region, start) if region[tuple(start)] else region
    return region, dropped


def _split_at_valleys(region, image, spacing, start, contrast):
    """Keep the seed's lobe when the region holds several bright lobes split by a darker valley.

    Lobes are the h-maxima of the image smoothed at 0.5 mm, with ``h`` = VALLEY_FRACTION of the
    contrast of the seed's own peak (a valley at least that deep between two peaks); the region
    is divided between them by a watershed and the lobe of ``start`` is kept. At the default sensitivity
    the threshold already leaves a thin gap out; this keeps adjacent lesions apart when the
    sensitivity is raised.
    """
    sl = tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n))
               for s, n in zip(ndimage.find_objects(region.view(np.uint8))[0], region.shape))
    sub_region = region[sl]
    if sub_region.sum() < 8:
        return region, False
    sub = smooth_mm(image[sl], spacing, VALLEY_SMOOTH_MM)
    low = float(sub[sub_region].min())
    masked = np.where(sub_region, sub, low)
    markers, n = ndimage.label(h_maxima(masked, VALLEY_FRACTION * contrast) & sub_region)
    if n < 2:
        return region, False
    lobes = watershed(-masked, markers, mask=sub_region)
    local = tuple(i - s.start for i, s in zip(start, sl))
    keep = lobes == lobes[local]
    out = np.zeros_like(region)
    out[sl] = keep
    return out, True


def _close_rim(region, candidate):
    """Add the dark core a bright rim encloses, and the candidates that touch only that core.

    A rim-enhancing lesion is a shell of enhancing tissue around a core no brighter than normal
    cord. The lesion is the shell *and* its core (what a radiologist outlines), and the cap of the
    shell at a pole may touch the rest of the shell only through the core (its voxels lie over
    core voxels of the next slice): fill the holes, add the components of ``candidate`` (voxels
    above the threshold, less any lobe split off as another lesion) that touch the filled core,
    and repeat until nothing changes. Used only inside a cord region: without one, a ring of
    enhancing tissue may enclose the thecal sac and the cord itself (a click beside the cord).
    """
    for _ in range(4):
        filled = _fill_holes(region)
        core = filled & ~region
        if not core.any():
            return filled
        labels, _ = ndimage.label(candidate & ~filled)
        touching = np.unique(labels[ndimage.binary_dilation(core) & (labels > 0)])
        if touching.size == 0:
            return filled
        region = filled | np.isin(labels, touching)
    return _fill_holes(region)


def _fill_holes(region: np.ndarray, planes: bool = True) -> np.ndarray:
    """Fill enclosed holes in 3D and (``planes``) in every plane of the grid, on the region's box.

    In 3D a hole must be closed on every side; a rim-enhancing lesion's core is often open at a
    pole (the cap is thin or missed), yet closed in each slice through it: filling each plane of
    the three grid orientations (background connected by faces within the plane) takes it.
    """
    sl = ndimage.find_objects(region.astype(np.uint8))[0]
    sub = ndimage.binary_fill_holes(region[sl])
    for axis in range(3 if planes else 0):
        structure = ndimage.generate_binary_structure(3, 1)
        index = [1, 1, 1]
        for end in (0, 2):
            index[axis] = end
            structure[tuple(index)] = False
        sub |= ndimage.binary_fill_holes(region[sl], structure=structure)
    out = region.copy()
    out[sl] = sub
    return out


def propose_lesions(t1c, geometry: Geometry, cord_region, *, min_volume_mm3: float = 3.0,
                    threshold: float = 1.5, pre=None) -> Segmentation:
    """Every enhancing candidate lesion in the cord, one label each, to accept or reject.

    Normal cord is the median and MAD of the whole cord region. A voxel of the cord region
    (widened by 1 mm) is *enhancing* when its intensity is at least ``threshold`` times the
    normal-cord median **and** at least 5 robust standard deviations above it. Enhancing voxels
    are grouped into connected components (face neighbours); components smaller than
    ``min_volume_mm3`` are dropped. Each remaining candidate is then given its half-maximum
    outline (the voxels above halfway between normal cord and its own peak, connected to that
    peak), as :func:`grow_lesion` would draw it from a click.

    Parameters
    ----------
    t1c : ndarray or Volume
        T1 after contrast (or any image where lesions are bright). NaN voxels are ignored.
    geometry : Geometry
    cord_region : ndarray or Volume of bool
        Cord mask on the same grid (required: outside the cord, fat and vessels enhance too).
    min_volume_mm3 : float
        Smallest candidate kept (after its half-maximum outline).
    threshold : float
        Enhancement ratio (intensity / normal-cord median) a voxel must reach.
    pre : ndarray or Volume, optional
        T1 before contrast: candidates are found on ``t1c - pre`` (the ratio is then taken on the
        post-contrast image over the same voxels).

    Returns
    -------
    Segmentation
        ``mask`` int32 labels 1..n, numbered superior to inferior; ``details["candidates"]``: per
        label its id, volume_mm3, peak and median enhancement ratio, centroid_lps_mm. Empty with a
        reason when the cord region is empty or the image has no contrast.

    Examples
    --------
    >>> import numpy as np
    >>> from lesionview.geometry import Geometry
    >>> g = Geometry((10, 10, 60))
    >>> cord = np.zeros(g.shape, bool); cord[2:8, 2:8, :] = True
    >>> t1c = np.where(cord, 300.0, 100.0)
    >>> t1c[4:6, 4:6, 10:14] = 900.0; t1c[4:6, 4:6, 40:43] = 800.0
    >>> seg = propose_lesions(t1c, g, cord)
    >>> [(c["id"], c["volume_mm3"]) for c in seg.details["candidates"]]
    [(1, 12.0), (2, 16.0)]
    """
    image = image_array(t1c, geometry, "t1c")
    cord = mask_array(cord_region, geometry, "cord_region")
    if cord is None or not cord.any():
        return Segmentation(np.zeros(geometry.shape, np.int32), geometry,
                            "proposals need a cord region (enhancing fat and vessels lie outside it)")
    labels = np.zeros(geometry.shape, np.int32)
    # Everything happens in the cord's box, widened by a few mm.
    sl = ndimage.find_objects(cord.astype(np.uint8))[0]
    pad = [int(np.ceil(3.0 / s)) for s in geometry.spacing]
    box = tuple(slice(max(s.start - p, 0), min(s.stop + p, n)) for s, p, n in zip(sl, pad, geometry.shape))
    crop = image[box].astype(np.float32)
    post = crop
    if pre is not None:
        crop = crop - image_array(pre, geometry, "pre (T1 before contrast)")[box].astype(np.float32)
    finite = np.isfinite(crop)
    cord_box = cord[box] & finite
    if not cord_box.any() or np.ptp(crop[finite]) == 0:
        return Segmentation(labels, geometry, "the image has no contrast in the cord region")
    ref, sigma = robust_stats(crop[cord_box])
    post_ref, _ = robust_stats(post[cord_box]) if pre is not None else (ref, sigma)
    sigma = sigma if sigma > 0 else 1e-3 * max(abs(ref), 1.0)
    level = max(threshold * ref, ref + 5.0 * sigma) if ref > 0 else ref + 5.0 * sigma
    allowed = dilate_mm(cord[box], geometry.spacing, CORD_MARGIN_MM) & finite
    filled = np.where(finite, crop, np.float32(ref))
    cand_labels, _ = ndimage.label(allowed & (filled >= level))
    smooth = smooth_mm(filled, geometry.spacing, PEAK_SMOOTH_MM)
    vvox = geometry.voxel_volume
    out_box = np.zeros(crop.shape, np.int32)
    found = []
    for k, obj in enumerate(ndimage.find_objects(cand_labels), start=1):
        if obj is None:
            continue
        comp = cand_labels[obj] == k
        # Half-maximum outline around the component's peak, in a box a little larger than it.
        grow = tuple(slice(max(s.start - 2 * p, 0), min(s.stop + 2 * p, n))
                     for s, p, n in zip(obj, pad, crop.shape))
        sm = smooth[grow]
        inside = np.zeros(sm.shape, bool)
        inside[tuple(slice(o.start - g.start, o.stop - g.start) for o, g in zip(obj, grow))] = comp
        peak_flat = np.flatnonzero(inside)[np.argmax(sm[inside])]
        peak_at = np.unravel_index(peak_flat, sm.shape)
        peak = float(sm[peak_at])
        half = ref + 0.5 * (peak - ref)
        region = component_at(allowed[grow] & (filled[grow] >= half), peak_at)
        region &= out_box[grow] == 0  # a voxel belongs to the first candidate that took it
        if region.sum() * vvox < min_volume_mm3:
            continue
        out_box[grow][region] = len(found) + 1
        pts = np.argwhere(region) + [g.start + b.start for g, b in zip(grow, box)]
        vals = post[grow][region]
        found.append({"volume_mm3": float(region.sum() * vvox),
                      "peak_enhancement_ratio": float(np.max(vals) / post_ref) if post_ref > 0 else None,
                      "median_enhancement_ratio": float(np.median(vals) / post_ref) if post_ref > 0 else None,
                      "centroid_lps_mm": [float(v) for v in geometry.index_to_world(pts.mean(axis=0))],
                      "threshold": float(half), "peak": peak})
    # Number superior to inferior (+z is superior in LPS).
    order = sorted(range(len(found)), key=lambda i: -found[i]["centroid_lps_mm"][2])
    remap = np.zeros(len(found) + 1, np.int32)
    candidates = []
    for new, old in enumerate(order, start=1):
        remap[old + 1] = new
        candidates.append({"id": new, **found[old]})
    labels[box] = remap[out_box]
    details = {"normal_median": float(ref), "normal_sigma": float(sigma), "level": float(level),
               "threshold_ratio": float(threshold), "min_volume_mm3": float(min_volume_mm3),
               "subtraction": pre is not None, "candidates": candidates}
    reason = "" if candidates else "no enhancing candidate in the cord region"
    return Segmentation(labels, geometry, reason, details)
