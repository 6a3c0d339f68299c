"""``measure()``: every number of a study from its masks, in one call.

Each lesion is measured on its own bounding box (the volume is never copied whole), in world
millimetres, so the numbers do not depend on how the study was stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from ..errors import GeometryMismatchError, InputError
from ..geometry import SUPERIOR, Geometry
from ..series import Role
from ..volume import Volume
from . import diameters
from .components import (
    array_on_grid,
    bounding_boxes,
    check_mask,
    compact_labels,
    label_regions,
    nonzero_box,
    structure,
)
from .literature import edema_context
from .models import Edema, InputRecord, Lesion, LevelSpan, Parameters, StudyMeasurements
from .multiplicity import TWIN_GAP_MM, classify
from .sct import axial_axis, sagittal_axis, sct_metrics
from .sections import (
    boundary_points,
    closest_gap,
    cord_occupancy,
    extent_along,
    voxel_extent_along,
    world_points,
)
from .signs import FLAME_SEARCH_MM, FLAME_SMOOTH_MM, enhancement_signs
from .summary import EXTENSIVE_LEVELS, possibly_extensive, summarise
from .thick import slice_thickness_across

#: RECIST 1.1 / RANO-BM: a lesion is measurable from 10 mm longest diameter.
MEASURABLE_MM = 10.0
#: A lesion with less of its volume inside the cord mask is not measured as intramedullary.
MIN_IN_CORD = 0.5


@dataclass(frozen=True)
class _Region:
    """One labelled region cropped to its box: the mask and where it is."""

    id: int
    box: tuple[slice, slice, slice]  # where ``mask`` sits in the study grid
    mask: np.ndarray
    geometry: Geometry
    points: np.ndarray  # world centres of its voxels

    @property
    def centroid(self) -> np.ndarray:
        return self.points.mean(axis=0)


def measure(lesions: Volume | np.ndarray, *, geometry: Geometry | None = None,
            edema: Volume | np.ndarray | None = None, cord: Volume | np.ndarray | None = None,
            image: Volume | np.ndarray | None = None, levels=None, centerline=None,
            connectivity: int = 26, mask_kind: str = "auto", twin_gap_mm: float = TWIN_GAP_MM,
            resample: bool = False, inputs: list[InputRecord] | None = None, segments=None) -> StudyMeasurements:
    """Measure every enhancing lesion and edema region of a study.

    Parameters
    ----------
    lesions : Volume or ndarray
        Binary mask (each connected component is a lesion) or label image (each value a lesion).
    geometry : Geometry, optional
        Required when ``lesions`` is a bare array; the grid every other input must share.
    edema, cord : Volume or ndarray, optional
        T2 edema mask (components are edema regions) and spinal cord mask.
    image : Volume or ndarray, optional
        T1 post-contrast image, for the enhancement ratio (needs ``cord``). Real numbers: a
        complex image is refused (pass its magnitude).
    levels : lesionview.levels.LevelModel, optional
        Vertebral levels; without them no level is reported.
    segments : Volume or lesionview.levels.segments.CordSegments, optional
        Spinal cord segments: a segment label image (value n = segment n, e.g. SCT rootlets or
        PAM50_spinal_levels; any grid) or a prebuilt model. Without it, segments are estimated from
        ``levels`` (:func:`lesionview.levels.segments.estimate_segments`); without both, none.
    centerline : lesionview.cord.Centerline, optional
        Cord centerline; derived from ``cord`` when not given. Sets the local cord axis
        ("axial" = perpendicular to it) and lengths along the cord.
    connectivity : {6, 18, 26}
        Neighbourhood for lesion and edema components of binary masks.
    mask_kind : {"auto", "binary", "labels"}
        How to read ``lesions`` (see :func:`~lesionview.measure.components.label_regions`).
    twin_gap_mm : float
        Largest edge-to-edge gap of an adjacent ("twin") pair.
    resample : bool
        Resample inputs on another grid onto the lesion grid (nearest neighbour for masks, linear
        for the image) instead of refusing them. Inputs on the same voxel grid stored in another
        axis order (e.g. a PIR mask of a RIP series) need no resampling: their axes are permuted
        and flipped, which moves no voxel in space. Either is recorded in ``inputs``
        (:class:`InputRecord` ``reoriented`` / ``resampled``); a lesion mask so stored is brought
        onto the image's grid, which is then the grid measured on.
    inputs : list of InputRecord, optional
        Provenance of the inputs (roles "lesions", "image", "edema", "cord"), completed here with
        what was done to bring each onto the grid measured on.

    Examples
    --------
    >>> import numpy as np
    >>> from lesionview.geometry import Geometry
    >>> m = np.zeros((20, 20, 20), np.uint8); m[5:9, 5:9, 5:9] = 1
    >>> r = measure(m, geometry=Geometry(m.shape, spacing=(1, 1, 1)))
    >>> r.lesions[0].volume_mm3, r.multiplicity.kind.value
    (64.0, 'solitary')
    """
    notes: dict[str, dict[str, str]] = {}  # role -> what was done to bring it onto the grid measured on
    ref_array, ref = _reference(lesions, geometry, image, notes)
    edema_arr = _on_grid(edema, ref, "edema mask", resample, label=True, notes=notes, role="edema")
    cord_arr = _on_grid(cord, ref, "cord mask", resample, label=True, notes=notes, role="cord")
    image_arr = _on_grid(image, ref, "image", resample, label=False, notes=notes, role="image")
    if image_arr is not None and image_arr.dtype.kind not in "biuf":
        raise InputError(f"the image has data type {image_arr.dtype}, not real numbers: an enhancement ratio "
                         "needs intensities.", path=_source(image),
                         hint="Pass the magnitude image (e.g. numpy.abs of complex data).")
    for name, item in (("edema mask", edema), ("cord mask", cord)):
        if item is not None:
            check_mask(item.array if isinstance(item, Volume) else item, name=name, source=_source(item))
    if levels is not None:
        levels.check_inside(ref)
    warnings = _load_problems(lesions=lesions, image=image, edema=edema, cord=cord)
    # What the level reader could not place (a disc beside a vertebra cut by the field of view...).
    warnings.extend(f"levels: {w}" for w in getattr(levels, "warnings", ()))
    if cord_arr is not None and not np.any(cord_arr):
        warnings.append("the cord mask is empty: cord occupancy and the cord axis are not computed")
        cord_arr = None
    if image_arr is not None and cord_arr is None:
        warnings.append("no cord mask: the enhancement ratio needs normal cord as its reference "
                        "and is not computed")
    # Everything measured lies in the masks; working on their joint box (world positions kept)
    # makes a 512 x 512 x 64 study cost what its lesions and cord cost, in time and memory.
    box = nonzero_box([ref_array, edema_arr, cord_arr], pad=2)
    # Non-finite image voxels "near the lesions": within this box, whatever the flame's crop below.
    bad = 0
    if image_arr is not None and image_arr.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(image_arr if box is None else image_arr[box])))
    if box is not None and image_arr is not None and cord_arr is None:
        # With no cord mask to hold it, the flame sign's window (up to FLAME_SEARCH_MM beyond a
        # lesion, smoothed) would be cut by the crop 2 voxels past the lesion: keep that much image.
        grow = [int(np.ceil((FLAME_SEARCH_MM + 3 * FLAME_SMOOTH_MM) / s)) for s in ref.spacing]
        box = tuple(slice(max(b.start - m, 0), min(b.stop + m, n)) for b, m, n in zip(box, grow, ref.shape))
    full_grid = ref
    if box is not None:
        ref = ref.cropped(box)
        ref_array, edema_arr, cord_arr, image_arr = (
            None if a is None else a[box] for a in (ref_array, edema_arr, cord_arr, image_arr))
    labels, kind = label_regions(ref_array, connectivity=connectivity, kind=mask_kind,
                                 name="lesion mask", source=_source(lesions))
    if bad:
        warnings.append(f"image: {bad} voxel(s) near the lesions hold no number (NaN or infinite); "
                        "the enhancement ratio uses the other voxels")
    labels, ids = compact_labels(labels)

    if centerline is None and cord_arr is not None:
        from ..cord import centerline_from_mask

        centerline = centerline_from_mask(cord_arr != 0, ref)
    centerline = _plausible(centerline, warnings)
    if levels is not None and centerline is not None and getattr(levels, "centerline", None) is None:
        # Disc planes perpendicular to this study's cord, not to the line between landmarks.
        levels = levels.with_centerline(centerline)
    segment_model = _segment_model(segments, levels, centerline)
    regions = sorted(_regions(labels, ref, ids), key=_reading_order)
    if kind == "binary":  # number components superior to inferior, as a radiologist reads them
        regions = [replace(r, id=k) for k, r in enumerate(regions, start=1)]
    else:
        warnings.extend(_pieces(regions, connectivity))

    cord_points = None
    if cord_arr is not None:
        union = (cord_arr != 0) | (labels != 0)
        if edema_arr is not None:
            union |= edema_arr != 0
        cord_points = world_points(union, ref)
    normal_cord_mean = _normal_cord_mean(image_arr, cord_arr, labels, edema_arr)

    edema_regions = []
    edema_labels = None
    if edema_arr is not None:
        edema_labels, _ = label_regions(edema_arr != 0, connectivity=connectivity, kind="binary")
        edema_regions = [replace(r, id=k) for k, r in
                         enumerate(sorted(_regions(edema_labels, ref), key=_reading_order), start=1)]
    edema_of = _edema_of_lesions(regions, edema_regions, edema_labels)

    lesion_rows = [
        _measure_lesion(r, ref, levels=levels, centerline=centerline, cord_points=cord_points,
                        image=image_arr, normal_cord_mean=normal_cord_mean, edema_id=edema_of.get(r.id),
                        in_cord=_fraction_in(r, cord_arr), warnings=warnings, segments=segment_model)
        for r in regions
    ]
    lesion_rows = _with_sct_and_signs(lesion_rows, regions, labels.shape, ref, cord=cord_arr, image=image_arr,
                                      levels=levels, centerline=centerline, normal_cord_mean=normal_cord_mean,
                                      role=_image_role(image), warnings=warnings,
                                      slice_offset=_slice_offset(full_grid, box),
                                      whole_slices=full_grid.shape[axial_axis(full_grid)])
    edema_rows = [_measure_edema(e, ref, regions, edema_of, levels, centerline, segments=segment_model)
                  for e in edema_regions]

    boundaries = {r.id: boundary_points(r.mask, r.geometry) for r in regions}
    closest = {(a.id, b.id): closest_gap(boundaries[a.id], boundaries[b.id], ref)
               for i, a in enumerate(regions) for b in regions[i + 1:]}
    gaps = {pair: (g.gap_mm, g.uncertainty_mm) for pair, g in closest.items()}
    # The gap is known to one voxel box along the line it is measured on, whatever the cord does.
    gap_lines = {pair: (g.extent_mm, slice_thickness_across(ref, g.direction)) for pair, g in closest.items()}
    level_sets = {row.id: _level_indices(levels, row.levels) for row in lesion_rows}
    multiplicity = classify([r.id for r in regions], gaps, level_sets, edema_of, twin_gap_mm=twin_gap_mm,
                            gap_lines=gap_lines)

    uncertain = [row.axial_uncertainty_mm for row in lesion_rows if row.axial_uncertainty_mm]
    if uncertain:
        warnings.append(f"slices {max(uncertain):.1f} mm thick lie in the axial plane: axial diameters "
                        f"are uncertain by up to ±{max(uncertain):.1f} mm")
    warnings.extend(_thick_slice_warnings(lesion_rows, edema_rows, multiplicity.pairs))
    if levels is None and regions:
        warnings.append("no vertebral levels given: levels and adjacency by level are not reported")
    for row in lesion_rows + edema_rows:
        if row.levels is not None and row.levels.outside_fraction > 0:
            what = "lesion" if isinstance(row, Lesion) else "edema"
            warnings.append(f"{what} {row.id}: {row.levels.outside_fraction:.0%} of its volume lies "
                            "outside the vertebral levels given")
        span = row.cord_segments
        if span is not None and span.estimated is False and span.outside_fraction > 0:
            what = "lesion" if isinstance(row, Lesion) else "edema"
            warnings.append(f"{what} {row.id}: {span.outside_fraction:.0%} of its volume lies outside the cord "
                            "segments labelled in the segment image")

    role = _image_role(image)
    return StudyMeasurements(
        parameters=Parameters(connectivity=connectivity, mask_kind=kind, twin_gap_mm=twin_gap_mm, resample=resample,
                              axis="cord centerline" if centerline is not None else "superior-inferior",
                              level_source=getattr(levels, "source", None) if levels is not None else None,
                              image_role=None if role is None else role.value,
                              segment_source=None if segment_model is None else segment_model.source),
        inputs=_recorded(inputs, notes, {"lesions": lesions, "image": image, "edema": edema, "cord": cord}),
        voxel_spacing_mm=tuple(round(s, 6) for s in ref.spacing),
        lesions=lesion_rows, edema=edema_rows, multiplicity=multiplicity,
        summary=summarise(lesion_rows, edema_rows, multiplicity, enhancing=role is Role.T1_POST),
        warnings=warnings,
    )


# ---------------------------------------------------------------------------- inputs
def _reference(lesions, geometry: Geometry | None, image, notes: dict) -> tuple[np.ndarray, Geometry]:
    """The lesion array and the grid measured on: the lesion mask's, or the image's when the mask
    lies on the image's voxels stored in another axis order (it is then permuted onto it)."""
    array, grid = array_on_grid(lesions, geometry, what="lesion mask", caller="measure()")
    if isinstance(image, Volume) and not grid.same_space(image.geometry):
        placed = grid.grid_map(image.geometry)
        if placed is not None and placed.same_grid:
            notes["lesions"] = _reoriented(placed)
            return placed.apply(array), image.geometry
    return array, grid


def _on_grid(item, ref: Geometry, name: str, resample: bool, *, label: bool, notes: dict | None = None,
             role: str = "") -> np.ndarray | None:
    """``item`` as an array on ``ref``: as stored, reoriented (the same voxels in another axis
    order), or resampled when allowed; what was done goes into ``notes[role]``."""
    if item is None:
        return None
    notes = {} if notes is None else notes
    if not isinstance(item, Volume):
        arr = np.asarray(item)
        if arr.shape != ref.shape:
            raise GeometryMismatchError(f"the {name} has shape {arr.shape}, the lesion mask {ref.shape}.",
                                        hint="Pass volumes with their geometry, on the same grid.")
        return arr
    if item.geometry.same_space(ref):
        return item.array
    placed = item.geometry.grid_map(ref)
    if placed is not None and placed.same_grid:
        notes[role] = _reoriented(placed)
        return placed.apply(item.array)
    if not resample:
        raise GeometryMismatchError(
            f"the {name} is not in the lesion mask's space (nor on its voxels in another axis order): "
            f"{name} {item.geometry.describe()}; lesion mask {ref.describe()}.", path=item.info.source or None,
            hint="Save both on the image's grid, or ask to resample (resample=True, CLI --resample).")
    from ..resample import resample as _resample

    notes[role] = {"resampled": "nearest neighbour" if label else "linear",
                   "original_grid": item.geometry.describe()}
    return _resample(item.array, item.geometry, ref, label=label)


def _reoriented(placed) -> dict[str, str]:
    return {"reoriented": f"{placed.describe()} (axes permuted/flipped, no interpolation)",
            "original_grid": placed.source.describe()}


def _recorded(inputs: list[InputRecord] | None, notes: dict, items: dict) -> list[InputRecord]:
    """The caller's input records, completed with ``notes``; an input that was reoriented or
    resampled and has no record gets one (the API's callers often pass none)."""
    records = list(inputs or [])
    for role, note in notes.items():
        k = next((i for i, r in enumerate(records) if r.role == role), None)
        if k is None:
            records.append(InputRecord(role=role, path=_source(items.get(role)), **note))
        else:
            records[k] = records[k].model_copy(update=note)
    return records


def _fraction_in(r: _Region, cord: np.ndarray | None) -> float | None:
    """Fraction of the lesion's voxels inside the cord mask (None without one)."""
    if cord is None:
        return None
    return float(np.count_nonzero(cord[r.box][r.mask])) / max(int(r.mask.sum()), 1)


def _regions(labels: np.ndarray, ref: Geometry, ids: np.ndarray | None = None) -> list[_Region]:
    """Each label cropped to its box; ``ids[k - 1]`` names compact label ``k`` (default: k)."""
    out = []
    for k, box in bounding_boxes(labels).items():
        mask = labels[box] == k
        geom = ref.cropped(box)
        out.append(_Region(k if ids is None else int(ids[k - 1]), box, mask, geom, world_points(mask, geom)))
    return out


def _reading_order(r: _Region) -> tuple[float, float, float]:
    """Superior to inferior, then left to right, then anterior to posterior; rounded so that the
    order does not depend on storage order through float round-off."""
    x, y, z = np.round(r.centroid, 2)
    return (-z, -x, y)


def _pieces(regions: list[_Region], connectivity: int) -> list[str]:
    """Warnings for painted labels made of separate pieces (measured as one lesion)."""
    out = []
    for r in regions:
        _, n = ndimage.label(r.mask, structure=structure(connectivity))
        if n > 1:
            out.append(f"lesion {r.id} is painted in {n} separate pieces and measured as one lesion; "
                       "split it to measure the pieces apart")
    return out


def _image_role(image) -> Role | None:
    """The image's role (its series' guess, or what the user set); OTHER for a bare array."""
    if image is None:
        return None
    return image.info.role if isinstance(image, Volume) else Role.OTHER


def _source(item) -> str | None:
    return (item.info.source or None) if isinstance(item, Volume) else None


def _load_problems(**inputs) -> list[str]:
    """What the loaders found wrong with the inputs (gaps, tilt...), carried into the result."""
    return [f"{name}: {problem}" for name, item in inputs.items() if isinstance(item, Volume)
            for problem in item.problems]


#: A cord axis further than this from superior-inferior is not believed (degrees).
MAX_CORD_TILT_DEGREES = 45.0
#: A centerline shorter than this (mm) cannot give a direction worth trusting.
MIN_CENTERLINE_MM = 10.0


def _plausible(centerline, warnings: list[str]):
    """The centerline, or None (with a warning) when it cannot be a cervical cord's: too short, or
    running more than 45 degrees away from superior-inferior (e.g. a cord mask on 3 axial slices)."""
    if centerline is None:
        return None
    pts = np.asarray(centerline.points, float)
    chord = pts[-1] - pts[0]
    length = float(np.linalg.norm(chord))
    tilt = float(np.degrees(np.arccos(min(1.0, abs(chord[2]) / length)))) if length > 0 else 90.0
    if length < MIN_CENTERLINE_MM or tilt > MAX_CORD_TILT_DEGREES:
        warnings.append(f"the cord centerline ({length:.0f} mm long, {tilt:.0f} degrees from "
                        "superior-inferior) is too short or tilted to trust: the superior-inferior axis "
                        "is used instead, and no length along the cord is given")
        return None
    return centerline


# ---------------------------------------------------------------------------- per lesion
def _cord_axis(centerline, point) -> np.ndarray:
    """The cord's direction at ``point``: the centerline tangent, else superior-inferior."""
    if centerline is None:
        return np.asarray(SUPERIOR, float)
    return np.asarray(centerline.tangent_at(np.asarray(point, float)[None])[0], float)


def _step_along_cord(geometry: Geometry, centerline, point) -> float:
    """The grid step along the cord at ``point`` (mm): one voxel box projected on the cord axis.

    A mask knows an edge across the cord only to within this step (the edge can be anywhere in
    the outermost slice), so it is the uncertainty of lengths and gaps along the cord: the slice
    thickness for axial slices, about the pixel size for sagittal ones, in between for oblique.
    """
    return round(voxel_extent_along(geometry, _cord_axis(centerline, point)), 4)


def _measure_lesion(r: _Region, ref: Geometry, *, levels, centerline, cord_points, image,
                    normal_cord_mean, edema_id, in_cord: float | None, warnings: list[str],
                    segments=None) -> Lesion:
    centroid = r.centroid
    axis = _cord_axis(centerline, centroid)
    step = _step_along_cord(ref, centerline, centroid)
    thick = slice_thickness_across(ref, axis)
    axial = diameters.axial_diameters(r.mask, r.geometry, axis=axis)
    max_d = diameters.max_diameter(r.mask, r.geometry)
    along_cord = None if centerline is None else _along_centerline(r.points, centerline, r.geometry)
    occupancy = None
    if in_cord is not None and in_cord < MIN_IN_CORD:
        warnings.append(f"lesion {r.id}: only {in_cord:.0%} of it lies in the cord mask, so it is not "
                        "measured as intramedullary (no cord occupancy); check the cord mask")
    elif cord_points is not None:
        occupancy = round(cord_occupancy(r.points, cord_points, ref, axis), 4)
    ratio = None
    if image is not None and normal_cord_mean:
        mean = _finite_mean(image[r.box][r.mask])
        ratio = None if mean is None else round(mean / normal_cord_mean, 4)
    return Lesion(
        id=r.id, voxel_count=int(r.mask.sum()),
        volume_mm3=round(float(r.mask.sum()) * ref.voxel_volume, 4),
        centroid_lps_mm=tuple(round(float(c), 4) for c in centroid),
        max_diameter_ibsi_mm=diameters.max_diameter_ibsi(r.mask, r.geometry),
        max_diameter_mm=round(max_d, 4),
        axial_long_mm=round(axial.long_mm, 4), axial_short_mm=round(axial.short_mm, 4),
        axial_uncertainty_mm=axial.uncertainty_mm,
        craniocaudal_mm=round(diameters.craniocaudal_length(r.mask, r.geometry), 4),
        craniocaudal_along_cord_mm=along_cord, craniocaudal_uncertainty_mm=step, thick_slices_mm=thick,
        cord_occupancy=occupancy, enhancement_ratio=ratio,
        measurable=max_d >= MEASURABLE_MM,
        levels=_span(levels, r.points, reach=(ref, centerline) if thick else None), edema_id=edema_id,
        cord_segments=_segment_span(segments, r.points, reach=(ref, centerline) if thick else None),
    )


def _along_centerline(points: np.ndarray, centerline, geometry: Geometry) -> float:
    """Extent along the curved cord: arc-length range plus one voxel along the local tangent."""
    s = np.asarray(centerline.arclength_of(points), float)
    tangent = np.asarray(centerline.tangent_at(points.mean(axis=0)[None])[0], float)
    return round(float(s.max() - s.min()) + extent_along(points[:1], tangent, geometry), 4)


def _normal_cord_mean(image, cord, labels, edema) -> float | None:
    """Mean intensity of cord that is neither lesion nor edema (the enhancement reference)."""
    if image is None or cord is None:
        return None
    normal = (cord != 0) & (labels == 0)
    if edema is not None:
        normal &= edema == 0
    if not np.any(normal):
        return None
    value = _finite_mean(image[normal])
    return value if value is not None and value > 0 else None


def _finite_mean(values: np.ndarray) -> float | None:
    """Mean of the finite values (a float image may hold NaN where a tool masked it), or None."""
    values = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    return float(values.mean()) if values.size else None


# ---------------------------------------------------------------------------- beside lesionview's own
#: Roles of the image on which the rim and flame signs are read: T1 post-contrast, or an image
#: whose role nobody gave (a bare array, a file named neither way).
SIGN_ROLES = (Role.T1_POST, Role.OTHER)


def _with_sct_and_signs(rows: list[Lesion], regions: list[_Region], shape, ref: Geometry, *, cord, image, levels,
                        centerline, normal_cord_mean, role, warnings: list[str], slice_offset: int = 0,
                        whole_slices: int | None = None) -> list[Lesion]:
    """Each lesion with the Spinal Cord Toolbox's metrics (:mod:`.sct`) and, on a T1 post-contrast
    image, the rim and flame signs (:mod:`.signs`), both computed on the lesions as numbered here.
    ``slice_offset`` turns SCT's sagittal slice numbers on the cropped grid into numbers on the whole
    grid measured on (:func:`_slice_offset`), as SCT numbers them on the whole image, and
    ``whole_slices`` gives SCT's centerline fit the whole image's number of axial slices."""
    if not rows:
        return rows
    # Numbered 1..n in reading order (a painted label may be any number: tables per label stay short).
    labels = np.zeros(shape, np.int32)
    for k, r in enumerate(regions, start=1):
        labels[r.box][r.mask] = k
    sct = sct_metrics(labels, ref, cord=cord, image=image, levels=levels, whole_slices=whole_slices)
    signs = {}
    if image is not None and role in SIGN_ROLES:
        signs = enhancement_signs(labels, ref, image=image, cord=cord, centerline=centerline,
                                  normal_cord_mean=normal_cord_mean)
        if role is Role.OTHER:
            warnings.append("the image's contrast is not known: the rim and flame signs were read as on a T1 "
                            "post-contrast image (name the series, or set its role, to be sure)")
    elif image is not None:
        warnings.append(f"the image is {role.value}, not T1 post-contrast: the rim and flame signs are not read")
    return [row.model_copy(update={"sct": _shifted(sct.get(k), slice_offset), "signs": signs.get(k)})
            for k, row in enumerate(rows, start=1)]


def _slice_offset(grid: Geometry, box) -> int:
    """How many sagittal slices of ``grid`` (along its own right-left axis, as SCT numbers them) lie
    before ``box``, the part of it measured on."""
    return 0 if box is None else box[sagittal_axis(grid)].start


def _shifted(metrics, offset: int):
    """SCT's metrics with their sagittal slice numbers moved by ``offset`` slices."""
    if metrics is None or not offset or metrics.sct_midsagittal_slice is None:
        return metrics
    bridges = metrics.sct_bridges_per_slice and [
        b.model_copy(update={"sagittal_slice": b.sagittal_slice + offset}) for b in metrics.sct_bridges_per_slice]
    return metrics.model_copy(update={"sct_midsagittal_slice": metrics.sct_midsagittal_slice + offset,
                                      "sct_bridges_per_slice": bridges})


# ---------------------------------------------------------------------------- levels
def _span(levels, points: np.ndarray, reach=None) -> LevelSpan | None:
    """Levels of a region's voxel centres; with ``reach`` = (grid, centerline or None), given only
    across thick slices, also the levels it may reach within its craniocaudal uncertainty."""
    if levels is None or len(points) == 0:
        return None
    idx = np.asarray(levels.level_of(points))
    known = idx[idx > 0]
    outside = 1.0 - known.size / idx.size
    if known.size == 0:
        return LevelSpan(outside_fraction=1.0)
    values, counts = np.unique(known, return_counts=True)
    fractions = {levels.name_of(int(v)): round(float(c) / idx.size, 4) for v, c in zip(values, counts)}
    first, last = int(values.min()), int(values.max())
    possible = {}
    if reach is not None:
        lo, hi = _reach(levels, points, *reach, first, last)
        possible = {"possible_first": levels.name_of(lo), "possible_last": levels.name_of(hi)}
    return LevelSpan(first=levels.name_of(first), last=levels.name_of(last), count=last - first + 1,
                     fractions=fractions, outside_fraction=round(outside, 4), **possible)


def _reach(levels, points: np.ndarray, geometry: Geometry, centerline, first: int, last: int) -> tuple[int, int]:
    """Levels (indices) a region may span when its edges along the cord may lie up to one grid
    step beyond its voxel centres (the half-maximum edge of a lesion lies between the last centre
    inside it and the first outside): every centre moved one step along the cord both ways."""
    idx = np.asarray(levels.level_of(_shifted_centres(points, geometry, centerline)))
    idx = idx[idx > 0]
    if idx.size == 0:
        return first, last
    return min(first, int(idx.min())), max(last, int(idx.max()))


def _shifted_centres(points: np.ndarray, geometry: Geometry, centerline) -> np.ndarray:
    """Every voxel centre of a region moved one grid step along the cord both ways, by the cord's
    tangent and the step at that centre (on a curved cord each part moves along its own stretch):
    where the region's edges along the cord may lie (see :func:`_reach`). A centre with region
    voxels on both sides along the cord lands inside the region, so only the edges (the ends, and
    any bulge facing up or down the cord) can reach a new level."""
    tangents = (np.asarray(centerline.tangent_at(points), float) if centerline is not None
                else np.broadcast_to(np.asarray(SUPERIOR, float), points.shape))
    moves = voxel_extent_along(geometry, tangents)[:, None] * tangents
    return np.concatenate([points + moves, points - moves])


def _segment_model(segments, levels, centerline):
    """The cord segments of the study: from a label image (along this study's centerline), a
    model given as is, or estimated from the vertebral levels; None without any of them."""
    from ..levels.segments import CordSegments, estimate_segments, segments_from_image

    if isinstance(segments, CordSegments):
        return segments
    if isinstance(segments, Volume):
        return segments_from_image(segments, centerline=centerline)
    if segments is not None:
        raise TypeError(f"segments must be a Volume or CordSegments, not {type(segments).__name__}")
    return None if levels is None else estimate_segments(levels)


def _segment_span(segments, points: np.ndarray, reach=None) -> LevelSpan | None:
    """Cord segments of a region's voxel centres; ``reach`` as for :func:`_span` (thick slices)."""
    if segments is None or len(points) == 0:
        return None
    return segments.span(points, extra=None if reach is None else _shifted_centres(points, *reach))


def _level_indices(levels, span: LevelSpan | None) -> set[int]:
    if levels is None or span is None or span.first is None:
        return set()
    return {levels.index_of(name) for name in span.fractions}


# ---------------------------------------------------------------------------- edema
def _edema_of_lesions(regions: list[_Region], edema_regions: list[_Region],
                      edema_labels) -> dict[int, int | None]:
    """Which edema region surrounds each lesion: the one it overlaps or touches, or else the one
    whose outline (holes filled) encloses it; None when no edema region does."""
    if edema_labels is None:
        return {}
    to_id = np.zeros(int(edema_labels.max()) + 1, np.int64)  # scan-order label -> reading-order id
    for e in edema_regions:
        to_id[edema_labels[e.box][e.mask][0]] = e.id
    filled = None
    out: dict[int, int | None] = {}
    for r in regions:
        # The lesion grown by one voxel, in its own box (padded by one, so growth fits).
        grown = ndimage.binary_dilation(r.mask, structure=structure(26))
        hits = edema_labels[r.box][grown]
        hits = hits[hits > 0]
        if hits.size == 0:
            if filled is None:
                filled = _filled_regions(edema_labels)
            hits = filled[r.box][r.mask]
            hits = hits[hits > 0]
        out[r.id] = int(to_id[np.bincount(hits).argmax()]) if hits.size else None
    return out


def _filled_regions(edema_labels: np.ndarray) -> np.ndarray:
    """Each edema region with its holes filled (a lesion inside a ring of edema lies in it). Where
    one region lies in another's hole, the inner one wins: it is labelled later (the outer ring has
    a voxel before it in any scan order), so it is written over the outer one's filling."""
    filled = np.zeros_like(edema_labels)
    for k, box in bounding_boxes(edema_labels, pad=0).items():
        filled[box][ndimage.binary_fill_holes(edema_labels[box] == k)] = k
    return filled


def _measure_edema(e: _Region, ref: Geometry, regions: list[_Region], edema_of: dict,
                   levels, centerline, *, segments=None) -> Edema:
    lesion_ids = [r.id for r in regions if edema_of.get(r.id) == e.id]
    cc = diameters.craniocaudal_length(e.mask, e.geometry)
    step = _step_along_cord(ref, centerline, e.centroid)
    thick = slice_thickness_across(ref, _cord_axis(centerline, e.centroid))
    span = _span(levels, e.points, reach=(ref, centerline) if thick else None)
    ratio = volume_ratio = None
    if lesion_ids:
        inside = np.concatenate([r.points for r in regions if r.id in lesion_ids])
        ratio = round(cc / extent_along(inside, SUPERIOR, ref), 3)
        volume_ratio = round(float(e.mask.sum()) / len(inside), 3)  # same voxel volume: counts suffice
    row = Edema(
        id=e.id, voxel_count=int(e.mask.sum()), volume_mm3=round(float(e.mask.sum()) * ref.voxel_volume, 4),
        craniocaudal_mm=round(cc, 4),
        craniocaudal_along_cord_mm=None if centerline is None else _along_centerline(e.points, centerline, e.geometry),
        craniocaudal_uncertainty_mm=step, thick_slices_mm=thick, levels=span,
        cord_segments=_segment_span(segments, e.points, reach=(ref, centerline) if thick else None),
        longitudinally_extensive=None if span is None or span.first is None else span.count >= EXTENSIVE_LEVELS,
        lesion_ids=lesion_ids, length_ratio=ratio, volume_ratio=volume_ratio,
    )
    return row.model_copy(update={"literature_context": edema_context(row)})


# ---------------------------------------------------------------------------- thick slices
def _thick_slice_warnings(lesions: list[Lesion], edema: list[Edema], pairs) -> list[str]:
    """What thick slices across the cord leave uncertain: one line for the study (the thickest
    slices, the largest uncertainty), one per edema region that may be longitudinally extensive."""
    rows = [r for r in [*lesions, *edema] if r.thick_slices_mm]
    thick_pairs = [p for p in pairs if p.gap_thick_slices_mm]
    if not rows and not thick_pairs:
        return []
    thickness = max([r.thick_slices_mm for r in rows] + [p.gap_thick_slices_mm for p in thick_pairs])
    worst = max([r.craniocaudal_uncertainty_mm for r in rows]
                + [p.gap_craniocaudal_uncertainty_mm for p in thick_pairs])
    out = [(f"slices {thickness:.1f} mm thick across the cord: lengths along the cord, gaps and level "
            f"extents are uncertain by up to ±{worst:.1f} mm")]
    for ed in edema:
        if possibly_extensive(ed):
            out.append(f"edema {ed.id}: spans {ed.levels.count} level{'s' if ed.levels.count != 1 else ''} "
                       f"({ed.levels.label}) but may reach {ed.levels.possible_label} within "
                       f"±{ed.craniocaudal_uncertainty_mm:.1f} mm along the cord: possibly longitudinally "
                       "extensive")
    return out
