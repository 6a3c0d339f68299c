"""Shared pieces of the lesion and edema tools: robust statistics, seeds, crops and mm balls.

Everything here works in millimetres through the image's :class:`~lesionview.geometry.Geometry`
(spacing per array axis), so the tools give the same answer whatever the storage orientation.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import Geometry

#: MAD -> standard deviation of a normal distribution.
MAD_TO_SIGMA = 1.4826


def image_array(image, geometry: Geometry, name: str) -> np.ndarray:
    """The voxel array of ``image`` (ndarray or Volume) as float32, checked against ``geometry``."""
    arr = np.asarray(getattr(image, "array", image))
    if arr.shape != geometry.shape:
        raise ValueError(f"{name} has shape {arr.shape} but the geometry describes "
                         f"{geometry.describe()}; pass the geometry of that image")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} has data type {arr.dtype}, not numbers")
    return arr


def mask_array(mask, geometry: Geometry, name: str) -> np.ndarray | None:
    """A boolean mask on ``geometry``'s grid, or None."""
    if mask is None:
        return None
    arr = np.asarray(getattr(mask, "array", mask))
    if arr.shape != geometry.shape:
        raise ValueError(f"{name} has shape {arr.shape} but the image grid is {geometry.describe()}; "
                         "resample it to the image first (lesionview.resample)")
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr)
    return arr != 0


def robust_stats(values: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based standard deviation of the finite ``values`` (NaN if none)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    med = float(np.median(v))
    return med, float(MAD_TO_SIGMA * np.median(np.abs(v - med)))


def noise_sigma(image: np.ndarray, finite: np.ndarray, spacing) -> float:
    """Image noise (standard deviation) from differences of neighbours along the finest axis.

    Edges are a minority of neighbour pairs, so the MAD of the differences is the noise.
    """
    axis = int(np.argmin(spacing))
    d = np.diff(image, axis=axis)
    ok = np.diff(finite.astype(np.int8), axis=axis) == 0
    ok &= np.take(finite, range(1, image.shape[axis]), axis=axis)
    d = d[ok]
    if d.size == 0:
        return 0.0
    return float(MAD_TO_SIGMA * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def lower_mode(values: np.ndarray) -> tuple[float, float]:
    """The most frequent intensity among the lower half of ``values``, and its spread.

    For a region where normal tissue is the majority (or at least the dominant peak) and a
    hyperintense part is the minority (cord with long edema), the histogram mode is normal tissue,
    whatever the size of the bright tail. The spread is the MAD of the values below the mode,
    mirrored (the bright side is contaminated, the dark side is not).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 10:
        return robust_stats(v)
    med, sigma = robust_stats(v)
    if not sigma > 0:
        return med, 0.0
    # Histogram on the central range, bins a tenth of the spread, smoothed by ~half a spread.
    lo, hi = np.percentile(v, [1, 99])
    width = max(sigma / 10.0, (hi - lo) / 2000.0, 1e-6)
    counts, edges = np.histogram(v, bins=max(int((hi - lo) / width), 10), range=(lo, hi))
    smooth = ndimage.gaussian_filter1d(counts.astype(float), 5.0)
    # The mode of the lower part: normal tissue sits at or below the median of the mixture.
    centres = (edges[:-1] + edges[1:]) / 2
    allowed = centres <= med
    mode = float(centres[allowed][np.argmax(smooth[allowed])]) if allowed.any() else med
    below = v[v <= mode]
    spread = float(MAD_TO_SIGMA * np.median(mode - below)) if below.size else sigma
    return mode, spread if spread > 0 else sigma


def seed_index(geometry: Geometry, seed_world_mm) -> tuple[int, int, int] | None:
    """The voxel holding the LPS point ``seed_world_mm``, or None when it lies outside the image."""
    seed = np.asarray(seed_world_mm, dtype=float).reshape(-1)
    if seed.size != 3 or not np.all(np.isfinite(seed)):
        return None
    idx = np.rint(geometry.world_to_index(seed)).astype(int)
    if np.any(idx < 0) or np.any(idx >= np.array(geometry.shape)):
        return None
    return tuple(int(i) for i in idx)


def box_around(geometry: Geometry, centre: tuple[int, int, int], radius_mm: float,
               shape=None) -> tuple[slice, slice, slice]:
    """Index box reaching ``radius_mm`` from voxel ``centre`` along every axis (clipped)."""
    shape = shape or geometry.shape
    out = []
    for c, s, n in zip(centre, geometry.spacing, shape):
        r = int(np.ceil(radius_mm / s))
        out.append(slice(max(c - r, 0), min(c + r + 1, n)))
    return tuple(out)


def distance_mm(shape, spacing, centre) -> np.ndarray:
    """Distance (mm) of every voxel centre of a ``shape`` box from voxel ``centre`` (box indices)."""
    grids = [((np.arange(n) - c) * s) ** 2 for n, c, s in zip(shape, centre, spacing)]
    return np.sqrt(grids[0][:, None, None] + grids[1][None, :, None] + grids[2][None, None, :])


def ball_structure(spacing, radius_mm: float) -> np.ndarray:
    """Structuring element: voxels whose centres lie within ``radius_mm`` of the middle one."""
    r = [int(np.floor(radius_mm / s)) for s in spacing]
    d = distance_mm([2 * k + 1 for k in r], spacing, r)
    return d <= radius_mm + 1e-6


def dilate_mm(mask: np.ndarray, spacing, radius_mm: float) -> np.ndarray:
    """Binary dilation by a ball of ``radius_mm`` (anisotropic voxels allowed)."""
    st = ball_structure(spacing, radius_mm)
    mask = np.asarray(mask, bool)
    if st.size == 1 or not mask.any():
        return mask.copy()
    # Only the mask's box (grown by the radius) can change: dilate there, not everywhere.
    sl = ndimage.find_objects(mask.view(np.uint8))[0]
    box = tuple(slice(max(s.start - r, 0), min(s.stop + r, n))
                for s, r, n in zip(sl, (k // 2 for k in st.shape), mask.shape))
    out = mask.copy()
    out[box] = ndimage.binary_dilation(mask[box], structure=st)
    return out


def smooth_mm(image: np.ndarray, spacing, sigma_mm: float) -> np.ndarray:
    """Gaussian smoothing with a physical width (mm), float32 out."""
    sigma = [sigma_mm / s for s in spacing]
    return ndimage.gaussian_filter(image.astype(np.float32, copy=False), sigma, truncate=3.0)


def component_at(mask: np.ndarray, index, connectivity: int = 1) -> np.ndarray:
    """The connected component of ``mask`` holding voxel ``index`` (empty if it is not set)."""
    if not mask[tuple(index)]:
        return np.zeros_like(mask, dtype=bool)
    labels, _ = ndimage.label(mask, structure=ndimage.generate_binary_structure(3, connectivity))
    return labels == labels[tuple(index)]


def touches_border(mask: np.ndarray, box: tuple[slice, ...], shape) -> bool:
    """True when ``mask`` (a crop ``box`` of an array of ``shape``) reaches a crop face that is not
    also a face of the whole array: the crop may have cut the region."""
    for axis, (sl, n) in enumerate(zip(box, shape)):
        idx = [slice(None)] * 3
        if sl.start > 0:
            idx[axis] = 0
            if mask[tuple(idx)].any():
                return True
        if sl.stop < n:
            idx[axis] = -1
            if mask[tuple(idx)].any():
                return True
    return False


def fmt_point(p) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in np.asarray(p, float).reshape(-1)) + ") mm"


#: Length (mm) of the sections along the cord in which normal cord is estimated.
SECTION_MM = 6.0
#: The cord's in-plane width at a voxel is read as its deepest point within this window (mm).
CHORD_WINDOW_MM = 6.0
#: A place whose cord is narrower than any normal place's by more than one 0.5 mm bin is not
#: judged (an outer slice the cord's curve has nearly left); within a bin, the narrowest's.
NARROWER_BINS = 1
#: Cord voxels within this distance (mm) of the cord's outline are partial-volume blends with
#: the CSF around it; they do not give the normal-cord level.
CORE_MARGIN_MM = 1.0


def normal_cord_profile(image: np.ndarray, cord: np.ndarray, geometry: Geometry, box=None):
    """Normal-cord intensity at every voxel of ``image``, from sections along the cord.

    The cord mask's points are projected on its long axis and cut into ``SECTION_MM`` sections.
    In each, the lower quartile of the cord's *core* (the voxels farther than ``CORE_MARGIN_MM``
    from its outline, or the darker half of the cord where no voxel is, as on 3 mm slices cut
    along a thin cord) is that section's cord level: edema and lesions brighten the core only
    where they are. Sections whose level stands clearly above the lower mode of all sections
    (edema filling them) take the level of the normal sections around them, interpolated along
    the cord; a smooth bias field along the cord is thereby divided out, and long edema (most of
    the cord) still leaves the normal sections as the lower mode.

    Returns the normal level per voxel (constant across each section) and a dict with
    ``core`` (the core voxels) and the per-section ``levels``.
    """
    spacing = np.asarray(geometry.spacing, float)
    idx = np.argwhere(cord)
    normal = np.full(image.shape, np.nan, np.float32)
    inner = ndimage.distance_transform_edt(np.pad(cord, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    core = cord & (inner > CORE_MARGIN_MM + 1e-6)
    info = {"core": core, "levels": []}
    if len(idx) < 20:
        normal[:] = float(np.median(image[cord])) if cord.any() else 1.0
        info["core"] = cord
        return normal, info
    # Sections in world space (LPS mm, axis pointing up the patient, cut at multiples of
    # SECTION_MM), so that the answer does not depend on how the array is stored.
    start = np.array([b.start or 0 for b in box]) if box is not None else np.zeros(3, int)
    world = geometry.index_to_world(idx + start)
    centre = world.mean(axis=0)
    _, _, vt = np.linalg.svd(world[:: max(len(world) // 5000, 1)] - centre, full_matrices=False)
    axis = vt[0] * (1.0 if vt[0][np.argmax(np.abs(vt[0]))] > 0 else -1.0)
    t = world @ axis
    t0 = np.floor(t.min() / SECTION_MM) * SECTION_MM
    n_sec = max(int(np.ceil((t.max() - t0) / SECTION_MM)), 1)
    sec = np.clip(((t - t0) / SECTION_MM).astype(int), 0, n_sec - 1)
    values = image[tuple(idx.T)].astype(np.float64)
    is_core = core[tuple(idx.T)]
    # The CSF beside the cord, per section: its brightest voxels within 2 mm of the cord. The
    # cord-to-CSF ratio does not change with a multiplicative bias field, edema raises it.
    shell = dilate_mm(cord, spacing, 2.0) & ~cord & np.isfinite(image)
    sidx = np.argwhere(shell)
    st = geometry.index_to_world(sidx + start) @ axis
    ssec = np.clip(((st - t0) / SECTION_MM).astype(int), 0, n_sec - 1)
    svalues = image[tuple(sidx.T)].astype(np.float64)
    levels = np.full(n_sec, np.nan)
    csf = np.full(n_sec, np.nan)
    for k in range(n_sec):
        v = values[sec == k]
        c = values[(sec == k) & is_core]
        if c.size >= 5:
            levels[k] = np.percentile(c, 25)
        elif v.size >= 5:
            levels[k] = np.percentile(v, 12.5)      # the darker half's lower quartile
        o = svalues[ssec == k]
        if o.size >= 10:
            csf[k] = np.percentile(o, 95)
    ok = np.isfinite(levels)
    if not ok.any():
        normal[:] = float(np.median(values))
        return normal, info
    ks = np.arange(n_sec)
    has_csf = ok & np.isfinite(csf) & (csf > levels)
    if has_csf.sum() >= max(3, 0.5 * ok.sum()):
        csf = np.interp(ks, ks[has_csf], csf[has_csf])
        if n_sec >= 3:
            csf = ndimage.median_filter(csf, size=3, mode="nearest")
        ratio = levels / csf
    else:
        csf, ratio = np.ones(n_sec), levels
    mode, spread = lower_mode(ratio[ok]) if ok.sum() >= 10 else (float(np.percentile(ratio[ok], 25)), 0.0)
    # Edema lifts a section's ratio by tens of percent; noise and CSF estimates by a few.
    normal_sec = ok & (ratio <= max(mode * 1.15, mode + 2 * spread))
    if not normal_sec.any():
        normal_sec = ok
    # Between normal sections the normal level follows the CSF (the bias field), scaled by
    # the normal ratio interpolated along the cord.
    levels_n = np.interp(ks, ks[normal_sec], ratio[normal_sec]) * csf
    if n_sec >= 3:
        levels_n = ndimage.median_filter(levels_n, size=3, mode="nearest")
    # Every voxel of the box: its position along the axis decides its section.
    # (t is linear in the index: three strides and an offset, no per-voxel world transform.)
    stride = geometry.direction_matrix.T @ axis * spacing
    offset = float(geometry.index_to_world(start[None, :].astype(float))[0] @ axis)
    tt = offset + sum(np.arange(n)[tuple(slice(None) if a == i else None for a in range(3))] * stride[i]
                      for i, n in enumerate(image.shape))
    pos = (tt - t0) / SECTION_MM - 0.5
    normal = np.interp(pos.ravel(), ks, levels_n).reshape(image.shape).astype(np.float32)
    info["levels"] = levels_n
    normal_voxel = np.zeros(image.shape, bool)
    normal_voxel[tuple(idx.T)] = normal_sec[sec]
    info["normal_sections"] = normal_voxel
    # A normal section next to a lifted one may hold the edema's tapering end (below the 15 %
    # cut-off, and brighter still in the parts of the cord that only it reaches).
    clean = normal_sec & ~ndimage.binary_dilation(ok & ~normal_sec)
    if clean.sum() >= 2:
        clean_voxel = np.zeros(image.shape, bool)
        clean_voxel[tuple(idx.T)] = clean[sec]
        info["clean_sections"] = clean_voxel
    if not core.any():
        info["core"] = cord
    return normal, info


def partial_volume_template(image: np.ndarray, cord: np.ndarray, normal_sections: np.ndarray,
                            spacing, *, step_mm: float = 0.5, min_count: int = 5,
                            depth: np.ndarray | None = None) -> np.ndarray | None:
    """What normal cord looks like at each cord voxel's place in its slice, on thick slices.

    On slices much thicker than their pixels, cut along the cord (sagittal, oblique), a cord voxel
    near the outline of its slice's cord, or in an outer slice, blends cord with CSF and is as
    bright as edema. Its place is given by its slice and its in-plane distance to the outline of
    the cord in that slice; the median of the normal sections' voxels at the same place is what
    that voxel would read without edema. The place also holds the cord's in-plane width there
    (its deepest point within ``CHORD_WINDOW_MM``): how much of a thin cord an off-axis slice holds
    changes along the cord (its curve crosses oblique slices, its width changes), and a slice that
    holds less cord reads brighter (on an oblique phantom, outer-slice voxels a third CSF instead
    of a tenth at the same depth passed for edema). Widths or depths beyond those of any normal voxel take the
    nearest's (a deeper voxel is purer cord); a width narrower than any by more than
    ``NARROWER_BINS`` bins is not judged. ``depth`` (:func:`in_plane_depth` of ``cord``) may be
    given to save its computation. Returns that expected value per voxel (NaN where unknown), or
    None on grids without thick slices along the cord.
    """
    spacing = np.asarray(spacing, float)
    k = int(np.argmax(spacing))
    if spacing[k] < 1.5 * np.sort(spacing)[1] or not cord.any():
        return None
    if depth is None:
        depth = in_plane_depth(cord, spacing)
    slab = np.indices(cord.shape)[k]
    idx = np.nonzero(cord)
    d_bin = np.minimum((depth[idx] / step_mm).astype(int), 40)
    values = image[idx].astype(np.float64)
    ref = normal_sections[idx]
    out = np.full(cord.shape, np.nan, np.float32)
    if ref.sum() < min_count:
        return out
    # Place in the slice: the slice, the depth under the cord's outline, and the cord's width
    # there (its deepest point within CHORD_WINDOW_MM): an off-axis slice holds less cord where
    # the cord's curve takes it away (oblique slices) or where the cord is thinner, and reads
    # brighter there.
    key = slab[idx] * 41 + d_bin
    coarse = _medians_by_key(key, values, ref, min_count)
    # Deeper than any normal voxel of the slice (a wider cord there): pure cord, as the deepest.
    coarse = _interp_within(slab[idx], d_bin, values, ref, min_count, coarse)
    size = [2 * round(float(CHORD_WINDOW_MM / 2 / sp)) + 1 for sp in spacing]   # odd: the same whatever the storage order
    size[k] = 1
    chord = ndimage.maximum_filter(depth, size=size)
    c_bin = np.minimum((chord[idx] / step_mm).astype(int), 40)
    out[idx] = _interp_within(key, c_bin, values, ref, min_count, coarse)
    return out


def in_plane_depth(cord: np.ndarray, spacing) -> np.ndarray:
    """Distance (mm) of each cord voxel to the cord's outline within its own (thickest-axis) slice."""
    spacing = np.asarray(spacing, float)
    in_plane = spacing.copy()
    in_plane[int(np.argmax(spacing))] = 1e4          # distances within each slice only
    return ndimage.distance_transform_edt(np.pad(cord, 1), sampling=in_plane)[1:-1, 1:-1, 1:-1]


def _interp_within(group, sub, values, ref, min_count, fallback):
    """Per element: the median of the ``ref`` values of its group at its ``sub`` bin, interpolated
    between the bins known (at least ``min_count`` values) in the group; above the highest known
    bin, that bin's; below the lowest, NaN (never seen); ``fallback`` where the group has none."""
    fine = group * 41 + sub
    order = np.argsort(fine[ref], kind="stable")
    f_ref, v_ref = fine[ref][order], values[ref][order]
    uniq, start, count = np.unique(f_ref, return_index=True, return_counts=True)
    good = count >= min_count
    uniq = uniq[good]
    med = np.array([np.median(v_ref[a:a + n]) for a, n in zip(start[good], count[good])])
    result = np.asarray(fallback, np.float64).copy()
    place = uniq // 41
    for p in np.unique(place):
        sel = place == p
        vox = group == p
        known = uniq[sel] % 41
        v = np.interp(sub[vox], known, med[sel], right=med[sel][-1])
        result[vox] = np.where(sub[vox] < known[0] - NARROWER_BINS, np.nan, v)
    return result


def _medians_by_key(key: np.ndarray, values: np.ndarray, ref: np.ndarray, min_count: int) -> np.ndarray:
    """Per element: the median of the ``ref`` values sharing its key (NaN when fewer than
    ``min_count`` do)."""
    order = np.argsort(key[ref], kind="stable")
    keys_ref, vals_ref = key[ref][order], values[ref][order]
    uniq, start, count = np.unique(keys_ref, return_index=True, return_counts=True)
    if uniq.size == 0:
        return np.full(key.shape, np.nan)
    med = np.array([np.median(vals_ref[a:a + n]) for a, n in zip(start, count)])
    med[count < min_count] = np.nan
    pos = np.clip(np.searchsorted(uniq, key), 0, len(uniq) - 1)
    return np.where(uniq[pos] == key, med[pos], np.nan)


def thick_along_cord(cord: np.ndarray, spacing) -> bool:
    """True when the slices are much thicker than their pixels (1.5x or more) and cut along the
    cord (sagittal, coronal, oblique): partial volume across the slices then dominates what a
    thin cord's voxels read. Axial stacks (slices across the cord) and thin slices give False."""
    sp = np.asarray(spacing, float)
    k = int(np.argmax(sp))
    if sp[k] < 1.5 * np.sort(sp)[1]:
        return False
    idx = np.argwhere(cord)
    if len(idx) < 20:
        return False
    pts = idx[:: max(len(idx) // 5000, 1)] * sp
    _, _, vt = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)
    return bool(abs(vt[0][k]) < 0.7)
