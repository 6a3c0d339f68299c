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
