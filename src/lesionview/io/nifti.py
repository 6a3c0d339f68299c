"""NIfTI in and out through nibabel; the only place where RAS becomes LPS and back.

Reading is strict, because nibabel loads what it can and repairs the rest quietly: it reads a
``.nii.gz`` only as far as it needs (a stream that fails its CRC loads), sets a zero voxel size
to 1 mm, and drops an unknown sform code. Here every header check runs before a voxel is
read, and a ``.nii.gz`` is decompressed once, whole, so its CRC and length are verified. A
file's content can only raise :class:`~lesionview.errors.InputError`, naming the file, what is
wrong and what to do; what loads but a user should know goes to ``Volume.problems``. The
header checks live in ``nifti_header`` (sizes, data type, where the voxels are) and
``nifti_affine`` (which affine places them, and whether it can be trusted).
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import nibabel as nib
import numpy as np
from nibabel import imageglobals
from nibabel.spatialimages import HeaderDataError

from ..errors import InputError
from ..geometry import Geometry
from ..series import SeriesInfo, with_guessed_role
from ..volume import Volume
from .atomic import atomic_path
from .nifti_affine import BAD_SCALING, PIXDIM_RTOL, affine_of, check_scaling, corners
from .nifti_header import (
    IMAGE_CLASSES,
    REEXPORT,
    Layout,
    check_length,
    check_offset,
    check_size,
    layout_of,
    size_text,
)
from .nifti_names import NIFTI_SUFFIXES, is_nifti  # noqa: F401 - is_nifti is still imported from here
from .paths import input_path, open_regular

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: A straightened (orthogonalised) affine may move a corner voxel this far before we say so (mm).
SHEAR_TOLERANCE_MM = 0.1
_GZIP_MAGIC = b"\x1f\x8b"
_HEADER_READ = 544  # the larger (NIfTI-2) header and its 4-byte extension flag
_DO_NOT_USE = "Do not use this copy: re-export it from the source data, or re-download it."


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
        the affine needs), a truncated file, a file longer than its header describes by its
        smallest slice of voxels or more (fewer bytes after the voxels are ignored, and said in ``problems``),
        a gzip stream that fails its CRC or length check, more voxels than the memory this
        process may use holds (the computer's, a container's cgroup limit or ``ulimit -v``), or
        a scaling that gives non-finite values. Everything is checked on the header before any
        voxel is read.

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
            layout = layout_of(_head(f, compressed, path), path)
            shape, four_d = _volume_shape(layout.shape, first_volume_of_4d, path)
            affine, problems = affine_of(layout.header, shape, path)
            check_scaling(layout.header, path)
            check_size(layout, os.fstat(f.fileno()).st_size, compressed, path)
            data = _gunzip(f, layout, path) if compressed else _read_raw(f, layout)
    except OSError as exc:  # the disk or network, not the content (gzip errors are InputErrors)
        raise InputError(f"cannot be read ({exc.strerror or exc}).", path=path,
                         hint="Check the disk or network share, then try again.") from None
    extra = check_length(layout, len(data), path, compressed=compressed)
    if extra:
        check_offset(layout, data, path)
        problems.append(extra)
    array = _voxels(_image(layout, data, path), shape, path)
    del data  # the array is a copy
    if four_d:
        warnings.warn(f"{path}: 4D image {layout.shape}, taking its first volume", stacklevel=2)
    affine = _RAS_TO_LPS @ affine
    geometry = Geometry.from_affine(affine, shape)
    # Geometry keeps an orthogonal grid; a sheared affine (gantry tilt) cannot be one. Say how far
    # the straightened grid puts the corners from where the file says they are.
    ends = corners(shape)
    off = float(np.max(np.linalg.norm(geometry.index_to_world(ends)
                                      - nib.affines.apply_affine(affine, ends), axis=1)))
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
    """Open a regular file for reading; refuse anything else before opening it (see ``paths``)."""
    input_path(path, expect="a .nii or .nii.gz file")
    if path.is_dir():
        raise InputError("is a folder, not a NIfTI file.", path=path,
                         hint="Give a .nii or .nii.gz file (a DICOM folder is read by lesionview.io.load).")
    try:
        f = open_regular(path)
    except OSError as exc:
        raise InputError(f"cannot be opened ({exc.strerror}).", path=path,
                         hint="Check that the file exists and that you may read it.") from None
    if f is None:
        raise InputError("is not a regular file.", path=path, hint="Give a .nii or .nii.gz file.")
    return f


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
        raise InputError("is empty (0 bytes).", path=path, hint=REEXPORT)
    if len(head) < min(IMAGE_CLASSES):
        what = "its gzip stream holds" if compressed else "it has"
        raise InputError(f"is too short to be a NIfTI file: {what} {len(head)} bytes, less than a "
                         f"NIfTI header ({min(IMAGE_CLASSES)} bytes).", path=path, hint=REEXPORT)
    return head


def _read_raw(f: BinaryIO, layout: Layout) -> bytes:
    # Read into memory rather than memory-map: a mapped file truncated later kills the process.
    return f.read(layout.nbytes + layout.spare + 1)  # one byte more: too long is refused


def _gunzip(f: BinaryIO, layout: Layout, path: Path) -> bytes:
    """Decompress the whole stream, verifying each member's CRC32 and length (ISIZE).

    At most one byte more than the header describes (with the few bytes a file may hold after
    its voxels, ``Layout.spare``) is inflated, so a gzip bomb cannot fill memory (the stored size
    was checked against the header's before reading it all).
    """
    most = layout.nbytes + layout.spare
    try:
        data = _inflate(f.read(), most + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise _gzip_error(exc, path) from None
    except MemoryError:
        raise InputError(f"does not fit in memory ({size_text(layout.nbytes)}).", path=path,
                         hint="Load it on a computer with more memory.") from None
    if len(data) > most:
        raise InputError(f"its gzip stream holds more than the {size_text(layout.nbytes)} its header "
                         f"describes ({layout.describe()}): the header's dims or datatype are "
                         f"probably damaged.", path=path, hint=REEXPORT)
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


def _image(layout: Layout, data: bytes, path: Path):
    """nibabel's image over the verified bytes (its header checks pass by now, quietly)."""
    try:
        with _quiet_nibabel():
            return layout.image_class.from_bytes(data)
    except (HeaderDataError, ValueError, OSError, EOFError) as exc:  # e.g. damaged extensions
        raise InputError(f"header cannot be read ({exc}).", path=path, hint=REEXPORT) from None


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
                         path=path, hint=REEXPORT) from None
    if not identity:
        bad = ~np.isfinite(data)
        if bad.any() and proxy.dtype.kind == "f":  # NaN stored in a float image is the file's own
            bad &= np.isfinite(proxy.get_unscaled()[index])
        if bad.any():
            raise InputError(f"scl_slope {proxy.slope:g} and scl_inter {proxy.inter:g} turn "
                             f"{int(bad.sum())} stored values into infinite or undefined ones.",
                             path=path, hint=BAD_SCALING)
    return np.asarray(data).reshape(shape) if data.shape != shape else data


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
