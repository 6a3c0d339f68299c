"""Header values read in the form the standard requires, or refused naming the element.

pydicom converts a value when it is first read, and raises (many types) on a damaged one; here
every such failure, and every value in the wrong form (three numbers where six belong, text,
NaN, a number out of range), is a :class:`BadValue` whose message names the element and says
what is wrong. Values that only inform (InstanceNumber, labels) have readers that return None
or "" instead (:func:`integer_or_none`, :func:`text`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.values import convert_numbers

from .discover import Unusable, short

#: Pixel spacing, slice thickness and step (mm) outside this range are misread numbers (1e-300,
#: 1e300), not a scanner's: no MR or CT pixel is smaller than a micrometre or larger than a metre,
#: and such values would make every distance and volume meaningless.
SPACING_RANGE_MM = (1e-3, 1e3)


class NotAnImage(Unusable):
    """The header lacks what is needed to place the image in space (the message says what)."""


class BadValue(NotAnImage):
    """A header value in a form the standard does not allow (the message says which and why)."""

    kind = "invalid"


def values_of(ds: Mapping | Dataset, keyword: str) -> list | None:
    """The values of ``keyword`` as a list, or None when absent or empty.

    pydicom converts values when they are first read, and raises (many types) on damaged ones:
    that is a :class:`BadValue` here.
    """
    try:
        if isinstance(ds, Dataset):  # by tag: pydicom's keyword lookup costs as much as the value
            elem = ds.get(_tag(keyword))
            value = None if elem is None else elem.value
        else:
            value = ds.get(keyword)
    except Exception as exc:  # pydicom's converters raise many types
        raise BadValue(f"{keyword} cannot be read ({type(exc).__name__}: {short(exc)})") from exc
    if value is None or (isinstance(value, str | bytes) and not value.strip(b"\0 " if isinstance(value, bytes)
                                                                          else "\0 ")):
        return None
    if isinstance(value, str | bytes | int | float):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


@functools.cache
def _tag(keyword: str) -> int:
    return tag_for_keyword(keyword)


def shown(values: list) -> str:
    """Values as a header dump shows them, printable and short."""
    text = "\\".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def numbers(ds, keyword: str, count: int, *, where: str = "") -> tuple[float, ...] | None:
    """Exactly ``count`` finite numbers, or None when the element is absent or empty.

    Raises :class:`BadValue` naming the element and what is wrong with it.

    Examples
    --------
    >>> numbers({"PixelSpacing": ["0.5", "0.5"]}, "PixelSpacing", 2)
    (0.5, 0.5)
    >>> numbers({"PixelSpacing": ["nan", "1"]}, "PixelSpacing", 2)
    Traceback (most recent call last):
    ...
    lesionview.io.dicom.values.BadValue: PixelSpacing is 'nan\\\\1': not a finite number
    """
    values = values_of(ds, keyword)
    if values is None:
        return None
    at = f" in the {where}" if where else ""
    if len(values) != count:
        raise BadValue(f"{keyword}{at} has {len(values)} value{'s' * (len(values) != 1)} ({shown(values)}) "
                       f"where the standard requires {count}")
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError, OverflowError):
            raise BadValue(f"{keyword}{at} is {shown(values)}: not a number") from None
        if not math.isfinite(f):
            raise BadValue(f"{keyword}{at} is {shown(values)}: not a finite number")
        out.append(f)
    return tuple(out)


def integer(ds, keyword: str, *, default: int | None = None, low: int = 0, high: int = 2**32 - 1,
            where: str = "") -> int | None:
    """One whole number in ``[low, high]``, ``default`` when absent; raises :class:`BadValue`."""
    value = _plain_us(ds, keyword)
    if value is not None:
        if not low <= value <= high:
            raise BadValue(f"{keyword}{f' in the {where}' if where else ''} is {value}, outside {low}..{high}")
        return value
    values = values_of(ds, keyword)
    if values is None:
        return default
    at = f" in the {where}" if where else ""
    if len(values) != 1:
        raise BadValue(f"{keyword}{at} has {len(values)} values ({shown(values)}) where the standard requires one")
    try:
        f = float(values[0])
    except (TypeError, ValueError, OverflowError):
        raise BadValue(f"{keyword}{at} is {shown(values)}: not a number") from None
    if not f.is_integer():
        raise BadValue(f"{keyword}{at} is {shown(values)}: not a whole number")
    if not low <= f <= high:
        raise BadValue(f"{keyword}{at} is {shown(values)}, outside {low}..{high}")
    return int(f)


def _plain_us(ds, keyword: str) -> int | None:
    """A US value still raw as read (2 bytes), converted by pydicom's number converter alone.

    Why: the pixel description is 7 US elements per file, and pydicom's full conversion (hooks,
    a DataElement, validation) costs about ten times the unpacking; on a 200-file series that is
    a tenth of the scan. Anything else (another VR or length, already converted) returns None
    and takes the checked path.
    """
    if not isinstance(ds, Dataset):
        return None
    raw = ds.get_item(_tag(keyword), keep_deferred=True)
    if type(raw) is RawDataElement and raw.length == 2 and raw.VR in (None, "US") and raw.value is not None:
        return convert_numbers(raw.value, raw.is_little_endian, "H")
    return None


def integer_or_none(ds, keyword: str) -> int | None:
    """A whole number that only informs (InstanceNumber...): None when it is in the wrong form."""
    try:
        return integer(ds, keyword, low=-(2**31), high=2**31 - 1)
    except BadValue:
        return None


def text(ds, keyword: str) -> str:
    """A value as stripped text, "" when absent or unreadable (for labels and comparisons only)."""
    try:
        values = values_of(ds, keyword)
    except BadValue:
        return ""
    if values is None:
        return ""
    return "\\".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values).strip()


def step_of(ds, keyword: str) -> float | None:
    """One plausible positive number of mm, None when absent; raises :class:`BadValue`."""
    value = numbers(ds, keyword, 1)
    if value is None:
        return None
    low, high = SPACING_RANGE_MM
    if not low <= value[0] <= high:
        raise BadValue(f"{keyword} is {value[0]:g} mm, outside {low:g}..{high:g} mm")
    return value[0]
