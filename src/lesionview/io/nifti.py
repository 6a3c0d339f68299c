"""NIfTI in and out through nibabel; the only place where RAS becomes LPS and back.

Reading is strict, because nibabel loads what it can and repairs the rest quietly: it reads a
``.nii.gz`` only as far as it needs (a stream that fails its CRC loads), sets a zero voxel size
to 1 mm, and drops an unknown sform code. Here every header check runs before a voxel is
read, and a ``.nii.gz`` is decompressed once, whole, so its CRC and length are verified. A
file's content can only raise :class:`~lesionview.errors.InputError`, naming the file, what is
wrong and what to do; what loads but a user should know goes to ``Volume.problems``.
"""

from __future__ import annotations

import errno
import gzip
import io
import logging
import math
import os
import stat
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import nibabel as nib
import numpy as np
from nibabel import imageglobals
from nibabel.nifti1 import xform_codes
from nibabel.spatialimages import HeaderDataError

from ..errors import InputError
from ..geometry import Geometry
from ..series import SeriesInfo, with_guessed_role
from ..volume import Volume
from .atomic import atomic_path

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: A straightened (orthogonalised) affine may move a corner voxel this far before we say so (mm).
SHEAR_TOLERANCE_MM = 0.1
#: Voxel sizes outside this range (mm) come from a damaged header: microscopy MRI is ~0.01 mm.
VOXEL_SIZE_RANGE_MM = (1e-3, 1e3)
#: No image sits farther than this from the scanner origin (mm); beyond it the offsets are damaged.
MAX_OFFSET_MM = 1e6
#: pixdim and the sform's voxel sizes agree within this relative tolerance (float32 headers).
PIXDIM_RTOL = 1e-3

_GZIP_MAGIC = b"\x1f\x8b"
#: Header size (the first field, sizeof_hdr) -> image class; the bytes after it hold extensions.
_IMAGE_CLASSES = {348: nib.Nifti1Image, 540: nib.Nifti2Image}
_HEADER_READ = 544  # the larger (NIfTI-2) header and its 4-byte extension flag
_DTYPE_KINDS = "biuf"  # bool, signed and unsigned integers, floats: scalar images
_SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_REEXPORT = "Re-export it from the source data, or re-download it."
_DO_NOT_USE = "Do not use this copy: re-export it from the source data, or re-download it."
_BAD_SCALING = "The scaling in the header is damaged: re-export it from the source data."


def is_nifti(path: str | os.PathLike) -> bool:
    name = str(path).lower()
    return name.endswith(NIFTI_SUFFIXES)


def read_nifti(path: str | os.PathLike, *, first_volume_of_4d: bool = False) -> Volume:
    """Load a NIfTI image as a :class:`Volume` in LPS.

    The affine is the one nibabel chooses (the sform when its code is set, else the qform, else
    one from the voxel sizes alone), and scaling (``scl_slope``/``scl_inter``) is applied as
    nibabel does. A 4D image is refused unless ``first_volume_of_4d`` is true, in which case its
    first volume is taken with a warning.

    Raises
    ------
    InputError
        When the file cannot be read as it is meant: not a regular file, a damaged header
        (sizes, data type, vox_offset, a non-finite or singular affine, a zero voxel size that
        the affine needs), a truncated file, a gzip stream that fails its CRC or length check,
        more voxels than this computer's memory holds, or a scaling that gives non-finite values.
        Everything is checked on the header before any voxel is read.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_nifti(np.ones((2, 3, 4), np.uint8), Path(tmp) / "a.nii.gz",
    ...                        geometry=Geometry((2, 3, 4), spacing=(3, 1, 1)))
    ...     volume = read_nifti(path)
    ...     _ = path.write_bytes(path.read_bytes()[:-4])  # cut inside the gzip trailer
    ...     read_nifti(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lesionview.errors.InputError: .../a.nii.gz: is truncated: its gzip stream ends before its end marker. Do not use...
    >>> volume.array.dtype.name, volume.geometry.spacing, volume.problems
    ('uint8', (3.0, 1.0, 1.0), ())
    """
    path = Path(path)
    try:
        with _open_regular(path) as f:
            compressed = _is_gzip(f, path)
            layout = _layout(_head(f, compressed, path), path)
            shape, four_d = _volume_shape(layout.shape, first_volume_of_4d, path)
            affine, problems = _affine(layout.header, shape, path)
            _check_scaling(layout.header, path)
            _check_size(layout, os.fstat(f.fileno()).st_size, compressed, path)
            data = _gunzip(f, layout, path) if compressed else _read_raw(f, layout, path)
    except OSError as exc:  # the disk or network, not the content (gzip errors are InputErrors)
        raise InputError(f"cannot be read ({exc.strerror or exc}).", path=path,
                         hint="Check the disk or network share, then try again.") from None
    array = _voxels(_image(layout, data, path), shape, path)
    del data  # the array is a copy
    if four_d:
        warnings.warn(f"{path}: 4D image {layout.shape}, taking its first volume", stacklevel=2)
    affine = _RAS_TO_LPS @ affine
    geometry = Geometry.from_affine(affine, shape)
    # Geometry keeps an orthogonal grid; a sheared affine (gantry tilt) cannot be one. Say how far
    # the straightened grid puts the corners from where the file says they are.
    corners = _corners(shape)
    off = float(np.max(np.linalg.norm(geometry.index_to_world(corners)
                                      - nib.affines.apply_affine(affine, corners), axis=1)))
    if off > SHEAR_TOLERANCE_MM:
        problems.append(f"the affine is sheared (gantry tilt?): the orthogonal grid used puts voxels "
                        f"up to {off:.2f} mm from the file's positions; resample it to an orthogonal "
                        f"grid first")
    zooms = layout.header["pixdim"][1:4].astype(float)
    if not np.allclose(zooms, geometry.spacing, rtol=PIXDIM_RTOL):  # pixdim lost to the sform
        zooms = np.array(geometry.spacing)
    slice_axis = int(np.argmax(zooms)) if len(set(np.round(zooms, 4))) > 1 else 2
    info = with_guessed_role(SeriesInfo(source=str(path), series_description=_stem(path),
                                        modality="MR"))
    return Volume(array, geometry, info=info, slice_axis=slice_axis, problems=tuple(problems))


# ----------------------------------------------------------------------------- the file itself
def _open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading; refuse anything else before opening it.

    Opening a FIFO blocks until a writer comes, and opening some devices has side effects, so
    their type is checked on the path first; the open itself is non-blocking and the type is
    checked again on the descriptor, in case the path was swapped in between.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"is a symbolic link to {os.path.realpath(path)}, which does not exist.",
                             path=path, hint="Fix the link, or give the file it should point to.") from None
        raise InputError("no such file.", path=path, hint="Check the path.") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("is a symbolic link loop (the links point back to each other).",
                             path=path, hint="Fix the link, or give the file it should point to.") from None
        raise InputError(f"cannot be read ({exc.strerror}).", path=path, hint="Check the path.") from None
    except ValueError as exc:  # e.g. an embedded NUL byte
        raise InputError(f"is not a valid path ({exc}).", path=path, hint="Check the path.") from None
    _check_regular(mode, path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise InputError(f"cannot be opened ({exc.strerror}).", path=path,
                         hint="Check that the file exists and that you may read it.") from None
    f = os.fdopen(fd, "rb")
    try:
        _check_regular(os.fstat(fd).st_mode, path)
    except InputError:
        f.close()
        raise
    return f


def _check_regular(mode: int, path: Path) -> None:
    if stat.S_ISDIR(mode):
        raise InputError("is a folder, not a NIfTI file.", path=path,
                         hint="Give a .nii or .nii.gz file (a DICOM folder is read by lesionview.io.load).")
    for test, kind in _SPECIAL_FILES:
        if test(mode):
            raise InputError(f"is {kind}, not a regular file; reading it could block forever.",
                             path=path, hint="Save the image to a regular .nii or .nii.gz file first.")
    if not stat.S_ISREG(mode):
        raise InputError("is not a regular file.", path=path, hint="Give a .nii or .nii.gz file.")


def _is_gzip(f: BinaryIO, path: Path) -> bool:
    """Whether the content is gzip; it must agree with the name, as every NIfTI reader goes by it."""
    compressed = f.read(2) == _GZIP_MAGIC
    f.seek(0)
    named = path.name.lower().endswith(".gz")
    if named and not compressed:
        raise InputError("is named .gz but is not gzip-compressed.", path=path,
                         hint="If it is an uncompressed NIfTI, rename it to .nii; if not, re-export it.")
    if compressed and not named:
        raise InputError("is gzip-compressed but not named .gz.", path=path, hint="Rename it to .nii.gz.")
    return compressed


def _head(f: BinaryIO, compressed: bool, path: Path) -> bytes:
    """The first bytes of the (decompressed) file: the header, whatever its version."""
    if compressed:
        # A second, tiny decompression of the start: the full one needs the header's sizes first.
        try:
            head = gzip.GzipFile(fileobj=f).read(_HEADER_READ)
        except (OSError, EOFError, zlib.error) as exc:
            raise _gzip_error(exc, path) from None
    else:
        head = f.read(_HEADER_READ)
    f.seek(0)
    if not head:
        raise InputError("is empty (0 bytes).", path=path, hint=_REEXPORT)
    if len(head) < min(_IMAGE_CLASSES):
        what = "its gzip stream holds" if compressed else "it has"
        raise InputError(f"is too short to be a NIfTI file: {what} {len(head)} bytes, less than a "
                         f"NIfTI header ({min(_IMAGE_CLASSES)} bytes).", path=path, hint=_REEXPORT)
    return head


@dataclass(frozen=True)
class _Layout:
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


def _layout(head: bytes, path: Path) -> _Layout:
    """Check the header fields that say how to read the voxels, before reading any."""
    # nibabel guesses the byte order from dim[0] and repairs sizeof_hdr, so a damaged dim[0]
    # makes it read the whole header byte-swapped. sizeof_hdr decides it without guessing.
    found = [(size, order) for size in _IMAGE_CLASSES for order in "<>"
             if int.from_bytes(head[:4], "little" if order == "<" else "big", signed=True) == size]
    if not found:
        value = int.from_bytes(head[:4], "little", signed=True)
        raise InputError(f"is not a NIfTI file: its first field (sizeof_hdr) is {value}, not 348 "
                         f"(NIfTI-1) or 540 (NIfTI-2).", path=path,
                         hint="Check that this is the NIfTI image you mean; if it is, re-export it.")
    size, order = found[0]
    image_class = _IMAGE_CLASSES[size]
    if len(head) < size:
        raise InputError(f"is too short: its {len(head)} bytes cannot hold the {size}-byte NIfTI-2 header.",
                         path=path, hint=_REEXPORT)
    hdr = image_class.header_class(head[:size], endianness=order, check=False)
    magic = hdr["magic"].item()
    if magic != hdr.single_magic:
        pair = " (that of a .hdr/.img pair, whose voxels are in a separate .img file)" \
            if magic == hdr.pair_magic else ""
        shown = repr(magic.decode("latin-1")) if magic else "empty"
        raise InputError(f"header magic is {shown}{pair}, not "
                         f"{hdr.single_magic.decode()!r} as a single-file NIfTI-{1 if size == 348 else 2} "
                         f"needs: the header is damaged or not NIfTI.", path=path, hint=_REEXPORT)
    dim = [int(d) for d in hdr["dim"]]
    if not 1 <= dim[0] <= 7:
        raise InputError(f"dim[0] (the number of dimensions) is {dim[0]}, not 1 to 7: the header is "
                         f"damaged.", path=path, hint=_REEXPORT)
    for axis in range(1, dim[0] + 1):
        if dim[axis] < 1:
            raise InputError(f"dim[{axis}] is {dim[axis]}: every dimension needs at least one voxel "
                             f"(dims {dim[1:dim[0] + 1]}).", path=path, hint=_REEXPORT)
    code = int(hdr["datatype"])
    try:
        dtype = None if code in (0, 255) else hdr.get_data_dtype()  # DT_UNKNOWN, DT_ALL: no type
    except (KeyError, HeaderDataError):
        dtype = None
    if dtype is None:
        raise InputError(f"datatype code {code} is not a NIfTI data type: the header is damaged.",
                         path=path, hint=_REEXPORT)
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
                         path=path, hint=_REEXPORT)
    if offset < hdr.single_vox_offset:
        raise InputError(f"vox_offset is {offset:g}, but in a single-file NIfTI the voxels start after "
                         f"the header, at byte {hdr.single_vox_offset} or later.", path=path, hint=_REEXPORT)
    try:
        shape = tuple(int(n) for n in hdr.get_data_shape())
    except HeaderDataError as exc:
        raise InputError(f"header dims cannot be read ({exc}).", path=path, hint=_REEXPORT) from None
    return _Layout(image_class, hdr, shape, dtype, int(offset))  # int(): as nibabel reads it


def _check_size(layout: _Layout, stored: int, compressed: bool, path: Path) -> None:
    """Refuse before reading when memory, or the file, cannot hold what the header describes."""
    need = layout.nbytes
    memory = _physical_memory()
    voxels = math.prod(layout.shape)
    slope, inter = float(layout.header["scl_slope"]), float(layout.header["scl_inter"])
    scaled = np.isfinite(slope) and slope != 0 and (slope, inter) != (1, 0)
    # The stored bytes, the voxel array read from them, and when scaled a float64 and a float32 copy.
    peak = need + voxels * (layout.dtype.itemsize + (12 if scaled else 0))
    if memory and peak > memory:
        raise InputError(f"its header describes {layout.describe()} ({_size(need)}), more than this "
                         f"computer's memory ({_size(memory)}) can load.", path=path,
                         hint="Check the dims in the header (e.g. nibabel, fslhd); if they are right, "
                              "crop or downsample the image on a larger computer first.")
    if not compressed:
        _check_length(layout, stored, "it holds", path)
        return
    # Deflate expands at most ~1032:1, and stores incompressible data with a few bytes of framing
    # per block; outside these bounds the header's dims do not describe the stream (and a stream
    # much larger than its data cannot make us read through it).
    if need > 1032 * stored + (1 << 16):
        raise InputError(f"is too small: a gzip stream of {_size(stored)} cannot hold the {_size(need)} "
                         f"its header describes ({layout.describe()}). It is truncated, or the "
                         f"header's dims or datatype are damaged.", path=path, hint=_REEXPORT)
    if stored > need + need // 256 + (1 << 20):
        raise InputError(f"is {_size(stored)}, more than any gzip stream of the {_size(need)} its "
                         f"header describes ({layout.describe()}): it has data after the image, or "
                         f"the header's dims or datatype are damaged.", path=path, hint=_REEXPORT)


def _check_length(layout: _Layout, length: int, holds: str, path: Path) -> None:
    """``length``: the bytes the file (or its gzip stream) really holds."""
    need = layout.nbytes
    if length < need and layout.offset >= length:
        raise InputError(f"vox_offset says the voxels start at byte {layout.offset}, beyond the "
                         f"end: {holds} {_size(length)}. It is truncated, or vox_offset is damaged.",
                         path=path, hint=_REEXPORT)
    if length < need:
        raise InputError(f"is truncated: its header describes {layout.describe()} ({_size(need)} in "
                         f"all), but {holds} only {_size(length)}.", path=path, hint=_REEXPORT)
    if length > need:
        raise InputError(f"{holds} {_size(length)}, {_size(length - need)} more than its header "
                         f"describes ({layout.describe()}): the header's dims or datatype are "
                         f"probably damaged.", path=path, hint=_REEXPORT)


def _read_raw(f: BinaryIO, layout: _Layout, path: Path) -> bytes:
    # Read into memory rather than memory-map: a mapped file truncated later kills the process.
    data = f.read(layout.nbytes + 1)
    _check_length(layout, len(data), "it holds", path)
    return data


def _gunzip(f: BinaryIO, layout: _Layout, path: Path) -> bytes:
    """Decompress the whole stream, verifying each member's CRC32 and length (ISIZE).

    At most one byte more than the header describes is inflated, so a gzip bomb cannot fill
    memory (the stored size was checked against the header's before reading it all).
    """
    try:
        data = _inflate(f.read(), layout.nbytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise _gzip_error(exc, path) from None
    except MemoryError:
        raise InputError(f"does not fit in memory ({_size(layout.nbytes)}).", path=path,
                         hint="Load it on a computer with more memory.") from None
    if len(data) > layout.nbytes:
        raise InputError(f"its gzip stream holds more than the {_size(layout.nbytes)} its header "
                         f"describes ({layout.describe()}): the header's dims or datatype are "
                         f"probably damaged.", path=path, hint=_REEXPORT)
    _check_length(layout, len(data), "its gzip stream (intact) holds", path)
    return data


def _inflate(stream: bytes, limit: int) -> bytes:
    """Up to ``limit`` bytes of a gzip stream; raises as the gzip module does when it is damaged.

    zlib's gzip mode (wbits 31) checks the member's CRC32 and ISIZE itself and inflates it in one
    call; Python 3.11's GzipFile makes the same checks 8 KiB at a time through three layers of
    Python, which made loading slower than nibabel's lazy read. What follows the member (more
    members, as bgzip writes, or garbage) is left to the gzip module.
    """
    member = zlib.decompressobj(wbits=31)
    data = member.decompress(stream, limit)
    if len(data) >= limit:
        return data
    if not member.eof:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")
    if member.unused_data.lstrip(b"\0"):  # gzip allows zero padding after a member
        return gzip.GzipFile(fileobj=io.BytesIO(stream)).read(limit)
    return data


def _gzip_error(exc: Exception, path: Path) -> InputError:
    text = str(exc)
    if isinstance(exc, EOFError):
        problem = "is truncated: its gzip stream ends before its end marker."
    elif "incorrect data check" in text or text.startswith("CRC check failed"):
        problem = "fails its gzip CRC check: the decompressed data is not what was stored."
    elif "incorrect length check" in text or text.startswith("Incorrect length"):
        problem = "fails its gzip length check: the decompressed data is not what was stored."
    elif text.startswith("Not a gzipped file"):
        problem = "has data after its gzip stream that is not gzip (trailing garbage)."
    else:
        problem = f"has a damaged gzip stream that cannot be decompressed ({text})."
    return InputError(problem, path=path, hint=_DO_NOT_USE)


def _image(layout: _Layout, data: bytes, path: Path):
    """nibabel's image over the verified bytes (its header checks pass by now, quietly)."""
    try:
        with _quiet_nibabel():
            return layout.image_class.from_bytes(data)
    except (HeaderDataError, ValueError, OSError, EOFError) as exc:  # e.g. damaged extensions
        raise InputError(f"header cannot be read ({exc}).", path=path, hint=_REEXPORT) from None


@contextmanager
def _quiet_nibabel():
    """nibabel logs header repairs to stderr; every one is refused or reported by now.

    Its logger is global: a read in another thread meanwhile is quiet too, which is harmless.
    """
    logger = imageglobals.logger
    saved = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(saved)


# ----------------------------------------------------------------------------- shape and voxels
def _volume_shape(shape: tuple[int, ...], first_volume_of_4d: bool, path: Path):
    """The 3D shape lesionview measures, and whether a 4D image is cut to its first volume."""
    full = shape
    while len(full) > 3 and full[-1] == 1:
        full = full[:-1]
    if len(full) == 4:
        if not first_volume_of_4d:
            raise InputError(f"is 4D ({shape}); lesionview measures 3D volumes.", path=path,
                             hint="Split it into 3D volumes first (e.g. fslsplit), or pass "
                                  "first_volume_of_4d=True from Python.")
        return full[:3], True
    if len(full) == 2:
        return full + (1,), False
    if len(full) != 3:
        raise InputError(f"has {len(full)} dimensions ({shape}); expected a 3D image.", path=path)
    return full, False


def _voxels(img, shape: tuple[int, int, int], path: Path) -> np.ndarray:
    proxy = img.dataobj
    # The first 3D volume; nibabel's proxy applies scl_slope/scl_inter when it reads.
    index = (slice(None),) * min(len(img.shape), 3) + (0,) * max(len(img.shape) - 3, 0)
    # Keep integer storage (masks, raw MR) as integers when no scaling is set; nibabel's
    # get_fdata would turn a 16-bit volume into float64 (4x the memory).
    identity = proxy.slope == 1 and proxy.inter == 0
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            data = np.asanyarray(proxy) if len(img.shape) <= 3 else proxy[index]
            if not identity:
                data = np.asarray(data, dtype=np.float32)
    except MemoryError:
        raise InputError("does not fit in memory.", path=path,
                         hint="Load it on a computer with more memory.") from None
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"pixel data cannot be read ({exc}); the file looks truncated or corrupt.",
                         path=path, hint=_REEXPORT) from None
    if not identity:
        bad = ~np.isfinite(data)
        if bad.any() and proxy.dtype.kind == "f":  # NaN stored in a float image is the file's own
            bad &= np.isfinite(proxy.get_unscaled()[index])
        if bad.any():
            raise InputError(f"scl_slope {proxy.slope:g} and scl_inter {proxy.inter:g} turn "
                             f"{int(bad.sum())} stored values into infinite or undefined ones.",
                             path=path, hint=_BAD_SCALING)
    return np.asarray(data).reshape(shape) if data.shape != shape else data


def _check_scaling(hdr, path: Path) -> None:
    """scl_slope 0 or NaN means no scaling (the standard; nibabel and FSL for NaN); inf is damage.

    nibabel reads an infinite slope as no scaling too, which would silently misread the values.
    """
    slope, inter = float(hdr["scl_slope"]), float(hdr["scl_inter"])
    if np.isinf(slope):
        raise InputError(f"scl_slope is {slope}: voxel values cannot be scaled.", path=path,
                         hint=_BAD_SCALING)
    if slope != 0 and np.isfinite(slope) and not np.isfinite(inter):
        raise InputError(f"scl_inter is {inter} (with scl_slope {slope:g}): voxel values cannot be "
                         f"scaled.", path=path,
                         hint=_BAD_SCALING)


# ----------------------------------------------------------------------------- the affine
def _affine(hdr, shape: tuple[int, int, int], path: Path) -> tuple[np.ndarray, list[str]]:
    """The RAS affine nibabel chooses, checked, and what a user should know about it.

    nibabel's choice: the sform when sform_code is set, else the qform when qform_code is set,
    else one from pixdim alone. Where nibabel would repair the header (an unknown code set to 0,
    a zero voxel size set to 1 mm), the geometry would be silently wrong, so it is refused here.
    """
    codes = {}
    for name in ("sform_code", "qform_code"):
        codes[name] = code = int(hdr[name])
        if code not in xform_codes.value_set():
            raise InputError(f"{name} is {code}, not a NIfTI code (0 to 5): which affine places "
                             f"the voxels is unclear.", path=path, hint=_REEXPORT)
    problems = []
    pixdim = hdr["pixdim"][1:4].astype(float)
    pixdim_problem = _pixdim_problem(pixdim)
    if codes["sform_code"]:
        affine = hdr.get_sform().astype(float)
        _check_affine(affine, "sform", path,
                      hint="Re-export it; if its qform is right, set sform_code to 0 (e.g. fslorient "
                           "-setsformcode 0) so that the qform is used.")
        sizes = np.linalg.norm(affine[:3, :3], axis=0)
        if pixdim_problem or not np.allclose(pixdim, sizes, rtol=PIXDIM_RTOL, atol=1e-6):
            problems.append(f"pixdim gives voxel sizes {_mm(pixdim)} but the sform {_mm(sizes)}; "
                            f"the sform's are used")
        if codes["qform_code"]:
            why = pixdim_problem or _qform_problem(hdr)
            if why is None:
                problems.extend(_qform_vs_sform(hdr, affine, shape))
            elif not pixdim_problem:
                problems.append(f"the qform cannot be used ({why}); the sform is used")
        return affine, problems
    source = "qform" if codes["qform_code"] else "voxel sizes (pixdim)"
    if pixdim_problem:
        raise InputError(f"{pixdim_problem}: with no sform, the {source} sets the voxel positions "
                         f"and cannot be computed.", path=path,
                         hint="Set the voxel sizes in the header (nibabel header.set_zooms, or FSL "
                              "fslchpixdim), or re-export it.")
    if codes["qform_code"]:
        why = _qform_problem(hdr)
        if why:
            raise InputError(f"{why}: with no sform, the qform sets the voxel positions and cannot "
                             f"be computed.", path=path, hint=_REEXPORT)
        affine = _qform(hdr)
    else:
        affine = hdr.get_base_affine().astype(float)
        problems.append("neither an sform nor a qform is set (both codes are 0): the orientation is "
                        "unknown, and voxel positions come from the voxel sizes (pixdim) alone")
    _check_affine(affine, source, path, hint=_REEXPORT)
    return affine, problems


def _pixdim_problem(pixdim: np.ndarray) -> str | None:
    for axis, size in enumerate(pixdim, start=1):
        if not np.isfinite(size):
            return f"pixdim[{axis}] (a voxel size) is {size}"
        if size == 0:
            return f"pixdim[{axis}] (a voxel size) is 0, which makes the affine singular"
        if size < 0:
            return f"pixdim[{axis}] (a voxel size) is {size:g}; voxel sizes must be positive"
    return None


def _qform_problem(hdr) -> str | None:
    """Why the qform cannot be computed (pixdim checked apart), or None."""
    qfac = float(hdr["pixdim"][0])
    if qfac not in (-1.0, 0.0, 1.0):
        # The standard says -1 or 1 (0 read as 1); readers differ on other values (nibabel
        # reads 1, the NIfTI C library reads the sign), so whether the slices are flipped is unclear.
        return f"pixdim[0] (qfac) is {qfac:g}, not -1 or 1"
    bcd = np.array([hdr["quatern_b"], hdr["quatern_c"], hdr["quatern_d"]], dtype=float)
    offsets = np.array([hdr["qoffset_x"], hdr["qoffset_y"], hdr["qoffset_z"]], dtype=float)
    if not np.all(np.isfinite(bcd)) or not np.all(np.isfinite(offsets)):
        return "the qform quaternion or offsets are not finite"
    if 1.0 - float(bcd @ bcd) < -abs(hdr.quaternion_threshold):  # as nibabel's fillpositive
        return f"the qform quaternion (b, c, d) = {_fmt(bcd)} is not a rotation (b² + c² + d² > 1)"
    return None


def _qform(hdr) -> np.ndarray:
    if float(hdr["pixdim"][0]) == 0:  # the standard reads a qfac of 0 as 1; nibabel refuses it
        hdr = hdr.copy()
        hdr["pixdim"][0] = 1
    return hdr.get_qform().astype(float)


def _qform_vs_sform(hdr, sform: np.ndarray, shape) -> list[str]:
    """dcm2niix and SCT warn when the two disagree by more than a voxel; so do we."""
    qform = _qform(hdr)
    corners = _corners(shape)
    gap = float(np.max(np.linalg.norm(nib.affines.apply_affine(qform, corners)
                                      - nib.affines.apply_affine(sform, corners), axis=1)))
    voxel = float(np.max(np.linalg.norm(sform[:3, :3], axis=0)))
    if not gap > voxel:
        return []
    label = hdr.get_value_label("sform_code")
    problem = (f"the qform and sform disagree by up to {gap:.3g} mm (more than a voxel, "
               f"{voxel:.3g} mm); the sform (code {label}) is used, as nibabel does")
    return [problem]


def _check_affine(affine: np.ndarray, name: str, path: Path, *, hint: str) -> None:
    """Refuse an affine that cannot place voxels: non-finite, singular, or absurd in size or offset."""
    if not np.all(np.isfinite(affine)):
        raise InputError(f"the {name} holds non-finite values (rows {_fmt(affine[:3].ravel())}), so voxel "
                         f"positions cannot be computed.", path=path, hint=hint)
    m = affine[:3, :3]
    sizes = np.linalg.norm(m, axis=0)
    # |det| over the product of the axis lengths: 1 for orthogonal axes, 0 for parallel ones.
    if np.any(sizes == 0) or abs(np.linalg.det(m)) < 1e-3 * np.prod(sizes):
        raise InputError(f"the {name} is singular (a voxel axis is zero, or two are parallel), so "
                         f"voxel positions cannot be computed.", path=path, hint=hint)
    low, high = VOXEL_SIZE_RANGE_MM
    if np.any(sizes < low) or np.any(sizes > high):
        raise InputError(f"the {name} gives voxel sizes {_mm(sizes)}, outside {low:g} to {high:g} mm: "
                         f"the header is damaged.", path=path, hint=hint)
    far = float(np.max(np.abs(affine[:3, 3])))
    if far > MAX_OFFSET_MM:
        raise InputError(f"the {name} places the image {far:.3g} mm from the scanner origin: the "
                         f"header is damaged.", path=path, hint=hint)


# ----------------------------------------------------------------------------- small helpers
def _corners(shape) -> np.ndarray:
    return np.array(np.meshgrid(*[[0, n - 1] for n in shape], indexing="ij")).reshape(3, -1).T


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: MemoryError is caught instead
        return None


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 10**9 else f"{n / 1e9:,.1f} GB"


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def _mm(values) -> str:
    return _fmt(values) + " mm"


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
