"""Finding the DICOM images under a path: a folder (walked recursively), a ``.zip``, or one file.

Only headers are read here: ``dcmread(defer_size=...)`` parses every element but leaves large
values (the pixel data) on disk, and remembers where they start, so loading can later read the
pixels straight into the output array. Each file that is not used is recorded with the reason
(not DICOM, no pixel data, truncated ...) so a user can see why a folder gave fewer series than
expected; nothing here raises for one bad file among many.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import DeflatedExplicitVRLittleEndian

from .zipsafe import is_zip, member_names, read_members

#: Values above this size stay on disk during the header pass (the pixel data, big private blobs).
DEFER_BYTES = 4096
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # PixelData, FloatPixelData, DoubleFloatPixelData
_UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class Ignored:
    """A file that was looked at and not used, and why."""

    path: str
    reason: str
    kind: str = "other"  # "not-dicom", "no-pixels", "corrupt", "unsupported"


@dataclass(frozen=True)
class Header:
    """The header of one DICOM image file and where its pixel data sits in it."""

    name: str           # path on disk, or member name inside the zip
    dataset: Dataset    # every element except the deferred large values
    pixel_offset: int   # byte offset of the pixel data value in the file
    pixel_length: int   # its length in bytes (0xFFFFFFFF when encapsulated/compressed)
    file_size: int


@dataclass(frozen=True)
class Source:
    """Where the files come from: a folder, a zip (members read in memory) or a single file."""

    root: Path
    kind: str  # "folder", "zip" or "file"

    def names(self) -> list[str]:
        if self.kind == "file":
            return [str(self.root)]
        if self.kind == "zip":
            return member_names(self.root)
        found = []
        for folder, dirs, files in os.walk(self.root):
            dirs.sort()
            found.extend(os.path.join(folder, f) for f in sorted(files))
        return found

    def open_each(self, names: list[str]) -> Iterator[tuple[str, io.BufferedIOBase, int]]:
        """Yield ``(name, binary file object, size)`` for each name, in order."""
        if self.kind == "zip":
            for name, data in read_members(self.root, names):
                yield name, io.BytesIO(data), len(data)
            return
        for name in names:
            try:
                fh = open(name, "rb")  # noqa: SIM115 (closed right after the caller is done)
            except OSError:
                yield name, None, -1
                continue
            with fh:
                yield name, fh, os.fstat(fh.fileno()).st_size

    def display(self, name: str) -> str:
        """How to name a file in a message: relative to the folder, or ``zip!member``."""
        if self.kind == "zip":
            return f"{self.root.name}!{name}"
        if self.kind == "folder":
            return os.path.relpath(name, self.root)
        return name


def source_of(path: Path) -> Source:
    if path.is_dir():
        return Source(path, "folder")
    if is_zip(path):
        return Source(path, "zip")
    return Source(path, "file")


def read_headers(source: Source, progress: Callable[[int, int], None] | None = None
                 ) -> tuple[list[Header], list[Ignored], int]:
    """Headers of every DICOM image under ``source``, what was ignored, and how many files there were."""
    names = source.names()
    headers: list[Header] = []
    ignored: list[Ignored] = []
    total = len(names)
    for done, (name, fh, size) in enumerate(source.open_each(names), start=1):
        shown = source.display(name)
        if fh is None:
            ignored.append(Ignored(shown, "cannot be opened (permissions?)", "corrupt"))
        else:
            result = read_header(fh, name, size)
            if isinstance(result, Header):
                headers.append(result)
            else:
                ignored.append(Ignored(shown, result[1], result[0]))
        if progress is not None:
            progress(done, total)
    return headers, ignored, total


def read_header(fh, name: str, size: int) -> Header | tuple[str, str]:
    """A :class:`Header`, or ``(kind, reason)`` saying why the file cannot be used."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on harmless vendor quirks
            ds = _dcmread(fh)
    except InvalidDicomError:
        return "not-dicom", "not a DICOM file"
    except Exception as exc:  # noqa: BLE001 (pydicom raises many types on corrupt input)
        return "corrupt", f"unreadable DICOM header, the file looks truncated or corrupt ({exc})"
    if ds is None:
        return "not-dicom", "not a DICOM file"
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("MediaStorageSOPClassUID") == "1.2.840.10008.1.3.10":
        return "no-pixels", "DICOMDIR index (the images are read from their own files)"
    pixel = next((ds.get_item(t, keep_deferred=True) for t in _PIXEL_TAGS if t in ds), None)
    sop = _sop_name(ds)
    # Offsets in a deflated file refer to the inflated stream: no size check is possible there.
    deflated = meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    end = None if deflated else _last_element_end(ds)
    if end is not None and end > size:
        return "corrupt", (f"truncated: the file ends at byte {size} inside an element that needs "
                           f"{end} bytes ({sop})")
    if pixel is None:
        return "no-pixels", f"DICOM object without pixel data ({sop})"
    offset, length = pixel.value_tell, pixel.length
    if not deflated and length != _UNDEFINED and offset + length > size:
        return "corrupt", (f"truncated: pixel data needs {length} bytes from offset {offset} "
                           f"but the file ends at {size}")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        return "unsupported", (f"colour image ({ds.get('PhotometricInterpretation', '?')}); "
                               "lesionview measures greyscale MR/CT")
    if "MOSAIC" in [str(v).upper() for v in (ds.get("ImageType") or [])] and (0x0029, 0x1010) in ds:
        ds[0x0029, 0x1010].value  # noqa: B018 (read the Siemens CSA header now, while the file is open)
    if getattr(ds, "buffer", None) is not None:
        ds.buffer = None  # a zip member read in memory: do not keep its bytes alive with the header
    return Header(name, ds, offset, length, size)


def _dcmread(fh) -> Dataset | None:
    try:
        return dcmread(fh, defer_size=DEFER_BYTES)
    except InvalidDicomError:
        # Some old exports have no 128-byte preamble/'DICM'; accept them only if what forced
        # parsing finds looks like a real image header, so text files are not mistaken for DICOM.
        fh.seek(0)
        try:
            ds = dcmread(fh, defer_size=DEFER_BYTES, force=True)
        except Exception:  # noqa: BLE001
            return None
        if "SOPClassUID" in ds and "Rows" in ds:
            return ds
        return None


def _last_element_end(ds: Dataset) -> int | None:
    """Where the last element read ends in the file, if pydicom still knows (raw element).

    pydicom stops quietly at the end of a cut file and keeps the element it was reading, with
    the length its header announced: a length beyond the file end is the sign of truncation.
    """
    if not len(ds):
        return None
    last = ds.get_item(max(ds.keys()), keep_deferred=True)
    tell, length = getattr(last, "value_tell", None), getattr(last, "length", None)
    if tell is None or length is None or length == _UNDEFINED:
        return None
    return tell + length


def _sop_name(ds: Dataset) -> str:
    uid = ds.get("SOPClassUID")
    if uid is None:
        return "unknown SOP class"
    name = getattr(uid, "name", str(uid))
    return name if name != str(uid) else f"SOP class {uid}"
