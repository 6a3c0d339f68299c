"""Finding the DICOM images under a path: a folder (walked recursively), a ``.zip``, or one file.

Only headers are read here: ``dcmread(defer_size=...)`` parses every element but leaves large
values (the pixel data) on disk, and remembers where they start, so loading can later read the
pixels straight into the output array. Each file that is not used is recorded with the reason
(not DICOM, no pixel data, truncated ...) so a user can see why a folder gave fewer series than
expected; nothing here raises for one bad file among many.

What a file's content can cost is bounded before pydicom sees it: only regular files are opened
(a FIFO blocks ``open`` forever, a device never ends), a file must start like DICOM (its first
bytes are checked by ``sniff.py``, so a 20 MB file of zeros is refused without being parsed), and
the header pass may only make :data:`~.budget.MAX_HEADER_READS` reads (``budget.py``: a damaged
length can send pydicom into a run of zeros, where every 8 bytes is one more empty element).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from ..paths import open_regular, path_problem
from .budget import GUARD_ABOVE_BYTES, Budget, Guarded, HeaderTooLong, Unguarded
from .sniff import HEAD_BYTES, sniff
from .zipsafe import is_zip, member_names, read_members

#: Values above this size stay on disk during the header pass (the pixel data, big private blobs).
DEFER_BYTES = 4096
#: Largest file, or zip member, that is read. The largest image lesionview has to read is an
#: enhanced multi-frame MR or CT volume: 1024 x 1024 pixels x 1000 frames x 16 bits is 2 GiB.
#: Anything bigger is something else (whole-slide pathology, raw data, a disk image), and a zip
#: member has to be held in memory whole to be parsed.
MAX_FILE_BYTES = 2 * 2**30
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # PixelData, FloatPixelData, DoubleFloatPixelData
_UNDEFINED = 0xFFFFFFFF
#: Prefix of a reason given when lesionview itself failed on a file; the fuzz tests look for it.
UNEXPECTED = "unexpected error"


@dataclass(frozen=True)
class Ignored:
    """A file that was looked at and not used, and why.

    ``kind`` is "not-dicom", "no-pixels", "corrupt" (truncated, unreadable), "invalid" (header
    values in a form the standard does not allow), "unsupported" (colour, 1-bit, too large...)
    or "duplicate" (then ``duplicate_of`` names the file it repeats).
    """

    path: str
    reason: str
    kind: str = "other"
    duplicate_of: str = ""


class Unusable(ValueError):
    """A file that cannot be used: ``kind`` as in :class:`Ignored`, the message is the reason."""

    kind = "unsupported"

    def __init__(self, reason: str, kind: str | None = None):
        super().__init__(reason)
        if kind is not None:
            self.kind = kind


@dataclass(frozen=True)
class Header:
    """The header of one DICOM image file and where its pixel data sits in it."""

    name: str           # path on disk, or member name inside the zip
    dataset: Dataset    # every element except the deferred large values
    pixel_offset: int   # byte offset of the pixel data value in the file
    pixel_length: int   # its length in bytes (0xFFFFFFFF when encapsulated/compressed)
    file_size: int
    budget: Budget = field(default_factory=Budget, compare=False, repr=False)


@dataclass(frozen=True)
class Source:
    """Where the files come from: a folder, a zip (members read in memory) or a single file."""

    root: Path
    kind: str  # "folder", "zip" or "file"

    def names(self, on_error: Callable[[OSError], None] | None = None) -> list[str]:
        if self.kind == "file":
            return [str(self.root)]
        if self.kind == "zip":
            return member_names(self.root)
        found = []
        # Symbolic links to folders are not followed (os.walk's default): a link back up the
        # tree would loop, and a link elsewhere is outside what was given.
        for folder, dirs, files in os.walk(self.root, onerror=on_error):
            dirs.sort()
            found.extend(os.path.join(folder, f) for f in sorted(files))
        return found

    def open_each(self, names: list[str]) -> Iterator[tuple[str, io.IOBase | None, int, tuple[str, str] | None]]:
        """Yield ``(name, binary file object, size, None)`` for each name, in order, or
        ``(name, None, -1, (kind, reason))`` when it cannot be opened or is not a regular file."""
        if self.kind == "zip":
            for name, data, problem in read_members(self.root, names, wanted=lambda head: sniff(head) is None,
                                                    max_bytes=MAX_FILE_BYTES, size=_size):
                if problem is not None:
                    yield name, None, -1, problem
                else:
                    yield name, io.BytesIO(data), len(data), None
            return
        for name in names:
            fh, problem = open_listed(name)
            if fh is None:
                yield name, None, -1, problem
                continue
            with fh:
                yield name, fh, os.fstat(fh.fileno()).st_size, None

    def display(self, name: str) -> str:
        """How to name a file in a message: relative to the folder, or ``zip!member``."""
        if self.kind == "zip":
            return f"{self.root.name}!{name}"
        if self.kind == "folder":
            return os.path.relpath(name, self.root)
        return name

    def full_name(self, name: str) -> str:
        """A file's full path, or ``archive.zip!member``, for messages that stand alone."""
        return f"{self.root}!{name}" if self.kind == "zip" else name


def source_of(path: Path) -> Source:
    if path.is_dir():
        return Source(path, "folder")
    if is_zip(path):
        return Source(path, "zip")
    return Source(path, "file")


def open_listed(name: str) -> tuple[io.BufferedReader | None, tuple[str, str] | None]:
    """Open a file found in a listing for reading: ``(file, None)``, or ``(None, (kind, reason))``
    when it must not or cannot be opened.

    Only regular files are opened (links followed): a FIFO, device or socket is "not-dicom"
    and skipped, a symbolic link loop, a broken link or a file gone since the listing is
    "corrupt". The caller closes the file.
    """
    problem = path_problem(name)
    if problem is not None:
        what, description = problem
        if what == "special":
            return None, ("not-dicom", f"{description}: skipped")
        return None, ("corrupt", "vanished since the folder was listed" if what == "missing" else description)
    try:
        fh = open_regular(name)
    except OSError as exc:
        return None, ("corrupt", f"cannot be opened ({exc.strerror or exc}; permissions?)")
    if fh is None:  # swapped for something else since it was looked at
        return None, ("not-dicom", "not a regular file: skipped")
    return fh, None


def read_headers(source: Source, progress: Callable[[int, int], None] | None = None,
                 use: Callable[[Header], list] = lambda h: [h]) -> tuple[list, list[Ignored], int]:
    """What ``use(header)`` makes of every DICOM image under ``source`` (called while the file is
    still open), what was ignored, and how many files there were.

    ``use`` raises :class:`Unusable` for a file it cannot use; the file is then listed as ignored.
    """
    ignored: list[Ignored] = []

    def unlisted(exc: OSError) -> None:
        where = os.path.relpath(exc.filename, source.root) if exc.filename else str(source.root)
        ignored.append(Ignored(where, f"folder cannot be listed ({exc.strerror or exc})", "corrupt"))

    names = source.names(unlisted)
    found: list = []
    total = len(names)
    for done, (name, fh, size, problem) in enumerate(source.open_each(names), start=1):
        shown = source.display(name)
        if problem is not None:
            ignored.append(Ignored(shown, problem[1], problem[0]))
        else:
            result = read_header(fh, name, size, on_disk=source.kind != "zip", use=use)
            if isinstance(result, list):
                found.extend(result)
            else:
                ignored.append(Ignored(shown, result[1], result[0]))
        if progress is not None:
            progress(done, total)
    return found, ignored, total


def read_header(fh, name: str, size: int, *, on_disk: bool = True,
                use: Callable[[Header], list] = lambda h: [h]) -> list | tuple[str, str]:
    """``use(header)`` for the file open as ``fh``, or ``(kind, reason)`` saying why it cannot be used."""
    if size > MAX_FILE_BYTES:
        return "unsupported", f"{_size(size)}, more than the {_size(MAX_FILE_BYTES)} a DICOM image file is read up to"
    head = fh.read(HEAD_BYTES)
    problem = sniff(head)
    if problem is not None:
        return problem
    fh.seek(0)
    budget = Budget()
    # No name while parsing: pydicom would stat the path twice per file (for a timestamp nothing
    # here uses); values left on disk are read from the open file meanwhile, by path after.
    guarded = Guarded(fh, None, budget)
    source = guarded if size > GUARD_ABOVE_BYTES else Unguarded(fh, None)
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")  # pydicom warns on harmless vendor quirks: kept quiet here
            # Without a preamble, the first bytes were checked (see sniff), so parsing it as a
            # bare dataset (force) is safe.
            ds = dcmread(source, defer_size=DEFER_BYTES, force=head[128:132] != b"DICM")
    except HeaderTooLong:
        return "corrupt", budget.exceeded
    except Exception as exc:  # noqa: BLE001 (pydicom raises many types on corrupt input)
        reraise_interrupt(exc)
        if budget.exceeded:  # pydicom turns some exceptions into others
            return "corrupt", budget.exceeded
        return "corrupt", f"unreadable DICOM header, the file looks truncated or corrupt ({short(exc)})"
    if budget.exceeded:  # ... or into a quiet stop
        return "corrupt", budget.exceeded
    stage = "reading the header"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # pydicom stops quietly (with a warning) where a cut file ends inside a sequence.
            cut = any("End of file" in str(w.message) for w in warned)
            header = _checked(ds, guarded, name, size, cut)
            if not isinstance(header, Header):
                return header
            stage = "checking the header"
            return use(header)
    except Unusable as exc:
        reraise_interrupt(exc)
        return exc.kind, str(exc)
    except Exception as exc:  # noqa: BLE001 (pydicom converts values lazily, and raises many types)
        reraise_interrupt(exc)
        if budget.exceeded:
            return "corrupt", budget.exceeded
        if stage == "reading the header":
            return "corrupt", f"unreadable DICOM header, the file looks truncated or corrupt ({short(exc)})"
        # use() reads values through checks that turn pydicom's errors into Unusable: anything
        # else is a defect of lesionview, said so (the fuzz tests look for it); the other files still load.
        return "corrupt", f"{UNEXPECTED} in lesionview while {stage} ({type(exc).__name__}: {short(exc)})"
    finally:
        # From here on, values left on disk are read again from the path (never from a zip
        # member: its bytes are gone), and the file object is not kept alive by the header.
        ds.buffer = None
        ds.filename = name if on_disk else None
        ds.fileobj_type = open if on_disk else None


def _checked(ds: Dataset, guarded: Guarded, name: str, size: int, cut: bool) -> Header | tuple[str, str]:
    if _lacks_image(ds):
        return "not-dicom", "not a DICOM file (no preamble, and no SOP class or image size)"
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("MediaStorageSOPClassUID") == "1.2.840.10008.1.3.10":
        return "no-pixels", "DICOMDIR index (the images are read from their own files)"
    pixel = next((ds.get_item(t, keep_deferred=True) for t in _PIXEL_TAGS if t in ds), None)
    # Offsets in a deflated file refer to the inflated stream: no size check is possible there.
    deflated = meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    end = None if deflated else _last_element_end(ds)
    if end is not None and end > size:
        return "corrupt", (f"truncated: the file ends at byte {size} inside an element that needs "
                           f"{end} bytes ({_sop_name(ds)})")
    if pixel is None:
        if cut:
            return "corrupt", (f"truncated: the file ends at byte {size} inside a sequence or its compressed "
                               f"pixel data ({_sop_name(ds)})")
        if "SOPClassUID" not in ds:
            syntax = meta.get("TransferSyntaxUID") if meta is not None else None
            return "corrupt", ("no SOP class and no pixel data found: the header is damaged, or not written in the "
                               f"transfer syntax it names ({getattr(syntax, 'name', syntax) or 'none'})")
        sop = _sop_name(ds)
        if sop.endswith("Image Storage"):
            return "no-pixels", (f"{sop} object without pixel data (the image was removed, or the header is "
                                 f"damaged: reading stopped after element {_last_tag(ds)})")
        return "no-pixels", f"DICOM object without pixel data ({sop})"
    offset, length = pixel.value_tell, pixel.length
    if not deflated and length != _UNDEFINED and offset + length > size:
        return "corrupt", (f"truncated: pixel data needs {length} bytes from offset {offset} "
                           f"but the file ends at {size}")
    return Header(name, ds, offset, length, size, guarded.budget)


def _lacks_image(ds: Dataset) -> bool:
    """A dataset read without preamble is taken for DICOM only if it looks like an image header."""
    return getattr(ds, "preamble", None) is None and ("SOPClassUID" not in ds or "Rows" not in ds)


def reraise_interrupt(exc: BaseException) -> None:
    """Raise the Ctrl-C (or exit) hidden behind ``exc``, if any.

    pydicom turns *any* exception raised while it reads a sequence item into an OSError
    (``read_sequence_item``), a KeyboardInterrupt included: a file must not swallow Ctrl-C.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise exc
        exc = exc.__cause__ or exc.__context__


def short(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _size(n: int) -> str:
    """Bytes for a person: ``_size(3 * 2**30)`` is '3 GiB'."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("kiB", 2**10)):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n} bytes"


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


def _last_tag(ds: Dataset) -> str:
    tag = max(ds.keys(), default=None)
    return "none" if tag is None else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _sop_name(ds: Dataset) -> str:
    try:
        uid = ds.get("SOPClassUID")
        if uid is None:
            return "unknown SOP class"
        name = getattr(uid, "name", str(uid))
        return name if name != str(uid) else f"SOP class {uid}"
    except Exception:  # noqa: BLE001 (only a label for a message)
        return "unknown SOP class"
