"""The level model: disc planes along the cord, and the vertebral level of any point.

How a point gets its level
--------------------------
Level boundaries are the intervertebral discs. Each disc is a **plane** through the disc
position, perpendicular to the cord centerline where the centerline passes the disc (when a
centerline is attached), or else perpendicular to the line joining the neighbouring discs.
A plain z-coordinate would be wrong in the lordotic cervical spine: there a disc plane is
tilted by tens of degrees, i.e. several millimetres across the cord's width.

A point lies in level ``n`` when it is below (inferior side of) disc ``n - 1`` and not below
disc ``n``. A point exactly on a disc plane belongs to the level above.

Which discs exist
-----------------
Landmarks are anchors on a 1-D "level coordinate": a vertebral-body centre of level ``n`` sits
at ``n``, disc ``k`` (between levels ``k`` and ``k + 1``) at ``k + 0.5``. Discs that were not
given are placed by linear interpolation between the bracketing anchors (along the centerline
by arc length when one is attached, else in world space); so two consecutive body centres put
their disc midway between them, and discs given make body centres unnecessary.

Beyond the outermost landmarks the model extends by **one unit of the level coordinate**,
using the spacing of the two nearest anchors: with discs given, the level above the highest
disc extends one vertebral height above it (and likewise below the lowest disc); with body
centres given, the outermost vertebra extends half a height beyond its centre (its own disc).
Farther out, :meth:`LevelModel.level_of` returns 0 (outside the modelled levels) rather than
guessing.

A labelled cord (Spinal Cord Toolbox ``*_seg_labeled``) is the truth for the voxels it labels:
a point falling in a labelled voxel gets that voxel's level; the planes derived from the label
boundaries serve every other point (lesion voxels outside the cord mask, other grids).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from ..cord import Centerline
from ..errors import InputError
from ..geometry import Geometry
from . import names as _names


@dataclass(frozen=True)
class Landmark:
    """A named point in LPS mm: a vertebral-body centre (``kind="body"``, ``index`` = level)
    or a disc (``kind="disc"``, ``index`` = k, between levels k and k+1)."""

    kind: str
    index: int
    position: tuple[float, float, float]

    @property
    def name(self) -> str:
        return _names.name_of(self.index) if self.kind == "body" else _names.disc_name(self.index)

    @property
    def coordinate(self) -> float:
        return float(self.index) if self.kind == "body" else self.index + 0.5


@dataclass(frozen=True, eq=False)
class LabelledCord:
    """A voxel map of levels (e.g. SCT's labelled cord) that is the truth where it is nonzero."""

    array: np.ndarray
    geometry: Geometry

    def lookup(self, points: np.ndarray) -> np.ndarray:
        idx = np.rint(self.geometry.world_to_index(points)).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < np.array(self.geometry.shape)), axis=1)
        out = np.zeros(len(points), dtype=np.int64)
        i = idx[inside]
        out[inside] = self.array[i[:, 0], i[:, 1], i[:, 2]]
        return out


@dataclass(frozen=True, eq=False)
class LevelModel:
    """Vertebral levels in world space.

    Build it with :meth:`from_landmarks`, :meth:`from_file`, :meth:`from_sct_labeled_cord`,
    :meth:`from_sct_disc_labels`, :meth:`from_sct_body_labels`, :meth:`from_verse`, :meth:`from_spineps` or
    :meth:`from_totalsegmentator`; attach a centerline with :meth:`with_centerline`.

    Attributes
    ----------
    disc_indices : (K,) int array
        Disc numbers of the boundaries, superior to inferior, consecutive.
    disc_points, disc_normals : (K, 3) arrays
        A point of each disc plane and its unit normal (pointing inferior), LPS mm.

    Examples
    --------
    >>> m = LevelModel.from_landmarks(["C4/C5", "C5/C6"], [[0, 0, 10], [0, 0, -5]])
    >>> m.level_names_of([[0, 0, 0], [0, 0, 20], [0, 0, 40]])
    ['C5', 'C4', '']
    >>> m.disc_names
    ['C3/C4', 'C4/C5', 'C5/C6', 'C6/C7']
    """

    landmarks: tuple[Landmark, ...] = ()
    centerline: Centerline | None = None
    labelled: LabelledCord | None = None
    source: str = ""
    #: Problems the reader found and worked around (a disc dropped, a vertebra cut by the field of
    #: view); ``lesionview measure`` reports them with its own warnings.
    warnings: tuple[str, ...] = ()
    disc_indices: np.ndarray = field(init=False, repr=False)
    disc_points: np.ndarray = field(init=False, repr=False)
    disc_normals: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "landmarks", tuple(self.landmarks))
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))
        k, p, n = _boundaries(self.landmarks, self.centerline, need=self.labelled is None)
        for name, value in (("disc_indices", k), ("disc_points", p), ("disc_normals", n)):
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_landmarks(cls, names, positions, *, centerline: Centerline | None = None,
                       source: str = "landmarks") -> LevelModel:
        """From names ("C5", "C4/C5", ...) and LPS positions (N, 3) in mm (the napari Points path)."""
        names = [str(n) for n in names]
        pos = np.asarray(positions, dtype=float).reshape(-1, 3) if len(names) else np.zeros((0, 3))
        if len(pos) != len(names):
            raise InputError(f"{len(names)} landmark names but {len(pos)} positions.")
        if not np.all(np.isfinite(pos)):
            raise InputError("landmark positions must be finite numbers (mm).")
        parsed = _names.parse_landmarks(names)
        marks = tuple(Landmark(kind, idx, tuple(float(v) for v in p)) for (kind, idx), p in zip(parsed, pos))
        return cls(marks, centerline=centerline, source=source)

    @classmethod
    def from_file(cls, path: str | os.PathLike, *, centerline: Centerline | None = None) -> LevelModel:
        """From a landmark CSV or JSON file (see :mod:`lesionview.levels.sources`)."""
        from .sources import read_landmarks

        names, positions = read_landmarks(path)
        try:
            return cls.from_landmarks(names, positions, centerline=centerline, source=str(path))
        except InputError as exc:
            raise InputError(exc.problem, path=path, hint=exc.hint) from exc

    @classmethod
    def from_sct_labeled_cord(cls, volume, *, centerline: Centerline | None = None) -> LevelModel:
        from .sources import sct_labeled_cord

        return sct_labeled_cord(volume, centerline=centerline)

    @classmethod
    def from_sct_disc_labels(cls, volume, *, centerline: Centerline | None = None) -> LevelModel:
        from .sources import sct_disc_labels

        return sct_disc_labels(volume, centerline=centerline)

    @classmethod
    def from_sct_body_labels(cls, volume, *, centerline: Centerline | None = None) -> LevelModel:
        from .sources import sct_body_labels

        return sct_body_labels(volume, centerline=centerline)

    @classmethod
    def from_verse(cls, volume, *, centerline: Centerline | None = None) -> LevelModel:
        from .sources import verse_masks

        return verse_masks(volume, centerline=centerline)

    @classmethod
    def from_spineps(cls, volume, *, centerline: Centerline | None = None) -> LevelModel:
        """From a SPINEPS / TPTBox vertebra instance mask (see :func:`~lesionview.levels.sources.spineps_masks`)."""
        from .sources import spineps_masks

        return spineps_masks(volume, centerline=centerline)

    @classmethod
    def from_totalsegmentator(cls, volume, *, task: str = "total",
                              centerline: Centerline | None = None) -> LevelModel:
        from .sources import totalsegmentator_masks

        return totalsegmentator_masks(volume, task=task, centerline=centerline)

    def with_centerline(self, centerline: Centerline | None) -> LevelModel:
        """The same landmarks with disc planes perpendicular to this centerline."""
        return replace(self, centerline=centerline)

    # ------------------------------------------------------------------ names
    @staticmethod
    def name_of(index: int) -> str:
        return _names.name_of(index)

    @staticmethod
    def index_of(name: str) -> int:
        return _names.index_of(name)

    @property
    def landmark_names(self) -> list[str]:
        return [m.name for m in self.landmarks]

    @property
    def landmark_positions(self) -> np.ndarray:
        return np.array([m.position for m in self.landmarks], dtype=float).reshape(-1, 3)

    @property
    def disc_names(self) -> list[str]:
        return [_names.disc_name(k) for k in self.disc_indices]

    @property
    def modelled_levels(self) -> list[str]:
        """Names of the levels between the outermost boundaries (plus labelled-cord levels)."""
        idx = set(range(int(self.disc_indices[0]) + 1, int(self.disc_indices[-1]) + 1)) if len(self.disc_indices) else set()
        if self.labelled is not None:
            idx |= {int(v) for v in np.unique(self.labelled.array) if v > 0}
        return [_names.name_of(i) for i in sorted(idx)]

    # ------------------------------------------------------------------ queries
    def level_of(self, points) -> np.ndarray:
        """Level index (1 = C1 ... 24 = L5, 25 = S1) of each world point (N, 3); 0 = outside."""
        p = np.asarray(points, dtype=float).reshape(-1, 3)
        out = np.zeros(len(p), dtype=np.int64)
        if len(self.disc_indices) >= 2:
            offset = np.einsum("kj,kj->k", self.disc_points, self.disc_normals)
            n_discs = len(self.disc_indices)
            for start in range(0, len(p), 200_000):          # bounded memory for big masks
                chunk = slice(start, start + 200_000)
                below = ((p[chunk] @ self.disc_normals.T - offset) > 0).sum(axis=1)
                inside = (below > 0) & (below < n_discs)
                out[chunk][inside] = int(self.disc_indices[0]) + below[inside]
        if self.labelled is not None:
            known = self.labelled.lookup(p)
            out = np.where(known > 0, known, out)
        return out

    def level_names_of(self, points) -> list[str]:
        return [_names.name_of(i) for i in self.level_of(points)]

    def level_fractions(self, mask, geometry: Geometry) -> dict[str, float]:
        """Fraction of the mask's voxels in each level, superior first (outside levels omitted)."""
        idx = self._mask_levels(mask, geometry)
        if idx.size == 0:
            return {}
        values, counts = np.unique(idx[idx > 0], return_counts=True)
        return {_names.name_of(int(v)): float(c) / idx.size for v, c in zip(values, counts)}

    def levels_of_mask(self, mask, geometry: Geometry) -> list[str]:
        """Names of the levels the mask touches, superior first."""
        return list(self.level_fractions(mask, geometry))

    def span(self, mask, geometry: Geometry) -> tuple[str | None, str | None, int]:
        """(first, last, count) of the levels the mask spans; (None, None, 0) when none."""
        idx = self._mask_levels(mask, geometry)
        idx = idx[idx > 0]
        if idx.size == 0:
            return None, None, 0
        first, last = int(idx.min()), int(idx.max())
        return _names.name_of(first), _names.name_of(last), last - first + 1

    def span_label(self, mask, geometry: Geometry) -> str:
        """"C5-C6" (or "C5", or "unknown")."""
        first, last, _ = self.span(mask, geometry)
        return _names.span_label(first, last)

    def _mask_levels(self, mask, geometry: Geometry) -> np.ndarray:
        m = np.asarray(mask) != 0
        if m.shape != geometry.shape:
            raise InputError(f"mask shape {m.shape} does not match its geometry ({geometry.describe()}).")
        return self.level_of(geometry.index_to_world(np.argwhere(m)))

    # ------------------------------------------------------------------ validation
    def check_inside(self, geometry: Geometry, *, margin_voxels: float = 0.5) -> None:
        """Raise InputError naming every landmark outside the image's field of view."""
        pos = self.landmark_positions
        if len(pos) == 0:
            return
        ok = geometry.contains(pos, margin=margin_voxels)
        if np.all(ok):
            return
        bad = [f"{m.name} at ({', '.join(f'{v:.1f}' for v in m.position)}) mm"
               for m, inside in zip(self.landmarks, ok) if not inside]
        raise InputError(f"landmark(s) outside the image ({geometry.describe()}): {'; '.join(bad)} (LPS).",
                         path=self.source or None,
                         hint="Check that the landmarks belong to this study and are in LPS "
                              "(a RAS file needs 'space: RAS').")

    def save_landmarks(self, path: str | os.PathLike, *, space: str = "LPS"):
        from .sources import write_landmarks

        return write_landmarks(path, self.landmark_names, self.landmark_positions, space=space)


# ---------------------------------------------------------------------------- boundaries
def _boundaries(landmarks, centerline: Centerline | None, *, need: bool):
    empty = (np.zeros(0, dtype=np.int64), np.zeros((0, 3)), np.zeros((0, 3)))
    coords = np.array([m.coordinate for m in landmarks], dtype=float)
    pos = np.array([m.position for m in landmarks], dtype=float).reshape(-1, 3)
    if len(set(coords.tolist())) != len(coords):
        dup = sorted({m.name for m, c in zip(landmarks, coords) if (coords == c).sum() > 1})
        raise InputError(f"landmark(s) given more than once: {', '.join(dup)}.",
                         hint="Keep one position per vertebra or disc.")
    if len(landmarks) < 2:
        if not need:
            return empty
        raise InputError(f"vertebral levels need at least two landmarks, got {len(landmarks)} "
                         f"({', '.join(m.name for m in landmarks) or 'none'}).",
                         hint="Give two or more discs (e.g. C2/C3 and C5/C6) or vertebral-body centres.")
    order = np.argsort(coords)
    coords, pos = coords[order], pos[order]
    names_sorted = [landmarks[i].name for i in order]

    # Where each anchor lies along the spine, superior (small) to inferior (large).
    if centerline is not None:
        t = centerline.arclength_of(pos)
    else:
        axis = pos[-1] - pos[0]
        span = float(np.linalg.norm(axis))
        if span < 1.0:  # mm: two landmarks at one place give no direction
            raise InputError(f"landmarks {names_sorted[0]} and {names_sorted[-1]} lie {span:.2f} mm apart; "
                             "vertebral levels need them spread along the spine.",
                             hint="Check the positions (mm, LPS) and that they are not all the same point.")
        axis = axis / span
        if axis[2] > 0.3:
            raise InputError(
                f"landmarks run upwards: {names_sorted[0]} is below {names_sorted[-1]}.",
                hint="Check the names, and that positions are LPS (z grows towards the head).")
        t = (pos - pos[0]) @ axis
    if np.any(np.diff(t) <= 0):
        bad = [f"{names_sorted[i]} / {names_sorted[i + 1]}" for i in np.flatnonzero(np.diff(t) <= 0)]
        raise InputError(f"landmarks out of anatomical order along the spine: {', '.join(bad)}.",
                         hint="Each vertebra or disc must lie below the one above it; check the names.")

    lo, hi = coords[0] - 1.0, coords[-1] + 1.0
    ks = np.arange(int(np.ceil(lo - 0.5)), int(np.floor(hi - 0.5)) + 1)
    ks = ks[(ks >= 0) & (ks <= _names.MAX_LEVEL - 1)]
    given = {c: p for c, p in zip(coords, pos)}
    pts = []
    for k in ks:
        c = k + 0.5
        if c in given:
            pts.append(given[c])
            continue
        j = int(np.clip(np.searchsorted(coords, c) - 1, 0, len(coords) - 2))
        f = (c - coords[j]) / (coords[j + 1] - coords[j])      # < 0 or > 1 when extrapolating
        if centerline is not None:
            pts.append(centerline.point_at(t[j] + f * (t[j + 1] - t[j]))[0])
        else:
            pts.append(pos[j] + f * (pos[j + 1] - pos[j]))
    pts = np.array(pts, dtype=float)
    if centerline is not None:
        normals = centerline.tangent_at(pts)
    else:
        normals = np.gradient(pts, axis=0)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return ks.astype(np.int64), pts, normals
