"""The Spinal Cord Toolbox's ``sct_analyze_lesion`` metrics (SCT 7.4), per lesion, by SCT's definitions.

Written from the definitions in SCT's ``spinalcordtoolbox/scripts/sct_analyze_lesion.py`` (class
``AnalyzeLesion``) and ``spinalcordtoolbox/centerline`` (``get_centerline``, ``curve_fitting.bspline``),
not from its code. As SCT does, everything is measured on the voxel grid reoriented to SCT's "RPI"
(array axis 0 runs right to left, 1 posterior to anterior, 2 inferior to superior): axial slices are
the array axis nearest superior-inferior, widths follow the axis nearest anterior-posterior, and
lengths and widths are corrected by the angle of the cord's centerline to that axis. Slice indices
(``sct_midsagittal_slice``, ``SctBridge.sagittal_slice``) count along the grid's own right-left axis as
stored, as SCT writes them (``interpolated_midsagittal_slice`` since SCT PR #4969), whatever direction it
runs; ``SctBridge.lateral_offset_mm`` says where a slice lies in the patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import interpolate, ndimage

from ..geometry import Geometry, reorient

# SCT names orientations by where each axis comes FROM ("RPI": right->left, posterior->anterior,
# inferior->superior); lesionview names where it goes TO, so SCT's RPI is our "LAS".
_SCT_RPI = "LAS"
_SMOOTH = 20.0  # SCT's ParamCenterline default smoothing for algo_fitting="bspline"
_MID_HALF_RANGE = 2  # SCT takes the cord's centre of mass on 2 axial slices either side of the lesion's


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SctBridge(_Model):
    """Minimum tissue bridges on one sagittal slice (SCT ``AnalyzeLesion._measure_tissue_bridges``)."""

    sagittal_slice: int = Field(description="Sagittal slice index along the grid's own right-left axis, as "
                                            "stored (SCT's slice_N).")
    lateral_offset_mm: float = Field(
        description="Signed distance from the interpolated midsagittal plane, mm along the right-left "
                    "voxel axis (positive = towards the patient's left).")
    dorsal_mm: float = Field(description="Minimum dorsal (posterior) bridge over the lesion's axial slices, mm.")
    ventral_mm: float = Field(description="Minimum ventral (anterior) bridge over the lesion's axial slices, mm.")
    total_mm: float = Field(description="dorsal_mm + ventral_mm (each minimum taken on its own slice), mm.")


class SctMetrics(_Model):
    """One lesion's ``sct_analyze_lesion`` outputs. Cord-dependent fields are None without a cord mask."""

    sct_volume_mm3: float = Field(description="Voxel count x voxel volume (AnalyzeLesion._measure_volume).")
    sct_length_mm: float | None = Field(
        None, description="Sum over the lesion's axial slices of slice thickness / cos(3D cord angle) "
                          "(AnalyzeLesion._measure_length).")
    sct_width_mm: float | None = Field(
        None, description="Maximum over axial slices of the lesion's anterior-posterior voxel extent x "
                          "voxel size x cos(sagittal cord angle) (AnalyzeLesion._measure_width).")
    sct_max_equivalent_diameter_mm: float | None = Field(
        None, description="2*sqrt(A/pi) of the largest angle-corrected axial lesion area "
                          "(AnalyzeLesion._measure_diameter).")
    sct_max_axial_damage_ratio: float | None = Field(
        None, description="Maximum over axial slices of lesion area / cord area, no angle correction "
                          "(AnalyzeLesion._measure_axial_damage_ratio).")
    sct_midsagittal_slice: float | None = Field(
        None, description="Interpolated midsagittal slice, fractional index along the grid's own right-left axis "
                          "as stored (as SCT >= 7 writes it): mean cord centre of mass on 5 axial "
                          "slices around the largest lesion (AnalyzeLesion.get_midsagittal_slice).")
    sct_midsagittal_length_mm: float | None = Field(
        None, description="Length on the interpolated midsagittal slice, partial voxels weighted "
                          "(AnalyzeLesion._measure_length_midsagittal_slice).")
    sct_midsagittal_width_mm: float | None = Field(
        None, description="Width on the interpolated midsagittal slice, partial voxels weighted "
                          "(AnalyzeLesion._measure_width_midsagittal_slice).")
    sct_dorsal_bridge_mm: float | None = Field(
        None, description="Minimum interpolated dorsal tissue bridge "
                          "(AnalyzeLesion._measure_interpolated_tissue_bridges).")
    sct_ventral_bridge_mm: float | None = Field(
        None, description="Minimum interpolated ventral tissue bridge "
                          "(AnalyzeLesion._measure_interpolated_tissue_bridges).")
    sct_total_bridge_mm: float | None = Field(
        None, description="sct_dorsal_bridge_mm + sct_ventral_bridge_mm (interpolated_total_bridge_width).")
    sct_dorsal_bridge_ratio_pct: float | None = Field(
        None, description="100 x dorsal / total interpolated bridge (dorsal_bridge_ratio).")
    sct_ventral_bridge_ratio_pct: float | None = Field(
        None, description="100 x ventral / total interpolated bridge (ventral_bridge_ratio).")
    sct_bridges_per_slice: list[SctBridge] | None = Field(
        None, description="Minimum bridges on each sagittal slice holding lesion inside the cord "
                          "(AnalyzeLesion._measure_tissue_bridges).")
    sct_mean_intensity: float | None = Field(
        None, description="Mean image value over lesion voxels whose value is not 0 "
                          "(AnalyzeLesion._measure_within_im).")
    sct_std_intensity: float | None = Field(
        None, description="Population standard deviation, same voxels (AnalyzeLesion._measure_within_im).")
    sct_level_percent: dict[str, float] | None = Field(
        None, description="Percentage of the lesion's volume in each vertebral level; voxels outside every "
                          "level are left out (AnalyzeLesion._measure_eachLesion_distribution, level rows).")
    sct_notes: list[str] = Field(
        default_factory=list, description="Where a metric could not be computed as SCT does, and what was "
                                          "reported instead.")


@dataclass
class _Rpi:
    """Lesion labels, cord and angles on SCT's RPI grid, shared by all lesions."""

    labels: np.ndarray
    cord: np.ndarray
    spacing: np.ndarray
    angle_3d: np.ndarray
    angle_sag: np.ndarray
    mid: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def pair(self) -> tuple[int, int]:
        return int(np.floor(self.mid)), int(np.ceil(self.mid))


def sct_metrics(labels: np.ndarray, geometry: Geometry, *, cord: np.ndarray | None,
                image: np.ndarray | None = None, levels=None, whole_slices: int | None = None) -> dict[int, SctMetrics]:
    """``sct_analyze_lesion`` metrics of each labelled lesion.

    Parameters
    ----------
    labels : integer array on ``geometry``; 0 is background, each lesion has its own id.
    geometry : the grid of ``labels`` (and of ``cord`` and ``image``).
    cord : cord mask on the same grid, or None: then, as SCT, only volume, intensity and levels.
    image : image to average within each lesion, or None.
    levels : a :class:`lesionview.levels.model.LevelModel`, or None.
    whole_slices : when the arrays are a crop of an image, that image's number of axial slices (SCT's
        centerline smoothing depends on it); default: the arrays'.

    Returns
    -------
    dict mapping each label id to its :class:`SctMetrics`.

    Examples
    --------
    >>> lab = np.zeros((5, 5, 5), int); lab[2, 2, 1:4] = 1
    >>> m = sct_metrics(lab, Geometry(lab.shape, spacing=(1.0, 1.0, 2.0)), cord=None)[1]
    >>> m.sct_volume_mm3, m.sct_length_mm
    (6.0, None)
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iub" or (labels.size and labels.min() < 0):
        raise ValueError(f"labels must be non-negative integers (0 = background), got {labels.dtype} values")
    # Numbered 1..n here (ids may be any size: per-label tables stay n long), named back at the end.
    ids, labels = np.unique(labels, return_inverse=True)
    labels = labels.reshape(geometry.shape)
    if ids[0] != 0:
        ids, labels = np.concatenate([[0], ids]), labels + 1
    if len(ids) == 1:
        return {}
    n_ids = np.arange(1, len(ids))
    counts = ndimage.sum_labels(labels != 0, labels, n_ids)
    rpi = None
    if cord is not None:
        rpi = _rpi(labels, np.asarray(cord) != 0, geometry, int(np.argmax(counts)) + 1, whole_slices)
    boxes = None if rpi is None else ndimage.find_objects(rpi.labels)
    own = ndimage.find_objects(labels)  # each lesion's box, to look only there
    out = {}
    for k, n in zip(n_ids, counts):
        values = {"sct_volume_mm3": float(n) * geometry.voxel_volume}
        notes = []
        lesion = labels[own[k - 1]] == k
        if image is not None:
            values |= _intensity(np.asarray(image)[own[k - 1]][lesion], notes)
        if levels is not None:
            values["sct_level_percent"] = _level_percent(lesion, geometry.cropped(own[k - 1]), levels)
        if rpi is not None:
            values |= _cord_metrics(*_axial_range(rpi, k, boxes[k - 1][2]), notes)
            notes = rpi.notes + notes
        out[int(ids[k])] = _in_stored_order(SctMetrics(**values, sct_notes=notes), geometry)
    return out


def _in_stored_order(m: SctMetrics, geometry: Geometry) -> SctMetrics:
    """``m`` with its sagittal slice numbers counted along the grid's own axis, as stored (SCT >= 7
    writes them so, since PR #4969 the midsagittal slice too), not along SCT's RPI grid."""
    (axis, *_), (flip, *_) = geometry.reorientation(_SCT_RPI)
    if not flip or m.sct_midsagittal_slice is None:
        return m
    last = geometry.shape[axis] - 1
    bridges = m.sct_bridges_per_slice and [b.model_copy(update={"sagittal_slice": last - b.sagittal_slice})
                                           for b in m.sct_bridges_per_slice]
    return m.model_copy(update={"sct_midsagittal_slice": last - m.sct_midsagittal_slice,
                                "sct_bridges_per_slice": bridges})


def sagittal_axis(geometry: Geometry) -> int:
    """The array axis SCT's sagittal slices are numbered along (the one nearest right-left)."""
    return geometry.reorientation(_SCT_RPI)[0][0]


def axial_axis(geometry: Geometry) -> int:
    """The array axis SCT's axial slices are numbered along (the one nearest superior-inferior)."""
    return geometry.reorientation(_SCT_RPI)[0][2]


# ---------------------------------------------------------------------------------- shared RPI grid
def _rpi(labels, cord, geometry: Geometry, largest: int, whole_slices: int | None = None) -> _Rpi:
    lab, g = reorient(labels, geometry, _SCT_RPI)
    cord_rpi = reorient(cord, geometry, _SCT_RPI)[0]
    spacing = np.array(g.spacing)
    notes = []
    angle_3d, angle_sag = _cord_angles(cord_rpi, spacing, notes, whole_slices)
    mid = _midsagittal_slice(lab == largest, cord_rpi, notes)
    return _Rpi(np.ascontiguousarray(lab), np.ascontiguousarray(cord_rpi), spacing, angle_3d, angle_sag, mid, notes)


def _cord_angles(cord: np.ndarray, spacing: np.ndarray, notes: list[str],
                 whole_slices: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per axial slice, the centerline's angle to the slice normal: 3D, and projected on the sagittal plane.

    SCT (``get_centerline`` with ``algo_fitting="bspline"``, ``minmax=False``; ``AnalyzeLesion.angle_correction``):
    the centre of mass of each non-empty axial slice, x and y each fitted against z by a cubic smoothing
    spline (``scipy.interpolate.splrep``) with smoothing s = (n_cord_slices / n_slices)^2 * 20 * dz / 3,
    differentiated at every slice.
    """
    nz = cord.shape[2]
    zs = np.flatnonzero(cord.any(axis=(0, 1)))
    if zs.size < 2:
        notes.append("The cord mask has fewer than 2 axial slices, so no centerline can be fitted: "
                     "no angle correction (angle 0) was applied.")
        return np.zeros(nz), np.zeros(nz)
    com = np.array(ndimage.center_of_mass(cord, np.broadcast_to(np.arange(nz), cord.shape), zs))
    k = 3 if zs.size > 3 else 1
    s = (zs.size / (whole_slices or nz)) ** 2 * _SMOOTH * spacing[2] / 3  # the whole image's slices
    # Derivatives are not extrapolated beyond the cord (SCT's spline is): the slope of the nearest cord
    # slice is used, as a cubic extrapolated far from its data can tilt to any angle.
    z = np.clip(np.arange(nz), zs[0], zs[-1])
    dx, dy = (interpolate.splev(z, interpolate.splrep(zs, com[:, a], s=s, k=k), der=1) for a in (0, 1))
    dz = spacing[2]
    angle_3d = np.arccos(dz / np.sqrt((dx * spacing[0]) ** 2 + (dy * spacing[1]) ** 2 + dz**2))
    angle_sag = np.arccos(dz / np.sqrt((dy * spacing[1]) ** 2 + dz**2))
    return angle_3d, angle_sag


def _midsagittal_slice(largest: np.ndarray, cord: np.ndarray, notes: list[str]) -> float | None:
    """SCT ``get_midsagittal_slice``: mean right-left centre of mass of the cord on the 5 axial slices
    centred on the largest lesion's superior-inferior centre of mass (empty cord slices skipped)."""
    nz = cord.shape[2]
    z0 = round(float(ndimage.center_of_mass(largest)[2]))  # half to even, as SCT's round()
    zs = [z for z in range(z0 - _MID_HALF_RANGE, z0 + _MID_HALF_RANGE + 1) if 0 <= z < nz and cord[:, :, z].any()]
    if not zs:
        cord_z = np.flatnonzero(cord.any(axis=(0, 1)))
        if cord_z.size == 0:
            notes.append("The cord mask is empty: no midsagittal slice, so no midsagittal metrics or bridges.")
            return None
        zs = cord_z[np.argsort(np.abs(cord_z - z0), kind="stable")[: 2 * _MID_HALF_RANGE + 1]]
        notes.append("The cord mask is empty on the 5 axial slices around the largest lesion (SCT would fail): "
                     "the midsagittal slice was taken from the 5 nearest cord slices.")
    return float(np.mean([ndimage.center_of_mass(cord[:, :, z])[0] for z in zs]))


# ---------------------------------------------------------------------------------- per lesion
def _axial_range(r: _Rpi, k: int, z: slice) -> tuple[_Rpi, np.ndarray]:
    """The lesion's axial slices only (every metric works slice by slice): less to scan per lesion."""
    cut = replace(r, labels=r.labels[:, :, z], cord=r.cord[:, :, z], angle_3d=r.angle_3d[z], angle_sag=r.angle_sag[z])
    return cut, cut.labels == k


def _cord_metrics(r: _Rpi, lesion: np.ndarray, notes: list[str]) -> dict:
    px, py, pz = r.spacing
    zs = np.flatnonzero(lesion.any(axis=(0, 1)))
    area = lesion.sum(axis=(0, 1))[zs]
    y_extent = np.array([np.ptp(np.flatnonzero(lesion[:, :, z].any(axis=0))) + 1 for z in zs])
    values = {
        "sct_length_mm": float(np.sum(pz / np.cos(r.angle_3d[zs]))),
        "sct_width_mm": float(np.max(y_extent * py * np.cos(r.angle_sag[zs]))),
        "sct_max_equivalent_diameter_mm": float(2 * np.sqrt(np.max(area * np.cos(r.angle_3d[zs]) * px * py) / np.pi)),
        "sct_max_axial_damage_ratio": _damage_ratio(area, r.cord.sum(axis=(0, 1))[zs], notes),
    }
    outside = int(np.count_nonzero(lesion & ~r.cord))
    if outside:
        notes.append(f"{outside} of {int(lesion.sum())} lesion voxels lie outside the cord mask: tissue bridges use "
                     "the part inside the cord only; the other metrics use the whole lesion (both as SCT).")
    if r.mid is None:
        return values
    values |= _midsagittal(r, lesion, notes)
    values |= _bridges(r, lesion & r.cord, notes)
    return values


def _damage_ratio(lesion_area: np.ndarray, cord_area: np.ndarray, notes: list[str]) -> float | None:
    """Areas in voxels on one grid, so the voxel size cancels out. SCT divides by a zero cord area (inf)."""
    ok = cord_area > 0
    if not ok.all():
        notes.append(f"{int((~ok).sum())} axial slice(s) of the lesion have no cord: left out of the axial damage "
                     "ratio (SCT divides by zero there).")
    return float(np.max(lesion_area[ok] / cord_area[ok])) if ok.any() else None


def _interpolated(r: _Rpi, volume: np.ndarray) -> np.ndarray:
    """The sagittal plane at the fractional midsagittal index: linear mix of its two neighbours (AP x SI)."""
    s1, s2 = r.pair
    f = r.mid - s1
    return (1 - f) * volume[s1].astype(float) + f * volume[s2].astype(float)


def _midsagittal(r: _Rpi, lesion: np.ndarray, notes: list[str]) -> dict:
    """SCT ``_measure_length_midsagittal_slice`` and ``_measure_width_midsagittal_slice``."""
    plane = _interpolated(r, lesion)
    zs = np.flatnonzero(plane.any(axis=0))
    if zs.size == 0:
        notes.append("No lesion voxel on the two sagittal slices around the midsagittal slice: midsagittal "
                     "length and width are 0, as SCT (>= 7.3) reports.")
        return {"sct_midsagittal_slice": r.mid, "sct_midsagittal_length_mm": 0.0, "sct_midsagittal_width_mm": 0.0}
    col = plane[:, zs]
    weight_sum = col.sum(axis=0)
    mean_nonzero = weight_sum / (col > 0).sum(axis=0)
    return {
        "sct_midsagittal_slice": r.mid,
        "sct_midsagittal_length_mm": float(np.sum(mean_nonzero * r.spacing[2] / np.cos(r.angle_sag[zs]))),
        "sct_midsagittal_width_mm": float(np.max(weight_sum * r.spacing[1] * np.cos(r.angle_sag[zs]))),
    }


def _column_bridges(lesion: np.ndarray, cord: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dorsal and ventral bridges (voxels) of every (sagittal, axial) column holding lesion.

    Dorsal: first lesion voxel minus first cord voxel along posterior->anterior; ventral: last cord
    voxel minus last lesion voxel; each at least 0. Returns (has_lesion, dorsal, ventral), (x, z) arrays.
    """
    has = lesion.any(axis=1)
    dorsal = np.maximum(_edge(lesion, first=True) - _edge(cord, first=True), 0)
    ventral = np.maximum(_edge(cord, first=False) - _edge(lesion, first=False), 0)
    return has, np.where(has, dorsal, 0), np.where(has, ventral, 0)


def _edge(mask: np.ndarray, *, first: bool) -> np.ndarray:
    """Index of the first (or last) voxel of each posterior->anterior column, (x, z)."""
    ny = mask.shape[1]
    y = np.arange(ny)[None, :, None]
    return np.where(mask, y, ny).min(axis=1) if first else np.where(mask, y, -1).max(axis=1)


def _bridges(r: _Rpi, lesion: np.ndarray, notes: list[str]) -> dict:
    """SCT ``_measure_tissue_bridges`` (per sagittal slice) and ``_measure_interpolated_tissue_bridges``,
    on the lesion restricted to the cord mask, as SCT does."""
    if not lesion.any():
        notes.append("No lesion voxel inside the cord mask: tissue bridges cannot be measured (SCT restricts "
                     "the lesion to the cord for them); they are left empty.")
        return {}
    has, dorsal, ventral = _column_bridges(lesion, r.cord)
    mm = r.spacing[1] * np.cos(r.angle_sag)[None, :]
    dorsal_mm, ventral_mm = dorsal * mm, ventral * mm
    per_slice = []
    for x in np.flatnonzero(has.any(axis=1)):
        d, v = dorsal_mm[x, has[x]].min(), ventral_mm[x, has[x]].min()
        per_slice.append(SctBridge(sagittal_slice=int(x), lateral_offset_mm=float((x - r.mid) * r.spacing[0]),
                                   dorsal_mm=float(d), ventral_mm=float(v), total_mm=float(d + v)))
    values = {"sct_bridges_per_slice": per_slice}
    return values | _interpolated_bridges(r, has, dorsal_mm, ventral_mm, notes)


def _interpolated_bridges(r: _Rpi, has, dorsal_mm, ventral_mm, notes: list[str]) -> dict:
    """Bridges interpolated between the two sagittal slices around the midsagittal slice, axial slice by
    axial slice, then the minimum over axial slices. As SCT 7.4 (#5179): where the lesion is on one of the
    two slices only, that slice's bridge is used; on neither, half the cord's interpolated A-P diameter."""
    s1, s2 = r.pair
    f = r.mid - s1
    on1, on2 = has[s1], has[s2]
    zs = np.flatnonzero(on1 | on2)
    if zs.size == 0:
        return _parasagittal_bridges(r, has, notes)
    w1 = np.where(on2, 1 - f, 1.0)[zs] * on1[zs]
    w2 = 1 - w1
    d = w1 * dorsal_mm[s1, zs] + w2 * dorsal_mm[s2, zs]
    v = w1 * ventral_mm[s1, zs] + w2 * ventral_mm[s2, zs]
    if not (on1[zs] & on2[zs]).all():
        notes.append("On some axial slices the lesion lies on only one of the two sagittal slices around the "
                     "midsagittal slice: that slice's bridge was used there, as SCT 7.4 does.")
    return _bridge_totals(float(d.min()), float(v.min()), notes)


def _parasagittal_bridges(r: _Rpi, has, notes: list[str]) -> dict:
    zs = np.flatnonzero(has.any(axis=0))
    diameter = _interpolated(r, r.cord)[:, zs].sum(axis=0) * r.spacing[1] * np.cos(r.angle_sag[zs])
    half = float(diameter.min()) / 2
    notes.append("The lesion lies on neither sagittal slice around the midsagittal slice: each interpolated "
                 "bridge is half the smallest midsagittal cord A-P diameter over the lesion's axial slices "
                 "(SCT 7.4 reports the cord A-P diameter instead of NaN, #5123/#5179).")
    return _bridge_totals(half, half, notes)


def _bridge_totals(dorsal: float, ventral: float, notes: list[str]) -> dict:
    total = dorsal + ventral
    values = {"sct_dorsal_bridge_mm": dorsal, "sct_ventral_bridge_mm": ventral, "sct_total_bridge_mm": total}
    if total > 0:
        values |= {"sct_dorsal_bridge_ratio_pct": 100 * dorsal / total, "sct_ventral_bridge_ratio_pct": 100 * ventral / total}
    else:
        notes.append("The total interpolated bridge is 0: bridge ratios are undefined and left empty (SCT: NaN).")
    return values


# ---------------------------------------------------------------------------------- image and levels
def _intensity(values: np.ndarray, notes: list[str]) -> dict:
    """SCT ``_measure_within_im``: lesion voxels where the image is 0 are left out."""
    values = values.astype(float)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:  # SCT's mean would be NaN; lesionview's own enhancement ratio leaves them out too
        notes.append(f"The image holds no number (NaN or infinite) on {bad} lesion voxel(s): left out of the "
                     "mean and standard deviation (SCT would give NaN).")
    kept = values[np.isfinite(values) & (values != 0)]
    if kept.size == 0:
        notes.append("The image is 0 (or no number) on every lesion voxel: no mean or standard deviation.")
        return {}
    return {"sct_mean_intensity": float(kept.mean()), "sct_std_intensity": float(kept.std())}


def _level_percent(lesion: np.ndarray, geometry: Geometry, levels) -> dict[str, float]:
    idx = levels.level_of(geometry.index_to_world(np.argwhere(lesion)))
    level, counts = np.unique(idx[idx > 0], return_counts=True)
    return {levels.name_of(int(k)): 100.0 * c / idx.size for k, c in zip(level, counts)}
