"""The NIfTI header fields that say how to read the voxels, checked before any is read.

nibabel reads what it can and repairs the rest quietly (it guesses the byte order from dim[0],
sets sizeof_hdr back to 348); here a damaged field is refused with what is wrong, and the sizes
the header describes are checked against memory and the file before a byte of voxels is read.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.spatialimages import HeaderDataError

from ..errors import InputError

#: Header size (the first field, sizeof_hdr) -> image class; the bytes after it hold extensions.
IMAGE_CLASSES = {348: nib.Nifti1Image, 540: nib.Nifti2Image}
_DTYPE_KINDS = "biuf"  # bool, signed and unsigned integers, floats: scalar images
REEXPORT = "Re-export it from the source data, or re-download it."


@dataclass(frozen=True)
class Layout:
    """Where the voxels are, from a header that passed the checks."""

    image_class: type
    header: nib.Nifti1Header
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int

    @property
    def nbytes(self) -> int:
        """Bytes the file must hold: header, extensions, then every voxel."""
        return self.offset + math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        return f"{' x '.join(map(str, self.shape))} {self.dtype.name} voxels from byte {self.offset}"


def layout_of(head: bytes, path: Path) -> Layout:
    """Check the header fields that say how to read the voxels, before reading any."""
    # nibabel guesses the byte order from dim[0] and repairs sizeof_hdr, so a damaged dim[0]
    # makes it read the whole header byte-swapped. sizeof_hdr decides it without guessing.
    found = [(size, order) for size in IMAGE_CLASSES for order in "<>"
             if int.from_bytes(head[:4], "little" if order == "<" else "big", signed=True) == size]
    if not found:
        value = int.from_bytes(head[:4], "little", signed=True)
        raise InputError(f"is not a NIfTI file: its first field (sizeof_hdr) is {value}, not 348 "
                         f"(NIfTI-1) or 540 (NIfTI-2).", path=path,
                         hint="Check that this is the NIfTI image you mean; if it is, re-export it.")
    size, order = found[0]
    image_class = IMAGE_CLASSES[size]
    if len(head) < size:
        raise InputError(f"is too short: its {len(head)} bytes cannot hold the {size}-byte NIfTI-2 header.",
                         path=path, hint=REEXPORT)
    hdr = image_class.header_class(head[:size], endianness=order, check=False)
    magic = hdr["magic"].item()
    if magic != hdr.single_magic:
        pair = " (that of a .hdr/.img pair, whose voxels are in a separate .img file)" \
            if magic == hdr.pair_magic else ""
        shown = repr(magic.decode("latin-1")) if magic else "empty"
        raise InputError(f"header magic is {shown}{pair}, not "
                         f"{hdr.single_magic.decode()!r} as a single-file NIfTI-{1 if size == 348 else 2} "
                         f"needs: the header is damaged or not NIfTI.", path=path, hint=REEXPORT)
    dim = [int(d) for d in hdr["dim"]]
    if not 1 <= dim[0] <= 7:
        raise InputError(f"dim[0] (the number of dimensions) is {dim[0]}, not 1 to 7: the header is "
                         f"damaged.", path=path, hint=REEXPORT)
    for axis in range(1, dim[0] + 1):
        if dim[axis] < 1:
            raise InputError(f"dim[{axis}] is {dim[axis]}: every dimension needs at least one voxel "
                             f"(dims {dim[1:dim[0] + 1]}).", path=path, hint=REEXPORT)
    code = int(hdr["datatype"])
    try:
        dtype = None if code in (0, 255) else hdr.get_data_dtype()  # DT_UNKNOWN, DT_ALL: no type
    except (KeyError, HeaderDataError):
        dtype = None
    if dtype is None:
        raise InputError(f"datatype code {code} is not a NIfTI data type: the header is damaged.",
                         path=path, hint=REEXPORT)
    if dtype.itemsize == 0:
        raise InputError(f"datatype {hdr.get_value_label('datatype')} (code {code}) cannot be read "
                         f"(nibabel has no array type for it here).", path=path,
                         hint="Convert it to float32 or an integer type.")
    if dtype.kind not in _DTYPE_KINDS:
        raise InputError(f"datatype {hdr.get_value_label('datatype')} (code {code}) is not a scalar "
                         f"image lesionview can measure.", path=path,
                         hint="Convert it to a single-channel float32 or integer image.")
    offset = float(hdr["vox_offset"])
    if not np.isfinite(offset):
        raise InputError(f"vox_offset (where the voxels start) is {offset}: the header is damaged.",
                         path=path, hint=REEXPORT)
    if offset < hdr.single_vox_offset:
        raise InputError(f"vox_offset is {offset:g}, but in a single-file NIfTI the voxels start after "
                         f"the header, at byte {hdr.single_vox_offset} or later.", path=path, hint=REEXPORT)
    try:
        shape = tuple(int(n) for n in hdr.get_data_shape())
    except HeaderDataError as exc:
        raise InputError(f"header dims cannot be read ({exc}).", path=path, hint=REEXPORT) from None
    return Layout(image_class, hdr, shape, dtype, int(offset))  # int(): as nibabel reads it


def check_size(layout: Layout, stored: int, compressed: bool, path: Path) -> None:
    """Refuse before reading when memory, or the file, cannot hold what the header describes."""
    need = layout.nbytes
    memory = physical_memory()
    voxels = math.prod(layout.shape)
    slope, inter = float(layout.header["scl_slope"]), float(layout.header["scl_inter"])
    scaled = np.isfinite(slope) and slope != 0 and (slope, inter) != (1, 0)
    # The stored bytes, the voxel array read from them, and when scaled a float64 and a float32 copy.
    peak = need + voxels * (layout.dtype.itemsize + (12 if scaled else 0))
    if memory and peak > memory:
        raise InputError(f"its header describes {layout.describe()} ({size_text(need)}), more than this "
                         f"computer's memory ({size_text(memory)}) can load.", path=path,
                         hint="Check the dims in the header (e.g. nibabel, fslhd); if they are right, "
                              "crop or downsample the image on a larger computer first.")
    if not compressed:
        check_length(layout, stored, "it holds", path)
        return
    # Deflate expands at most ~1032:1, and stores incompressible data with a few bytes of framing
    # per block; outside these bounds the header's dims do not describe the stream (and a stream
    # much larger than its data cannot make us read through it).
    if need > 1032 * stored + (1 << 16):
        raise InputError(f"is too small: a gzip stream of {size_text(stored)} cannot hold the {size_text(need)} "
                         f"its header describes ({layout.describe()}). It is truncated, or the "
                         f"header's dims or datatype are damaged.", path=path, hint=REEXPORT)
    if stored > need + need // 256 + (1 << 20):
        raise InputError(f"is {size_text(stored)}, more than any gzip stream of the {size_text(need)} its "
                         f"header describes ({layout.describe()}): it has data after the image, or "
                         f"the header's dims or datatype are damaged.", path=path, hint=REEXPORT)


def check_length(layout: Layout, length: int, holds: str, path: Path) -> None:
    """``length``: the bytes the file (or its gzip stream) really holds."""
    need = layout.nbytes
    if length < need and layout.offset >= length:
        raise InputError(f"vox_offset says the voxels start at byte {layout.offset}, beyond the "
                         f"end: {holds} {size_text(length)}. It is truncated, or vox_offset is damaged.",
                         path=path, hint=REEXPORT)
    if length < need:
        raise InputError(f"is truncated: its header describes {layout.describe()} ({size_text(need)} in "
                         f"all), but {holds} only {size_text(length)}.", path=path, hint=REEXPORT)
    if length > need:
        raise InputError(f"{holds} {size_text(length)}, {size_text(length - need)} more than its header "
                         f"describes ({layout.describe()}): the header's dims or datatype are "
                         f"probably damaged.", path=path, hint=REEXPORT)



def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: MemoryError is caught instead
        return None


def size_text(n: int) -> str:
    return f"{n:,} bytes" if n < 10**9 else f"{n / 1e9:,.1f} GB"
