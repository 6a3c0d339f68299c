"""Siemens mosaic images: many slices tiled in one 2D image (EPI, DWI, fMRI on older software).

A mosaic file says ``MOSAIC`` in ImageType and how many tiles it holds in (0019,100A)
NumberOfImagesInMosaic. Its tiles form a square grid read row by row; tile k is slice k.
ImagePositionPatient describes the corner of the *whole* mosaic as if it were one big slice,
so the first tile's position is shifted by half the difference between the mosaic and the tile
size along each in-plane direction. Slice k sits ``k * step`` along the SliceNormalVector of
the Siemens CSA image header (which may point against row x column). This is the arithmetic of
nibabel's ``MosaicWrapper`` and dcm2niix.

The step is SpacingBetweenSlices; without a usable one, the distance between the first two slice
positions of the protocol in the Siemens CSA *series* header (ASCCONV ``sSliceArray``), as
dcm2niix does, once every slice of the protocol is found evenly spaced along the normal (so a
damaged position is not used); only then SliceThickness, said in the series problems: it is the
excited slab, so a gap between slices makes it shorter than the step.
"""

from __future__ import annotations

import functools
import math
import struct
import warnings

import numpy as np
from pydicom.dataset import Dataset

from .discover import Header
from .pixel_format import PixelFormat
from .slices import ORIENTATION_TOL, Slice, plane_of, rescale_of
from .values import SPACING_RANGE_MM, BadValue, NotAnImage, integer_or_none, step_of

_N_IMAGES = (0x0019, 0x100A)
CSA_IMAGE = (0x0029, 0x1010)
CSA_SERIES = (0x0029, 0x1020)
#: Slice positions in a Siemens protocol are written to 8 decimals: steps between neighbours that
#: differ by more than this (mm), or that leave the slice normal by more than this cosine, are
#: damaged values or another slice group, and the protocol's positions are not used.
_EVEN_MM = 1e-3
_PARALLEL_TOL = 1e-4
_MAX_SLICES = 4096


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
    csa = _csa(ds, "image")
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
    step, notes = _step(ds, normal)
    rescale = rescale_of(ds, pixels)
    instance = integer_or_none(ds, "InstanceNumber")
    notes = pixels.notes + notes
    return [Slice(header, k, first + k * step * normal, orientation, t_rows, t_cols, spacing, pixels, **rescale,
                  instance=instance, thickness=step, mosaic=per_side, notes=notes) for k in range(n)]


def tile(image: np.ndarray, s: Slice) -> np.ndarray:
    """Tile ``s.frame`` of the full mosaic ``image``."""
    i, j = divmod(s.frame, s.mosaic)
    return image[i * s.rows:(i + 1) * s.rows, j * s.cols:(j + 1) * s.cols]


def _step(ds: Dataset, normal: np.ndarray) -> tuple[float, tuple[str, ...]]:
    """The distance between the mosaic's slices, and notes for the series problems on where it
    came from when that was not SpacingBetweenSlices (see the module docstring)."""
    passed: list[str] = []  # values in the wrong form: passed over, and said
    step = _step_or_none(ds, "SpacingBetweenSlices", passed)
    if step is not None:
        return step, ()
    step = _csa_step(ds, normal)
    if step is not None:
        return step, tuple(f"{p}; passed over, the distance between the slices, {step:g} mm, was taken from "
                           "the slice positions in the Siemens CSA series header" for p in passed)
    step = _step_or_none(ds, "SliceThickness", passed)
    if step is not None:
        fallback = (f"slice spacing taken from SliceThickness ({step:g} mm): the Siemens mosaic has no usable "
                    "SpacingBetweenSlices and no slice positions in its CSA series header; a gap between slices "
                    "would make lengths along the slice axis too short")
        return step, (*(f"{p}; passed over" for p in passed), fallback)
    if passed:
        raise BadValue(f"{'; '.join(passed)}; in a mosaic it is the distance between the slices, and there are "
                       "no slice positions in the Siemens CSA series header to replace it")
    raise NotAnImage("Siemens mosaic without SpacingBetweenSlices, CSA slice positions or SliceThickness: the "
                     "distance between its slices is unknown")


def _step_or_none(ds: Dataset, keyword: str, passed: list[str]) -> float | None:
    """``keyword``'s step in mm; None when absent, or in the wrong form (then said in ``passed``)."""
    try:
        return step_of(ds, keyword)
    except BadValue as exc:
        passed.append(str(exc))
        return None


def _csa_step(ds: Dataset, normal: np.ndarray) -> float | None:
    """The distance between the first two slices of the protocol in the Siemens CSA series
    header (as dcm2niix takes it), or None when the protocol's slice positions are absent,
    unreadable, not evenly spaced along ``normal`` (a damaged value, or another slice group),
    or the step is implausible."""
    positions = _slice_positions(_ascconv(ds))
    if positions is None:
        return None
    diffs = np.diff(np.asarray(positions), axis=0)
    step = float(np.linalg.norm(diffs[0]))
    low, high = SPACING_RANGE_MM
    if not (np.all(np.isfinite(diffs)) and low <= step <= high):
        return None
    if np.max(np.abs(diffs - diffs[0])) > _EVEN_MM or abs(diffs[0] / step @ normal) < 1 - _PARALLEL_TOL:
        return None
    return step


@functools.lru_cache(maxsize=4)  # (every file of a series holds the same protocol)
def _slice_positions(section: str | None) -> tuple[tuple[float, float, float], ...] | None:
    """``sSliceArray.asSlice[k].sPosition`` for k < ``sSliceArray.lSize``, from an ASCCONV section."""
    if not section:
        return None
    # Only these assignments are given to nibabel's parser: the whole protocol (some 800) costs
    # about 20 ms per file, and a line it cannot parse elsewhere would cost the step.
    lines = [line for line in section.splitlines() if line.startswith("sSliceArray.lSize")
             or (line.startswith("sSliceArray.asSlice[") and ".sPosition." in line)]
    from nibabel.nicom import ascconv

    try:
        parsed, _ = ascconv.parse_ascconv("### ASCCONV BEGIN ###\n" + "\n".join(lines) + "\n### ASCCONV END ###",
                                          '""')
        array = parsed["sSliceArray"]
        count, listed = int(array["lSize"]), list(array.get("asSlice", []))
        if not 2 <= count <= _MAX_SLICES or len(listed) > count:
            return None
        # A slice without a line, or a coordinate left out, is at 0 (Siemens writes non-zero values only).
        listed += [None] * (count - len(listed))
        return tuple(tuple(float((s or {}).get("sPosition", {}).get(axis, 0.0)) for axis in ("dSag", "dCor", "dTra"))
                     for s in listed)
    except Exception:  # noqa: BLE001 (a damaged private header: the next source is used)
        return None


def _ascconv(ds: Dataset) -> str | None:
    """The ASCCONV section of the Siemens protocol in the CSA series header."""
    protocol = _protocol(ds)
    if protocol is None:
        return None
    start = protocol.find("### ASCCONV BEGIN")
    end = protocol.find("### ASCCONV END ###", start)
    return protocol[start:end] if end > start else None


def _protocol(ds: Dataset) -> str | None:
    """The Siemens protocol text (with its ASCCONV section) from the CSA series header."""
    csa = _csa(ds, "series")
    tags = csa.get("tags") if isinstance(csa, dict) else None
    if not isinstance(tags, dict):
        return None
    for key in ("MrPhoenixProtocol", "MrProtocol"):  # (MrProtocol: older software)
        element = tags.get(key)
        items = element.get("items") if isinstance(element, dict) else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, str) and "### ASCCONV BEGIN" in item:
                return item
    return None


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


def _csa(ds: Dataset, which: str):
    """The Siemens CSA "image" or "series" header, parsed by nibabel; None when absent or damaged."""
    if (CSA_IMAGE if which == "image" else CSA_SERIES) not in ds:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel.nicom warns that its readers are experimental
        from nibabel.nicom import csareader

        try:
            return csareader.get_csa_header(ds, which)
        except Exception:  # noqa: BLE001 (a malformed private header must not stop loading)
            return None
