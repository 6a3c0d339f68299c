"""One 2D image in patient space: a classic single-frame file, or one frame of a multi-frame file.

Everything a stack needs (position, orientation, size, pixel spacing, rescale, pixel format) is
copied out of the header here, and checked against the standard on the way (values through
``values.py``, the pixel description through ``pixel_format.py``): a value in the wrong form
(three numbers where six belong, text, NaN, a zero or non-orthogonal orientation, a pixel
description that does not add up to the pixel data...) makes the file unusable with a reason
naming the element, so grouping, sorting, geometry and pixel reading never meet a bad value.
Values that only inform (InstanceNumber, SliceThickness of a multi-slice stack) never stop a
file: a bad one is treated as absent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from .discover import Header
from .pixel_format import PixelFormat, pixel_format_of
from .values import SPACING_RANGE_MM, BadValue, NotAnImage, integer_or_none, numbers, step_of

#: Farther than this from the scanner's origin (mm) a position is a misread number.
MAX_POSITION_MM = 1e6
#: Row and column cosines must be unit vectors and perpendicular within this (about 0.6 degree):
#: headers store them to about 6 digits; farther off, the orientation is damaged.
ORIENTATION_TOL = 1e-2
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True, eq=False)
class Slice:
    header: Header
    frame: int                      # index of the frame in its file (0 for single-frame files)
    position: np.ndarray            # ImagePositionPatient, LPS mm, centre of the first pixel
    orientation: tuple[float, ...]  # ImageOrientationPatient: row cosines then column cosines
    rows: int
    cols: int
    pixel_spacing: tuple[float, float]  # (between rows, between columns), mm
    pixels: PixelFormat
    slope: float = 1.0
    intercept: float = 0.0
    instance: int | None = None
    thickness: float | None = None  # SliceThickness or SpacingBetweenSlices, for 1-slice stacks
    mosaic: int = 0                 # tiles per side of a Siemens mosaic (0: not a mosaic)
    #: What was accepted in this slice's file but must be said: ``stack.build`` puts each
    #: distinct note into the series problems (and so into ``Volume.problems``).
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.header.name

    @property
    def dataset(self) -> Dataset:
        return self.header.dataset


def slices_of(header: Header) -> list[Slice]:
    """The slices in one file (several for an enhanced multi-frame file or a mosaic).

    Raises :class:`NotAnImage` when position, orientation or spacing are missing, and
    :class:`BadValue` when a value the slices need is in the wrong form.
    """
    ds = header.dataset
    pixels = pixel_format_of(header)
    if "PerFrameFunctionalGroupsSequence" in ds or pixels.frames > 1:
        return multiframe.frames_of(header, pixels)
    if mosaic.is_mosaic(ds):
        return mosaic.tiles_of(header, pixels)
    position, orientation, spacing = plane_of(ds)
    return [Slice(header, 0, position, orientation, pixels.rows, pixels.cols, spacing, pixels, **rescale_of(ds, pixels),
                  instance=integer_or_none(ds, "InstanceNumber"), thickness=thickness_of(ds), notes=pixels.notes)]


# ----------------------------------------------------------------------------- what a slice needs
def plane_of(ds, where: str = "header") -> tuple[np.ndarray, tuple[float, ...], tuple[float, float]]:
    """``(position, orientation, pixel_spacing)`` from a dataset or functional group, checked."""
    position = numbers(ds, "ImagePositionPatient", 3, where=where)
    orientation = numbers(ds, "ImageOrientationPatient", 6, where=where)
    spacing = numbers(ds, "PixelSpacing", 2, where=where)
    missing = [k for k, v in (("ImagePositionPatient", position), ("ImageOrientationPatient", orientation),
                              ("PixelSpacing", spacing)) if v is None]
    if missing:
        raise NotAnImage(f"no {' / '.join(missing)} in the {where}, so it cannot be placed in the "
                         "patient (a screenshot, secondary capture or localiser?)")
    if max(abs(v) for v in position) > MAX_POSITION_MM:
        raise BadValue(f"ImagePositionPatient {position} is more than {MAX_POSITION_MM / 1000:g} m from the "
                       "scanner's origin: a misread value")
    check_orientation(orientation, where)
    low, high = SPACING_RANGE_MM
    if not all(low <= v <= high for v in spacing):
        raise BadValue(f"PixelSpacing {spacing} in the {where} is outside {low:g}..{high:g} mm: "
                       "zero, negative or a misread value")
    return np.asarray(position, dtype=float), orientation, spacing


def check_orientation(iop: tuple[float, ...], where: str = "header") -> None:
    """Raise :class:`BadValue` unless the row and column cosines are perpendicular unit vectors.

    Examples
    --------
    >>> check_orientation((1, 0, 0, 0, 1, 0))
    >>> check_orientation((1, 0, 0, 1, 0, 0))
    Traceback (most recent call last):
    ...
    lesionview.io.dicom.values.BadValue: ImageOrientationPatient [1, 0, 0, 1, 0, 0] in the header: row and column directions are not perpendicular (cosine 1)
    """
    r, c = iop[:3], iop[3:]
    shown_iop = "[" + ", ".join(f"{v:g}" for v in iop) + "]"
    lengths = math.hypot(*r), math.hypot(*c)  # (plain floats: numpy costs more for three values)
    if min(lengths) < ORIENTATION_TOL:
        raise BadValue(f"ImageOrientationPatient {shown_iop} in the {where}: a direction is all zeros")
    if max(abs(n - 1) for n in lengths) > ORIENTATION_TOL:
        raise BadValue(f"ImageOrientationPatient {shown_iop} in the {where}: the directions are not unit "
                       f"vectors (lengths {lengths[0]:.3g}, {lengths[1]:.3g})")
    cosine = math.fsum(a * b for a, b in zip(r, c))
    if abs(cosine) > ORIENTATION_TOL:
        raise BadValue(f"ImageOrientationPatient {shown_iop} in the {where}: row and column directions are "
                       f"not perpendicular (cosine {cosine:.3g})")


def rescale_of(ds, pixels: PixelFormat, where: str = "header") -> dict:
    """``{"slope", "intercept"}``: one finite number each (absent: 1 and 0), slope not zero, and
    rescaled values that fit a float32."""
    slope = numbers(ds, "RescaleSlope", 1, where=where)
    intercept = numbers(ds, "RescaleIntercept", 1, where=where)
    slope = 1.0 if slope is None else slope[0]
    intercept = 0.0 if intercept is None else intercept[0]
    if slope == 0:
        raise BadValue(f"RescaleSlope is 0 in the {where}: every pixel would have the same value")
    largest = abs(slope) * 2.0 ** pixels.bits_stored + abs(intercept)
    if not pixels.floating and largest > _FLOAT32_MAX / 2:
        raise BadValue(f"RescaleSlope {slope:g} / RescaleIntercept {intercept:g} in the {where} would overflow "
                       "the pixel values: misread numbers")
    return {"slope": slope, "intercept": intercept}


def thickness_of(ds) -> float | None:
    """SpacingBetweenSlices, else SliceThickness: the first that is one plausible positive number.

    Only a fallback (a stack measures its step from positions), so one in the wrong form is
    passed over, never a reason to refuse the file.
    """
    for key in ("SpacingBetweenSlices", "SliceThickness"):
        try:
            value = step_of(ds, key)
        except BadValue:
            continue
        if value is not None:
            return value
    return None


# They build on the functions above (and import this module): imported last, used at call time.
from . import mosaic, multiframe
