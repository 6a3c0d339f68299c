"""Names and indices of vertebral levels and of the discs between them.

Level index (the numbering of the Spinal Cord Toolbox labelled cord and of VerSe masks):
1-7 = C1-C7, 8-19 = T1-T12, 20-24 = L1-L5, and 25 = S1 (lesionview's extension, for
TotalSegmentator's ``vertebrae_S1``). Index 0 means "no level / outside the modelled levels".

Disc index ``k`` is the boundary between level ``k`` (above) and level ``k + 1`` (below), so
disc 4 is "C4/C5", disc 7 is "C7/T1", disc 24 "L5/S1"; disc 0 is the upper border of C1
("C0/C1", the occiput-atlas junction) and disc 1 "C1/C2" (atlanto-axial; no true disc, but a
boundary all the same).
"""

from __future__ import annotations

import re

from ..errors import InputError

LEVEL_NAMES: tuple[str, ...] = (
    ("",)
    + tuple(f"C{i}" for i in range(1, 8))
    + tuple(f"T{i}" for i in range(1, 13))
    + tuple(f"L{i}" for i in range(1, 6))
    + ("S1",)
)
MAX_LEVEL = len(LEVEL_NAMES) - 1            # 25 = S1
_INDEX = {name: i for i, name in enumerate(LEVEL_NAMES) if name}
_INDEX["C0"] = 0                              # occiput, only as the upper side of disc 0

ACCEPTED_FORMS = ('vertebral bodies "C1".."C7", "T1".."T12", "L1".."L5", "S1"; '
                  'discs between consecutive vertebrae "C4/C5" (or "C4-C5"), "C7/T1", '
                  '"T12/L1", "L5/S1", and "C0/C1" for the upper border of C1')

_BODY = re.compile(r"^(?:VERTEBRAE_)?([CTLS])(\d{1,2})$")
_DISC = re.compile(r"^([CTLS])(\d{1,2})\s*[/\-]\s*([CTLS])(\d{1,2})$")


def name_of(index: int) -> str:
    """Name of level ``index`` ("C5"); ``""`` for 0 (unknown)."""
    index = int(index)
    if not 0 <= index <= MAX_LEVEL:
        raise ValueError(f"level index must be 0..{MAX_LEVEL}, got {index}")
    return LEVEL_NAMES[index]


def index_of(name: str) -> int:
    """Index of a level name ("C5" -> 5, "T1" -> 8, "L1" -> 20)."""
    key = name.strip().upper()
    if key not in _INDEX or key == "C0":
        raise InputError(f"{name!r} is not a vertebral level.", hint=f"Use {ACCEPTED_FORMS}.")
    return _INDEX[key]


def disc_name(k: int) -> str:
    """Name of disc ``k`` (between levels k and k+1): 4 -> "C4/C5", 0 -> "C0/C1"."""
    k = int(k)
    if not 0 <= k < MAX_LEVEL:
        raise ValueError(f"disc index must be 0..{MAX_LEVEL - 1}, got {k}")
    upper = "C0" if k == 0 else LEVEL_NAMES[k]
    return f"{upper}/{LEVEL_NAMES[k + 1]}"


def parse_landmark(name: str) -> tuple[str, int] | None:
    """("body", level) or ("disc", k) for a landmark name; None when not recognised."""
    key = re.sub(r"\s+", "", str(name)).upper()
    m = _BODY.match(key)
    if m:
        idx = _INDEX.get(f"{m.group(1)}{int(m.group(2))}")
        return None if not idx else ("body", idx)
    m = _DISC.match(key)
    if m:
        upper = _INDEX.get(f"{m.group(1)}{int(m.group(2))}")
        lower = _INDEX.get(f"{m.group(3)}{int(m.group(4))}")
        if upper is None or lower is None or lower != upper + 1:
            return None
        return ("disc", upper)
    return None


def parse_landmarks(names) -> list[tuple[str, int]]:
    """Parse every name, raising one InputError that lists all unrecognised names."""
    parsed = [parse_landmark(n) for n in names]
    bad = [str(n) for n, p in zip(names, parsed) if p is None]
    if bad:
        raise InputError(f"unknown landmark name(s): {', '.join(repr(b) for b in bad)}.",
                         hint=f"Accepted: {ACCEPTED_FORMS}.")
    return parsed


def span_label(first: str | None, last: str | None) -> str:
    """"C5-C6" for a span, "C5" for one level, "unknown" without levels."""
    if not first:
        return "unknown"
    return first if first == last else f"{first}-{last}"
