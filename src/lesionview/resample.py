"""Resampling onto another voxel grid, through SimpleITK (only when a user asks for it)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .geometry import Geometry


def to_sitk(array: np.ndarray, geometry: Geometry) -> sitk.Image:
    """A SimpleITK image of ``array``: ITK indexes (x, y, z) = NumPy axes (2, 1, 0); both LPS."""
    img = sitk.GetImageFromArray(np.ascontiguousarray(array))
    img.SetSpacing(tuple(reversed(geometry.spacing)))
    img.SetOrigin(geometry.origin)
    img.SetDirection(tuple(geometry.direction_matrix[:, ::-1].ravel()))
    return img


def from_sitk(image: sitk.Image) -> tuple[np.ndarray, Geometry]:
    array = sitk.GetArrayFromImage(image)
    direction = np.array(image.GetDirection()).reshape(3, 3)[:, ::-1]
    return array, Geometry(array.shape, tuple(reversed(image.GetSpacing())), image.GetOrigin(), direction)


def resample(array: np.ndarray, geometry: Geometry, target: Geometry, *, label: bool) -> np.ndarray:
    """``array`` (on ``geometry``) sampled at the voxel centres of ``target``.

    Labels use nearest neighbour (values are kept, never blended); images use linear
    interpolation. Outside the source field of view the result is 0.
    """
    ref = sitk.Image(*reversed(target.shape), sitk.sitkUInt8)
    ref.SetSpacing(tuple(reversed(target.spacing)))
    ref.SetOrigin(target.origin)
    ref.SetDirection(tuple(target.direction_matrix[:, ::-1].ravel()))
    interp = sitk.sitkNearestNeighbor if label else sitk.sitkLinear
    src = to_sitk(array if not label else array.astype(np.int32), geometry)
    out = sitk.Resample(src, ref, sitk.Transform(), interp, 0.0, src.GetPixelID())
    return sitk.GetArrayFromImage(out)
