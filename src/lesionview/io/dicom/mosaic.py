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
import struct
import warnings

import numpy as np
from pydicom.dataset import Dataset

from .discover import Header
from .slices import (
    ORIENTATION_TOL,
    BadValue,
    NotAnImage,
    PixelFormat,
    Slice,
    integer_or_none,
    plane_of,
    rescale_of,
    step_of,
)

_N_IMAGES = (0x0019, 0x100A)
CSA_IMAGE = (0x0029, 0x1010)


def is_mosaic(ds: Dataset) -> bool:
    try:
        image_type = ds.get("ImageType") or []
        if isinstance(image_type, str | bytes):
            image_type = [image_type]
        return "MOSAIC" in [str(v).upper() for v in image_type]
    except Exception:  # noqa: BLE001 (a damaged ImageType: then it is not read as a mosaic)
        return False


def tiles_of(header: Header, pixels: PixelFormat) -> list[Slice]:
    ds = header.dataset
    csa = _csa(ds)
    n = _n_images(ds, csa)
    per_side = math.ceil(math.sqrt(n))
    position, orientation, spacing = plane_of(ds)
    rows, cols = pixels.rows, pixels.cols
    if rows % per_side or cols % per_side:
        raise BadValue(f"mosaic of {n} images in a {rows}x{cols} image does not split into "
                       f"{per_side}x{per_side} tiles")
    t_rows, t_cols = rows // per_side, cols // per_side
    r = np.asarray(orientation[:3], float)
    c = np.asarray(orientation[3:], float)
    first = position + r * spacing[1] * (cols - t_cols) / 2 + c * spacing[0] * (rows - t_rows) / 2
    normal = np.cross(r, c)
    from_csa = _csa_normal(csa)
    if from_csa is not None:
        # Siemens' normal is the plane's, up to its sign, which gives the order of the slices.
        if abs(from_csa @ normal) < 1 - ORIENTATION_TOL:
            raise BadValue(f"the Siemens CSA SliceNormalVector {np.round(from_csa, 3).tolist()} is not "
                           "perpendicular to the image plane: the header is damaged")
        normal = from_csa
    step = _step(ds)
    rescale = rescale_of(ds, pixels)
    instance = integer_or_none(ds, "InstanceNumber")
    return [Slice(header, k, first + k * step * normal, orientation, t_rows, t_cols, spacing, pixels, **rescale,
                  instance=instance, thickness=step, mosaic=per_side) for k in range(n)]


def tile(image: np.ndarray, s: Slice) -> np.ndarray:
    """Tile ``s.frame`` of the full mosaic ``image``."""
    i, j = divmod(s.frame, s.mosaic)
    return image[i * s.rows:(i + 1) * s.rows, j * s.cols:(j + 1) * s.cols]


def _step(ds: Dataset) -> float:
    """The distance between the mosaic's slices: SpacingBetweenSlices, else SliceThickness."""
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        try:
            step = step_of(ds, keyword)
        except BadValue as exc:
            raise BadValue(f"{exc}; in a mosaic it is the distance between the slices") from None
        if step is not None:
            return step
    raise NotAnImage("Siemens mosaic without SpacingBetweenSlices or SliceThickness: the distance between "
                     "its slices is unknown")


def _n_images(ds: Dataset, csa) -> int:
    """NumberOfImagesInMosaic from (0019,100A) and the CSA image header, which must agree."""
    from_tag = _tag_value(ds)
    from_csa = None
    if csa is not None:
        from nibabel.nicom import csareader

        try:
            from_csa = int(csareader.get_n_mosaic(csa))
        except Exception:  # noqa: BLE001 (a malformed private header: the tag alone decides)
            from_csa = None
    if from_tag is not None and from_csa is not None and from_tag != from_csa:
        raise BadValue(f"NumberOfImagesInMosaic (0019,100A) is {from_tag} but the Siemens CSA header says "
                       f"{from_csa}: the header is damaged")
    n = from_tag if from_tag is not None else from_csa
    if n is None:
        raise NotAnImage("Siemens mosaic without NumberOfImagesInMosaic: its tiles cannot be separated")
    if n < 1:
        raise BadValue(f"NumberOfImagesInMosaic is {n}: a mosaic holds at least one image")
    return n


def _tag_value(ds: Dataset) -> int | None:
    try:
        elem = ds.get(_N_IMAGES)
        value = None if elem is None else elem.value
    except Exception as exc:  # pydicom's converters raise many types
        raise BadValue(f"NumberOfImagesInMosaic (0019,100A) cannot be read ({exc})") from exc
    if value is None or value == b"" or value == "":
        return None
    if isinstance(value, bytes) and len(value) == 2:  # implicit VR file: US read as raw bytes
        return struct.unpack("<H", value)[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not number.is_integer():
        raise BadValue(f"NumberOfImagesInMosaic (0019,100A) is {str(value)[:40]!r}: not a whole number")
    return int(number)


def _csa_normal(csa) -> np.ndarray | None:
    if csa is None:
        return None
    from nibabel.nicom import csareader

    try:
        v = np.asarray(csareader.get_slice_normal(csa), dtype=float)
    except Exception:  # noqa: BLE001 (a malformed private header: the IOP normal is used)
        return None
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) < 0.5:
        return None
    return v / np.linalg.norm(v)


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
