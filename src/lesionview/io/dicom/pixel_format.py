"""How one file's pixels are stored, checked against the standard and its pixel data element.

A pixel description that does not add up (BitsStored above BitsAllocated, a signedness that is
neither 0 nor 1, pixel data shorter than Rows x Columns x frames, a compressed transfer syntax
over plain pixel data...) makes the file unusable with a reason naming the element, so reading
the pixels never meets a format it would misread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from .discover import Header
from .values import BadValue, NotAnImage, integer, text

#: Largest decoded frame (bytes): 16384 x 16384 pixels of 16 bits. A bigger Rows x Columns is a
#: misread size, and would make loading allocate gigabytes for one slice.
MAX_FRAME_BYTES = 2**29
_NATIVE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian}
_GREY = ("MONOCHROME1", "MONOCHROME2")
_UNDEFINED = 0xFFFFFFFF


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
    #: What was accepted but must be said (in the series problems): extra pixel data bytes.
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def dtype(self) -> np.dtype:
        """The stored values' type, little endian (the fast path reads them as they are)."""
        if self.floating:
            return np.dtype(f"<f{self.bits_allocated // 8}")
        return np.dtype(f"<{'i' if self.signed else 'u'}{self.bits_allocated // 8}")


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
    notes = [] if floating else _high_bit_notes(ds, stored)
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
            notes += _check_length(header.pixel_length, frame_bytes, rows, cols, frames, allocated)
    else:  # a dataset built in memory (e.g. given to the report writers): no file to check against
        encapsulated = bool(syntax) and syntax.is_transfer_syntax and syntax.is_compressed
    return PixelFormat(rows, cols, allocated, stored, representation == 1 and not floating, floating, frames,
                       str(syntax), encapsulated, tuple(notes))


_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT", "PALETTE COLOR",
           "ARGB", "CMYK", "HSV", "YBR_PARTIAL_422")


def _high_bit_notes(ds, stored: int) -> list[str]:
    """HighBit is information only: values are BitsStored bits wide (masked or sign-extended from
    there, see ``pixels.py``), as pydicom reads them. Scanners write other HighBits in files that
    are otherwise sound, so one that disagrees is only said: it may also mean a damaged BitsStored.
    """
    try:
        high_bit = integer(ds, "HighBit", low=0, high=65535)
    except BadValue:
        return []
    if high_bit is None or high_bit == stored - 1:
        return []
    note = (f"HighBit is {high_bit} with BitsStored {stored} (the standard requires {stored - 1}): values are "
            f"read as {stored} bits, as pydicom does; if BitsStored were the damaged one, they would be cut")
    return [note]


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


def _check_length(actual: int, frame_bytes: int, rows: int, cols: int, frames: int, bits: int) -> list[str]:
    """Refuse pixel data too short for the frames, or longer by a whole frame or more (then
    NumberOfFrames or the size is damaged); accept less than a frame more, as pydicom does (the
    extra bytes are ignored), saying so when it is a row or more."""
    expected = frames * frame_bytes
    what = f"Rows x Columns x NumberOfFrames x BitsAllocated/8 = {rows} x {cols} x {frames} x {bits // 8}"
    if actual < expected:
        raise BadValue(f"pixel data holds {actual} bytes but {what} = {expected}: truncated, or the size "
                       "tags are wrong")
    extra = actual - expected
    if extra >= max(frame_bytes, 2):  # (a padding byte is never a frame, even of 1 byte)
        raise BadValue(f"pixel data holds {actual} bytes but {what} = {expected}: a whole frame or more is left "
                       "over, so NumberOfFrames or the size tags do not describe the data")
    # Less than a row is padding (one byte for an odd length, a few from some writers).
    if extra >= max(cols * bits // 8, 2):
        note = (f"pixel data holds {extra} bytes more than {what} = {expected} (some writers pad it): the "
                "extra bytes are ignored, as pydicom does; if Rows or Columns were damaged, the image would "
                "be misread")
        return [note]
    return []
