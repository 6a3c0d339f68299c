"""Pixel values of a stack, read into one preallocated array.

Uncompressed little-endian pixel data (what scanners send to PACS) is read with ``readinto``
straight from the file offset found in the header pass into its row of the output array: no
per-slice array, no copy, no second parse of the header. Everything else (JPEG, JPEG-LS,
JPEG 2000, RLE, big endian, deflated) is decoded by pydicom's pixel handlers one frame at a time.

When BitsStored < BitsAllocated, the bits above the high bit are not part of the value (PS3.5
8.1.1; some scanners leave overlay or garbage bits there): they are masked off for unsigned data
and the sign is extended for signed data, on both paths, as pydicom and GDCM do.

RescaleSlope/Intercept are applied per slice. Data keeps its stored integer type when every
slice has the identity rescale and one pixel format, becomes a wide-enough integer when slopes
are 1 and intercepts whole (CT's -1024), and float32 otherwise.

Any failure to read a file's pixels is an :class:`~lesionview.errors.InputError` naming that file.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterable

import numpy as np
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from ...errors import InputError
from .discover import Header, Source, short
from .mosaic import tile
from .pixel_format import PixelFormat
from .slices import Slice

_NATIVE_LE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, ""}  # "": no file meta, implicit VR LE
_CHUNK = 2**20
_NOT_DECODER_FAILURES = (KeyboardInterrupt, SystemExit, GeneratorExit)
#: Decoder to use only, by transfer syntax. pydicom tries its own RLE decoder first and, when it
#: fails on damaged data, pylibjpeg-rle, which then panics in Rust (printing a Rust backtrace).
_PLUGIN = {RLELossless: "pydicom"}


def output_dtype(slices) -> np.dtype:
    """The type that holds every slice's rescaled values exactly (float32 when none does)."""
    formats = {s.pixels.dtype for s in slices}
    identity = all(s.slope == 1 and s.intercept == 0 for s in slices)
    if len(formats) == 1:
        stored = formats.pop().newbyteorder("=")
        if identity or stored.kind == "f":
            return stored
    if any(s.pixels.floating for s in slices):
        return np.dtype(np.float64 if any(s.pixels.dtype.itemsize == 8 for s in slices if s.pixels.floating)
                        else np.float32)
    if all(s.slope == 1 and float(s.intercept).is_integer() for s in slices):
        lo = min(_value_range(s.pixels)[0] + s.intercept for s in slices)
        hi = max(_value_range(s.pixels)[1] + s.intercept for s in slices)
        for candidate in (np.int16, np.int32):
            ci = np.iinfo(candidate)
            if ci.min <= lo and hi <= ci.max:
                return np.dtype(candidate)
    return np.dtype(np.float32)


def _value_range(fmt: PixelFormat) -> tuple[int, int]:
    if fmt.signed:
        return -(1 << (fmt.bits_stored - 1)), (1 << (fmt.bits_stored - 1)) - 1
    return 0, (1 << fmt.bits_stored) - 1


def fix_unused_bits(values: np.ndarray, fmt: PixelFormat) -> None:
    """Clear (unsigned) or sign-extend (signed) the bits above BitsStored, in place.

    Examples
    --------
    >>> unsigned = PixelFormat(2, 1, 16, 12, False, False, 1, "", False)
    >>> a = np.array([0xF123, 0x0FFF], dtype=np.uint16)
    >>> fix_unused_bits(a, unsigned); a.tolist()
    [291, 4095]
    >>> signed = PixelFormat(2, 1, 16, 12, True, False, 1, "", False)
    >>> b = np.array([0x0800, 0x77FF], dtype=np.uint16).view(np.int16)
    >>> fix_unused_bits(b, signed); b.tolist()
    [-2048, 2047]
    """
    if fmt.floating or fmt.bits_stored >= fmt.bits_allocated:
        return
    shift = fmt.bits_allocated - fmt.bits_stored
    if fmt.signed:
        unsigned = values.view(values.dtype.str.replace("i", "u"))
        np.left_shift(unsigned, shift, out=unsigned)
        np.right_shift(values, shift, out=values)  # arithmetic shift on signed values
    else:
        np.bitwise_and(values, values.dtype.type((1 << fmt.bits_stored) - 1), out=values)


def _fast(s: Slice) -> bool:
    """Whether the slice's stored values can be read as they are from the file."""
    fmt = s.pixels
    return not fmt.encapsulated and fmt.transfer_syntax in _NATIVE_LE


def read_stack(source: Source, slices: tuple[Slice, ...], slots: tuple[int, ...] = ()) -> np.ndarray:
    """Pixel values of ``slices`` as one ``(n, rows, cols)`` array, rescaled: slice ``i`` goes to
    ``out[slots[i]]`` (default: in their order); slots no slice fills stay 0.

    Raises :class:`~lesionview.errors.InputError` naming the file whose pixels cannot be read.
    """
    dtype = output_dtype(slices)
    slots = slots or tuple(range(len(slices)))
    n = slots[-1] + 1
    shape = (n, slices[0].rows, slices[0].cols)
    try:
        out = np.empty(shape, dtype=dtype) if n == len(slices) else np.zeros(shape, dtype=dtype)
    except (MemoryError, ValueError) as exc:
        raise InputError(f"a {shape[0]} x {shape[1]} x {shape[2]} volume of {dtype} does not fit in memory.",
                         path=source.root, hint="Load a smaller series, or free memory.") from exc
    # Read file by file in the order they are listed, whatever the slice order.
    by_file: dict[str, list[int]] = {}
    for i, s in enumerate(slices):
        by_file.setdefault(s.name, []).append(i)
    for name, fh, _, problem in source.open_each(list(by_file)):
        where = source.full_name(name)
        if fh is None:
            raise InputError(f"can no longer be read ({problem[1]}).", path=where,
                             hint="The file changed since the folder was scanned; scan it again.")
        try:
            _read_file(fh, [(slices[i], out[slots[i]]) for i in by_file[name]])
        except _NOT_DECODER_FAILURES:
            raise
        # Decoders raise many types; the Rust ones (pylibjpeg-rle...) panic on damaged data with
        # pyo3's PanicException, a BaseException: all are a file that cannot be decoded.
        except BaseException as exc:
            raise InputError(f"pixel data cannot be decoded ({type(exc).__name__}: {short(exc, 300)}).", path=where,
                             hint="The file may be truncated or use an unsupported compression; "
                                  "re-export the series uncompressed.") from exc
    return out


def _read_file(fh, targets: list[tuple[Slice, np.ndarray]]) -> None:
    """Read each slice of one open file into its target row, rescaled."""
    mosaic_image = None
    scratch: dict[np.dtype, np.ndarray] = {}
    for s, target in targets:
        fmt = s.pixels
        direct = s.slope == 1 and s.intercept == 0 and fmt.dtype == target.dtype
        values = target if direct else scratch.setdefault(fmt.dtype, np.empty(target.shape, dtype=fmt.dtype))
        if s.mosaic:
            if mosaic_image is None:
                mosaic_image = _whole_image(fh, s, int(s.rows * s.mosaic), int(s.cols * s.mosaic))
            values[...] = tile(mosaic_image, s)
        elif _fast(s):
            frame_bytes = s.rows * s.cols * fmt.dtype.itemsize
            fh.seek(s.header.pixel_offset + s.frame * frame_bytes)
            if fh.readinto(memoryview(values.reshape(-1).view(np.uint8))) != frame_bytes:
                raise EOFError("the pixel data ends early (the file was truncated since the scan)")
            fix_unused_bits(values, fmt)
        else:
            values[...] = _decode(fh, s, (s.rows, s.cols))
            fix_unused_bits(values, fmt)
        if not direct:
            if s.slope != 1:
                np.multiply(values, s.slope, out=target, casting="unsafe")
            else:
                np.copyto(target, values, casting="unsafe")
            if s.intercept:
                target += np.asarray(s.intercept).astype(target.dtype)


def _whole_image(fh, s: Slice, rows: int, cols: int) -> np.ndarray:
    """The whole mosaic image of the file, its unused bits fixed."""
    image = np.empty((rows, cols), dtype=s.pixels.dtype)
    if _fast(s):
        fh.seek(s.header.pixel_offset)
        if fh.readinto(memoryview(image.reshape(-1).view(np.uint8))) != image.nbytes:
            raise EOFError("the pixel data ends early (the file was truncated since the scan)")
    else:
        image[...] = _decode(fh, s, (rows, cols))
    fix_unused_bits(image, s.pixels)
    return image


def _decode(fh, s: Slice, shape: tuple[int, int]) -> np.ndarray:
    fh.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A file object keeps pydicom from reading the whole file when only one frame is needed.
        src = fh if isinstance(fh, io.IOBase) else io.BytesIO(fh.read())
        arr = pixel_array(src, index=s.frame if s.pixels.frames > 1 else None,
                          decoding_plugin=_PLUGIN.get(s.pixels.transfer_syntax, ""))
    if arr.shape != shape:
        raise ValueError(f"decoded to {'x'.join(map(str, arr.shape))} pixels where the header says "
                         f"{shape[0]}x{shape[1]}")
    return arr


def pixel_digests(source: Source, headers: Iterable[Header]) -> dict[str, str]:
    """A digest of each file's raw pixel data bytes (as stored, compressed or not), by file name.

    Files that cannot be read again get no digest (so they are never taken for duplicates).
    """
    by_name = {h.name: h for h in headers}
    digests = {}
    for name, fh, size, _ in source.open_each(list(by_name)):
        if fh is None:
            continue
        h = by_name[name]
        # Encapsulated data has no length: up to the end of the file (pixel data comes last).
        left = size - h.pixel_offset if h.pixel_length == 0xFFFFFFFF else h.pixel_length
        digest = hashlib.blake2b(digest_size=16)
        fh.seek(h.pixel_offset)
        while left > 0:
            chunk = fh.read(min(left, _CHUNK))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        digests[name] = digest.hexdigest()
    return digests
