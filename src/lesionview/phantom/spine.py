"""The phantom's cervical spine: a lordotic canal centreline and the vertebral column along it.

Everything is analytic in LPS millimetres (+x Left, +y Posterior, +z Superior). The canal
centreline (which is also the cord centreline) is a parabola in the mid-sagittal plane ``x = 0``,
convex anteriorly (cervical lordosis), most anterior at ``z = 0`` near C5. Anatomy is placed in
*spine coordinates* ``(s, a, x)``:

``s``  arc length along the centreline, mm, increasing caudally; ``s = 0`` at the foramen magnum;
``a``  signed distance from the centreline in the sagittal plane, mm, positive anteriorly;
``x``  the LPS x coordinate (left positive).

For a planar curve the points sharing one ``s`` form the normal line of the curve there, so a
"disc plane" (through a disc centre, perpendicular to the centreline) is exactly ``s = const``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

#: Radius of curvature of the lordosis at its apex, mm.
LORDOSIS_RADIUS = 300.0
#: Parameter t (= z of the curve point) of the foramen magnum, where s = 0.
_T_FORAMEN = 80.0


def _arc(t: np.ndarray) -> np.ndarray:
    """Arc length of the parabola y = t^2 / 2R from t = 0 to t (signed)."""
    u = np.asarray(t, dtype=float) / LORDOSIS_RADIUS
    return 0.5 * LORDOSIS_RADIUS * (u * np.sqrt(1 + u * u) + np.arcsinh(u))


_S_FORAMEN = float(_arc(_T_FORAMEN))


def _t_of_s(s) -> np.ndarray:
    """Curve parameter of the centreline point at arc length ``s`` (Newton on the arc length)."""
    target = _S_FORAMEN - np.asarray(s, dtype=float)
    t = target.copy()
    for _ in range(30):
        t = t - (_arc(t) - target) / np.sqrt(1 + (t / LORDOSIS_RADIUS) ** 2)
    return t


def centreline_point(s) -> np.ndarray:
    """LPS point (..., 3) of the canal/cord centreline at arc length ``s`` (mm below the foramen magnum)."""
    t = _t_of_s(s)
    return np.stack([np.zeros_like(t), t * t / (2 * LORDOSIS_RADIUS), t], axis=-1)


def centreline_tangent(s) -> np.ndarray:
    """Unit LPS vector (..., 3) along the centreline pointing caudally (towards increasing s)."""
    t = _t_of_s(s)
    u = t / LORDOSIS_RADIUS
    n = np.sqrt(1 + u * u)
    return np.stack([np.zeros_like(t), -u / n, -1 / n], axis=-1)


def anterior_normal(s) -> np.ndarray:
    """Unit LPS vector (..., 3) perpendicular to the centreline in the sagittal plane, anterior."""
    t = _t_of_s(s)
    u = t / LORDOSIS_RADIUS
    n = np.sqrt(1 + u * u)
    return np.stack([np.zeros_like(t), -1 / n, u / n], axis=-1)


def spine_coordinates(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spine coordinates ``(s, a, x)`` of LPS points (..., 3): exact nearest point on the curve.

    Valid closer than the radius of curvature (300 mm) to the centreline, i.e. in the whole neck.
    """
    p = np.asarray(points, dtype=float)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    r = LORDOSIS_RADIUS
    t = z.copy()
    # Newton on d/dt |C(t) - p|^2 / 2 = (t - z) + (t^2/2r - y) t / r.
    for _ in range(6):
        g = (t - z) + (t * t / (2 * r) - y) * t / r
        h = 1 + (t / r) ** 2 + (t * t / (2 * r) - y) / r
        t = t - g / h
    u = t / r
    n = np.sqrt(1 + u * u)
    s = _S_FORAMEN - _arc(t)
    a = (-(y - t * t / (2 * r)) + u * (z - t)) / n
    return s, a, x


# ----------------------------------------------------------------------------- vertebrae
@dataclass(frozen=True)
class Vertebra:
    """A vertebral body between two endplates, in spine coordinates (mm)."""

    name: str
    top: float  # s of the superior endplate
    bottom: float  # s of the inferior endplate
    depth: float  # antero-posterior depth of the body
    half_width: float  # half of the left-right width
    spinous_length: float
    spinous_angle: float  # degrees below the horizontal (caudal tilt of the spinous process)

    @property
    def middle(self) -> float:
        return 0.5 * (self.top + self.bottom)


#: Posterior surface of the vertebral bodies, mm anterior of the centreline.
BODY_BACK = 7.5

# C2 is its body proper; the dens and the atlas (C1) are added as separate shapes.
VERTEBRAE: tuple[Vertebra, ...] = (
    Vertebra("C2", 15.0, 33.0, 15.0, 8.0, 22.0, 20.0),
    Vertebra("C3", 38.0, 52.0, 15.5, 8.5, 14.0, 22.0),
    Vertebra("C4", 57.5, 71.5, 15.5, 8.5, 15.0, 24.0),
    Vertebra("C5", 77.0, 91.0, 15.5, 9.0, 16.0, 26.0),
    Vertebra("C6", 96.5, 110.5, 16.0, 9.0, 20.0, 28.0),
    Vertebra("C7", 116.0, 131.0, 16.0, 9.5, 28.0, 30.0),
    Vertebra("T1", 136.0, 153.0, 17.0, 11.0, 32.0, 38.0),
    Vertebra("T2", 157.5, 175.5, 18.0, 12.0, 32.0, 45.0),
    Vertebra("T3", 180.0, 198.0, 19.0, 12.5, 30.0, 50.0),
)

#: The atlas (C1): no body. Its anterior arch sits in front of the dens at this height.
C1_MIDDLE = 8.0
#: s of the plane between C1 and C2 (the atlanto-axial junction; there is no disc).
C1_C2 = 15.0

#: Names of the level boundaries, top to bottom, and their s. "C0/C1" (foramen magnum,
#: atlanto-occipital junction) and "C1/C2" are joints without a disc; the rest are disc centres.
BOUNDARIES: tuple[tuple[str, float], ...] = (
    ("C0/C1", 0.0),
    ("C1/C2", C1_C2),
    *((f"{u.name}/{l.name}", 0.5 * (u.bottom + l.top)) for u, l in pairwise(VERTEBRAE)),
)

#: Level names between consecutive boundaries.
LEVEL_NAMES: tuple[str, ...] = tuple(b[0].split("/")[1] for b in BOUNDARIES[:-1])


def level_s_range(name: str) -> tuple[float, float]:
    """``(s_top, s_bottom)`` of a vertebral level, between its two boundary planes."""
    i = LEVEL_NAMES.index(name)
    return BOUNDARIES[i][1], BOUNDARIES[i + 1][1]


def body_centre(vertebra: Vertebra) -> np.ndarray:
    """LPS centre of a vertebral body."""
    return spine_point(vertebra.middle, BODY_BACK + vertebra.depth / 2, 0.0)


def spine_point(s, a, x) -> np.ndarray:
    """LPS point from spine coordinates (inverse of :func:`spine_coordinates`)."""
    s = np.asarray(s, dtype=float)
    c = centreline_point(s)
    p = c + np.asarray(a, dtype=float)[..., None] * anterior_normal(s)
    p[..., 0] = x
    return p
