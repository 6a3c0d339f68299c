"""The rim and flame signs of an enhancing intramedullary lesion, measured on T1 after gadolinium.

Rykken et al. (AJNR 2013;34:908; 64 intramedullary metastases against 64 primary cord tumours)
describe two enhancement patterns far more frequent around metastases:

- the **rim sign**: a thin rim of more intense enhancement at the lesion's periphery
  (specificity 97 %, sensitivity 47 %);
- the **flame sign**: an ill-defined, flame-shaped tongue of enhancement tapering along the cord
  from the lesion's superior or inferior pole (specificity 97 %, sensitivity 40 %).

They are imaging features, not a diagnosis. Here each is a number with a documented threshold:

- ``rim_score``: signal of the lesion's outer shell (voxel centres at most ``RIM_SHELL_MM`` from
  the outside, in mm whatever the voxel shape; the mean of its brightest layer of equal depth, as
  the outermost layer is dimmed by partial volume with the cord) over the mean of its core (the
  voxels deeper than ``RIM_SHELL_MM + RIM_GAP_MM``): about 1 for a uniform lesion, about the
  rim/core signal ratio for a large rim-enhancing one.
- ``flame_*_mm``: how far beyond each pole the lesion's tube of cord (within its own
  cross-sectional radius of its axis) keeps enhancing above normal cord, counted from the lesion's
  half-maximum boundary. The profile along the cord is the brightest voxel of each slab across it
  (image smoothed by ``FLAME_SMOOTH_MM``) above the slab's own normal-cord median; the boundary is
  where it falls below half its maximum inside the lesion (at most half a slab beyond the mask's
  pole: a bright flame's base is not lesion), the flame's end where it then falls
  below ``FLAME_SIGMA`` robust SDs and ``FLAME_FRACTION`` of normal cord (see :func:`_flame`).
  ``flame_taper_*_mm``: the distance from the boundary at which the flame's enhancing
  cross-section has halved (a tapering flame: well under its length; a blunt tongue: about it).
- ``judgeable_reason``: why a sign is None ("cannot be judged"): a lesion too small for the
  resolution (``RIM_MIN_CORE_VOXELS``; ``FLAME_MIN_MM`` and ``FLAME_MIN_STEPS``, see the README's
  validation) or no normal-cord reference.

Everything is measured in world millimetres along the cord (the centerline, else
superior-inferior), so neither storage order nor orientation changes a result.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from ..geometry import SUPERIOR, Geometry
from .components import bounding_boxes
from .sections import voxel_extent_along

#: Shell depth (mm, voxel centre to the nearest voxel centre outside the lesion).
RIM_SHELL_MM = 1.5
#: Voxels between the shell and this much deeper are neither shell nor core (the blurred rim edge).
RIM_GAP_MM = 0.5
#: Shell layers are this thick (mm); a layer counts with at least this many voxels and this
#: fraction of the shell's (a few voxels at one depth would let noise set the score).
RIM_LAYER_MM = 0.5
RIM_MIN_LAYER_VOXELS = 5
RIM_MIN_LAYER_FRACTION = 0.1
#: Rim sign present from this shell/core signal ratio.
RIM_THRESHOLD = 1.10
#: The rim cannot be judged with fewer core voxels than this (see the validation).
RIM_MIN_CORE_VOXELS = 8
#: Flame profile: smoothing (mm), detection above normal cord (robust SDs of the smoothed cord and
#: fraction of its median), slab width at least this (mm), search this far beyond each pole (mm).
FLAME_SMOOTH_MM = 0.75
FLAME_SIGMA = 4.0
FLAME_FRACTION = 0.10
FLAME_SLAB_MM = 1.0
FLAME_SEARCH_MM = 30.0
#: Flame sign present when a flame reaches beyond its pole at least this far (mm) and at least
#: FLAME_STEPS grid steps along the cord (one step beyond the pole is the slice profile's blur).
FLAME_THRESHOLD_MM = 3.0
FLAME_STEPS = 1.5
#: The flame cannot be judged on a lesion shorter along the cord than this (mm) or this many grid
#: steps: its poles are not resolved, and a flame from a lesion that small is thinner than a voxel.
FLAME_MIN_MM = 4.0
FLAME_MIN_STEPS = 2.0
#: Fewest normal voxels in a slab of the tube that give its own normal-cord level.
FLAME_MIN_SLAB_VOXELS = 5
#: Fewest voxels of the lesion's tube that give the normal-cord reference (else normal_cord_mean).
FLAME_MIN_REFERENCE = 50
#: Cord voxels nearer the cord's outline than this (mm) are left out (CSF partial volume).
CORD_INNER_MM = 1.0

_FEATURE = "Imaging feature (Rykken et al. AJNR 2013;34:908), not a diagnosis."


class EnhancementSigns(BaseModel):
    """The rim and flame signs of one lesion (see :mod:`lesionview.measure.signs`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rim_score: float | None = Field(
        None, description="T1+C signal of the lesion's outer shell (its brightest layer) over the mean of its "
                          f"core (about 1: uniform; rim sign from {RIM_THRESHOLD}); None when the lesion is too "
                          f"small to judge. {_FEATURE}")
    rim_shell_mm: float = Field(RIM_SHELL_MM, description="Shell depth: voxel centres at most this far (mm) "
                                                          "from the outside of the lesion mask.")
    rim_sign: bool | None = Field(
        None, description=f"Rim sign present: rim_score >= {RIM_THRESHOLD} (a thin rim of more intense "
                          f"enhancement at the periphery); None: cannot be judged. {_FEATURE}")
    flame_superior_mm: float | None = Field(
        None, description="Length (mm, along the cord) of enhancement above normal cord beyond the lesion's "
                          "superior half-maximum boundary; None: cannot be judged.")
    flame_inferior_mm: float | None = Field(None, description="As flame_superior_mm, beyond the inferior pole.")
    flame_taper_superior_mm: float | None = Field(
        None, description="Distance beyond the superior pole (mm) at which the flame's enhancing cross-section "
                          "has fallen to half (a tapering flame: well under flame_superior_mm; a blunt tongue: "
                          "about it); None without a flame.")
    flame_taper_inferior_mm: float | None = Field(None, description="As flame_taper_superior_mm, inferior pole.")
    flame_threshold_mm: float | None = Field(
        None, description=f"Flame length from which the flame sign is present here: {FLAME_THRESHOLD_MM} mm "
                          f"and at least {FLAME_STEPS} grid steps along the cord.")
    flame_sign: bool | None = Field(
        None, description="Flame sign present: a flame at least flame_threshold_mm long at the superior or "
                          f"inferior pole (ill-defined, tapering enhancement along the cord); None: cannot be "
                          f"judged. {_FEATURE}")
    judgeable_reason: str | None = Field(None, description="Why a sign cannot be judged, else None.")

    def findings(self) -> list[str]:
        """The signs in words, as imaging features: "rim sign present", "flame sign absent",
        "rim sign cannot be judged"."""
        def word(sign: bool | None) -> str:
            return "cannot be judged" if sign is None else "present" if sign else "absent"

        return [f"rim sign {word(self.rim_sign)}", f"flame sign {word(self.flame_sign)}"]


def enhancement_signs(labels: np.ndarray, geometry: Geometry, *, image: np.ndarray, cord: np.ndarray | None = None,
                      centerline=None, normal_cord_mean: float | None = None) -> dict[int, EnhancementSigns]:
    """The rim and flame signs of every lesion of a label image.

    Parameters
    ----------
    labels : ndarray of int
        0 background, each lesion its id, on ``geometry``.
    geometry : Geometry
    image : ndarray
        T1 post-contrast image on the same grid.
    cord : ndarray, optional
        Cord mask: normal cord (its inner part, not lesion) is the reference of the flames.
        Without it the flame reference is ``normal_cord_mean`` (no flame is judged without either).
    centerline : lesionview.cord.Centerline, optional
        The cord axis (else superior-inferior).
    normal_cord_mean : float, optional
        Normal-cord signal, used only without ``cord``.

    Returns
    -------
    dict
        Lesion id -> :class:`EnhancementSigns`.

    Examples
    --------
    >>> from lesionview.phantom.signs import SignCase, SignLesion, render_sign_case
    >>> im = render_sign_case(SignCase(SignLesion(12.0, rim=True, core=600.0), "iso1", "low"))
    >>> s = enhancement_signs(im.labels, im.geometry, image=im.image, cord=im.cord)[1]
    >>> s.rim_sign, s.flame_sign
    (True, False)
    """
    labels = np.asarray(labels)
    image = np.asarray(image, np.float32)
    if labels.shape != geometry.shape or image.shape != geometry.shape:
        raise ValueError(f"labels {labels.shape} and image {image.shape} must both have the geometry's "
                         f"shape {geometry.shape}")
    if cord is not None and np.shape(cord) != geometry.shape:
        raise ValueError(f"the cord mask has shape {np.shape(cord)}, the labels {geometry.shape}")
    cord = None if cord is None else np.asarray(cord) != 0
    bad = ~np.isfinite(image)
    if bad.any():  # a tool's NaN outside its mask: filled with the median, it neither enhances nor rims
        image = np.where(bad, np.median(image[~bad]) if (~bad).any() else 0.0, image).astype(np.float32)
    return {k: _signs(labels, k, box, geometry, image, cord, centerline, normal_cord_mean)
            for k, box in bounding_boxes(labels.astype(np.int64, copy=False), pad=1).items()}


def _signs(labels, k, box, geometry, image, cord, centerline, normal_mean) -> EnhancementSigns:
    mask = labels[box] == k
    rim_score, rim_reason = _rim(mask, image[box], geometry.spacing)
    flame, flame_reason = _flames(labels, k, box, geometry, image, cord, centerline, normal_mean)
    reasons = [r for r in (rim_reason, flame_reason) if r]
    threshold = flame.pop("threshold", None)
    lengths = [flame.get("flame_superior_mm"), flame.get("flame_inferior_mm")]
    return EnhancementSigns(
        rim_score=rim_score, rim_sign=None if rim_score is None else rim_score >= RIM_THRESHOLD,
        flame_sign=None if flame_reason else max(lengths) >= threshold, flame_threshold_mm=threshold,
        judgeable_reason="; ".join(reasons) or None, **flame)


# ---------------------------------------------------------------------------- rim
def _rim(mask: np.ndarray, values: np.ndarray, spacing) -> tuple[float | None, str | None]:
    """Shell/core signal ratio, or None and why."""
    # Depth of each voxel centre below the mask's outside, in mm (padding makes the box edge outside).
    depth = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    core = mask & (depth > RIM_SHELL_MM + RIM_GAP_MM)
    if core.sum() < RIM_MIN_CORE_VOXELS:
        return None, (f"rim: too small to judge at this resolution ({int(core.sum())} voxel(s) deeper than "
                      f"{RIM_SHELL_MM + RIM_GAP_MM:g} mm, {RIM_MIN_CORE_VOXELS} needed)")
    # The shell's signal is that of its brightest layer of equal depth: the outermost layer is dimmed
    # by partial volume with the cord around, so the whole shell's mean would hide a rim.
    shell = mask & (depth <= RIM_SHELL_MM)
    layer = np.ceil(depth[shell] / RIM_LAYER_MM).astype(int)
    counts = np.bincount(layer)
    means = np.bincount(layer, weights=values[shell]) / np.maximum(counts, 1)
    full = counts >= max(RIM_MIN_LAYER_VOXELS, RIM_MIN_LAYER_FRACTION * shell.sum())
    full = full if full.any() else counts == counts.max()
    core_mean = float(values[core].mean())
    if not core_mean > 0:
        return None, (f"rim: the lesion's core has no positive signal ({core_mean:g}): a blank image, or not a "
                      "magnitude image (the score is a ratio of signals)")
    return round(float(means[full].max()) / core_mean, 4), None


# ---------------------------------------------------------------------------- flames
def _flames(labels, k, box, geometry: Geometry, image, cord, centerline, normal_mean) -> tuple[dict, str | None]:
    """Flame lengths and tapers at both poles, the threshold, or why they cannot be judged."""
    centroid = geometry.index_to_world(np.argwhere(labels[box] == k) + [s.start for s in box]).mean(axis=0)
    up = (np.asarray(SUPERIOR, float) if centerline is None
          else -np.asarray(centerline.tangent_at(centroid[None])[0], float))  # tangents point inferior
    step = voxel_extent_along(geometry, up)
    window = _window(box, geometry, up)
    g = geometry.cropped(window)
    lab, img = labels[window], image[window]
    lesion = lab == k
    # Only the cord and the lesion are ever looked at: placing only them on the cord saves most of
    # the projections on a curved centerline (the window is mostly not cord).
    keep = np.ones(g.shape, bool) if cord is None else cord[window] | lesion
    t, r = np.full(g.shape, np.nan), np.full(g.shape, np.inf)
    t[keep], r[keep] = _cord_coordinates(g.index_to_world(np.argwhere(keep)), centroid, up, centerline)
    length = float(t[lesion].max() - t[lesion].min() + step)
    if length < max(FLAME_MIN_MM, FLAME_MIN_STEPS * step):
        return {}, (f"flame: too small to judge at this resolution (the lesion spans {length:.1f} mm along the "
                    f"cord; {max(FLAME_MIN_MM, FLAME_MIN_STEPS * step):g} mm needed, {FLAME_MIN_MM:g} mm and "
                    f"{FLAME_MIN_STEPS:g} grid steps of {step:.1f} mm)")
    smooth = ndimage.gaussian_filter(img, [FLAME_SMOOTH_MM / s for s in g.spacing], truncate=3.0)
    tube = (r <= r[lesion].max()) & (lab == 0)
    if cord is not None:
        tube &= _deeper_than(cord[window], CORD_INNER_MM, g.spacing)
    normal = tube & (np.abs(t) < length / 2 + FLAME_SEARCH_MM)
    if np.count_nonzero(normal) >= FLAME_MIN_REFERENCE:
        base = float(np.median(smooth[normal]))
    elif normal_mean is not None:
        base = float(normal_mean)
    else:
        return {}, "flame: no normal-cord reference (too little cord around the lesion, no normal_cord_mean)"
    if not base > 0:
        return {}, (f"flame: normal cord has no signal ({base:g}): a blank image, or not a magnitude image "
                    "(no enhancement above it can be told)")
    # Normal voxels next to the lesion are brightened by its partial volume and the smoothing.
    far = normal & _farther_than(lesion, max(g.spacing) + 2 * FLAME_SMOOTH_MM, g.spacing)
    out = {"threshold": round(max(FLAME_THRESHOLD_MM, FLAME_STEPS * step), 4)}
    profile = normal | lesion
    cut = []
    for pole, x in (("superior", t - t[lesion].max()), ("inferior", t[lesion].min() - t)):
        reach, taper, ended = _flame(x[profile] - step / 2, smooth[profile], far[profile], base,
                                     max(step, FLAME_SLAB_MM), step, g.voxel_volume)
        out[f"flame_{pole}_mm"] = reach
        out[f"flame_taper_{pole}_mm"] = taper if reach >= out["threshold"] else None
        if ended and reach < out["threshold"]:
            cut.append(f"the cord mask or the field of view ends {reach:.1f} mm beyond the {pole} pole")
    if cut and max(out["flame_superior_mm"], out["flame_inferior_mm"]) < out["threshold"]:
        # A flame may go on where nothing is seen: absent cannot be said, present was not seen.
        return out, "flame: " + " and ".join(cut) + ", before a flame could be told"
    return out, None


def _farther_than(mask: np.ndarray, mm: float, spacing) -> np.ndarray:
    """Voxels whose centre lies more than ``mm`` from every voxel centre of ``mask`` (all voxels
    when it is empty). The distance transform runs on the mask's box grown by ``mm`` only: beyond
    it every voxel is farther (most of a flame window is; this was most of the signs' time)."""
    out = np.ones(mask.shape, bool)
    boxes = bounding_boxes(mask.astype(np.uint8), pad=0)
    if not boxes:
        return out
    grow = [int(np.ceil(mm / sp)) + 1 for sp in spacing]
    box = tuple(slice(max(b.start - m, 0), min(b.stop + m, n)) for b, m, n in zip(boxes[1], grow, mask.shape))
    out[box] = ndimage.distance_transform_edt(~mask[box], sampling=spacing) > mm
    return out


def _deeper_than(mask: np.ndarray, mm: float, spacing) -> np.ndarray:
    """Voxels of ``mask`` whose centre lies more than ``mm`` from every voxel centre outside it (the
    array's edge is not outside: the cord goes on beyond a window). Computed on the mask's box."""
    out = np.zeros(mask.shape, bool)
    boxes = bounding_boxes(mask.astype(np.uint8), pad=1)
    if boxes:
        out[boxes[1]] = ndimage.distance_transform_edt(mask[boxes[1]], sampling=spacing) > mm
    return out


def _window(box, geometry: Geometry, up: np.ndarray) -> tuple[slice, ...]:
    """The lesion's box grown by FLAME_SEARCH_MM along the cord and 10 mm across it, per array axis."""
    cos = np.abs(geometry.direction_matrix.T @ up)
    grow = (FLAME_SEARCH_MM * cos + 10.0 * np.sqrt(np.clip(1 - cos**2, 0, 1))) / np.array(geometry.spacing)
    return tuple(slice(max(s.start - int(np.ceil(m)), 0), min(s.stop + int(np.ceil(m)), n))
                 for s, m, n in zip(box, grow, geometry.shape))


def _cord_coordinates(points, centroid, up, centerline) -> tuple[np.ndarray, np.ndarray]:
    """Position along the cord (mm, superior positive, 0 at the lesion's centroid) and distance from
    the lesion's axis (the cord axis shifted to pass through the centroid)."""
    if centerline is None:
        rel = points - centroid
        t = rel @ up
        return t, np.linalg.norm(rel - np.outer(t, up), axis=1)
    s = np.asarray(centerline.arclength_of(points), float)
    s0 = float(centerline.arclength_of(centroid[None])[0])
    offset = centroid - centerline.point_at([s0])[0]
    return s0 - s, np.linalg.norm(points - centerline.point_at(s) - offset, axis=1)


def _flame(x, value, normal, base, slab, step, voxel_volume) -> tuple[float, float | None, bool]:
    """Flame length beyond one pole, its taper, and whether the tube (the cord mask or the field of
    view) ended before the enhancement did (the length is then only a lower bound), from the voxels
    of the lesion's tube ``x`` mm
    beyond the lesion mask's pole (negative inside), their (smoothed) ``value``, and which are
    normal cord (``normal``: not lesion, nor next to it).

    The tube is cut in slabs ``slab`` mm thick across the cord. Each slab's normal-cord level is
    the median of its voxels that are not lesion (a flame fills a minority of the tube; coil
    shading and texture along the cord cancel), interpolated over slabs with too few; the peak
    enhancement above it, slab by slab, makes a profile along the cord. The lesion's half-maximum
    boundary is where the profile falls below half its maximum inside the lesion going out (at most
    half a slab beyond the mask's pole), the
    flame's end where it then falls below the detection limit (FLAME_SIGMA robust SDs of the
    voxels about their slab's level, and FLAME_FRACTION of normal cord), both interpolated between
    slab centres. The taper is where the enhancing cross-section (voxels above the limit) falls to
    half that of the first slab more than a grid ``step`` beyond the boundary, counted from the
    boundary; the flame's length when it does not fall that far.
    """
    first = np.floor(x.min() / slab)
    k = (x / slab - first).astype(int)
    n = int(k.max()) + 1
    centres = (np.arange(n) + first + 0.5) * slab
    count = np.bincount(k, minlength=n)
    level = _slab_medians(k[normal], value[normal], n)
    ok = np.isfinite(level)
    level = np.interp(centres, centres[ok], level[ok]) if ok.any() else np.full(n, base)
    enhancement = value - level[k]
    resid = enhancement[normal]
    sd = 1.4826 * float(np.median(np.abs(resid - np.median(resid)))) if resid.size else 0.0
    limit = max(FLAME_SIGMA * sd, FLAME_FRACTION * base)
    peaks = np.full(n, -np.inf)
    np.maximum.at(peaks, k, enhancement)
    area = np.bincount(k, weights=enhancement > limit, minlength=n) * voxel_volume / slab
    half_max = float(np.max(peaks[centres < 0], initial=0.0)) / 2
    # The mask places the lesion's surface to within half a slab of its pole: a half-maximum boundary
    # further out would take the base of a flame brighter than half a faint lesion's enhancement
    # (a rim blurred by thick slices) for lesion, and shorten the flame by as much.
    boundary = min(_boundary(centres, peaks, half_max), slab / 2)
    j = int(np.searchsorted(centres, boundary))  # the first slab beyond the boundary
    end, j_end = _crossing(centres, peaks, count, max(j - 1, 0), limit)
    cut = end is None
    if cut:  # the cord or the window ends first: the flame reaches at least there
        end = centres[j_end] + slab / 2
    # From one grid step beyond the boundary: the first slab holds the lesion's own blurred edge.
    beyond = np.flatnonzero((centres > boundary + step) & (centres < end))
    taper = None
    if beyond.size and area[beyond[0]] > 0:
        a = area[beyond]
        below = np.flatnonzero(a < a[0] / 2)
        if below.size:
            i = int(below[0])
            taper = centres[beyond[i - 1]] + (a[i - 1] - a[0] / 2) / (a[i - 1] - a[i]) * slab - boundary
        else:  # it keeps its cross-section to its end
            taper = end - boundary
    return round(max(float(end - boundary), 0.0), 4), None if taper is None else round(float(taper), 4), cut


def _slab_medians(slab: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    """The median of ``value`` in each of ``n`` slabs (NaN where fewer than FLAME_MIN_SLAB_VOXELS):
    one sort for all slabs rather than a median per slab (the slab loop was most of the signs' time)."""
    count = np.bincount(slab, minlength=n)
    ordered = value[np.lexsort((value, slab))]
    start = np.cumsum(count) - count
    lo, hi = start + (count - 1) // 2, start + count // 2  # the middle one or two of each slab
    ok = count >= FLAME_MIN_SLAB_VOXELS
    top = max(len(ordered) - 1, 0)
    middle = (ordered[np.minimum(lo, top)] + ordered[np.minimum(hi, top)]) / 2 if len(ordered) else np.zeros(n)
    return np.where(ok, middle, np.nan)


def _boundary(centres, peaks, half_max) -> float:
    """The lesion's half-maximum boundary (mm beyond the mask's pole): where the profile falls below
    ``half_max`` going out from the mask's outermost slab, or, when that slab is already below it
    (partial volume), coming out from the last slab inside that is not. A dimmer core deeper in
    (a rim-enhancing lesion) is not looked at. The mask's pole when the whole lesion is fainter."""
    j = int(np.searchsorted(centres, 0.0)) - 1  # the mask's outermost slab
    if j < 0:
        return 0.0
    if peaks[j] >= half_max:
        for i in range(j + 1, len(peaks)):
            if peaks[i] < half_max:
                return float(centres[i - 1] + (peaks[i - 1] - half_max) / (peaks[i - 1] - peaks[i])
                             * (centres[i] - centres[i - 1]))
        return float(centres[-1])
    inside = np.flatnonzero(peaks[:j] >= half_max)
    if inside.size == 0:
        return 0.0
    i = int(inside[-1])
    return float(centres[i] + (peaks[i] - half_max) / (peaks[i] - peaks[i + 1]) * (centres[i + 1] - centres[i]))


def _crossing(centres, peaks, count, j, level) -> tuple[float | None, int]:
    """Where the profile first falls below ``level`` going outward from slab ``j`` (interpolated
    between slab centres), and the first slab below it; None (and the last slab) when the profile
    ends (an empty slab: no cord) before."""
    for i in range(j, len(peaks)):
        if count[i] == 0:
            return None, max(i - 1, j)
        if peaks[i] <= level:  # a blank image (level 0) must not enhance forever
            if i == 0 or peaks[i - 1] <= level:
                return float(centres[i] - (centres[1] - centres[0]) / 2), i
            return float(centres[i - 1] + (peaks[i - 1] - level) / (peaks[i - 1] - peaks[i])
                         * (centres[i] - centres[i - 1])), i
    return None, len(peaks) - 1
