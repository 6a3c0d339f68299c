"""NIfTI in and out through nibabel; the only place where RAS becomes LPS and back."""

from __future__ import annotations

import gzip
import os
import warnings
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from ..errors import InputError
from ..geometry import Geometry
from ..series import SeriesInfo, with_guessed_role
from ..volume import Volume
from .atomic import atomic_path

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: A straightened (orthogonalised) affine may move a corner voxel this far before we say so (mm).
SHEAR_TOLERANCE_MM = 0.1


def is_nifti(path: str | os.PathLike) -> bool:
    name = str(path).lower()
    return name.endswith(NIFTI_SUFFIXES)


def read_nifti(path: str | os.PathLike, *, first_volume_of_4d: bool = False) -> Volume:
    """Load a NIfTI image as a :class:`Volume` in LPS.

    The affine is the one nibabel chooses (``img.affine``: sform when its code is set, else
    qform), and scaling (``scl_slope``/``scl_inter``) is applied by nibabel. A 4D image is
    refused unless ``first_volume_of_4d`` is true, in which case its first volume is taken
    with a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file.", path=path, hint="Check the path.")
    try:
        img = nib.load(str(path))
        shape = img.shape
    except (nib.filebasedimages.ImageFileError, OSError, EOFError, ValueError,
            gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"not a readable NIfTI file ({exc}).", path=path,
                         hint="Re-export it, or check that the download is complete.") from exc
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) == 4:
        if not first_volume_of_4d:
            raise InputError(f"is 4D ({shape}); lesionview measures 3D volumes.", path=path,
                             hint="Split it into 3D volumes first (e.g. fslsplit), or pass "
                                  "first_volume_of_4d=True from Python.")
        warnings.warn(f"{path}: 4D image {shape}, taking its first volume", stacklevel=2)
        shape = shape[:3]
    elif len(shape) == 2:
        shape = shape + (1,)
    elif len(shape) != 3:
        raise InputError(f"has {len(shape)} dimensions ({shape}); expected a 3D image.", path=path)
    try:
        if len(img.shape) == 4:
            data = np.asanyarray(img.dataobj[..., 0])
            if not _is_identity_scaling(img):
                data = data * img.dataobj.slope + img.dataobj.inter
        else:
            data = _scaled(img)
        data = np.asarray(data).reshape(shape)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise InputError(f"pixel data cannot be read ({exc}); the file looks truncated or corrupt.",
                         path=path, hint="Re-export or re-download it.") from exc
    affine = _RAS_TO_LPS @ img.affine
    geometry = Geometry.from_affine(affine, shape)
    problems = []
    # Geometry keeps an orthogonal grid; a sheared affine (gantry tilt) cannot be one. Say how far
    # the straightened grid puts the corners from where the file says they are.
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in shape], indexing="ij")).reshape(3, -1).T
    off = float(np.max(np.linalg.norm(geometry.index_to_world(corners) - nib.affines.apply_affine(affine, corners), axis=1)))
    if off > SHEAR_TOLERANCE_MM:
        problems.append(f"the affine is sheared (gantry tilt?): the orthogonal grid used puts voxels up to "
                        f"{off:.2f} mm from the file's positions; resample it to an orthogonal grid first")
    zooms = img.header.get_zooms()[:3]
    slice_axis = int(np.argmax(zooms)) if len(set(np.round(zooms, 4))) > 1 else 2
    info = with_guessed_role(SeriesInfo(source=str(path), series_description=_stem(path),
                                        modality="MR"))
    return Volume(data, geometry, info=info, slice_axis=slice_axis, problems=tuple(problems))


def _is_identity_scaling(img) -> bool:
    slope, inter = img.dataobj.slope, img.dataobj.inter
    return (slope in (None, 1.0) or np.isnan(slope)) and (inter in (None, 0.0) or np.isnan(inter))


def _scaled(img) -> np.ndarray:
    # Keep integer storage (masks, raw MR) as integers when no scaling is set; nibabel's
    # get_fdata would turn a 16-bit volume into float64 (4x the memory).
    if _is_identity_scaling(img):
        return np.asanyarray(img.dataobj)
    return np.asarray(img.get_fdata(dtype=np.float32))


def _stem(path: Path) -> str:
    name = path.name
    for suffix in NIFTI_SUFFIXES[::-1]:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def write_nifti(volume: Volume | np.ndarray, path: str | os.PathLike, *, geometry: Geometry | None = None) -> Path:
    """Write a volume (or an array with a geometry, e.g. a mask of an image) as NIfTI.

    The file is written atomically (temporary file, then rename). Both sform and qform are set
    (code 1, scanner) to the geometry's RAS affine so every reader finds the same space.
    """
    if isinstance(volume, Volume):
        array, geometry = volume.array, geometry or volume.geometry
    else:
        array = np.asarray(volume)
        if geometry is None:
            raise ValueError("write_nifti needs a geometry when given a bare array")
    if array.shape != geometry.shape:
        raise ValueError(f"array shape {array.shape} does not match geometry {geometry.describe()}")
    if array.dtype == bool:
        array = array.astype(np.uint8)
    img = nib.Nifti1Image(array, _RAS_TO_LPS @ geometry.affine)
    img.set_sform(img.affine, code=1)
    img.set_qform(img.affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    path = Path(path)
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
    return path
