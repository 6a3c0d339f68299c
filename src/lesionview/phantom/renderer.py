"""Sample the analytic phantom on any voxel grid, with partial volume, bias field and noise.

Partial volume
--------------
A voxel's value is the tissue occupancy integrated against a separable *tent* (linear B-spline)
kernel one voxel wide on each side, along the grid's own axes (a slice profile whose FWHM equals
the spacing). The integral is a sum over a fine grid that refines the voxel grid by an integer
factor per axis. The tent kernel reproduces linear functions exactly, so the intensity-weighted
centroid of a rendered fraction map equals the centroid of the fine-sampled occupancy, whatever
the grid: lesions are rendered with smooth (erfc) edges on a 0.2 mm fine grid, which makes that
centroid the analytic centre to well under 0.01 mm on axial, sagittal or oblique grids.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import erfc

from ..geometry import Geometry
from ..series import SeriesInfo, with_guessed_role
from ..volume import Volume
from . import spine
from .anatomy import TISSUES, tissue_fractions
from .cases import Case, Lesion, get_case

#: Fine-grid step for the anatomy and for the lesions, mm.
ANATOMY_STEP = 1.0
LESION_STEP = 0.2
#: Width (sigma, mm) of the lesion edge.
LESION_EDGE = 0.25

CONTRASTS = ("T2", "T1C")

# Signal of each pure tissue: sagittal T2 TSE (TR/TE 3000/100) and T1 TSE post gadolinium (500/10).
INTENSITY = {
    "T2": {"air": 0, "soft": 300, "muscle": 170, "fat": 640, "ligament": 55, "airway": 0,
           "epidural": 430, "annulus": 160, "nucleus": 720, "cortex": 35, "marrow": 400,
           "brain": 520, "csf": 1450, "cord": 440, "edema": 830, "lesion": 690},
    "T1C": {"air": 0, "soft": 380, "muscle": 330, "fat": 960, "ligament": 80, "airway": 0,
            "epidural": 640, "annulus": 260, "nucleus": 320, "cortex": 45, "marrow": 620,
            "brain": 430, "csf": 130, "cord": 370, "edema": 315, "lesion": 1050},
}
NOISE_SIGMA = {"T2": 20.0, "T1C": 17.0}
# Tissues given a smooth texture (marrow heterogeneity, muscle fibres, fat lobules), relative amplitude.
_TEXTURE = {"marrow": 0.10, "muscle": 0.10, "fat": 0.05, "soft": 0.08, "brain": 0.04}


# ----------------------------------------------------------------------------- grids
def sagittal_geometry() -> Geometry:
    """The sample series' grid: 13 sagittal slices of 3 mm stacked from the patient's left to right,
    0.5 x 0.5 mm pixels, rows running head to feet and columns front to back, 240 x 180 mm field
    of view from the posterior fossa to T3.

    The direction columns are those a DICOM reader builds from ImageOrientationPatient
    (row cosines +P, column cosines -S; slice normal = their cross product, towards the right).
    """
    n_slices, rows, cols = 13, 480, 360
    spacing = (3.0, 0.5, 0.5)
    direction = np.array([[-1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T
    top = float(spine.centreline_point(-38.0)[2])
    origin = (spacing[0] * (n_slices - 1) / 2, -80.0, top)
    return Geometry((n_slices, rows, cols), spacing, origin, direction)


#: Field of view of :func:`axial_geometry` (LPS mm): the cord from C1 to T2 with the sample's landmarks.
AXIAL_FOV_MM = ((-20.0, -30.0, -110.0), (20.0, 20.0, 90.0))


def axial_geometry(slice_mm: float = 3.0, tilt_deg: float = 0.0, *, pixel_mm: float = 0.5,
                   lo=AXIAL_FOV_MM[0], hi=AXIAL_FOV_MM[1]) -> Geometry:
    """An axial series' grid over the phantom: slices ``slice_mm`` thick, ``pixel_mm`` pixels,
    covering the box ``lo``-``hi`` (LPS mm; default x -20..20, y -30..20, z -110..90: C1 to T2).

    With ``tilt_deg`` the slices are tilted about the left-right axis, their normal turned from
    superior towards posterior: the phantom's cord leans anterior going up (2-4 degrees at the
    twin's lesions), so the angle between the cord and the slice normal there is a little more
    than ``tilt_deg``, as on a scan angled off the cord.

    Examples
    --------
    >>> g = axial_geometry()
    >>> g.shape, g.spacing
    ((81, 101, 68), (0.5, 0.5, 3.0))
    >>> np.round(axial_geometry(4.0, 40.0).direction_matrix[:, 2], 3).tolist()
    [0.0, 0.643, 0.766]
    """
    a = math.radians(tilt_deg)
    direction = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(a), math.sin(a)], [0.0, -math.sin(a), math.cos(a)]])
    spacing = (pixel_mm, pixel_mm, slice_mm)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T
    local = corners @ direction            # coordinates along each array axis
    start = local.min(axis=0)
    shape = np.ceil((local.max(axis=0) - start) / spacing).astype(int) + 1
    return Geometry(tuple(int(n) for n in shape), spacing, tuple(direction @ start), direction)


def _refinement(geometry: Geometry, step: float) -> tuple[int, int, int]:
    return tuple(max(1, math.ceil(sp / step - 1e-9)) for sp in geometry.spacing)


def _tent(f: np.ndarray, axis: int, m: int, n_out: int) -> np.ndarray:
    """Filter the fine samples along ``axis`` with the tent kernel and keep one per voxel."""
    if m == 1:
        return f
    out = 0
    for j in range(-(m - 1), m):
        sl = [slice(None)] * f.ndim
        start = j + m - 1
        sl[axis] = slice(start, start + (n_out - 1) * m + 1, m)
        out = out + f[tuple(sl)] * ((m - abs(j)) / (m * m))
    return out


def _integrate(fn, geometry: Geometry, lo, hi, step: float, *, centre_keys=(), dtype=np.float64,
               chunk_points=1_000_000):
    """Tent-integrate ``fn(points) -> dict of arrays`` over voxels ``lo <= index < hi``.

    Returns ``(filtered, centre)``: dicts of arrays of shape ``hi - lo``; ``centre`` holds the
    values at the voxel centres of the keys in ``centre_keys`` (for ground-truth masks).
    """
    m = _refinement(geometry, step)
    n_out = [h - l for l, h in zip(lo, hi)]
    fine = [np.arange((n + 1) * k - 1) / k + l - (k - 1) / k for n, k, l in zip(n_out, m, lo)]
    plane = len(fine[1]) * len(fine[2])
    per_chunk = max(1, int(chunk_points // (plane * m[0])))
    filtered: dict[str, list] = {}
    centre: dict[str, list] = {}
    for c0 in range(0, n_out[0], per_chunk):
        c1 = min(n_out[0], c0 + per_chunk)
        f0 = fine[0][c0 * m[0]: (c1 + 1) * m[0] - 1]
        idx = np.stack(np.meshgrid(f0, fine[1], fine[2], indexing="ij"), axis=-1)
        values = fn(geometry.index_to_world(idx).astype(dtype, copy=False))
        for name, v in values.items():
            v = np.broadcast_to(v, idx.shape[:3])
            if name in centre_keys:
                c = v[m[0] - 1::m[0], m[1] - 1::m[1], m[2] - 1::m[2]][: c1 - c0, : n_out[1], : n_out[2]]
                centre.setdefault(name, []).append(np.asarray(c, dtype=np.float32))
            for axis, (k, n) in enumerate(zip(m, (c1 - c0, n_out[1], n_out[2]))):
                v = _tent(v, axis, k, n)
            filtered.setdefault(name, []).append(np.asarray(v, dtype=np.float32))
    return ({k: np.concatenate(v) for k, v in filtered.items()},
            {k: np.concatenate(v) for k, v in centre.items()})


# ----------------------------------------------------------------------------- lesions
def _lesion_occupancy(lesion: Lesion, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smooth occupancy (point-symmetric about the centre) and signed distance of an ellipsoid."""
    q = (points - lesion.centre) @ lesion.axes
    semi = np.asarray(lesion.semi_axes)
    k0 = np.linalg.norm(q / semi, axis=-1)
    k1 = np.linalg.norm(q / semi**2, axis=-1)
    d = k0 * (k0 - 1) / np.maximum(k1, 1e-9)
    return 0.5 * erfc(d / (LESION_EDGE * math.sqrt(2))), d


def _lesion_box(lesion: Lesion, geometry: Geometry, margin: float = 2.0):
    """Voxel index box (lo, hi) holding the ellipsoid plus its edge and the tent support."""
    half = np.sqrt(np.diag(np.linalg.inv(lesion.quadric()))) + margin  # world AABB half sizes
    corners = lesion.centre + np.array(np.meshgrid(*[[-1, 1]] * 3, indexing="ij")).reshape(3, -1).T * half
    idx = geometry.world_to_index(corners)
    lo = np.maximum(np.floor(idx.min(0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(idx.max(0)).astype(int) + 2, geometry.shape)
    return tuple(int(v) for v in lo), tuple(int(v) for v in hi)


def lesion_fractions(case: str | Case, geometry: Geometry) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per lesion: (partial-volume fraction map, voxel-centre-inside mask), full grid, float32/bool."""
    case = get_case(case)
    out = []
    for lesion in case.lesions:
        frac = np.zeros(geometry.shape, np.float32)
        inside = np.zeros(geometry.shape, bool)
        lo, hi = _lesion_box(lesion, geometry)
        if all(h > l for l, h in zip(lo, hi)):
            def fn(p, lesion=lesion):
                occ, d = _lesion_occupancy(lesion, p)
                return {"occ": occ, "inside": (d <= 0).astype(np.float64)}

            filt, centre = _integrate(fn, geometry, lo, hi, LESION_STEP, centre_keys=("inside",))
            box = tuple(slice(l, h) for l, h in zip(lo, hi))
            frac[box] = filt["occ"]
            inside[box] = centre["inside"] > 0.5
        out.append((frac, inside))
    return out


# ----------------------------------------------------------------------------- all maps
@dataclass(frozen=True, eq=False)
class PhantomMaps:
    """Everything rendered on one grid: tissue fractions, lesion fractions and truth masks."""

    geometry: Geometry
    fractions: dict[str, np.ndarray]  # per tissue, sum to 1 before lesions
    lesions: tuple[np.ndarray, ...]  # partial-volume fraction of each lesion
    lesion_labels: np.ndarray  # uint8, 1..n at voxel centres inside lesion i (and in the cord)
    edema: np.ndarray  # uint8 0/1: T2 hyperintense cord (lesions lie inside it)
    cord: np.ndarray  # uint8 0/1: the whole cord, edema and lesions included


@lru_cache(maxsize=2)
def _anatomy(case_name: str, geometry: Geometry):
    edema = get_case(case_name).edema

    def fn(p):
        return tissue_fractions(p, edema)

    return _integrate(fn, geometry, (0, 0, 0), geometry.shape, ANATOMY_STEP, dtype=np.float32,
                      centre_keys=("cord_occupancy", "edema_occupancy"))


def render_maps(case: str | Case, geometry: Geometry) -> PhantomMaps:
    """Tissue and lesion fraction maps and the ground-truth masks of ``case`` on ``geometry``."""
    case = get_case(case)
    filtered, centre = _anatomy(case.name, geometry)
    cord = centre["cord_occupancy"] >= 0.5
    edema = (centre["edema_occupancy"] >= 0.5) & cord
    labels = np.zeros(geometry.shape, np.uint8)
    lesion_maps = []
    for i, (frac, inside) in enumerate(lesion_fractions(case, geometry), start=1):
        labels[inside & cord] = i
        lesion_maps.append(frac)
    fractions = {k: filtered[k] for k in TISSUES if k in filtered}
    return PhantomMaps(geometry, fractions, tuple(lesion_maps), labels, edema.astype(np.uint8),
                       cord.astype(np.uint8))


def _texture(points: np.ndarray, seed: int = 7, waves: int = 16) -> np.ndarray:
    """A smooth deterministic random field of world position, zero mean, about unit variance."""
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(waves, 3))
    k *= (2 * np.pi / rng.uniform(6.0, 25.0, size=waves) / np.linalg.norm(k, axis=1))[:, None]
    phase = rng.uniform(0, 2 * np.pi, waves)
    t = np.zeros(points.shape[:-1], np.float32)
    for kk, ph in zip(k, phase):
        t += np.cos(points @ kk.astype(np.float32) + ph)
    return t * math.sqrt(2 / waves)


def bias_field(points: np.ndarray) -> np.ndarray:
    """Smooth multiplicative receive-coil shading: posterior coil, falling off head and foot."""
    y, z = points[..., 1], points[..., 2]
    return (0.75 + 0.4 * np.exp(-np.clip(90.0 - y, 0, None) / 110.0)) * (1 - 0.25 * (z / 140.0) ** 2)


def render(case: str | Case, geometry: Geometry | None = None, contrast: str = "T2", *,
           noise: bool = True) -> Volume:
    """Render ``case`` ("twin" or "solitary") as an MR image on ``geometry``.

    Parameters
    ----------
    case : str or Case
    geometry : Geometry, optional
        Any grid (axial, sagittal, oblique); default :func:`sagittal_geometry`.
    contrast : {"T2", "T1C"}
        Sagittal T2 TSE or T1 TSE after gadolinium.
    noise : bool
        Add Rician noise (deterministic: seeded by case, contrast and grid).

    Returns
    -------
    Volume
        uint16 image with its geometry and a SeriesInfo naming the series.

    Examples
    --------
    >>> from lesionview.geometry import Geometry
    >>> g = Geometry((4, 40, 40), (3.0, 1.0, 1.0), (-4.5, -20.0, 25.0), [[0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    >>> render("twin", g, "T1C").array.dtype
    dtype('uint16')
    """
    case = get_case(case)
    geometry = geometry or sagittal_geometry()
    if contrast not in INTENSITY:
        raise ValueError(f"contrast must be one of {CONTRASTS}, got {contrast!r}")
    table = INTENSITY[contrast]
    maps = render_maps(case, geometry)
    centres = geometry.index_to_world(np.stack(np.indices(geometry.shape), -1).astype(np.float32))
    centres = centres.astype(np.float32)
    texture = _texture(centres)
    image = np.zeros(geometry.shape, np.float32)
    for tissue, f in maps.fractions.items():
        value = table[tissue]
        if tissue in _TEXTURE:
            value = value * (1 + _TEXTURE[tissue] * texture)
        image += f * value
    total = np.zeros(geometry.shape, np.float32)
    for f in maps.lesions:
        total += f
    image = image * (1 - np.clip(total, 0, 1)) + table["lesion"] * np.clip(total, 0, 1)
    image *= bias_field(centres)
    if noise:
        seed = zlib.crc32(f"{case.name}/{contrast}/{geometry.describe()}".encode())
        rng = np.random.default_rng(seed)
        sigma = NOISE_SIGMA[contrast]
        real = image + rng.normal(0, sigma, image.shape).astype(np.float32)
        imag = rng.normal(0, sigma, image.shape).astype(np.float32)
        image = np.sqrt(real * real + imag * imag)
    array = np.clip(np.rint(image), 0, 65535).astype(np.uint16)
    return Volume(array, geometry, info=series_info(case, contrast))


#: Acquisition parameters of the two sample series.
SERIES = {
    "T2": {"series_number": 2, "series_description": "SAG T2 TSE", "protocol_name": "t2_tse_sag",
           "sequence_name": "*tse2d1_17", "scanning_sequence": "SE", "sequence_variant": "SK\\SP\\OSP",
           "repetition_time_ms": 3000.0, "echo_time_ms": 100.0},
    "T1C": {"series_number": 5, "series_description": "SAG T1 TSE +C", "protocol_name": "t1_tse_sag_post",
            "sequence_name": "*tse2d1_3", "scanning_sequence": "SE", "sequence_variant": "SK\\SP\\OSP",
            "repetition_time_ms": 500.0, "echo_time_ms": 10.0, "contrast_agent": "Gadoterate meglumine"},
}


def series_info(case: str | Case, contrast: str) -> SeriesInfo:
    """The SeriesInfo of a rendered phantom series (UIDs derived from the case, reproducible)."""
    from pydicom.uid import generate_uid

    case = get_case(case)
    study = generate_uid(entropy_srcs=["lesionview-phantom", case.name, "study"])
    info = SeriesInfo(
        source=f"lesionview phantom {case.name}",
        patient_id=case.patient_id, patient_name=case.patient_name, patient_birth_date="19680412",
        study_uid=study, study_date="20240312", study_description="MRI CERVICAL SPINE W/WO CONTRAST",
        series_uid=generate_uid(entropy_srcs=["lesionview-phantom", case.name, contrast]),
        modality="MR", manufacturer="lesionview phantom", acquisition_date="20240312",
        acquisition_time="101500" if contrast == "T2" else "103000", **SERIES[contrast])
    return with_guessed_role(info)
