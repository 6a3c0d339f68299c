"""One 2D image in patient space: a classic single-frame file, or one frame of a multi-frame file.

Everything a stack needs (position, orientation, size, pixel spacing, rescale) is copied out of
the header here, so grouping, sorting and geometry never look at DICOM tags again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from .discover import Header


class NotAnImage(ValueError):
    """The header lacks what is needed to place the image in space (the message says what)."""


@dataclass(frozen=True, eq=False)
class Slice:
    header: Header
    frame: int                      # index of the frame in its file (0 for single-frame files)
    position: np.ndarray            # ImagePositionPatient, LPS mm, centre of the first pixel
    orientation: tuple[float, ...]  # ImageOrientationPatient: row cosines then column cosines
    rows: int
    cols: int
    pixel_spacing: tuple[float, float]  # (between rows, between columns), mm
    slope: float = 1.0
    intercept: float = 0.0
    instance: int | None = None
    thickness: float | None = None  # SliceThickness or SpacingBetweenSlices, for 1-slice stacks
    mosaic: int = 0                 # tiles per side of a Siemens mosaic (0: not a mosaic)

    @property
    def name(self) -> str:
        return self.header.name

    @property
    def dataset(self) -> Dataset:
        return self.header.dataset


def slices_of(header: Header) -> list[Slice]:
    """The slices in one file (several for an enhanced multi-frame file).

    Raises :class:`NotAnImage` when position, orientation or spacing are missing.
    """
    ds = header.dataset
    if "PerFrameFunctionalGroupsSequence" in ds or int(ds.get("NumberOfFrames", 1) or 1) > 1:
        from .multiframe import frames_of

        return frames_of(header)
    from .mosaic import is_mosaic, tiles_of

    if is_mosaic(ds):
        return tiles_of(header)
    return [Slice(header, 0, *plane_of(ds), **rescale_of(ds), instance=_int(ds.get("InstanceNumber")),
                  thickness=thickness_of(ds))]


def plane_of(ds: Dataset, where: str = "header") -> tuple:
    """``(position, orientation, rows, cols, pixel_spacing)`` from a dataset or functional group."""
    missing = [k for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing") if k not in ds]
    if missing:
        raise NotAnImage(f"no {' / '.join(missing)} in the {where}, so it cannot be placed in the "
                         "patient (a screenshot, secondary capture or localiser?)")
    return (np.asarray(ds.ImagePositionPatient, dtype=float), tuple(float(v) for v in ds.ImageOrientationPatient),
            *_size(ds), tuple(float(v) for v in ds.PixelSpacing))


def _size(ds: Dataset) -> tuple[int, int]:
    return int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)


def rescale_of(ds: Dataset) -> dict:
    slope = ds.get("RescaleSlope")
    intercept = ds.get("RescaleIntercept")
    return {"slope": 1.0 if slope in (None, "") else float(slope),
            "intercept": 0.0 if intercept in (None, "") else float(intercept)}


def thickness_of(ds: Dataset) -> float | None:
    for key in ("SpacingBetweenSlices", "SliceThickness"):
        value = ds.get(key)
        if value not in (None, "") and float(value) > 0:
            return float(value)
    return None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
