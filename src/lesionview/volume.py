"""A voxel array that carries its geometry and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .errors import GeometryMismatchError
from .geometry import Geometry, reorient
from .series import SeriesInfo


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D image or mask in physical space.

    Parameters
    ----------
    array : ndarray
        Voxel values, NumPy axis order as described by ``geometry``.
    geometry : Geometry
        Where each voxel sits, LPS mm.
    info : SeriesInfo
        Identifiers, acquisition metadata and role guess (empty for masks made in memory).
    slice_axis : int
        Array axis along which the slices were acquired (0 for DICOM series: ``array[slice]``).
    problems : tuple of str
        Things found while loading that a user should know (gaps, uneven spacing, ...).
    """

    array: np.ndarray
    geometry: Geometry
    info: SeriesInfo = field(default_factory=SeriesInfo)
    slice_axis: int = 0
    problems: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.array.shape != self.geometry.shape:
            raise GeometryMismatchError(
                f"array shape {self.array.shape} does not match its geometry ({self.geometry.describe()})",
                path=self.info.source or None,
            )

    @property
    def plane(self) -> str:
        return self.geometry.plane(self.slice_axis)

    def like(self, array: np.ndarray, **changes) -> Volume:
        """A new volume on the same grid (e.g. a mask of this image)."""
        return replace(self, array=np.asarray(array), **changes)

    def reoriented(self, target: str = "LPS") -> Volume:
        """The same voxels stored in ``target`` orientation (permutations and flips only)."""
        order, _ = self.geometry.reorientation(target)
        array, geometry = reorient(self.array, self.geometry, target)
        return replace(self, array=array, geometry=geometry, slice_axis=order.index(self.slice_axis))
