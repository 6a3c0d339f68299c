"""Siemens mosaic images: many slices tiled in one 2D image (EPI, DWI, fMRI on older software).

A mosaic file says ``MOSAIC`` in ImageType and how many tiles it holds in (0019,100A)
NumberOfImagesInMosaic. Its tiles form a square grid read row by row; tile k is slice k.
ImagePositionPatient describes the corner of the *whole* mosaic as if it were one big slice,
so the first tile's position is shifted by half the difference between the mosaic and the tile
size along each in-plane direction. Slice k sits ``k * SpacingBetweenSlices`` along the
SliceNormalVector of the Siemens CSA image header (which may point against row x column).
This is the arithmetic of nibabel's ``MosaicWrapper`` and dcm2niix.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from pydicom.dataset import Dataset

from .discover import Header
from .slices import NotAnImage, Slice, _int, plane_of, rescale_of, thickness_of

_N_IMAGES = (0x0019, 0x100A)
CSA_IMAGE = (0x0029, 0x1010)


def is_mosaic(ds: Dataset) -> bool:
    image_type = ds.get("ImageType") or []
    return "MOSAIC" in [str(v).upper() for v in image_type]


def tiles_of(header: Header) -> list[Slice]:
    ds = header.dataset
    n = _n_images(ds)
    if not n:
        raise NotAnImage("Siemens mosaic without NumberOfImagesInMosaic: its tiles cannot be separated")
    per_side = math.ceil(math.sqrt(n))
    position, orientation, rows, cols, spacing = plane_of(ds)
    if rows % per_side or cols % per_side:
        raise NotAnImage(f"mosaic of {n} images in a {rows}x{cols} image does not split into "
                         f"{per_side}x{per_side} tiles")
    t_rows, t_cols = rows // per_side, cols // per_side
    r = np.asarray(orientation[:3], float)
    c = np.asarray(orientation[3:], float)
    first = position + r * spacing[1] * (cols - t_cols) / 2 + c * spacing[0] * (rows - t_rows) / 2
    normal = _csa_normal(ds)
    if normal is None:
        normal = np.cross(r, c)
    step = thickness_of(ds) or 1.0
    rescale = rescale_of(ds)
    instance = _int(ds.get("InstanceNumber"))
    return [Slice(header, k, first + k * step * normal, orientation, t_rows, t_cols, spacing, **rescale,
                  instance=instance, thickness=step, mosaic=per_side) for k in range(n)]


def tile(image: np.ndarray, s: Slice) -> np.ndarray:
    """Tile ``s.frame`` of the full mosaic ``image``."""
    i, j = divmod(s.frame, s.mosaic)
    return image[i * s.rows:(i + 1) * s.rows, j * s.cols:(j + 1) * s.cols]


def _n_images(ds: Dataset) -> int | None:
    value = ds.get(_N_IMAGES)
    if value is not None:
        try:
            return int(value.value)
        except (TypeError, ValueError):
            pass
    csa = _csa(ds)
    if csa is None:
        return None
    from nibabel.nicom import csareader

    n = csareader.get_n_mosaic(csa)
    return int(n) if n else None


def _csa_normal(ds: Dataset) -> np.ndarray | None:
    csa = _csa(ds)
    if csa is None:
        return None
    from nibabel.nicom import csareader

    try:
        v = csareader.get_slice_normal(csa)
    except (KeyError, ValueError):
        return None
    if v is None or not np.all(np.isfinite(v)) or np.linalg.norm(v) < 0.5:
        return None
    return np.asarray(v, float) / np.linalg.norm(v)


def _csa(ds: Dataset):
    if CSA_IMAGE not in ds:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel.nicom warns that its readers are experimental
        from nibabel.nicom import csareader

        try:
            return csareader.get_csa_header(ds, "image")
        except Exception:  # noqa: BLE001 (a malformed private header must not stop loading)
            return None
