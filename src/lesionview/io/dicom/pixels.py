"""Pixel values of a stack, read into one preallocated array.

Uncompressed little-endian pixel data (what scanners send to PACS) is read with ``readinto``
straight from the file offset found in the header pass into its row of the output array: no
per-slice array, no copy, no second parse of the header. Everything else (JPEG, JPEG-LS,
JPEG 2000, RLE, big endian, deflated, signed data with unused high bits) is decoded by pydicom's
pixel handlers one frame at a time.

RescaleSlope/Intercept are applied per slice. Data keeps its stored integer type when every
slice has the identity rescale, becomes a wide-enough integer when slopes are 1 and intercepts
whole (CT's -1024), and float32 otherwise.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import replace

import numpy as np
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .discover import Source
from .mosaic import tile
from .slices import Slice

_NATIVE_LE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
_UNDEFINED = 0xFFFFFFFF


def stored_dtype(s: Slice) -> np.dtype:
    ds = s.dataset
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        return np.dtype(np.float32 if "FloatPixelData" in ds else np.float64)
    bits = int(ds.get("BitsAllocated", 16))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    if bits not in (8, 16, 32):
        raise ValueError(f"BitsAllocated {bits} is not supported")
    return np.dtype(f"{'i' if signed else 'u'}{bits // 8}").newbyteorder("<")


def output_dtype(slices) -> np.dtype:
    stored = stored_dtype(slices[0])
    if all(s.slope == 1 and s.intercept == 0 for s in slices) or stored.kind == "f":
        return stored
    if all(s.slope == 1 and float(s.intercept).is_integer() for s in slices):
        info = np.iinfo(stored)
        bits = int(slices[0].dataset.get("BitsStored", stored.itemsize * 8))
        low = info.min if stored.kind == "i" else 0
        high = (1 << bits) - 1 if stored.kind == "u" else info.max
        lo = low + min(s.intercept for s in slices)
        hi = high + max(s.intercept for s in slices)
        for candidate in (np.int16, np.int32):
            ci = np.iinfo(candidate)
            if ci.min <= min(lo, low) and max(hi, high) <= ci.max:
                return np.dtype(candidate)
    return np.dtype(np.float32)


def _fast(s: Slice, dtype: np.dtype) -> bool:
    ds, h = s.dataset, s.header
    if h.pixel_length == _UNDEFINED or "PixelData" not in ds:
        return False
    if ds.file_meta.get("TransferSyntaxUID") not in _NATIVE_LE:
        return False
    bits_stored = int(ds.get("BitsStored", dtype.itemsize * 8))
    if dtype.kind == "i" and bits_stored != dtype.itemsize * 8:
        return False  # needs sign extension of the unused high bits: let pydicom do it
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    return h.pixel_length >= n_frames * s.rows * s.cols * dtype.itemsize


def read_stack(source: Source, slices: tuple[Slice, ...], slots: tuple[int, ...] = ()) -> np.ndarray:
    """Pixel values of ``slices`` as one ``(n, rows, cols)`` array, rescaled: slice ``i`` goes to
    ``out[slots[i]]`` (default: in their order); slots no slice fills stay 0."""
    dtype = output_dtype(slices)
    stored = stored_dtype(slices[0])
    identity = all(s.slope == 1 and s.intercept == 0 for s in slices)
    slots = slots or tuple(range(len(slices)))
    n = slots[-1] + 1
    shape = (n, slices[0].rows, slices[0].cols)
    out = np.empty(shape, dtype=dtype) if n == len(slices) else np.zeros(shape, dtype=dtype)
    # Read file by file in the order they are listed, whatever the slice order.
    by_file: dict[str, list[int]] = {}
    for i, s in enumerate(slices):
        by_file.setdefault(s.name, []).append(i)
    names = list(by_file)
    scratch = None if identity else np.empty(out.shape[1:], dtype=stored)
    for name, fh, _ in source.open_each(names):
        if fh is None:
            raise OSError(f"{source.display(name)} can no longer be opened")
        mosaic_image = None
        for i in by_file[name]:
            s = slices[i]
            target = out[slots[i]] if identity else scratch
            if s.mosaic:
                if mosaic_image is None:
                    mosaic_image = _whole_mosaic(fh, s, stored)
                target[...] = tile(mosaic_image, s)
            elif _fast(s, stored):
                frame_bytes = s.rows * s.cols * stored.itemsize
                fh.seek(s.header.pixel_offset + s.frame * frame_bytes)
                view = memoryview(target.reshape(-1).view(np.uint8))
                if fh.readinto(view) != frame_bytes:
                    raise EOFError(f"{source.display(name)}: pixel data ends early (truncated file)")
            else:
                target[...] = _decode(fh, s)
            if not identity:
                if s.slope != 1:
                    np.multiply(scratch, s.slope, out=out[slots[i]], casting="unsafe")
                else:
                    np.copyto(out[slots[i]], scratch, casting="unsafe")
                if s.intercept:
                    out[slots[i]] += np.asarray(s.intercept).astype(dtype)
    return out


def _whole_mosaic(fh, s: Slice, stored: np.dtype) -> np.ndarray:
    ds = s.dataset
    whole = replace(s, frame=0, rows=int(ds.Rows), cols=int(ds.Columns), mosaic=0)
    image = np.empty((whole.rows, whole.cols), dtype=stored)
    if _fast(whole, stored):
        fh.seek(s.header.pixel_offset)
        fh.readinto(memoryview(image.reshape(-1).view(np.uint8)))
    else:
        image[...] = _decode(fh, whole)
    return image


def _decode(fh, s: Slice) -> np.ndarray:
    fh.seek(0)
    n_frames = int(s.dataset.get("NumberOfFrames", 1) or 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A file object keeps pydicom from reading the whole file when only one frame is needed.
        src = fh if isinstance(fh, io.IOBase) else io.BytesIO(fh.read())
        arr = pixel_array(src, index=s.frame if n_frames > 1 else None)
    return arr.reshape(s.rows, s.cols)
