"""Enhanced multi-frame images (e.g. Enhanced MR Image Storage): one file, one slice per frame.

Each frame's position, orientation, pixel spacing and rescale come from its item of the
PerFrameFunctionalGroupsSequence, or from the SharedFunctionalGroupsSequence when the value is
the same for every frame (the standard allows either place). Frames are then treated exactly
like single-frame slices: grouped, sorted along the normal and checked for gaps by ``stack.py``.

The functional groups are the largest part of such a header and pydicom parses a sequence only
when it is first read, from its raw bytes: here they are parsed with pydicom's own
``read_sequence``, but through the file's read :class:`~.discover.Budget`, so a damaged length
inside them costs no more than one in the rest of the header.
"""

from __future__ import annotations

import io

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import read_sequence
from pydicom.sequence import Sequence

from .discover import Guarded, Header, short
from .pixel_format import PixelFormat
from .slices import Slice, plane_of, rescale_of, thickness_of
from .values import BadValue, NotAnImage, integer_or_none

_UNDEFINED = 0xFFFFFFFF
# functional group sequence -> the keywords read from its first item
_GROUPS = (("PlanePositionSequence", ("ImagePositionPatient",)),
           ("PlaneOrientationSequence", ("ImageOrientationPatient",)),
           ("PixelMeasuresSequence", ("PixelSpacing", "SliceThickness", "SpacingBetweenSlices")),
           ("PixelValueTransformationSequence", ("RescaleSlope", "RescaleIntercept")))


def frames_of(header: Header, pixels: PixelFormat) -> list[Slice]:
    ds = header.dataset
    n = pixels.frames
    per_frame = sequence(header, ds, "PerFrameFunctionalGroupsSequence")
    if per_frame is None:
        raise NotAnImage(f"multi-frame image ({n} frames) without per-frame functional groups: "
                         "the frames cannot be placed in the patient")
    if len(per_frame) != n:
        raise BadValue(f"NumberOfFrames is {n} but PerFrameFunctionalGroupsSequence has {len(per_frame)} items")
    shared = first_item(header, ds, "SharedFunctionalGroupsSequence")
    rows, cols = pixels.rows, pixels.cols
    slices = []
    for index, group in enumerate(per_frame):
        where = f"functional groups of frame {index + 1}"
        flat = _Merged()
        # Per-frame values override shared ones: shared first, then per-frame.
        for source in (shared, group):
            if source is None:
                continue
            for seq, keys in _GROUPS:
                item = first_item(header, source, seq, where)
                if item is not None:
                    flat.take(item, keys)
        position, orientation, spacing = plane_of(flat, where=where)
        content = first_item(header, group, "FrameContentSequence", where)
        stack_pos = integer_or_none(content, "InStackPositionNumber") if content is not None else None
        slices.append(Slice(header, index, position, orientation, rows, cols, spacing, pixels,
                            **rescale_of(flat, pixels, where),
                            instance=stack_pos if stack_pos is not None else index + 1,
                            thickness=thickness_of(flat), notes=pixels.notes))
    return slices


class _Merged:
    """Values gathered from several functional groups: ``get(keyword)`` reads it where it was found
    last (so pydicom converts it, and a damaged value raises, only when it is checked)."""

    def __init__(self):
        self._where: dict[str, Dataset] = {}

    def take(self, item: Dataset, keys) -> None:
        for key in keys:
            if key in item:
                self._where[key] = item

    def get(self, keyword: str, default=None):
        item = self._where.get(keyword)
        return default if item is None else item.get(keyword, default)


def first_item(header: Header, ds: Dataset, keyword: str, where: str = "header") -> Dataset | None:
    items = sequence(header, ds, keyword, where)
    return items[0] if items else None


def sequence(header: Header, ds: Dataset, keyword: str, where: str = "header") -> Sequence | None:
    """The items of sequence ``keyword`` of ``ds`` (the file's dataset or an item in it), parsed
    within the file's budget; None when absent. Raises :class:`BadValue` when it is not a sequence."""
    if keyword not in ds:
        return None
    elem = ds.get_item(keyword, keep_deferred=True)
    if isinstance(elem, DataElement):  # parsed already (undefined length: while the header was read)
        if not isinstance(elem.value, Sequence):
            raise BadValue(f"{keyword} in the {where} is not a sequence (VR {elem.VR})")
        return elem.value
    if not isinstance(elem, RawDataElement) or elem.VR not in (None, "SQ", "UN"):
        raise BadValue(f"{keyword} in the {where} is not a sequence (VR {getattr(elem, 'VR', '?')})")
    data = elem.value
    if data is None and elem.length:  # left on disk by the header pass: read it through the budget
        buffer = getattr(header.dataset, "buffer", None)
        if buffer is None:
            raise BadValue(f"{keyword} in the {where} can no longer be read")
        buffer.seek(elem.value_tell)
        data = buffer.read(elem.length)
        if len(data) != elem.length:
            raise BadValue(f"{keyword} in the {where} is cut short: the file is truncated")
    implicit = True if elem.VR == "UN" else elem.is_implicit_VR  # UN content is implicit VR (PS3.5 6.2.2)
    stream = Guarded(io.BytesIO(data or b""), None, header.budget)
    try:
        items = read_sequence(stream, implicit, elem.is_little_endian, len(data or b""), ds.original_character_set)
    except Exception as exc:  # pydicom raises many types on damaged items
        if header.budget.exceeded:
            raise
        raise BadValue(f"{keyword} in the {where} cannot be parsed ({type(exc).__name__}: {short(exc)})") from exc
    ds[elem.tag] = DataElement(elem.tag, "SQ", items)  # later readers (metadata) see it parsed
    return items
