"""The NIfTI header fields that say how to read the voxels, checked before any is read.

nibabel reads what it can and repairs the rest quietly (it guesses the byte order from dim[0],
sets sizeof_hdr back to 348); here a damaged field is refused with what is wrong, and the sizes
the header describes are checked against memory and the file before a byte of voxels is read.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.spatialimages import HeaderDataError

from ..errors import InputError

try:
    import resource
except ImportError:  # not POSIX: no address-space limit to read
    resource = None

#: Header size (the first field, sizeof_hdr) -> image class; the bytes after it hold extensions.
IMAGE_CLASSES = {348: nib.Nifti1Image, 540: nib.Nifti2Image}
_DTYPE_KINDS = "biuf"  # bool, signed and unsigned integers, floats: scalar images
REEXPORT = "Re-export it from the source data, or re-download it."
#: Where a container's memory limit is (cgroup v2, then v1). SC_PHYS_PAGES gives the host's
#: memory there, so a header describing more than the container may use would pass and the
#: process be killed (OOM) while loading it.
CGROUP_MEMORY_FILES = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
_CGROUP_NO_LIMIT = 2**60  # cgroup v1 writes "no limit" as a number near 2**63
_EXTENSION_CODES = nib.nifti1.extension_codes.value_set()


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

    @property
    def spare(self) -> int:
        """Bytes after the voxels that are ignored rather than refused: fewer than a slice of voxels.

        A damaged dim changes the size by at least the product of all the other dims (a slice
        across that axis; the smallest is the bound), a damaged datatype by a large fraction;
        fewer extra bytes cannot come from either, and nibabel, FSL and ITK read such files.
        """
        slice_ = min(math.prod(self.shape[:axis] + self.shape[axis + 1:]) for axis in range(len(self.shape)))
        return slice_ * self.dtype.itemsize - 1

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
    voxels = math.prod(layout.shape)
    slope, inter = float(layout.header["scl_slope"]), float(layout.header["scl_inter"])
    scaled = np.isfinite(slope) and slope != 0 and (slope, inter) != (1, 0)
    # The stored bytes, the voxel array read from them, and when scaled a float64 and a float32 copy.
    peak = need + layout.spare + voxels * (layout.dtype.itemsize + (12 if scaled else 0))
    memory, what = memory_limit() or (None, "")
    if memory and peak > memory:
        raise InputError(f"its header describes {layout.describe()} ({size_text(need)}), more than {what} "
                         f"can load.", path=path,
                         hint="Check the dims in the header (e.g. nibabel, fslhd); if they are right, "
                              "crop or downsample the image on a larger computer first"
                              + ("." if what.startswith("this computer") else ", or raise that limit."))
    if not compressed:
        check_length(layout, stored, path, compressed=False)
        return
    # Deflate expands at most ~1032:1, and stores incompressible data with a few bytes of framing
    # per block; outside these bounds the header's dims do not describe the stream (and a stream
    # much larger than its data cannot make us read through it).
    if need > 1032 * stored + (1 << 16):
        raise InputError(f"is too small: a gzip stream of {size_text(stored)} cannot hold the {size_text(need)} "
                         f"its header describes ({layout.describe()}). It is truncated, or the "
                         f"header's dims or datatype are damaged.", path=path, hint=REEXPORT)
    most = need + layout.spare
    if stored > most + most // 256 + (1 << 20):
        raise InputError(f"is {size_text(stored)}, more than any gzip stream of the {size_text(need)} its "
                         f"header describes ({layout.describe()}): it has data after the image, or "
                         f"the header's dims or datatype are damaged.", path=path, hint=REEXPORT)


def check_length(layout: Layout, length: int, path: Path, *, compressed: bool) -> str | None:
    """Refuse a file (or its decompressed gzip stream) of ``length`` bytes that the header does not
    describe; fewer extra bytes than a slice of voxels load, and the problem to report is returned.
    """
    need = layout.nbytes
    holds = "its gzip stream (intact) holds" if compressed else "it holds"
    if length < need and layout.offset >= length:
        raise InputError(f"vox_offset says the voxels start at byte {layout.offset}, beyond the "
                         f"end: {holds} {size_text(length)}. It is truncated, or vox_offset is damaged.",
                         path=path, hint=REEXPORT)
    if length < need:
        raise InputError(f"is truncated: its header describes {layout.describe()} ({size_text(need)} in "
                         f"all), but {holds} only {size_text(length)}.", path=path, hint=REEXPORT)
    if length > need + layout.spare:
        raise InputError(f"{holds} {size_text(length)}, {size_text(length - need)} more than its header "
                         f"describes ({layout.describe()}): the header's dims or datatype are "
                         f"probably damaged.", path=path, hint=REEXPORT)
    if length > need:
        whose = "its gzip stream" if compressed else "the file"
        return f"{whose} holds {size_text(length - need)} after its voxels; they were ignored"
    return None


def check_offset(layout: Layout, data: bytes, path: Path) -> None:
    """Refuse bytes after the voxels when vox_offset may have been lowered, shifting every voxel.

    A few bytes after the voxels are ignored (``Layout.spare``), but a vox_offset lowered by as
    many would give the same length, so it must be beyond suspicion: a whole number (nibabel
    rounds 383.99997 down to 383), and not inside a header extension (nibabel reads no extension
    when vox_offset is 352, and reads voxels as more extensions when it is inside one).
    """
    extra = size_text(len(data) - layout.nbytes)
    offset = float(layout.header["vox_offset"])
    if offset != layout.offset:
        raise InputError(f"holds {extra} after its voxels, and vox_offset (where they start) is "
                         f"{offset:.8g}, not a whole number of bytes: vox_offset is probably damaged, "
                         f"and the voxels would be read from the wrong place.", path=path, hint=REEXPORT)
    end = start = layout.header.single_vox_offset  # after the header and its 4-byte extension flag
    if data[start - 4] == 0:
        return
    while end < layout.offset or end == start:
        if end + 8 > len(data):
            return
        esize, ecode = struct.unpack(f"{layout.header.endianness}2i", data[end:end + 8])
        # Only a well-formed extension: a damaged one is refused or warned about by nibabel, and
        # at byte 352 with vox_offset 352 these bytes are voxels (a flag set in error).
        if esize < 16 or esize % 16 or ecode not in _EXTENSION_CODES:
            return
        end += esize
    if end > layout.offset:
        raise InputError(f"holds {extra} after its voxels, and vox_offset says they start at byte "
                         f"{layout.offset}, inside a header extension (the extensions end at byte {end}): "
                         f"vox_offset is probably damaged, and the voxels would be read from the wrong "
                         f"place.", path=path, hint=REEXPORT)


def memory_limit() -> tuple[int, str] | None:
    """The most memory this process may use (bytes), and what sets it, worded for a message.

    The smallest of the computer's memory, the container's cgroup limit and the address-space
    limit (``ulimit -v``); None when none is known.
    """
    limits = []
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        limits.append((physical, f"this computer's memory ({size_text(physical)})"))
    except (AttributeError, ValueError, OSError):  # not POSIX: MemoryError is caught instead
        pass
    for cgroup in CGROUP_MEMORY_FILES:
        try:
            value = int(cgroup.read_text().strip())
        except (OSError, ValueError):  # no cgroup, or v2's "max" (no limit)
            continue
        if 0 < value < _CGROUP_NO_LIMIT:
            limits.append((value, f"this container's memory limit ({size_text(value)}, {cgroup})"))
    if resource is not None:
        try:
            soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        except (OSError, ValueError):
            soft = resource.RLIM_INFINITY
        if soft != resource.RLIM_INFINITY and soft > 0:
            limits.append((soft, f"this process's address-space limit ({size_text(soft)}, ulimit -v)"))
    return min(limits, default=None)


def size_text(n: int) -> str:
    return f"{n:,} byte{'s' * (n != 1)}" if n < 10**9 else f"{n / 1e9:,.1f} GB"
