"""Enhanced multi-frame images (e.g. Enhanced MR Image Storage): one file, one slice per frame.

Each frame's position, orientation, pixel spacing and rescale come from its item of the
PerFrameFunctionalGroupsSequence, or from the SharedFunctionalGroupsSequence when the value is
the same for every frame (the standard allows either place). Frames are then treated exactly
like single-frame slices: grouped, sorted along the normal and checked for gaps by ``stack.py``.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from .discover import Header
from .slices import NotAnImage, Slice, _int, plane_of, rescale_of, thickness_of


def frames_of(header: Header) -> list[Slice]:
    ds = header.dataset
    n = int(ds.get("NumberOfFrames", 1) or 1)
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None:
        raise NotAnImage(f"multi-frame image ({n} frames) without per-frame functional groups: "
                         "the frames cannot be placed in the patient")
    if len(per_frame) != n:
        raise NotAnImage(f"NumberOfFrames is {n} but PerFrameFunctionalGroupsSequence has {len(per_frame)} items")
    rows, cols = int(ds.Rows), int(ds.Columns)
    slices = []
    for index, group in enumerate(per_frame):
        flat = Dataset()
        # Per-frame values override shared ones: copy shared first, then per-frame.
        for source in (shared, group):
            if source is None:
                continue
            for seq, keys in (("PlanePositionSequence", ("ImagePositionPatient",)),
                              ("PlaneOrientationSequence", ("ImageOrientationPatient",)),
                              ("PixelMeasuresSequence", ("PixelSpacing", "SliceThickness", "SpacingBetweenSlices")),
                              ("PixelValueTransformationSequence", ("RescaleSlope", "RescaleIntercept"))):
                item = _first(source, seq)
                if item is not None:
                    for key in keys:
                        if key in item:
                            setattr(flat, key, item.get(key))
        flat.Rows, flat.Columns = rows, cols
        position, orientation, r, c, spacing = plane_of(flat, where=f"functional groups of frame {index + 1}")
        content = _first(group, "FrameContentSequence")
        stack_pos = _int(content.get("InStackPositionNumber")) if content is not None else None
        slices.append(Slice(header, index, position, orientation, r, c, spacing, **rescale_of(flat),
                            instance=stack_pos if stack_pos is not None else index + 1,
                            thickness=thickness_of(flat)))
    return slices


def _first(ds: Dataset | None, keyword: str) -> Dataset | None:
    if ds is None:
        return None
    seq = ds.get(keyword)
    return seq[0] if seq else None
