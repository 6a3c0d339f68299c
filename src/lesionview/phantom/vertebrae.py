"""Vertebra masks of the phantom family's spine, in the VerSe, SPINEPS and TotalSegmentator conventions.

The spine is the family's (:class:`~lesionview.phantom.family.Spine`): a lordotic cervical or a
kyphotic thoracic cord centreline (a circular arc), with level boundaries at ``s = boundaries[i]``.
Around it this module builds labelled vertebrae as a segmentation tool would output them:

- **bodies** between two endplates, with a flat posterior wall at ``a = front`` (the anterior
  wall of the canal) and a rounded front; cervical bodies from C3 down carry **uncinate
  processes** (lips of the superior endplate rising at the lateral edges);
- **discs** between the facing endplates; each disc's mid-surface is *tilted* from the plane
  perpendicular to the cord by a few degrees (a real canal does not run exactly along the
  posterior walls, and discs are wedges), so the disc centre and the disc's posterior tip give
  different level boundaries at the cord;
- **posterior elements**: pedicles bridging the canal laterally, laminae, articular processes
  reaching into the next level, and a caudally tilted spinous process (cervical 25 degrees,
  thoracic 55 degrees below the horizontal), which pull a whole vertebra's centroid far behind
  and below its body.

The **posterior tip** of disc ``k`` (between levels ``k`` and ``k + 1``, numbering of
:mod:`lesionview.levels.names`) is exactly ``spine.point(s_k, front)``: the mid-surface passes
through it, on the posterior wall of the bodies. Since the family's centreline is a circular arc,
the plane through that point perpendicular to the cord is ``s = s_k``, so a point of the cord
belongs to level ``k`` when ``s < s_k`` and to ``k + 1`` when ``s > s_k``.

Examples
--------
>>> ph = VertebraPhantom("cervical", levels=(4, 6))          # C6..T1
>>> [ph.disc_name(k) for k in ph.disc_indices]
['C6/C7', 'C7/T1']
>>> g = ph.geometry(spacing=2.0)
>>> sorted(int(v) for v in set(ph.mask(g, "verse").array.ravel().tolist()) - {0})
[6, 7, 8]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..geometry import Geometry
from ..levels.names import disc_name
from ..volume import Volume
from .family import _REGION, Spine

CONVENTIONS = ("verse", "spineps", "totalsegmentator")

#: Per region: posterior wall of the bodies (front) and anterior wall of the laminae (back), mm
#: anterior of the cord axis; cord semi-axes (AP, LR); half width of the canal; spinous process
#: length and caudal tilt (degrees below the horizontal); base tilt of the discs (degrees).
_CANAL = {
    "cervical": {"front": 7.5, "back": -8.0, "cord": (3.5, 5.0), "canal_lr": 10.0,
                 "spinous": (22.0, 25.0), "tilt": 15.0},
    "thoracic": {"front": 7.0, "back": -7.5, "cord": (3.0, 4.2), "canal_lr": 8.5,
                 "spinous": (32.0, 55.0), "tilt": -12.0},
}
_ENDPLATE_MM = 1.0      # thickness of a SPINEPS endplate label
_UNCINATE_MM = 3.5      # height of the uncinate processes above the superior endplate


@dataclass(frozen=True)
class VertebraPhantom:
    """Labelled vertebrae of a region of the family spine.

    ``levels`` are the region's level numbers (0-based, see :class:`~lesionview.phantom.family.Spine`)
    of the first and last vertebra; the discs between them are the boundaries of the model.
    """

    region: str = "cervical"
    levels: tuple[int, int] = (0, 6)

    def __post_init__(self) -> None:
        n = len(self.spine.level_indices)
        first, last = self.levels
        if self.region not in _CANAL or not 0 <= first < last < n:
            raise ValueError(f"region must be one of {sorted(_CANAL)} and levels 0 <= first < last < {n}")

    # ------------------------------------------------------------------ anatomy
    @cached_property
    def spine(self) -> Spine:
        return Spine(self.region)

    @property
    def _p(self) -> dict:
        return {**_REGION[self.region], **_CANAL[self.region]}

    @property
    def front(self) -> float:
        """Posterior wall of the bodies (and discs), mm anterior of the cord axis."""
        return self._p["front"]

    @property
    def depth(self) -> float:
        """Antero-posterior depth of the bodies and discs (mm)."""
        return self._p["depth"]

    @property
    def disc_indices(self) -> list[int]:
        """Global disc numbers (k: between levels k and k + 1) of the discs in the phantom."""
        first, last = self.levels
        return [self.spine.level_indices[i] for i in range(first, last)]

    def disc_name(self, k: int) -> str:
        return disc_name(k)

    def _boundary(self, k: int) -> int:
        """Region boundary number of global disc ``k``."""
        return k - self.spine.level_indices[0] + 1

    def disc_s(self, k: int) -> float:
        """Arc length of disc ``k``'s posterior tip (and of its level boundary at the cord)."""
        return float(self.spine.boundaries[self._boundary(k)])

    def tilt_degrees(self, k: int) -> float:
        """Inclination of disc ``k``'s mid-surface from the plane perpendicular to the cord."""
        return self._p["tilt"] + 4.0 * math.sin(1.7 * self._boundary(k))

    def posterior_tip(self, k: int) -> np.ndarray:
        """LPS position of disc ``k``'s posterior tip: on the bodies' posterior wall, midway
        between the facing endplates."""
        return self.spine.point(self.disc_s(k), self.front, 0.0)

    def cord_point(self, s: float) -> np.ndarray:
        return self.spine.point(s, 0.0, 0.0)

    def _surface(self, b: int, a, side: int) -> np.ndarray:
        """s of the endplate facing region boundary ``b`` at ``a``: ``side`` -1 above, +1 below."""
        s_b = self.spine.boundaries[b]
        k = self.spine.level_indices[0] - 1 + b
        return s_b + side * self._p["disc"] + math.tan(math.radians(self.tilt_degrees(k))) * (a - self.front)

    def labels(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per LPS point: vertebra level index (0 = none), disc number + 1 (0 = none), endplate flag."""
        p = self._p
        s, a, x = self.spine.coordinates(np.asarray(points, dtype=float))
        ax = np.abs(x)
        front, back, depth, hw = p["front"], p["back"], p["depth"], p["half_width"]
        canal_lr = p["canal_lr"]
        vert = np.zeros(s.shape, np.int16)
        disc = np.zeros(s.shape, np.int16)
        endplate = np.zeros(s.shape, bool)
        # Axial section of a body or disc: flat posterior wall, rounded anterior half.
        ra = (a - front - 0.4 * depth) / (0.6 * depth)
        section = (a >= front) & (a <= front + depth) & (ax <= hw * np.sqrt(np.clip(1 - np.maximum(ra, 0) ** 2, 0, 1)))
        first, last = self.levels
        b = self.spine.boundaries
        length, angle = p["spinous"]
        for i in range(first, last + 1):
            level = self.spine.level_indices[i]
            top_s, bot_s = b[i], b[i + 1]
            h = bot_s - top_s
            mid = 0.5 * (top_s + bot_s)
            upper = self._surface(i, a, +1)              # superior endplate
            lower = self._surface(i + 1, a, -1)          # inferior endplate
            body = section & (s >= upper) & (s <= lower)
            if self.region == "cervical" and level >= 3:
                body |= section & (ax >= hw - 3.0) & (a <= front + 0.7 * depth) & (s >= upper - _UNCINATE_MM) & (s < upper)
            pedicle = (np.abs(s - mid) <= 0.2 * h) & (a >= back) & (a <= front + 1.0) & (ax >= canal_lr) & (ax <= canal_lr + 4.5)
            lamina = (s >= top_s + 0.3 * h) & (s <= bot_s + 0.2 * h) & (a >= back - 5.0) & (a <= back) & (ax <= canal_lr + 4.5)
            inferior_facet = ((s >= mid) & (s <= bot_s + 0.35 * h) & (a >= back) & (a <= back + 5.0)
                              & (ax >= canal_lr + 0.5) & (ax <= canal_lr + 8.0))
            superior_facet = ((s >= top_s - 0.35 * h) & (s <= mid) & (a > back + 5.5) & (a <= back + 10.0)
                              & (ax >= canal_lr + 0.5) & (ax <= canal_lr + 8.0))
            s0, a0 = mid, back - 3.0
            ds, da = length * math.sin(math.radians(angle)), -length * math.cos(math.radians(angle))
            t = np.clip(((s - s0) * ds + (a - a0) * da) / (ds * ds + da * da), 0, 1)
            spinous = (np.hypot(s - s0 - t * ds, a - a0 - t * da) <= 3.0) & (ax <= 3.0)
            bone = body | pedicle | lamina | inferior_facet | superior_facet | spinous
            vert[bone] = level
            endplate[body & ((s - upper < _ENDPLATE_MM) | (lower - s < _ENDPLATE_MM))] = True
            endplate[bone & ~body] = False
            if i < last:
                between = section & (s > lower) & (s < self._surface(i + 1, a, +1)) & (vert == 0)
                disc[between] = level + 1
        disc[vert > 0] = 0
        endplate &= vert > 0
        return vert, disc, endplate

    # ------------------------------------------------------------------ grids and masks
    def _box(self, margin: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
        p = self._p
        b = self.spine.boundaries
        first, last = self.levels
        s = np.linspace(b[first] - 0.4 * (b[first + 1] - b[first]), b[last + 1] + 0.4 * (b[last + 1] - b[last]), 60)
        reach = p["spinous"][0] + 6.0
        a = np.array([p["back"] - 3.0 - reach, p["front"] + p["depth"] + 1.0])
        pts = self.spine.point(s[:, None], a[None, :], 0.0).reshape(-1, 3)
        lat = p["canal_lr"] + 9.0
        lo, hi = pts.min(axis=0) - margin, pts.max(axis=0) + margin
        lo[0], hi[0] = -lat - margin, lat + margin
        return lo, hi

    def geometry(self, *, plane: str = "axial", order: str = "LPS", spacing: float = 1.0,
                 slice_mm: float | None = None) -> Geometry:
        """A grid covering the phantom: ``plane`` "axial" (slices along S-I) or "sagittal" (along
        L-R); ``order`` "LPS" or "RAS" (towards which side the in-plane and slice axes increase)."""
        if plane not in ("axial", "sagittal") or order not in ("LPS", "RAS"):
            raise ValueError("plane must be 'axial' or 'sagittal' and order 'LPS' or 'RAS'")
        lo, hi = self._box()
        world_axes = (2, 1, 0) if plane == "axial" else (0, 2, 1)     # slice axis first
        signs = {0: 1.0, 1: 1.0, 2: 1.0} if order == "LPS" else {0: -1.0, 1: -1.0, 2: 1.0}
        steps = [slice_mm or spacing, spacing, spacing]
        direction = np.zeros((3, 3))
        origin = np.zeros(3)
        shape = []
        for col, (w, step) in enumerate(zip(world_axes, steps)):
            n = math.ceil((hi[w] - lo[w]) / step) + 1
            direction[w, col] = signs[w]
            # Reversed axes start at the far end of the same samples: every storage of one
            # spacing holds the same voxel centres, so results must agree to round-off.
            origin[w] = lo[w] if signs[w] > 0 else lo[w] + (n - 1) * step
            shape.append(n)
        return Geometry(tuple(shape), spacing=tuple(steps), origin=tuple(origin),
                        direction=tuple(map(tuple, direction)))

    def _points(self, g: Geometry) -> np.ndarray:
        return g.index_to_world(np.indices(g.shape).reshape(3, -1).T)

    def mask(self, g: Geometry, convention: str = "verse") -> Volume:
        """The vertebra mask on grid ``g`` in ``convention`` ("verse", "spineps", "totalsegmentator").

        VerSe: level index (C1 = 1 ... L5 = 24). SPINEPS: the same for vertebrae, 100 + X for the
        disc below vertebra X, 200 + X for the endplates of X. TotalSegmentator (``total``):
        51 - level index (vertebrae_C1 = 50 ... vertebrae_L5 = 27).
        """
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}")
        vert, disc, endplate = (v.reshape(g.shape) for v in self.labels(self._points(g)))
        if convention == "verse":
            out = vert
        elif convention == "totalsegmentator":
            out = np.where(vert > 0, 51 - vert, 0)
        else:
            out = np.where(endplate, 200 + vert, vert)
            out = np.where(disc > 0, 100 + disc - 1, out)
        return Volume(out.astype(np.int16), g)

    def cord(self, g: Geometry) -> np.ndarray:
        """The cord (an elliptic cylinder along the centreline) on grid ``g``."""
        ap, lr = self._p["cord"]
        _, a, x = self.spine.coordinates(self._points(g))
        return ((a / ap) ** 2 + (x / lr) ** 2 <= 1.0).reshape(g.shape)

    def blobs(self, g: Geometry, centres_s, radius: float = 0.9) -> np.ndarray:
        """Label image of small spheres in the cord centre at arc lengths ``centres_s`` (label i + 1)."""
        pts = self._points(g)
        out = np.zeros(len(pts), np.int16)
        for i, s in enumerate(centres_s):
            out[np.linalg.norm(pts - self.cord_point(s), axis=1) <= radius] = i + 1
        return out.reshape(g.shape)
