"""What a DICOM folder, zip or file holds: the series found (headers only) and what was ignored."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ...errors import InputError
from ...geometry import Geometry
from ...series import SeriesInfo
from ...volume import Volume
from .. import input_path
from .discover import UNEXPECTED, Ignored, Source, read_headers, short, source_of
from .metadata import series_info
from .pixels import pixel_digests, read_stack
from .slices import slices_of
from .stack import Gap, Stack, find_duplicates, group

_SHOWN = 5  # files listed by name in a message before "..."


@dataclass(eq=False)
class DicomSeries:
    """One image stack found by :func:`scan`; geometry and metadata come from headers only.

    ``uid`` is the SeriesInstanceUID, with ``#k`` appended when one UID had to be split into
    several stacks (``info.series_uid`` always keeps the UID itself).
    """

    stack: Stack
    source: Source

    @property
    def uid(self) -> str:
        return self.stack.uid

    @cached_property
    def info(self) -> SeriesInfo:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on values in the wrong form; they become empty
            return series_info(self.stack.slices[0].dataset, source=str(self.source.root))

    @property
    def files(self) -> list[str]:
        """Paths (or zip member names) of the slices' files, in slice order, each once."""
        return list(dict.fromkeys(s.name for s in self.stack.slices))

    @property
    def n_slices(self) -> int:
        return len(self.stack.slices)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.geometry.shape

    @property
    def geometry(self) -> Geometry:
        return self.stack.geometry

    @property
    def plane(self) -> str:
        return self.geometry.plane(0)

    @property
    def gaps(self) -> list[Gap]:
        return list(self.stack.gaps)

    @property
    def problems(self) -> list[str]:
        return list(self.stack.problems)

    def load(self) -> Volume:
        """Read the pixels: ``array[slice, row, col]``, rescaled, with the series problems attached.

        Raises :class:`~lesionview.errors.InputError` naming the file whose pixels cannot be read.
        """
        try:
            array = read_stack(self.source, self.stack.slices, self.stack.slots)
        except InputError:
            raise
        except Exception as exc:  # read_stack names the file for each failure it expects
            raise InputError(f"pixel data of series {self.info.label} cannot be read ({UNEXPECTED}: "
                             f"{type(exc).__name__}: {short(exc)}).", path=self.source.root,
                             hint="Re-export the series uncompressed; please report this file.") from exc
        return Volume(array, self.geometry, info=self.info, slice_axis=0, problems=tuple(self.problems))

    def __repr__(self) -> str:
        split = f" [{self.uid}]" if "#" in self.uid else ""
        return (f"DicomSeries({self.info.label!r}{split}, {self.n_slices} slices, {self.plane}, "
                f"{self.geometry.describe()})")


@dataclass
class DicomScan:
    """Result of :func:`scan`: series found, files ignored (with reasons), scan-level problems."""

    root: Path
    series: list[DicomSeries] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_files: int = 0

    def require_series(self) -> list[DicomSeries]:
        """The series, or an :class:`InputError` saying what was there instead."""
        if self.series:
            return self.series
        kinds = Counter(i.kind for i in self.ignored)
        listing = _listing(self.ignored)
        if self.n_files == 0:
            raise InputError("is empty.", path=self.root,
                             hint="Give the folder that holds the DICOM files, or a .zip of it.")
        if kinds["not-dicom"] == self.n_files:
            raise InputError(f"contains {self.n_files} files but none is DICOM ({listing}).", path=self.root,
                             hint="Give the folder exported from the PACS or the CD (DICOM files), "
                                  "or a NIfTI file.")
        if kinds["no-pixels"] and kinds["no-pixels"] + kinds["not-dicom"] == self.n_files:
            raise InputError(f"contains only DICOM objects without pixel data (SR, PR...): {listing}.",
                             path=self.root,
                             hint="Export the image series themselves, not only reports or presentation states.")
        raise InputError(f"contains no usable DICOM image series: {listing}.", path=self.root,
                         hint="Re-export or re-copy the damaged files; see the reason given for each.")


def _listing(ignored: list[Ignored]) -> str:
    shown = "; ".join(f"{i.path}: {i.reason}" for i in ignored[:_SHOWN])
    more = len(ignored) - _SHOWN
    return shown + (f"; and {more} more" if more > 0 else "")


def scan(path: str | os.PathLike, *, progress: Callable[[int, int], None] | None = None) -> DicomScan:
    """Find the DICOM image series in a folder (recursively), a ``.zip`` of one, or a single file.

    Only headers are read (pixels are read by :meth:`DicomSeries.load`). ``progress(done, total)``
    is called after each file of the header pass. In a folder or zip, a file that cannot be used
    (not DICOM, truncated, header values in the wrong form, an exact duplicate...) is listed in
    ``ignored`` with its reason, and the other files still make their series.

    Raises
    ------
    InputError
        ``path`` does not exist, is not a file or folder (FIFO, device, link loop), is an unsafe
        or unreadable zip, or is a single file that is not a usable DICOM image (not DICOM,
        truncated, without pixel data, a header the standard does not allow).
    """
    path = input_path(path)
    source = source_of(path)
    slices, ignored, n_files = read_headers(source, progress, slices_of)
    if source.kind == "file" and not slices:
        (why,) = ignored
        hint = {"not-dicom": "Give a DICOM or NIfTI file, or the folder of the series.",
                "no-pixels": "Give an image file of the series, not a report or presentation state.",
                "corrupt": "Copy or export the file again; the copy is incomplete or damaged.",
                "invalid": "Its header breaks the DICOM standard; export it again from the scanner or PACS."
                }.get(why.kind)
        raise InputError(f"cannot be used: {why.reason}.", path=path, hint=hint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns on values in the wrong form (SeriesNumber "abc")
        slices, duplicates = find_duplicates(slices, lambda headers: pixel_digests(source, headers))
    ignored.extend(Ignored(source.display(copy), f"exact duplicate of {source.display(original)} (same position "
                           "and identical pixel data): not loaded twice", "duplicate", source.display(original))
                   for copy, original in duplicates)
    problems = [f"ignored {i.path}: {i.reason}" for i in ignored
                if i.kind in ("corrupt", "invalid", "unsupported", "duplicate")]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stacks = group(slices, source.display)
    except Exception as exc:  # slices are checked before: a failure here is a defect, said so
        raise InputError(f"its slices cannot be put in order ({UNEXPECTED}: {type(exc).__name__}: {short(exc)}).",
                         path=path, hint="Please report this folder; load the series' own folder meanwhile.") from exc
    return DicomScan(path, [DicomSeries(st, source) for st in stacks], ignored, problems, n_files)


def pick_series(found: list[DicomSeries], key: str | int | None, root) -> DicomSeries:
    """The one series of ``found`` that ``key`` names (its uid, SeriesInstanceUID, number or
    description), or the only one when ``key`` is None.

    A stack's own uid (with its ``#k`` when one SeriesInstanceUID was split) names exactly one.

    Raises
    ------
    InputError
        Several series and no key, a key that matches several, or one that matches none.
    """
    if key is None:
        if len(found) > 1:
            raise InputError(f"holds {len(found)} series ({series_names(found)}).", path=root,
                             hint="Give the folder of the one series you mean, or series= (UID, number "
                                  "or description) from Python.")
        return found[0]
    key = str(key)
    matches = [s for s in found if key == s.uid] or [
        s for s in found if key in (s.info.series_uid, str(s.info.series_number), s.info.series_description)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InputError(f"has {len(matches)} stacks matching {key!r} ({series_names(matches)}).", path=root,
                         hint=f"Choose one by its uid, e.g. series={matches[0].uid!r}.")
    raise InputError(f"has no series matching {key!r} (found: {series_names(found)}).", path=root)


def series_names(found: list[DicomSeries]) -> str:
    """The series' labels, with the uid of each whose label another one shares."""
    labels = [s.info.label for s in found]
    return "; ".join(label if labels.count(label) == 1 else f"{label} [uid {s.uid}]"
                     for label, s in zip(labels, found))
