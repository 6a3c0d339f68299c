"""Vertebral levels as ordered planes: the ground truth a level-assigning module can be tested on.

A point's level is the one whose two boundary planes enclose it. Each boundary plane goes through
a disc centre (or, for C0/C1 and C1/C2, the joint without a disc) and is perpendicular to the cord
centreline there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import spine


@dataclass(frozen=True)
class Boundary:
    """A plane between two vertebral levels: ``name`` like "C4/C5", LPS ``point`` on the cord
    centreline, unit ``normal`` pointing caudally."""

    name: str
    point: tuple[float, float, float]
    normal: tuple[float, float, float]


@dataclass(frozen=True)
class VertebralLevels:
    """Ordered level boundaries, cranial to caudal.

    Examples
    --------
    >>> levels = VertebralLevels.phantom()
    >>> levels.level_of(levels.boundary("C4/C5").point + 5 * np.array(levels.boundary("C4/C5").normal))
    'C5'
    """

    boundaries: tuple[Boundary, ...]

    @classmethod
    def phantom(cls) -> VertebralLevels:
        """The phantom's levels (C1 to T2, bounded by C0/C1 ... T2/T3)."""
        names = [b[0] for b in spine.BOUNDARIES]
        s = np.array([b[1] for b in spine.BOUNDARIES])
        points = spine.centreline_point(s)
        normals = spine.centreline_tangent(s)
        return cls(tuple(Boundary(n, tuple(map(float, p)), tuple(map(float, v)))
                         for n, p, v in zip(names, points, normals)))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> VertebralLevels:
        """Read the ``planes`` list of a phantom ``landmarks.json``."""
        data = json.loads(Path(path).read_text())
        return cls(tuple(Boundary(p["name"], tuple(p["point"]), tuple(p["normal"])) for p in data["planes"]))

    def to_json(self) -> list[dict]:
        return [{"name": b.name, "point": list(b.point), "normal": list(b.normal)} for b in self.boundaries]

    @property
    def names(self) -> tuple[str, ...]:
        """Level names between consecutive boundaries ("C1", "C2", ...)."""
        return tuple(b.name.split("/")[1] for b in self.boundaries[:-1])

    def boundary(self, name: str) -> Boundary:
        for b in self.boundaries:
            if b.name == name:
                return b
        raise KeyError(f"no level boundary named {name!r}; have {[b.name for b in self.boundaries]}")

    def level_index(self, points) -> np.ndarray:
        """Index into :attr:`names` of each LPS point (..., 3); -1 above the first boundary,
        ``len(names)`` below the last."""
        p = np.asarray(points, dtype=float)
        below = np.zeros(p.shape[:-1], dtype=int)
        for b in self.boundaries:
            below += ((p - np.array(b.point)) @ np.array(b.normal)) > 0
        return below - 1

    def level_of(self, points):
        """Level name of one LPS point, or an array of names for (..., 3) points ("" outside)."""
        idx = self.level_index(points)
        names = np.array(("",) + self.names + ("",), dtype=object)
        out = names[idx + 1]
        return str(out) if np.ndim(out) == 0 else out

    def span(self, points) -> str:
        """Levels covered by a set of points: "C5" or "C5-C6" (cranial first)."""
        idx = np.unique(self.level_index(np.reshape(points, (-1, 3))))
        if idx.size == 0:
            raise ValueError("no points given")
        if idx[0] < 0 or idx[-1] >= len(self.names):
            raise ValueError("some points lie outside the levels covered by these boundaries")
        top, bottom = self.names[idx[0]], self.names[idx[-1]]
        return top if top == bottom else f"{top}-{bottom}"

    def count(self, span: str) -> int:
        """Number of levels in a span like "C1-C7" (7)."""
        top, _, bottom = span.partition("-")
        return self.names.index(bottom or top) - self.names.index(top) + 1
