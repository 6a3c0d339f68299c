"""A validation set for the rim and flame signs: one lesion in a straight cord, on a small grid.

Each case is an ellipsoidal enhancing lesion in an elliptical cord surrounded by CSF, rendered on
a grid a few centimetres long around it (T1 after gadolinium), with partial volume and Rician noise:

- **rim**: the lesion is a bright shell ``RIM_MM`` thick around a less enhancing core (a core
  exists only when every semi-axis exceeds ``RIM_MM + 0.6`` mm, as in :mod:`.family`);
- **flame**: a cone of weaker enhancement on the cord axis of the lesion, starting inside it and
  tapering to a point ``flame_mm`` beyond its superior and/or inferior pole, with a soft edge.

Partial volume comes from :func:`.renderer._integrate` (tent kernel one voxel wide, fine step
``FINE_MM``), so thick slices blur the lesion's poles as a real slice profile does. The truth mask
holds the voxel centres inside the ellipsoid: the lesion's half-maximum boundary.

Examples
--------
>>> cases = sign_cases()
>>> len({c.lesion for c in cases}) >= 40, sorted({c.acquisition for c in cases})
(True, ['ax3', 'iso1', 'sag3'])
>>> img = render_sign_case(cases[0])
>>> img.image.shape == img.labels.shape == img.geometry.shape
True
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from ..geometry import Geometry
from .renderer import _integrate
from .renderer import _texture as _cord_texture

#: T1 after gadolinium (as the sample phantom): cord, CSF, the lesion (its rim), tissue outside.
CORD, CSF, LESION, OUTSIDE = 370.0, 130.0, 1050.0, 400.0
#: Cord and CSF-sac semi-axes (antero-posterior, left-right), mm.
CORD_SEMI = (4.0, 5.5)
SAC_SEMI = (7.0, 8.5)
#: Rim thickness of a rim-enhancing lesion (mm; drawn from RIM_RANGE in the set) and its core signal.
RIM_MM = 1.2
RIM_RANGE = (0.8, 1.6)
CORE_RANGE = (560.0, 950.0)
#: Flame signal (the default, and the range of the set: under half the lesion's enhancement above
#: cord, so that the half-maximum boundary is the lesion's) and the sigma of its soft edge (mm).
FLAME = 660.0
FLAME_RANGE = (560.0, 700.0)
FLAME_EDGE_MM = 0.5
LESION_EDGE_MM = 0.25
#: Lesion heterogeneity: relative amplitude of a smooth random texture (wavelengths 3-8 mm).
TEXTURE = 0.08
TEXTURE_RANGE = (0.04, 0.16)  # drawn in the validation set: the most heterogeneous mimic a rim
#: Normal cord texture (relative amplitude) and receive-coil shading along the cord (per mm).
CORD_TEXTURE = 0.04
SHADING_PER_MM = 0.003
#: Rician noise sigma per level.
NOISE = {"low": 12.0, "high": 30.0}
#: Fine sampling step of the partial-volume integral (mm).
FINE_MM = 0.5
#: Acquisitions: voxel spacing in array order and the array axes' LPS directions (columns).
ACQUISITIONS = {
    "iso1": ((1.0, 1.0, 1.0), np.eye(3)),                                       # 1 mm isotropic, LPS
    "sag3": ((3.0, 0.5, 0.5), np.array([[-1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T),  # RIP, DICOM sagittal
    "ax3": ((0.5, 0.5, 3.0), np.diag([-1.0, -1.0, 1.0])),                       # RAS axial, 3 mm slices
}
#: Lesion diameters along the cord (mm) of the validation set.
SIZES = (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0)


@dataclass(frozen=True)
class SignLesion:
    """One lesion: ``size_mm`` long along the cord, a rim or not, flames at ``flames`` poles."""

    size_mm: float
    rim: bool = False
    flames: tuple[str, ...] = ()     # "superior" and/or "inferior"
    flame_mm: float = 8.0            # how far each flame reaches beyond the pole
    flame: float = FLAME             # flame signal
    core: float = 650.0              # core signal of a rim-enhancing lesion
    rim_mm: float = RIM_MM
    texture: float = TEXTURE         # relative amplitude of the lesion's heterogeneity
    seed: int = 0                    # of its texture
    flame_cone: bool = True          # a tapering cone; False: a cylinder (a blunt, non-tapering tongue)
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # centre off the cord axis / grid (LPS mm)

    @property
    def semi_axes(self) -> tuple[float, float, float]:
        """(along the cord, antero-posterior, left-right), mm: the cross-section stays inside the cord."""
        h = self.size_mm / 2
        return h, min(h, CORD_SEMI[0] - 1.0), min(h, CORD_SEMI[1] - 1.5)

    @property
    def has_rim(self) -> bool:
        """A rim is drawn only around a core (the lesion must be thicker than the rim)."""
        return self.rim and min(self.semi_axes) > self.rim_mm + 0.6

    def flame_truth(self, pole: str) -> float:
        """True flame length beyond ``pole`` (mm), 0 without one."""
        return self.flame_mm if pole in self.flames else 0.0


@dataclass(frozen=True)
class SignCase:
    lesion: SignLesion
    acquisition: str
    noise: str
    tilt_deg: float = 0.0  # the cord leans this much from superior-inferior (towards anterior going up)

    @property
    def rotation(self) -> np.ndarray:
        """LPS direction of the cord frame's axes (columns: left, posterior, superior)."""
        a = math.radians(self.tilt_deg)
        return np.array([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]])

    @property
    def name(self) -> str:
        les = self.lesion
        kind = "+".join(["rim"] * les.has_rim + [f"flame-{p[:3]}" for p in les.flames]) or "plain"
        return f"{les.size_mm:g}mm-{kind}-{self.acquisition}-{self.noise}"


@dataclass(frozen=True, eq=False)
class SignImage:
    image: np.ndarray     # float32 T1 post-contrast
    labels: np.ndarray    # uint8, 1 at voxel centres inside the lesion
    cord: np.ndarray      # uint8, 1 at voxel centres inside the cord
    geometry: Geometry


#: Seed of the validation set the thresholds were chosen on; others give held-out sets.
TUNING_SEED = 2013


def sign_lesions(seed: int = TUNING_SEED) -> list[SignLesion]:
    """The validation lesions: every size with each pattern (none, rim, flames up/down/both, rim
    and flame); flame lengths and signals, rim thickness and core signal, heterogeneity and
    centres drawn from ``seed`` (:data:`TUNING_SEED`: the set the thresholds were chosen on)."""
    rng = np.random.default_rng(seed)
    patterns = [(False, ()), (True, ()), (False, ("superior",)), (False, ("inferior",)),
                (False, ("superior", "inferior")), (True, ("inferior",))]
    out = []
    for size in SIZES:
        for rim, flames in patterns:
            out.append(SignLesion(size, rim, flames, flame_mm=float(rng.uniform(4.0, 12.0)),
                                  flame=float(rng.uniform(*FLAME_RANGE)), core=float(rng.uniform(*CORE_RANGE)),
                                  rim_mm=float(rng.uniform(*RIM_RANGE)),
                                  texture=float(rng.uniform(*TEXTURE_RANGE)),
                                  seed=len(out),
                                  offset=tuple(float(v) for v in rng.uniform(-0.5, 0.5, 3))))
    return out


def sign_cases(acquisitions=tuple(ACQUISITIONS), noises=tuple(NOISE), seed: int = TUNING_SEED) -> list[SignCase]:
    """Every validation lesion (drawn from ``seed``) on every acquisition at every noise level."""
    return [SignCase(les, a, n) for les in sign_lesions(seed) for a in acquisitions for n in noises]


def sign_geometry(case: SignCase, margin_mm: float = 12.0) -> Geometry:
    """A grid around the cord reaching ``margin_mm`` beyond the lesion and its flames."""
    spacing, direction = ACQUISITIONS[case.acquisition]
    lesion = case.lesion
    c = lesion.semi_axes[0]
    lo = np.array([-SAC_SEMI[1] - 1, -SAC_SEMI[0] - 1, -c - lesion.flame_truth("inferior") - margin_mm])
    hi = np.array([SAC_SEMI[1] + 1, SAC_SEMI[0] + 1, c + lesion.flame_truth("superior") + margin_mm])
    corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T @ case.rotation.T @ direction
    start = corners.min(axis=0)
    shape = np.ceil((corners.max(axis=0) - start) / spacing).astype(int) + 1
    return Geometry(tuple(int(n) for n in shape), spacing, tuple(direction @ start), direction)


def _ellipsoid_distance(q: np.ndarray, semi) -> np.ndarray:
    """Approximate signed distance (mm) to an ellipsoid in its own frame (exact on the surface)."""
    semi = np.asarray(semi, float)
    k0 = np.linalg.norm(q / semi, axis=-1)
    k1 = np.linalg.norm(q / semi**2, axis=-1)
    return k0 * (k0 - 1) / np.maximum(k1, 1e-9)


def _ellipse_distance(u, v, ru, rv):
    k0 = np.sqrt((u / ru) ** 2 + (v / rv) ** 2)
    k1 = np.sqrt((u / ru**2) ** 2 + (v / rv**2) ** 2)
    return k0 * (k0 - 1) / np.maximum(k1, 1e-6)


def _texture(q: np.ndarray, seed: int, waves: int = 12) -> np.ndarray:
    """A smooth random field of zero mean and unit variance (sum of plane waves 3-8 mm long)."""
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(waves, 3))
    k *= (2 * np.pi / rng.uniform(3.0, 8.0, waves) / np.linalg.norm(k, axis=1))[:, None]
    return np.cos(q @ k.T + rng.uniform(0, 2 * np.pi, waves)).sum(axis=-1) * math.sqrt(2 / waves)


def _soft(d, edge: float):
    return 0.5 * erfc(d / (edge * math.sqrt(2)))


def _signal(lesion: SignLesion, points: np.ndarray) -> dict[str, np.ndarray]:
    """Signal at world points (before partial-volume integration) and the truth occupancies."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    cord = _soft(_ellipse_distance(y, x, *CORD_SEMI), 0.3)
    sac = _soft(_ellipse_distance(y, x, *SAC_SEMI), 0.3)
    signal = OUTSIDE * (1 - sac) + CSF * (sac - cord) + CORD * cord
    c, a, b = lesion.semi_axes
    q = np.stack([z, y, x], axis=-1) - np.asarray(lesion.offset)[[2, 1, 0]]
    d = _ellipsoid_distance(q, (c, a, b))
    inside = _soft(d, LESION_EDGE_MM)
    for pole in lesion.flames:  # a cone from half-way into the lesion to flame_mm beyond its pole
        u = (q[..., 0] if pole == "superior" else -q[..., 0]) - c  # mm beyond the pole
        length = lesion.flame_mm + c / 2
        radius = 0.6 * min(a, b) * (np.clip((lesion.flame_mm - u) / length, 0, 1) if lesion.flame_cone
                                    else (u < lesion.flame_mm))
        r = np.hypot(q[..., 1], q[..., 2])
        flame = _soft(r - radius, FLAME_EDGE_MM) * (u > -c / 2) * (radius > 0)
        signal = signal * (1 - flame) + lesion.flame * flame
    value = LESION
    if lesion.has_rim:
        t = lesion.rim_mm
        core = _soft(_ellipsoid_distance(q, (c - t, a - t, b - t)), LESION_EDGE_MM)
        value = LESION * (1 - core) + lesion.core * core
    if lesion.texture:  # (only where the lesion is: the texture costs more than the rest)
        near = inside > 1e-4
        texture = np.zeros(inside.shape)
        texture[near] = _texture(q[near], lesion.seed)
        value = value * (1 + lesion.texture * texture)
    signal = signal * (1 - inside) + value * inside
    return {"signal": signal, "lesion": (d <= 0).astype(np.float64),
            "cord": (_ellipse_distance(y, x, *CORD_SEMI) <= 0).astype(np.float64)}


def render_sign_case(case: SignCase) -> SignImage:
    """The T1 post-contrast image, lesion mask and cord mask of ``case`` (deterministic noise)."""
    geometry = sign_geometry(case)
    filtered, centre = _integrate(lambda p: _signal(case.lesion, p @ case.rotation), geometry, (0, 0, 0), geometry.shape,
                                  FINE_MM, centre_keys=("lesion", "cord"))
    # Normal cord is not flat: a smooth texture (wavelengths 6-25 mm) and coil shading along the cord,
    # both smooth on the voxel scale, so applied at voxel centres.
    centres = geometry.index_to_world(np.indices(geometry.shape).transpose(1, 2, 3, 0)) @ case.rotation
    image = filtered["signal"] * (1 + CORD_TEXTURE * _cord_texture(centres.astype(np.float32), seed=case.lesion.seed))
    image *= 1 + SHADING_PER_MM * centres[..., 2]
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    sigma = NOISE[case.noise]
    image = np.hypot(image + rng.normal(0, sigma, image.shape), rng.normal(0, sigma, image.shape))
    cord = centre["cord"] > 0.5
    return SignImage(image.astype(np.float32), ((centre["lesion"] > 0.5) & cord).astype(np.uint8),
                     cord.astype(np.uint8), geometry)


# ----------------------------------------------------------------------------- scoring
def sign_table(results, key=lambda case: (case.acquisition, case.noise)) -> dict:
    """Sensitivity and specificity of the yes/no signs against the truth, per group of cases.

    ``results`` pairs each :class:`SignCase` with its measured signs (anything with ``rim_sign``
    and ``flame_sign``: True, False or None). Returns ``{(sign, group): counts}`` with ``tp, fn,
    tn, fp`` over the judged cases, ``unjudged`` and ``sensitivity`` / ``specificity`` (None
    without positives / negatives).
    """
    table: dict = {}
    for case, signs in results:
        for sign, truth, said in (("rim", case.lesion.has_rim, signs.rim_sign),
                                  ("flame", bool(case.lesion.flames), signs.flame_sign)):
            row = table.setdefault((sign, key(case)), dict.fromkeys(("tp", "fn", "tn", "fp", "unjudged"), 0))
            if said is None:
                row["unjudged"] += 1
            else:
                row[("t" if said == truth else "f") + ("p" if said else "n")] += 1
    for row in table.values():
        pos, neg = row["tp"] + row["fn"], row["tn"] + row["fp"]
        row["sensitivity"] = row["tp"] / pos if pos else None
        row["specificity"] = row["tn"] / neg if neg else None
    return table
