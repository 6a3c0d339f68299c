"""One 2D image in patient space: a classic single-frame file, or one frame of a multi-frame file.

Everything a stack needs (position, orientation, size, pixel spacing, rescale, pixel format) is
copied out of the header here, and checked against the standard on the way: a value in the wrong
form (three numbers where six belong, text, NaN, a zero or non-orthogonal orientation, a pixel
description that does not add up to the pixel data...) makes the file unusable with a reason
naming the element, so grouping, sorting, geometry and pixel reading never meet a bad value.
Values that only inform (InstanceNumber, SliceThickness of a multi-slice stack) never stop a
file: a bad one is treated as absent.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pydicom.values import convert_numbers

from .discover import Header, Unusable, short

#: Pixel spacing, slice thickness and step (mm) outside this range are misread numbers (1e-300,
#: 1e300), not a scanner's: no MR or CT pixel is smaller than a micrometre or larger than a metre,
#: and such values would make every distance and volume meaningless.
SPACING_RANGE_MM = (1e-3, 1e3)
#: Farther than this from the scanner's origin (mm) a position is a misread number.
MAX_POSITION_MM = 1e6
#: Row and column cosines must be unit vectors and perpendicular within this (about 0.6 degree):
#: headers store them to about 6 digits; farther off, the orientation is damaged.
ORIENTATION_TOL = 1e-2
#: Largest decoded frame (bytes): 16384 x 16384 pixels of 16 bits. A bigger Rows x Columns is a
#: misread size, and would make loading allocate gigabytes for one slice.
MAX_FRAME_BYTES = 2**29
_NATIVE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian}
_GREY = ("MONOCHROME1", "MONOCHROME2")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_UNDEFINED = 0xFFFFFFFF


class NotAnImage(Unusable):
    """The header lacks what is needed to place the image in space (the message says what)."""


class BadValue(NotAnImage):
    """A header value in a form the standard does not allow (the message says which and why)."""

    kind = "invalid"


@dataclass(frozen=True)
class PixelFormat:
    """How one file's pixels are stored, checked against its pixel data element."""

    rows: int             # of the stored image (a whole mosaic, or every frame)
    cols: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    floating: bool        # FloatPixelData / DoubleFloatPixelData
    frames: int
    transfer_syntax: str  # "" when the file has no file meta (old exports): implicit VR little endian
    encapsulated: bool    # compressed: decoded by pydicom's pixel handlers

    @property
    def dtype(self) -> np.dtype:
        """The stored values' type, little endian (the fast path reads them as they are)."""
        if self.floating:
            return np.dtype(f"<f{self.bits_allocated // 8}")
        return np.dtype(f"<{'i' if self.signed else 'u'}{self.bits_allocated // 8}")


@dataclass(frozen=True, eq=False)
class Slice:
    header: Header
    frame: int                      # index of the frame in its file (0 for single-frame files)
    position: np.ndarray            # ImagePositionPatient, LPS mm, centre of the first pixel
    orientation: tuple[float, ...]  # ImageOrientationPatient: row cosines then column cosines
    rows: int
    cols: int
    pixel_spacing: tuple[float, float]  # (between rows, between columns), mm
    pixels: PixelFormat
    slope: float = 1.0
    intercept: float = 0.0
    instance: int | None = None
    thickness: float | None = None  # SliceThickness or SpacingBetweenSlices, for 1-slice stacks
    mosaic: int = 0                 # tiles per side of a Siemens mosaic (0: not a mosaic)

    @property
    def name(self) -> str:
        return self.header.name

    @property
    def dataset(self) -> Dataset:
        return self.header.dataset


def slices_of(header: Header) -> list[Slice]:
    """The slices in one file (several for an enhanced multi-frame file or a mosaic).

    Raises :class:`NotAnImage` when position, orientation or spacing are missing, and
    :class:`BadValue` when a value the slices need is in the wrong form.
    """
    ds = header.dataset
    pixels = pixel_format_of(header)
    if "PerFrameFunctionalGroupsSequence" in ds or pixels.frames > 1:
        return multiframe.frames_of(header, pixels)
    if mosaic.is_mosaic(ds):
        return mosaic.tiles_of(header, pixels)
    position, orientation, spacing = plane_of(ds)
    return [Slice(header, 0, position, orientation, pixels.rows, pixels.cols, spacing, pixels, **rescale_of(ds, pixels),
                  instance=integer_or_none(ds, "InstanceNumber"), thickness=thickness_of(ds))]


# ----------------------------------------------------------------------------- reading values
def values_of(ds: Mapping | Dataset, keyword: str) -> list | None:
    """The values of ``keyword`` as a list, or None when absent or empty.

    pydicom converts values when they are first read, and raises (many types) on damaged ones:
    that is a :class:`BadValue` here.
    """
    try:
        if isinstance(ds, Dataset):  # by tag: pydicom's keyword lookup costs as much as the value
            elem = ds.get(_tag(keyword))
            value = None if elem is None else elem.value
        else:
            value = ds.get(keyword)
    except Exception as exc:  # pydicom's converters raise many types
        raise BadValue(f"{keyword} cannot be read ({type(exc).__name__}: {short(exc)})") from exc
    if value is None or (isinstance(value, str | bytes) and not value.strip(b"\0 " if isinstance(value, bytes)
                                                                          else "\0 ")):
        return None
    if isinstance(value, str | bytes | int | float):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


@functools.cache
def _tag(keyword: str) -> int:
    return tag_for_keyword(keyword)


def shown(values: list) -> str:
    """Values as a header dump shows them, printable and short."""
    text = "\\".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def numbers(ds, keyword: str, count: int, *, where: str = "") -> tuple[float, ...] | None:
    """Exactly ``count`` finite numbers, or None when the element is absent or empty.

    Raises :class:`BadValue` naming the element and what is wrong with it.

    Examples
    --------
    >>> numbers({"PixelSpacing": ["0.5", "0.5"]}, "PixelSpacing", 2)
    (0.5, 0.5)
    >>> numbers({"PixelSpacing": ["nan", "1"]}, "PixelSpacing", 2)
    Traceback (most recent call last):
    ...
    lesionview.io.dicom.slices.BadValue: PixelSpacing is 'nan\\\\1': not a finite number
    """
    values = values_of(ds, keyword)
    if values is None:
        return None
    at = f" in the {where}" if where else ""
    if len(values) != count:
        raise BadValue(f"{keyword}{at} has {len(values)} value{'s' * (len(values) != 1)} ({shown(values)}) "
                       f"where the standard requires {count}")
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError, OverflowError):
            raise BadValue(f"{keyword}{at} is {shown(values)}: not a number") from None
        if not math.isfinite(f):
            raise BadValue(f"{keyword}{at} is {shown(values)}: not a finite number")
        out.append(f)
    return tuple(out)


def integer(ds, keyword: str, *, default: int | None = None, low: int = 0, high: int = 2**32 - 1,
            where: str = "") -> int | None:
    """One whole number in ``[low, high]``, ``default`` when absent; raises :class:`BadValue`."""
    value = _plain_us(ds, keyword)
    if value is not None:
        if not low <= value <= high:
            raise BadValue(f"{keyword}{f' in the {where}' if where else ''} is {value}, outside {low}..{high}")
        return value
    values = values_of(ds, keyword)
    if values is None:
        return default
    at = f" in the {where}" if where else ""
    if len(values) != 1:
        raise BadValue(f"{keyword}{at} has {len(values)} values ({shown(values)}) where the standard requires one")
    try:
        f = float(values[0])
    except (TypeError, ValueError, OverflowError):
        raise BadValue(f"{keyword}{at} is {shown(values)}: not a number") from None
    if not f.is_integer():
        raise BadValue(f"{keyword}{at} is {shown(values)}: not a whole number")
    if not low <= f <= high:
        raise BadValue(f"{keyword}{at} is {shown(values)}, outside {low}..{high}")
    return int(f)


def _plain_us(ds, keyword: str) -> int | None:
    """A US value still raw as read (2 bytes), converted by pydicom's number converter alone.

    Why: the pixel description is 7 US elements per file, and pydicom's full conversion (hooks,
    a DataElement, validation) costs about ten times the unpacking; on a 200-file series that is
    a tenth of the scan. Anything else (another VR or length, already converted) returns None
    and takes the checked path.
    """
    if not isinstance(ds, Dataset):
        return None
    raw = ds.get_item(_tag(keyword), keep_deferred=True)
    if type(raw) is RawDataElement and raw.length == 2 and raw.VR in (None, "US") and raw.value is not None:
        return convert_numbers(raw.value, raw.is_little_endian, "H")
    return None


def integer_or_none(ds, keyword: str) -> int | None:
    """A whole number that only informs (InstanceNumber...): None when it is in the wrong form."""
    try:
        return integer(ds, keyword, low=-(2**31), high=2**31 - 1)
    except BadValue:
        return None


def text(ds, keyword: str) -> str:
    """A value as stripped text, "" when absent or unreadable (for labels and comparisons only)."""
    try:
        values = values_of(ds, keyword)
    except BadValue:
        return ""
    if values is None:
        return ""
    return "\\".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values).strip()


# ----------------------------------------------------------------------------- what a slice needs
def plane_of(ds, where: str = "header") -> tuple[np.ndarray, tuple[float, ...], tuple[float, float]]:
    """``(position, orientation, pixel_spacing)`` from a dataset or functional group, checked."""
    position = numbers(ds, "ImagePositionPatient", 3, where=where)
    orientation = numbers(ds, "ImageOrientationPatient", 6, where=where)
    spacing = numbers(ds, "PixelSpacing", 2, where=where)
    missing = [k for k, v in (("ImagePositionPatient", position), ("ImageOrientationPatient", orientation),
                              ("PixelSpacing", spacing)) if v is None]
    if missing:
        raise NotAnImage(f"no {' / '.join(missing)} in the {where}, so it cannot be placed in the "
                         "patient (a screenshot, secondary capture or localiser?)")
    if max(abs(v) for v in position) > MAX_POSITION_MM:
        raise BadValue(f"ImagePositionPatient {position} is more than {MAX_POSITION_MM / 1000:g} m from the "
                       "scanner's origin: a misread value")
    check_orientation(orientation, where)
    low, high = SPACING_RANGE_MM
    if not all(low <= v <= high for v in spacing):
        raise BadValue(f"PixelSpacing {spacing} in the {where} is outside {low:g}..{high:g} mm: "
                       "zero, negative or a misread value")
    return np.asarray(position, dtype=float), orientation, spacing


def check_orientation(iop: tuple[float, ...], where: str = "header") -> None:
    """Raise :class:`BadValue` unless the row and column cosines are perpendicular unit vectors.

    Examples
    --------
    >>> check_orientation((1, 0, 0, 0, 1, 0))
    >>> check_orientation((1, 0, 0, 1, 0, 0))
    Traceback (most recent call last):
    ...
    lesionview.io.dicom.slices.BadValue: ImageOrientationPatient [1, 0, 0, 1, 0, 0] in the header: row and column directions are not perpendicular (cosine 1)
    """
    r, c = iop[:3], iop[3:]
    shown_iop = "[" + ", ".join(f"{v:g}" for v in iop) + "]"
    lengths = math.hypot(*r), math.hypot(*c)  # (plain floats: numpy costs more for three values)
    if min(lengths) < ORIENTATION_TOL:
        raise BadValue(f"ImageOrientationPatient {shown_iop} in the {where}: a direction is all zeros")
    if max(abs(n - 1) for n in lengths) > ORIENTATION_TOL:
        raise BadValue(f"ImageOrientationPatient {shown_iop} in the {where}: the directions are not unit "
                       f"vectors (lengths {lengths[0]:.3g}, {lengths[1]:.3g})")
    cosine = math.fsum(a * b for a, b in zip(r, c))
    if abs(cosine) > ORIENTATION_TOL:
        raise BadValue(f"ImageOrientationPatient {shown_iop} in the {where}: row and column directions are "
                       f"not perpendicular (cosine {cosine:.3g})")


def size_of(ds) -> tuple[int, int]:
    """``(Rows, Columns)``, both required and at least 1."""
    rows = integer(ds, "Rows", low=0, high=65535)
    cols = integer(ds, "Columns", low=0, high=65535)
    missing = [k for k, v in (("Rows", rows), ("Columns", cols)) if v is None]
    if missing:
        raise BadValue(f"no {' / '.join(missing)}: the image size is unknown")
    if not rows or not cols:
        raise BadValue(f"the image is {rows} x {cols} pixels (Rows x Columns)")
    return rows, cols


def pixel_format_of(header: Header) -> PixelFormat:
    """The pixel format of the file, checked against the standard and its pixel data element.

    Raises :class:`BadValue` (a value out of range, a pixel data length that does not add up)
    or :class:`NotAnImage` (colour, 1-bit, a compression no decoder here reads).
    """
    ds = header.dataset
    samples = integer(ds, "SamplesPerPixel", default=1, low=0, high=65535)
    photometric = text(ds, "PhotometricInterpretation").upper()
    if photometric in _COLOUR or (samples in (3, 4) and not photometric):
        raise NotAnImage(f"colour image ({photometric or f'{samples} samples per pixel'}); "
                         "lesionview measures greyscale MR/CT")
    if samples != 1:
        raise BadValue(f"SamplesPerPixel is {samples}" + (f" but PhotometricInterpretation is {photometric}"
                                                          if photometric else "") + ": a greyscale image has 1")
    if not photometric:
        raise BadValue("no PhotometricInterpretation: whether the image is greyscale is unknown")
    if photometric not in _GREY:
        raise BadValue(f"PhotometricInterpretation is {photometric!r}: a greyscale image is MONOCHROME1 or "
                       "MONOCHROME2")
    floating = "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
    allocated = integer(ds, "BitsAllocated", low=0, high=65535)
    if allocated is None:
        raise BadValue("no BitsAllocated: the pixel size is unknown")
    allowed = (64,) if "DoubleFloatPixelData" in ds else (32,) if floating else (8, 16, 32)
    if allocated == 1:
        raise NotAnImage("1-bit (binary) pixel data; lesionview measures greyscale MR/CT")
    if allocated not in allowed:
        raise BadValue(f"BitsAllocated is {allocated}: the standard allows {' or '.join(map(str, allowed))} here")
    stored = integer(ds, "BitsStored", default=allocated if floating else None, low=0, high=65535)
    if stored is None:
        raise BadValue("no BitsStored: which bits of each pixel hold its value is unknown")
    if not 1 <= stored <= allocated:
        raise BadValue(f"BitsStored is {stored} with BitsAllocated {allocated}: it must be 1..{allocated}")
    high_bit = integer(ds, "HighBit", low=0, high=65535)
    if high_bit is not None and high_bit != stored - 1 and not floating:
        raise BadValue(f"HighBit is {high_bit} with BitsStored {stored}: the standard requires "
                       f"HighBit = BitsStored - 1 ({stored - 1})")
    representation = integer(ds, "PixelRepresentation", default=0 if floating else None, low=0, high=65535)
    if representation is None:
        raise BadValue("no PixelRepresentation: whether pixels are signed is unknown")
    if representation not in (0, 1):
        raise BadValue(f"PixelRepresentation is {representation}: 0 (unsigned) or 1 (signed)")
    frames = integer(ds, "NumberOfFrames", default=1, low=0, high=2**31 - 1)
    if frames < 1:
        raise BadValue(f"NumberOfFrames is {frames}: an image has at least one frame")
    rows, cols = size_of(ds)
    frame_bytes = rows * cols * allocated // 8
    if frame_bytes > MAX_FRAME_BYTES:
        raise BadValue(f"Rows x Columns is {rows} x {cols}: {frame_bytes / 2**20:.0f} MiB per frame, "
                       "more than any MR or CT image (a misread size)")
    meta = getattr(ds, "file_meta", None)
    syntax = UID(text(meta, "TransferSyntaxUID")) if meta is not None else UID("")
    if header.file_size:
        encapsulated = header.pixel_length == _UNDEFINED
        _check_syntax(syntax, encapsulated)
        if not encapsulated:
            _check_length(header.pixel_length, frames * frame_bytes, rows, cols, frames, allocated)
    else:  # a dataset built in memory (e.g. given to the report writers): no file to check against
        encapsulated = bool(syntax) and syntax.is_transfer_syntax and syntax.is_compressed
    return PixelFormat(rows, cols, allocated, stored, representation == 1 and not floating, floating, frames,
                       str(syntax), encapsulated)


_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT", "PALETTE COLOR",
           "ARGB", "CMYK", "HSV", "YBR_PARTIAL_422")


def _check_syntax(syntax: UID, encapsulated: bool) -> None:
    if not syntax or syntax in _NATIVE:
        if encapsulated:
            raise BadValue(f"compressed (encapsulated) pixel data under the uncompressed transfer syntax "
                           f"{syntax.name if syntax else 'implied by a missing file meta'}")
        return
    if not syntax.is_transfer_syntax:
        raise NotAnImage(f"unknown transfer syntax {syntax}: its pixel data cannot be read")
    if not encapsulated:
        raise BadValue(f"transfer syntax {syntax.name} is compressed but the pixel data is not encapsulated")
    from pydicom.pixels import get_decoder

    try:
        available = get_decoder(syntax).is_available
    except (NotImplementedError, ValueError):
        available = False
    if not available:
        raise NotAnImage(f"pixel data compressed as {syntax.name}, which no installed decoder reads")


def _check_length(actual: int, expected: int, rows: int, cols: int, frames: int, bits: int) -> None:
    what = f"Rows x Columns x NumberOfFrames x BitsAllocated/8 = {rows} x {cols} x {frames} x {bits // 8}"
    if actual < expected:
        raise BadValue(f"pixel data holds {actual} bytes but {what} = {expected}: truncated, or the size "
                       "tags are wrong")
    # One padding byte (odd lengths), or a few from some writers; a whole row more means the size
    # tags do not describe the data.
    if actual - expected >= max(cols * bits // 8, 2):
        raise BadValue(f"pixel data holds {actual} bytes but {what} = {expected}: the size tags do not "
                       "describe the data")


def rescale_of(ds, pixels: PixelFormat, where: str = "header") -> dict:
    """``{"slope", "intercept"}``: one finite number each (absent: 1 and 0), slope not zero, and
    rescaled values that fit a float32."""
    slope = numbers(ds, "RescaleSlope", 1, where=where)
    intercept = numbers(ds, "RescaleIntercept", 1, where=where)
    slope = 1.0 if slope is None else slope[0]
    intercept = 0.0 if intercept is None else intercept[0]
    if slope == 0:
        raise BadValue(f"RescaleSlope is 0 in the {where}: every pixel would have the same value")
    largest = abs(slope) * 2.0 ** pixels.bits_stored + abs(intercept)
    if not pixels.floating and largest > _FLOAT32_MAX / 2:
        raise BadValue(f"RescaleSlope {slope:g} / RescaleIntercept {intercept:g} in the {where} would overflow "
                       "the pixel values: misread numbers")
    return {"slope": slope, "intercept": intercept}


def thickness_of(ds) -> float | None:
    """SpacingBetweenSlices, else SliceThickness: the first that is one plausible positive number.

    Only a fallback (a stack measures its step from positions), so one in the wrong form is
    passed over, never a reason to refuse the file.
    """
    for key in ("SpacingBetweenSlices", "SliceThickness"):
        try:
            value = step_of(ds, key)
        except BadValue:
            continue
        if value is not None:
            return value
    return None


def step_of(ds, keyword: str) -> float | None:
    """One plausible positive number of mm, None when absent; raises :class:`BadValue`."""
    value = numbers(ds, keyword, 1)
    if value is None:
        return None
    low, high = SPACING_RANGE_MM
    if not low <= value[0] <= high:
        raise BadValue(f"{keyword} is {value[0]:g} mm, outside {low:g}..{high:g} mm")
    return value[0]


# They build on the functions above (and import this module): imported last, used at call time.
from . import mosaic, multiframe
