"""A validation family of analytic spinal-cord phantoms: many anatomies, acquisitions and lesions.

The sample phantom (:mod:`.anatomy`) is one cervical anatomy on one grid; segmentation tuned on it
can fail elsewhere. This family varies what changes between patients and scanners:

- **region**: cervical (lordotic, ~15 mm levels, cord up to 5 mm left-right) or thoracic
  (kyphotic, 20-25 mm levels, thinner cord);
- **anatomy**: cord semi-axes 3-5 mm, CSF ring 1.5-4 mm (the cord lies slightly anterior in the sac);
- **pathology**: 1-3 enhancing lesions of 2-15 mm (some rim-enhancing: bright rim, dark core),
  T2 edema over 1-8 vertebral levels;
- **acquisition**: sagittal, axial or oblique (sagittal slab turned 15 degrees about the
  head-feet axis), 2-4 mm slices, 0.5-0.8 mm pixels, low or high noise, with or without a bias field.

Geometry
--------
The cord centreline is a circular arc of radius ``R`` in the mid-sagittal plane ``x = 0``, so
*spine coordinates* ``(s, a, x)`` are exact: ``s`` arc length along the cord (mm, increasing
caudally, 0 at the upper boundary of the first level), ``a`` signed distance from the centreline
in the sagittal plane (positive anteriorly), ``x`` the LPS left-right coordinate. A level boundary
is the plane ``s = const`` through a disc centre, perpendicular to the cord: the
:class:`~lesionview.levels.LevelModel` of a case is built from the disc centres with the true
centerline attached, so it puts every point in the level the analytic anatomy says.

Partial volume
--------------
In-plane, every tissue edge is a linear ramp one pixel wide (the exact partial volume of a voxel
at a plane boundary); across the slice, each voxel averages sub-slices spread over the slice
thickness (a box slice profile), so thick slices blur the cord-CSF boundary as real MRI does.
Truth masks hold the voxels whose centre lies inside the analytic shape.

Examples
--------
>>> cases = family()
>>> len(cases) >= 24, cases[0].region, cases[0].plane
(True, 'cervical', 'sagittal')
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from ..cord import Centerline
from ..geometry import Geometry
from ..levels import LevelModel
from ..levels.names import LEVEL_NAMES, disc_name, index_of
from ..series import SeriesInfo
from ..volume import Volume
from .sdf import box, ellipse, ramp, span

REGIONS = ("cervical", "thoracic")
PLANES = ("sagittal", "axial", "oblique")
#: Tilt of the oblique slab's normal from left-right, about the head-feet axis (degrees).
OBLIQUE_DEGREES = 15.0

#: Per region: first level, level heights (mm, disc centre to disc centre), radius of curvature of
#: the centreline (mm) and its sign (+1 lordosis: convex anteriorly; -1 kyphosis), vertebral body
#: depth and half width, disc half thickness, and where the curve is most anterior/posterior (s).
_REGION = {
    "cervical": {"first": "C2", "heights": (17.0, 15.0, 15.0, 15.0, 15.5, 16.0, 17.0, 18.0, 19.0),
                 "radius": 250.0, "sign": 1, "depth": 15.0, "half_width": 9.0, "disc": 2.5, "apex": 60.0},
    "thoracic": {"first": "T1", "heights": tuple(20.0 + 0.45 * k for k in range(12)),
                 "radius": 350.0, "sign": -1, "depth": 22.0, "half_width": 13.0, "disc": 2.5, "apex": 140.0},
}

#: Signal of each pure tissue: T2 TSE and T1 TSE after gadolinium (as the sample phantom's renderer).
INTENSITY = {
    "T2": {"muscle": 170, "fat": 640, "ligament": 55, "epidural": 430, "annulus": 160, "nucleus": 720,
           "cortex": 35, "marrow": 400, "csf": 1450, "cord": 440, "edema": 830, "lesion": 690,
           "core": 1000},
    "T1C": {"muscle": 330, "fat": 960, "ligament": 80, "epidural": 640, "annulus": 260, "nucleus": 320,
            "cortex": 45, "marrow": 620, "csf": 130, "cord": 370, "edema": 315, "lesion": 1050,
            "core": 400},
}
#: Rician noise sigma on T2 (T1C: 0.85 of it).
NOISE_SIGMA = {"low": 12.0, "high": 35.0}
#: Multiplicative bias-field strength (log amplitude).
BIAS = {"none": 0.0, "strong": 0.35}
#: Thickness of the enhancing rim of a rim-enhancing lesion (mm).
RIM_MM = 1.2
#: The imaged region spans these (mm) across the cord: posterior/anterior and, per plane,
#: left-right (the slab of a sagittal series, the in-plane width of an axial one).
_FOV_A = (-32.0, 34.0)
_FOV_X = {"sagittal": 22.0, "oblique": 22.0, "axial": 32.0}
#: The field of view reaches this far (mm along the cord) beyond the first and last cord clicks.
_FOV_MARGIN = 10.0
#: Sub-slice step across a thick slice (mm).
_SUBSLICE_MM = 0.6
#: Edema peak width as a fraction of the cord radius, and how far its ends stay from a disc (mm).
EDEMA_PEAK = 0.75
_END_MARGIN = 3.0


# ----------------------------------------------------------------------------- the spine
@dataclass(frozen=True)
class Spine:
    """A region's centreline (circular arc) and level boundaries, in spine coordinates."""

    region: str

    @cached_property
    def _p(self) -> dict:
        return _REGION[self.region]

    @property
    def radius(self) -> float:
        return self._p["radius"]

    @property
    def sign(self) -> int:
        return self._p["sign"]

    @cached_property
    def level_indices(self) -> tuple[int, ...]:
        """Global level indices (1 = C1 ... 8 = T1) of the region's levels, top to bottom."""
        first = index_of(self._p["first"])
        return tuple(range(first, first + len(self._p["heights"])))

    @cached_property
    def boundaries(self) -> np.ndarray:
        """s of the level boundaries (disc centres): ``boundaries[i]`` is above level ``i``."""
        return np.concatenate([[0.0], np.cumsum(self._p["heights"])])

    def level_name(self, i: int) -> str:
        return LEVEL_NAMES[self.level_indices[i]]

    def disc_name(self, i: int) -> str:
        """Name of boundary ``i`` (above level ``i``)."""
        return disc_name(self.level_indices[0] - 1 + i)

    def level_of_s(self, s) -> np.ndarray:
        """Region level number (0-based) of arc lengths ``s``."""
        return np.clip(np.searchsorted(self.boundaries, s) - 1, 0, len(self.level_indices) - 1)

    def _phi(self, s):
        return (np.asarray(s, dtype=float) - self._p["apex"]) / self.radius

    def point(self, s, a=0.0, x=0.0) -> np.ndarray:
        """LPS point(s) (..., 3) from spine coordinates."""
        phi = self._phi(s)
        r, k = self.radius, self.sign
        a = np.asarray(a, dtype=float)
        y = k * r * (1 - np.cos(phi)) - a * np.cos(phi)
        z = -r * np.sin(phi) - a * k * np.sin(phi)
        return np.stack(np.broadcast_arrays(np.asarray(x, dtype=float), y, z), axis=-1)

    def frame(self, s) -> np.ndarray:
        """3x3: columns the caudal tangent, the anterior normal and +x at arc length ``s``."""
        phi = float(self._phi(s))
        k = self.sign
        return np.array([[0.0, 0.0, 1.0],
                         [k * math.sin(phi), -math.cos(phi), 0.0],
                         [-math.cos(phi), -k * math.sin(phi), 0.0]])

    def coordinates(self, points: np.ndarray):
        """Spine coordinates ``(s, a, x)`` of LPS points (..., 3), exact."""
        p = np.asarray(points)
        k, r = self.sign, self.radius
        vy, vz = p[..., 1] - k * r, p[..., 2]
        phi = np.arctan2(-vz, -k * vy)
        s = phi * r + self._p["apex"]
        a = k * (np.hypot(vy, vz) - r)
        return s.astype(p.dtype, copy=False), a.astype(p.dtype, copy=False), p[..., 0]


# ----------------------------------------------------------------------------- the cases
@dataclass(frozen=True)
class FamilyLesion:
    """An ellipsoid following the cord at its centre: ``s, a, x`` in spine coordinates (mm);
    ``semi_axes`` along the cord, antero-posterior and left-right."""

    s: float
    a: float
    x: float
    semi_axes: tuple[float, float, float]

    @property
    def max_diameter(self) -> float:
        return 2 * max(self.semi_axes)

    @property
    def volume(self) -> float:
        return 4 / 3 * math.pi * float(np.prod(self.semi_axes))


@dataclass(frozen=True)
class FamilyCase:
    """One phantom of the family: anatomy, pathology and acquisition, with group labels.

    ``levels`` are the region's level numbers (0-based, see :class:`Spine`) of the first and last
    imaged levels; edema runs from ``edema_top`` to ``edema_bottom`` (s, mm), widest at ``edema_peak``.
    """

    name: str
    region: str
    plane: str
    slice_mm: float
    pixel_mm: float
    noise: str
    bias: str
    rim: bool
    cord_ap: float
    cord_lr: float
    csf_ring: float
    lesions: tuple[FamilyLesion, ...]
    edema_top: float
    edema_bottom: float
    edema_peak: float
    levels: tuple[int, int]

    def __post_init__(self) -> None:
        if self.region not in REGIONS or self.plane not in PLANES:
            raise ValueError(f"case {self.name}: region must be one of {REGIONS} and plane one of "
                             f"{PLANES}, got {self.region!r}, {self.plane!r}")
        if self.noise not in NOISE_SIGMA or self.bias not in BIAS:
            raise ValueError(f"case {self.name}: noise must be one of {sorted(NOISE_SIGMA)} and bias "
                             f"one of {sorted(BIAS)}")

    @property
    def spine(self) -> Spine:
        return Spine(self.region)

    @property
    def groups(self) -> dict[str, str]:
        """Labels the validation table groups by."""
        return {"region": self.region, "plane": self.plane, "slice": f"{self.slice_mm:g} mm",
                "noise": self.noise, "bias": self.bias, "rim": "rim" if self.rim else "solid"}

    @property
    def sac(self) -> tuple[float, float, float]:
        """Thecal sac: centre offset ``a`` (posterior of the cord), AP and LR semi-axes (mm)."""
        return -0.25 * self.csf_ring, self.cord_ap + self.csf_ring, self.cord_lr + self.csf_ring + 1.0

    @property
    def s_range(self) -> tuple[float, float]:
        """Arc lengths of the first and last cord clicks: the middles of the outer imaged levels."""
        b = self.spine.boundaries
        first, last = self.levels
        return 0.5 * (b[first] + b[first + 1]), 0.5 * (b[last] + b[last + 1])

    def edema_scale(self, s) -> np.ndarray:
        """Fraction of the cord radius the edema fills at ``s`` (0 outside), blunt fusiform."""
        s = np.asarray(s)
        up = np.clip((s - self.edema_top) / (self.edema_peak - self.edema_top), 0, 1)
        down = np.clip((self.edema_bottom - s) / (self.edema_bottom - self.edema_peak), 0, 1)
        m = np.minimum(up, down)
        return EDEMA_PEAK * np.sqrt(m * (2 - m))


# Lesion configurations: (max diameter mm, centre in level units from the top of the edema's
# first level) per lesion, and the edema's level count.
_CONFIGS = (
    (((10.0, 1.0),), 2),
    (((3.0, 1.3), (11.0, 2.25)), 5),
    (((2.0, 0.5),), 1),
    (((15.0, 2.0),), 4),
    (((4.0, 1.5), (8.0, 2.6), (6.0, 3.6)), 6),
    (((6.0, 2.5), (3.0, 4.5)), 8),
    (((5.0, 0.6), (12.0, 1.8)), 3),
)
_CORD = {"cervical": ((3.5, 4.5), (4.0, 5.0), (3.8, 4.8), (3.6, 4.6)),
         "thoracic": ((3.0, 3.6), (3.4, 4.0), (3.2, 3.4), (3.0, 3.8))}
_RINGS = (1.5, 2.5, 3.0, 4.0)
_PIXELS = (0.5, 0.6, 0.7, 0.8)


def _lesions(spine: Spine, first: int, config, cord_ap: float, cord_lr: float, i: int) -> tuple[FamilyLesion, ...]:
    b = spine.boundaries
    out = []
    for j, (diameter, where) in enumerate(config):
        level = first + int(where)
        s = b[level] + (where % 1) * (b[level + 1] - b[level])
        cc = diameter / 2
        semi = (cc, min(cc, 0.7 * cord_ap), min(0.9 * cc, 0.7 * cord_lr))
        # Keep the ends clear of the disc planes, so the true levels are not a matter of voxels.
        for _ in range(20):
            near = np.abs(b - (s - cc)).min() < 1.5 or np.abs(b - (s + cc)).min() < 1.5
            if not near:
                break
            s += 1.0
        off = 0.4 * ((i + j) % 3 - 1)   # up to 0.4 mm off-centre, deterministically
        out.append(FamilyLesion(float(s), off, -off, semi))
    return tuple(out)


def family() -> list[FamilyCase]:
    """The validation family: 24 deterministic cases, 4 per region and plane.

    Across each region-plane pair the slice thickness runs over 2, 3 and 4 mm and noise and bias
    over all four combinations; lesion configurations, cord sizes and CSF rings rotate.
    """
    cases = []
    i = 0
    for region in REGIONS:
        spine = Spine(region)
        n_levels = len(spine.level_indices)
        for plane in PLANES:
            for v in range(4):
                config, n_edema = _CONFIGS[i % len(_CONFIGS)]
                n_edema = min(n_edema, n_levels - 2)
                first = 1 + i % (n_levels - 1 - n_edema)        # edema's first level; one above is imaged
                cord_ap, cord_lr = _CORD[region][(3 * i) % 4]
                lesions = _lesions(spine, first, config, cord_ap, cord_lr, i)
                b = spine.boundaries
                top, bottom = b[first] + _END_MARGIN, b[first + n_edema] - _END_MARGIN
                peak = 0.5 * (min(les.s for les in lesions) + max(les.s for les in lesions))
                rim = v in (1, 2) and any(les.max_diameter >= 5 for les in lesions)
                slice_mm = (3.0, 4.0, 2.0, 3.0)[v]
                name = f"{region[0]}{plane[:3]}{i:02d}"
                cases.append(FamilyCase(
                    name=name, region=region, plane=plane, slice_mm=slice_mm, pixel_mm=_PIXELS[i % 4],
                    noise=("low", "high", "low", "high")[v], bias=("none", "strong", "strong", "none")[v],
                    rim=rim, cord_ap=cord_ap, cord_lr=cord_lr, csf_ring=_RINGS[(i + i // 4) % 4],
                    lesions=lesions, edema_top=float(top), edema_bottom=float(bottom),
                    edema_peak=float(np.clip(peak, top + 2, bottom - 2)),
                    levels=(first - 1, first + n_edema)))
                i += 1
    return cases


def get_family_case(name: str) -> FamilyCase:
    for case in family():
        if case.name == name:
            return case
    raise ValueError(f"unknown family case {name!r}; choose one of {[c.name for c in family()]}")


def with_plane(case: FamilyCase, plane: str, slice_mm: float | None = None) -> FamilyCase:
    """The same patient acquired in another plane (and slice thickness)."""
    return replace(case, plane=plane, slice_mm=slice_mm or case.slice_mm,
                   name=f"{case.name}-{plane}{slice_mm or case.slice_mm:g}")


# ----------------------------------------------------------------------------- grids
def _direction(plane: str) -> np.ndarray:
    """Columns: LPS unit vectors of array axes (slice, row, column), as a DICOM reader builds them."""
    if plane == "axial":
        return np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]]).T
    sag = np.array([[-1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T
    if plane == "sagittal":
        return sag
    t = math.radians(OBLIQUE_DEGREES)
    rot = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1.0]])
    return rot @ sag


def case_geometry(case: FamilyCase) -> Geometry:
    """The case's grid: the imaged levels and the cord's neighbourhood, cropped."""
    spine = case.spine
    s0, s1 = case.s_range
    s = np.arange(s0 - _FOV_MARGIN, s1 + _FOV_MARGIN + 1e-9, 1.0)
    xw = _FOV_X[case.plane]
    corners = spine.point(s[:, None, None], np.array(_FOV_A)[None, :, None], np.array([-xw, xw])[None, None, :])
    d = _direction(case.plane)
    spacing = np.array([case.slice_mm, case.pixel_mm, case.pixel_mm])
    u = corners.reshape(-1, 3) @ d
    lo, hi = u.min(0), u.max(0)
    shape = np.ceil((hi - lo) / spacing).astype(int) + 1
    if case.plane != "axial":
        shape[0] += 1 - shape[0] % 2     # an odd slab: the middle slice is centred on the cord
    start = 0.5 * (lo + hi) - 0.5 * (shape - 1) * spacing    # centred: a sagittal slab is symmetric
    return Geometry(tuple(int(n) for n in shape), tuple(spacing), tuple(d @ start), d)


# ----------------------------------------------------------------------------- tissues
def _lesion_sdf(lesion: FamilyLesion, centre, frame, points, shrink: float = 0.0):
    q = (points - centre) @ frame.astype(points.dtype)
    semi = np.asarray(lesion.semi_axes, dtype=points.dtype) - shrink
    k0 = np.linalg.norm(q / semi, axis=-1)
    k1 = np.linalg.norm(q / semi**2, axis=-1)
    return k0 * (k0 - 1) / np.maximum(k1, 1e-6)


def _has_core(lesion: FamilyLesion) -> bool:
    return min(lesion.semi_axes) > RIM_MM + 0.6


class _Anatomy:
    """Tissue fractions and truth distances of one case at LPS points."""

    def __init__(self, case: FamilyCase):
        self.case = case
        self.spine = case.spine
        self.centres = [self.spine.point(les.s, les.a, les.x) for les in case.lesions]
        self.frames = [self.spine.frame(les.s) for les in case.lesions]
        p = _REGION[case.region]
        self.depth, self.half_width, self.disc = p["depth"], p["half_width"], p["disc"]

    def distances(self, points):
        """Signed distances (mm, negative inside) of cord, edema and each lesion, and ``s``."""
        c = self.case
        s, a, x = self.spine.coordinates(points)
        cord = ellipse(a, x, c.cord_ap, c.cord_lr)
        rho = np.sqrt((a / c.cord_ap) ** 2 + (x / c.cord_lr) ** 2)
        edema = np.maximum((rho - c.edema_scale(s)) * min(c.cord_ap, c.cord_lr),
                           np.maximum(c.edema_top - s, s - c.edema_bottom))
        lesions = [_lesion_sdf(les, ctr, fr, points) for les, ctr, fr in zip(c.lesions, self.centres, self.frames)]
        return s, a, x, cord, edema, lesions

    def fractions(self, points, edge: float) -> dict[str, np.ndarray]:
        """Fraction of each tissue at LPS points (..., 3); they sum to 1."""
        c = self.case
        s, a, x, cord, edema, lesions = self.distances(points)
        frac: dict[str, np.ndarray] = {"muscle": np.ones_like(s)}

        def paint(name, alpha):
            for k, f in frac.items():
                frac[k] = f * (1 - alpha)
            frac[name] = frac.get(name, 0) + alpha

        ax = np.abs(x)
        sac_c, sac_ap, sac_lr = c.sac
        front = sac_c + sac_ap + 1.5           # posterior surface of the bodies and discs
        back = sac_c - sac_ap - 1.5            # anterior surface of the laminae
        b = self.spine.boundaries
        k = self.spine.level_of_s(s)
        top, bottom = b[k], b[k + 1]
        height = bottom - top
        mid = 0.5 * (top + bottom)
        near = np.where(s - top < bottom - s, top, bottom)   # nearest disc centre
        paint("fat", ramp(np.abs(a + 24.0) - 1.0, edge))    # a posterior intermuscular fat plane
        paint("epidural", ramp(ellipse(a - sac_c, x, sac_ap + 1.5, sac_lr + 2.5), edge))
        paint("ligament", ramp(box(span(s, top - 1, bottom + 1), span(a, back - 5.0, back),
                                     ax - (sac_lr + 4.0), 0.5), edge))   # ligamentum flavum
        disc = box(np.abs(s - near) - self.disc, span(a, front - 0.5, front + self.depth),
                    ax - self.half_width, 1.0)
        paint("annulus", ramp(disc, edge))
        u = np.stack([(s - near) / (0.7 * self.disc), (a - front - 0.45 * self.depth) / (0.3 * self.depth),
                      x / (0.6 * self.half_width)])
        paint("nucleus", ramp((np.sqrt((u * u).sum(0)) - 1) * 0.7 * self.disc, edge))
        body = box(span(s, top + self.disc, bottom - self.disc), span(a, front, front + self.depth),
                    ax - self.half_width, 2.0)
        lamina = box(span(s, top + 0.3 * height, bottom - 0.05 * height), span(a, back - 5.0, back),
                      ax - (sac_lr + 4.0), 1.0)
        spinous = box(span(s, mid, bottom - 0.05 * height), span(a, back - 30.0, back - 4.0), ax - 3.0, 1.0)
        pedicle = box(span(s, mid - 0.2 * height, mid + 0.2 * height), span(a, sac_c - 2.0, front + 1.0),
                       span(ax, sac_lr + 1.5, sac_lr + 6.0), 1.0)
        bone = np.minimum(np.minimum(body, lamina), np.minimum(spinous, pedicle))
        paint("cortex", ramp(bone, edge))
        paint("marrow", ramp(bone + 0.8, edge))
        paint("csf", ramp(ellipse(a - sac_c, x, sac_ap, sac_lr), edge))
        paint("cord", ramp(cord, edge))
        paint("edema", np.minimum(ramp(edema, edge), frac["cord"]))
        for les, sdf, ctr, fr in zip(c.lesions, lesions, self.centres, self.frames):
            paint("lesion", ramp(sdf, edge))
            if c.rim and _has_core(les):
                paint("core", ramp(_lesion_sdf(les, ctr, fr, points, shrink=RIM_MM), edge))
        return frac


# ----------------------------------------------------------------------------- rendering
@dataclass(frozen=True, eq=False)
class FamilyImages:
    """A rendered case: images, truth masks on their grid, levels, clicks and the truth.

    ``cord`` is the true cord (lesions and edema included) between the planes of the first and last
    cord clicks, which is what :func:`~lesionview.segment.segment_cord` is asked for; ``lesions``
    labels lesion ``i`` (1..n, in the order of ``case.lesions``) inside the cord; ``edema`` is the
    T2-hyperintense cord, lesions included (the convention of the sample's ``edema.nii.gz``).
    """

    case: FamilyCase
    t2: Volume
    t1c: Volume
    cord: np.ndarray
    lesions: np.ndarray
    edema: np.ndarray
    levels: LevelModel
    cord_clicks: np.ndarray
    lesion_seeds: np.ndarray
    truth: dict = field(default_factory=dict)

    @property
    def geometry(self) -> Geometry:
        return self.t2.geometry


def level_model(case: FamilyCase) -> LevelModel:
    """Disc-centre landmarks of the imaged levels, with the true centerline attached."""
    spine = case.spine
    first, last = case.levels
    names = [spine.disc_name(i) for i in range(first + 1, last + 1)]
    s_disc = spine.boundaries[first + 1: last + 1]
    front = case.sac[0] + case.sac[1] + 1.5
    discs = spine.point(s_disc, front + 0.5 * _REGION[case.region]["depth"], 0.0)
    s0, s1 = case.s_range
    centre = Centerline(spine.point(np.arange(s0 - 40.0, s1 + 40.0, 0.5)), source=f"phantom {case.name}")
    return LevelModel.from_landmarks(names, discs, centerline=centre, source=f"phantom {case.name}")


def case_truth(case: FamilyCase, levels: LevelModel | None = None) -> dict:
    """What measuring the case should find, from the analytic shapes (never from voxels)."""
    levels = levels or level_model(case)
    spine = case.spine
    rows, surfaces = [], []
    n = 48
    th, ph = np.meshgrid(np.linspace(0, np.pi, n), np.linspace(0, 2 * np.pi, n, endpoint=False))
    unit = np.stack([np.cos(th), np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph)], -1).reshape(-1, 3)
    for i, les in enumerate(case.lesions, start=1):
        centre = spine.point(les.s, les.a, les.x)
        surface = centre + (unit * les.semi_axes) @ spine.frame(les.s).T
        surfaces.append(surface)
        idx = levels.level_of(surface)
        rows.append({"id": i, "centre_lps_mm": [round(float(v), 4) for v in centre],
                     "semi_axes_mm": list(les.semi_axes), "max_diameter_mm": les.max_diameter,
                     "volume_mm3": round(les.volume, 3), "rim": bool(case.rim and _has_core(les)),
                     "first_level": LevelModel.name_of(int(idx.min())),
                     "last_level": LevelModel.name_of(int(idx.max()))})
    ends = spine.point(np.array([case.edema_top, case.edema_bottom]))
    idx = levels.level_of(np.concatenate([ends, *surfaces]))
    first, last = int(idx.min()), int(idx.max())
    return {"case": case.name, "groups": case.groups, "lesions": rows,
            "edema": {"first_level": LevelModel.name_of(first), "last_level": LevelModel.name_of(last),
                      "level_count": last - first + 1, "length_along_cord_mm": case.edema_bottom - case.edema_top},
            "cord": {"anteroposterior_semi_axis_mm": case.cord_ap, "left_right_semi_axis_mm": case.cord_lr,
                     "csf_ring_mm": case.csf_ring}}


def _contrast(frac: dict[str, np.ndarray], contrast: str) -> np.ndarray:
    table = INTENSITY[contrast]
    return sum(f * np.float32(table[t]) for t, f in frac.items())


def _bias(case: FamilyCase, points: np.ndarray) -> np.ndarray:
    """Smooth receive-coil shading: brighter posteriorly, darker towards both ends of the field."""
    strength = BIAS[case.bias]
    if strength == 0:
        return np.float32(1.0)
    mid = case.spine.point(0.5 * sum(case.s_range))
    y, z = points[..., 1] - mid[1], points[..., 2] - mid[2]
    return np.exp(strength * (y / 40.0 - ((z / 80.0) ** 2))).astype(np.float32)


def render_case(case: FamilyCase) -> FamilyImages:
    """Render a case's T2 and T1 post-contrast images, truth masks, levels, clicks and truth.

    Examples
    --------
    >>> images = render_case(family()[0])
    >>> images.t2.array.shape == images.cord.shape, int(images.lesions.max()), images.truth["edema"]["level_count"]
    (True, 1, 2)
    """
    geometry = case_geometry(case)
    anatomy = _Anatomy(case)
    d = geometry.direction_matrix.astype(np.float32)
    m = max(1, math.ceil(case.slice_mm / _SUBSLICE_MM - 1e-9))
    offsets = ((np.arange(m) + 0.5) / m - 0.5) * case.slice_mm
    edge = case.pixel_mm
    t2 = np.zeros(geometry.shape, np.float32)
    t1c = np.zeros(geometry.shape, np.float32)
    cord = np.zeros(geometry.shape, bool)
    edema = np.zeros(geometry.shape, bool)
    labels = np.zeros(geometry.shape, np.uint8)
    s0, s1 = case.s_range
    grid = np.stack(np.meshgrid(np.arange(geometry.shape[1]), np.arange(geometry.shape[2]), indexing="ij"), -1)
    for k in range(geometry.shape[0]):
        idx = np.concatenate([np.full(grid.shape[:2] + (1,), k), grid], -1)
        centres = geometry.index_to_world(idx).astype(np.float32)
        s, _, _, cd, ed, les = anatomy.distances(centres)
        c = (cd <= 0) & (s >= s0) & (s <= s1)
        cord[k] = c
        edema[k] = c & (ed <= 0)
        for i, sdf in enumerate(les, start=1):
            labels[k][c & (sdf <= 0)] = i
        edema[k] |= labels[k] > 0
        f2 = np.zeros(grid.shape[:2], np.float32)
        f1 = np.zeros(grid.shape[:2], np.float32)
        for off in offsets:
            frac = anatomy.fractions(centres + np.float32(off) * d[:, 0], edge)
            f2 += _contrast(frac, "T2")
            f1 += _contrast(frac, "T1C")
        bias = _bias(case, centres)
        t2[k] = f2 / m * bias
        t1c[k] = f1 / m * bias
    images = {}
    for contrast, image in (("T2", t2), ("T1C", t1c)):
        rng = np.random.default_rng(zlib.crc32(f"{case.name}/{contrast}".encode()))
        sigma = NOISE_SIGMA[case.noise] * (1.0 if contrast == "T2" else 0.85)
        real = image + rng.normal(0, sigma, image.shape).astype(np.float32)
        imag = rng.normal(0, sigma, image.shape).astype(np.float32)
        array = np.clip(np.rint(np.sqrt(real * real + imag * imag)), 0, 65535).astype(np.uint16)
        info = SeriesInfo(source=f"lesionview phantom family {case.name}", modality="MR",
                          series_description=f"{case.plane.upper()} {contrast}")
        images[contrast] = Volume(array, geometry, info=info)
    levels = level_model(case)
    spine = case.spine
    clicks = spine.point(np.linspace(s0, s1, 5))
    seeds = np.array([spine.point(les.s, les.a, les.x) for les in case.lesions])
    return FamilyImages(case, images["T2"], images["T1C"], cord, labels, edema, levels, clicks, seeds,
                        case_truth(case, levels))
