"""T2 cord edema: the T2-hyperintense cord connected to a lesion (or to a click)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import apply_hysteresis_threshold

from ..geometry import Geometry
from ._stats import (
    dilate_mm,
    distance_mm,
    fmt_point,
    image_array,
    in_plane_depth,
    lower_mode,
    mask_array,
    noise_sigma,
    normal_cord_profile,
    partial_volume_template,
    seed_index,
    thick_along_cord,
)
from .result import Segmentation

#: The edema's own level is read in this shell around the lesion (inner, outer distance, mm).
LEVEL_SHELL_MM = (0.5, 3.0)
#: Percentile of the shell taken as the edema level on thick slices along the cord.
LEVEL_PERCENTILE_THICK = 75
#: Percentile of the shell taken as the full edema level (thick slices, slices off the cord's axis).
FULL_LEVEL_PERCENTILE = 95
#: A thick slice is off the cord's axis where the cord's width in it is below this fraction of
#: the widest slice's (0.85: the slice's middle is over half the cord's radius off its axis).
OUTER_WIDTH_FRACTION = 0.85
#: ... its width read as its deepest point within this window (mm).
OUTER_WINDOW_MM = 8.0
#: ... or within this distance of a click (mm).
LEVEL_RADIUS_MM = 2.0
#: Why there is no edema without a cord region: said to the caller, with what to do.
NEEDS_CORD = ("edema is grown only inside the cord, and no cord region was given: segment the cord "
              "first (segment_cord from 3-10 clicks along it, or import_cord_mask); without it the "
              "T2-bright CSF beside the cord passes for edema")
#: Voxels brighter than level + CSF_FACTOR * (level - normal) are CSF; the edema is kept
#: CSF_MARGIN_MM away from them (partial volume at the cord's surface).
CSF_FACTOR = 0.5
CSF_MARGIN_MM = 1.0
#: ... and one face neighbour away (through a thick slice) from voxels brighter than
#: level + CSF_FACTOR_FACES * (level - normal).
CSF_FACTOR_FACES = 1.0
#: Edema must exceed normal cord by this many robust standard deviations and this fraction.
MIN_CONTRAST_SIGMA = 3.0
MIN_CONTRAST_FRACTION = 0.10


def grow_edema(t2, geometry: Geometry, *, lesion_mask=None, seed_world_mm=None, cord_region=None,
               sensitivity: float = 0.5) -> Segmentation:
    """Segment the T2-hyperintense cord (edema) connected to a lesion or to a click.

    Normal cord is the *lower mode* of the cord region's T2 intensities: the most frequent value
    among those below the cord's median (robust to edema covering many levels, since edema is the
    bright minority). The edema's own level is the median T2 in a 0.5-3 mm shell around the
    lesion (or within 2 mm of the click).

    On slices much thicker than their pixels that cut along the cord (3-4 mm sagittal or oblique
    series) a thin cord's voxels are blends with the CSF beside it, as bright as edema, and a bias
    field changes the cord's level along it. There the normal cord is read section by section
    along the cord (6 mm sections, :func:`~lesionview.segment._stats.normal_cord_profile`): the
    darker part of each section, divided by the CSF beside it so that the sections edema lifts
    stand out even when edema covers most of the cord, and interpolated over them. Each voxel is
    then compared with normal cord *at the same place in its slice* (same slice, same in-plane
    depth under the cord's outline, from the normal sections:
    :func:`~lesionview.segment._stats.partial_volume_template`), so partial volume with CSF
    cancels out (the template is read from the normal sections away from the edema's ends, whose
    tapering tail would pass for normal cord); the edema level is the 75th percentile of the shell
    (its partial volume with normal cord dilutes the median). In slices off the cord's axis (the
    cord narrower there than in the slice through its axis), where edema reaches the slice's middle
    only if it fills half the slice, the edge is half the shell's 95th percentile instead. Hysteresis
    thresholding (``skimage.filters.apply_hysteresis_threshold``) then keeps the voxels above
    ``low = normal + (1 - sensitivity) * (level - normal)`` that are connected (face neighbours)
    to voxels above ``high = normal + (1 - sensitivity / 2) * (level - normal)``, and of those the
    regions that touch the lesion (or hold the click), inside the cord region.

    The mask **includes the lesion voxels** (as ``edema.nii.gz`` of the sample phantom does: the
    T2-hyperintense cord, lesions inside it); subtract the lesion mask for edema alone.

    Parameters
    ----------
    t2 : ndarray or Volume
        T2-weighted (or STIR) image. NaN voxels are ignored.
    geometry : Geometry
    lesion_mask : ndarray or Volume of bool, optional
        The lesion(s) the edema surrounds (e.g. from :func:`~lesionview.segment.lesion.grow_lesion`,
        on the same grid; resample a T1 mask first).
    seed_world_mm : sequence of 3 float, optional
        A click on the edema, LPS mm (used when no lesion mask is given).
    cord_region : ndarray or Volume of bool
        Cord mask, used as given (not widened: around the cord, CSF is brighter than edema on T2).
        Required: edema never leaves the cord, and without the cord's outline the CSF around it,
        which is brighter than edema, passes for edema through the partial-volume rim (issue 10,
        on a sagittal study: 31,000 mm^3 from T2 to T9 where the edema was 4,350 mm^3 at T4-T7,
        Dice 0.25). Without it (None or empty) nothing is grown and ``reason`` says to segment
        the cord first.
    sensitivity : float in [0, 1]
        0.5: the edema's edge is the half-way intensity between normal cord and edema. Higher
        grows into fainter signal, lower keeps only the brightest core.

    Returns
    -------
    Segmentation
        Boolean mask (lesions included); empty with a reason when there is no cord region,
        neither lesion nor click is given, the click is outside the image or the cord, the image
        has no contrast, or there is no T2 hyperintensity around the lesion.

    Examples
    --------
    >>> import numpy as np
    >>> from lesionview.geometry import Geometry
    >>> g = Geometry((10, 10, 60))
    >>> cord = np.zeros(g.shape, bool); cord[3:7, 3:7, :] = True
    >>> t2 = np.where(cord, 400.0, 100.0); t2[3:7, 3:7, 20:40] = 800.0   # 20 mm of edema
    >>> lesion = np.zeros(g.shape, bool); lesion[4:6, 4:6, 29:31] = True
    >>> seg = grow_edema(t2, g, lesion_mask=lesion, cord_region=cord)
    >>> int(seg.mask.sum()), seg.reason
    (320, '')
    """
    if not 0.0 <= float(sensitivity) <= 1.0:
        raise ValueError(f"sensitivity must be between 0 and 1, got {sensitivity}")
    image = image_array(t2, geometry, "t2")
    cord = mask_array(cord_region, geometry, "cord_region")
    lesion = mask_array(lesion_mask, geometry, "lesion_mask")
    empty = Segmentation.empty
    if lesion is not None and not lesion.any():
        lesion = None
    seed = None
    if lesion is None:
        if seed_world_mm is None:
            return empty(geometry, "give a lesion mask or a click on the edema")
        seed = seed_index(geometry, seed_world_mm)
        if seed is None:
            return empty(geometry, f"the seed {fmt_point(seed_world_mm)} is outside the image "
                                   f"({geometry.describe()})")
    if cord is None or not cord.any():
        return empty(geometry, NEEDS_CORD)
    if seed is not None and not cord[seed]:
        return empty(geometry, "the seed is outside the cord region")

    # Work in the cord's box (edema never leaves it).
    start = lesion if lesion is not None else _point_mask(geometry.shape, seed)
    sl = ndimage.find_objects((cord | start).astype(np.uint8))[0]
    pad = [int(np.ceil(2.0 / s)) for s in geometry.spacing]
    box = tuple(slice(max(s.start - p, 0), min(s.stop + p, n))
                for s, p, n in zip(sl, pad, geometry.shape))
    crop = image[box].astype(np.float32)
    finite = np.isfinite(crop)
    if not finite.any() or np.ptp(crop[finite]) == 0:
        return empty(geometry, "the image has no contrast (every voxel has the same value)")
    start_box = start[box]
    allowed = cord[box] & finite
    # Normal cord, section by section along the cord (see normal_cord_profile): the image is
    # divided by it, so a bias field along the cord and the partial-volume CSF of thick slices
    # do not pass for edema, and normal cord reads 1 everywhere.
    expected = None
    if thick_along_cord(allowed, geometry.spacing):
        normal, profile = normal_cord_profile(crop, allowed, geometry, box)
        scale = float(np.median(normal[allowed]))
        crop = np.where(finite, crop / np.maximum(normal, 1e-6) * scale, crop).astype(np.float32)
        ref_source = "normal sections of the cord (lower quartile of their core), section by section"
        normal_sections = profile.get("normal_sections", allowed)
        depth = in_plane_depth(allowed, geometry.spacing)
        expected = partial_volume_template(crop, allowed, normal_sections, geometry.spacing, depth=depth)
        if "clean_sections" in profile and expected is not None:
            # Normal sections away from the edema's ends first; the others where those lack a place.
            clean = partial_volume_template(crop, allowed, profile["clean_sections"], geometry.spacing,
                                            depth=depth)
            expected = np.where(np.isfinite(clean), clean, expected)
    if expected is not None:
        # Thick slices along the cord: compare each voxel with normal cord at the same place in
        # its slice (partial volume with CSF included), not with the pure cord.
        known = np.isfinite(expected)
        crop = np.where(known, crop - expected + scale, crop).astype(np.float32)
        # A place in the slices where the normal cord was never seen (an outer slice the cord
        # only enters where the edema is) cannot be judged: its partial volume is unknown.
        allowed &= known
        ref_source += ", against the partial-volume template of normal cord on these thick slices"
        ref, sigma = scale, _noise(image, box, geometry)
    else:
        # Thin slices: the lower mode of the cord region.
        ref_source = "lower mode of the cord region"
        ref, spread = lower_mode(crop[allowed])
        # The spread of the cord's values holds partial volume and bias as well as noise; the
        # contrast test is against the noise (the spread counts up to twice the noise).
        noise = _noise(image, box, geometry)
        sigma = max(noise, min(spread, 2.0 * noise))

    if lesion is not None:
        ring = (dilate_mm(start_box, geometry.spacing, LEVEL_SHELL_MM[1])
                & ~dilate_mm(start_box, geometry.spacing, LEVEL_SHELL_MM[0]) & allowed & ~start_box)
    else:
        local = tuple(i - b.start for i, b in zip(seed, box))
        ring = (distance_mm(crop.shape, geometry.spacing, local) <= LEVEL_RADIUS_MM) & allowed
    if not ring.any():
        return empty(geometry, "no cord voxels around the lesion to read the edema signal from")
    # On thick slices the shell is diluted by partial volume with normal cord: its brighter
    # voxels tell the edema's own level (the half-way edge is then where a voxel is half edema).
    level = float(np.percentile(crop[ring], LEVEL_PERCENTILE_THICK if expected is not None else 50))
    # The CSF cut-offs use the edema's bright end: noise, a bias field and the partial volume of
    # the shell make the median a diluted edema level, and pure edema must not pass for CSF.
    level_hi = max(level, float(np.percentile(crop[ring], LEVEL_PERCENTILE_THICK)))
    contrast = level - ref
    if contrast < max(MIN_CONTRAST_SIGMA * sigma, MIN_CONTRAST_FRACTION * abs(ref)):
        return empty(geometry, f"no T2 hyperintensity around the {'lesion' if lesion is not None else 'seed'}: "
                               f"{level:.4g} against normal cord {ref:.4g} +- {sigma:.3g}",
                     normal_median=ref, edema_level=level)
    low = ref + (1.0 - sensitivity) * contrast
    high = ref + (1.0 - sensitivity / 2.0) * contrast
    # CSF is brighter than edema on T2, and the cord voxels next to it are partial-volume blends
    # that look like edema: keep the growth away from clearly CSF-bright voxels.
    csf = finite & (crop > level_hi + CSF_FACTOR * (level_hi - ref))
    # Face neighbours count too: through a thick slice, the next slice's CSF blends in.
    near_csf = dilate_mm(csf, geometry.spacing, CSF_MARGIN_MM)
    bright_csf = finite & (crop > level_hi + CSF_FACTOR_FACES * (level_hi - ref))
    near_csf |= ndimage.binary_dilation(bright_csf, ndimage.generate_binary_structure(3, 1))
    if expected is not None:
        # On thick slices every cord voxel touches a CSF-bright neighbour slice; the template
        # has already taken their partial volume out: only voxels that are CSF themselves go.
        near_csf = csf & ~np.isfinite(expected)
    allowed &= ~near_csf
    if expected is not None:
        # A thick slice off the cord's axis holds the edema only where the edema reaches its
        # middle, i.e. fills at least half of it: there the edge is half the *full* contrast (the
        # shell's brightest), not half the shell's diluted level (which suits the slice through
        # the axis, where a thin edema's ends fill the slice only in part). Rescaling those
        # voxels lets one pair of thresholds serve both.
        outer = _outer_slices(allowed | start_box, geometry.spacing)
        full = float(np.percentile(crop[ring], FULL_LEVEL_PERCENTILE))
        if full > level:
            gain = (low - ref) / (0.5 * (full - ref))
            crop = np.where(outer, ref + (crop - ref) * gain, crop).astype(np.float32)
    work = np.where(allowed, crop, np.float32(-np.inf))
    hyst = apply_hysteresis_threshold(work, low, high)
    labels, _ = ndimage.label(hyst)
    touch = dilate_mm(start_box, geometry.spacing, 1.0) if lesion is not None else start_box
    keep = np.unique(labels[touch & hyst])
    region = np.isin(labels, keep[keep > 0])
    if lesion is not None:
        region |= start_box
        # Only what is joined to a lesion: a few voxels within a millimetre of it but apart from
        # it would be a separate edema for the measurements table.
        labels, _ = ndimage.label(region)
        keep = np.unique(labels[start_box])
        region = np.isin(labels, keep[keep > 0])
    if region.any():
        r_sl = ndimage.find_objects(region.astype(np.uint8))[0]
        region[r_sl] = ndimage.binary_fill_holes(region[r_sl])
        region &= cord[box] | start_box
    if not region.any():
        return empty(geometry, "nothing T2-hyperintense is connected to the seed",
                     normal_median=ref, edema_level=level)
    mask = np.zeros(geometry.shape, bool)
    mask[box] = region
    details = {"normal_median": float(ref), "normal_sigma": float(sigma), "normal_reference": ref_source,
               "edema_level": level, "low_threshold": float(low), "high_threshold": float(high),
               "sensitivity": float(sensitivity), "includes_lesion": True,
               "from": "lesion mask" if lesion is not None else "seed",
               "volume_mm3": float(region.sum()) * geometry.voxel_volume}
    return Segmentation(mask, geometry, "", details)


def _noise(image: np.ndarray, box, geometry: Geometry) -> float:
    """Image noise around the cord: over a box 10 mm wider than the cord's (a thin cord's own box
    is mostly edges, which a neighbour-difference estimate would take for noise)."""
    wide = tuple(slice(max(b.start - int(np.ceil(10.0 / sp)), 0), min(b.stop + int(np.ceil(10.0 / sp)), n))
                 for b, sp, n in zip(box, geometry.spacing, geometry.shape))
    crop = np.asarray(image[wide], dtype=np.float32)
    return noise_sigma(crop, np.isfinite(crop), geometry.spacing)


def _outer_slices(cord: np.ndarray, spacing) -> np.ndarray:
    """Cord voxels of a slice that cuts the cord off its axis: the cord's in-plane width there
    (its deepest point within OUTER_WINDOW_MM) is below OUTER_WIDTH_FRACTION of the widest slice's
    at the same in-plane place (the slice through the axis)."""
    spacing = np.asarray(spacing, float)
    k = int(np.argmax(spacing))
    depth = in_plane_depth(cord, spacing)
    size = [2 * round(float(OUTER_WINDOW_MM / 2 / sp)) + 1 for sp in spacing]   # odd: storage order free
    size[k] = 1
    chord = ndimage.maximum_filter(depth, size=size)
    widest = chord.max(axis=k, keepdims=True)
    return cord & (chord < OUTER_WIDTH_FRACTION * widest)


def _point_mask(shape, index) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[tuple(index)] = True
    return m
