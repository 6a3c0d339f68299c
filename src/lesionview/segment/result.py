"""What every segmentation tool returns: a mask on the input's grid, and why it looks as it does."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry import Geometry


@dataclass(frozen=True, eq=False)
class Segmentation:
    """A tool's answer.

    Parameters
    ----------
    mask : ndarray of bool (or int labels for proposals and splits)
        On the grid of the image the tool was given (``geometry``).
    geometry : Geometry
        That grid.
    reason : str
        Empty when the tool did what was asked; otherwise why the mask is empty or partial,
        in words a radiologist understands ("the seed is outside the cord region", "the image
        has no contrast").
    details : dict
        Numbers the tool used (thresholds, reference intensities, sizes) for the record and
        for the GUI to show.
    """

    mask: np.ndarray
    geometry: Geometry
    reason: str = ""
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mask.shape != self.geometry.shape:
            raise ValueError(f"mask shape {self.mask.shape} does not match {self.geometry.describe()}")

    @property
    def ok(self) -> bool:
        """True when the tool found something and has nothing to warn about."""
        return not self.reason and bool(np.any(self.mask))

    @property
    def volume_mm3(self) -> float:
        return float(np.count_nonzero(self.mask)) * self.geometry.voxel_volume

    @classmethod
    def empty(cls, geometry: Geometry, reason: str, **details) -> Segmentation:
        """No result, and why."""
        return cls(np.zeros(geometry.shape, bool), geometry, reason, details)


def dice(a, b) -> float:
    """Dice overlap of two masks (non-zero = inside): 1 for identical masks, 0 for disjoint ones.

    Two empty masks agree perfectly (1.0).

    Examples
    --------
    >>> dice(np.array([1, 1, 0]), np.array([1, 0, 0]))
    0.6666666666666666
    """
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    total = np.count_nonzero(a) + np.count_nonzero(b)
    return 1.0 if total == 0 else float(2.0 * np.count_nonzero(a & b) / total)
