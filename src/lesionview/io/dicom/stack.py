"""From loose slices to stacks: group, split, sort along the normal, and find the gaps.

Rules (each one a mistake seen in real exports):

* A file that repeats another exactly (same series, position, orientation, size and the tags
  that tell images apart, byte-identical pixel data: a file copied twice into an export) is set
  aside as a duplicate, naming the file it repeats (:func:`find_duplicates`).
* Slices are grouped by SeriesInstanceUID, then split when they differ in orientation or
  matrix size (a localiser saved in the same series), or when two slices sit at the same
  position with different pixels (echoes, repeats, re-exports sharing a UID). A split is
  always reported, and each part's ``uid`` gets ``#k`` so it can be chosen.
* Order comes from ImagePositionPatient projected on the slice normal (row x column cosines),
  never from InstanceNumber, which scanners number in acquisition order.
* The slice step comes from those positions, never from SliceThickness (which is the excited
  slab and is smaller than the step when there is an inter-slice gap).
* A step that is a whole multiple of the regular one means missing slices; any other uneven
  step is uneven spacing. Both are loaded (a grid needs one step: the regular one) and the
  place of each gap is written into the series problems: never stitched silently.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...geometry import Geometry
from .discover import Header
from .slices import Slice
from .values import integer_or_none, text

#: Two IOPs whose cosines differ by less than this are the same orientation.
ORIENTATION_TOL = 1e-3
#: Steps within this fraction (or 0.01 mm) of the regular step count as regular.
STEP_REL_TOL = 0.02
STEP_ABS_TOL = 0.01
#: Images whose positions along the normal lie within this of the next are at one position.
SAME_POSITION_MM = 0.01

# Tags that tell apart images at the same position within one series, most telling first.
_DISAMBIGUATORS = ("SeriesNumber", "EchoNumbers", "AcquisitionNumber", "TemporalPositionIdentifier",
                   "TriggerTime", "DiffusionBValue", "ImageType")


@dataclass(frozen=True)
class Gap:
    """Slices missing (or unevenly spaced) between two neighbours, positions along the normal in mm."""

    before_mm: float
    after_mm: float
    step_mm: float
    expected_mm: float
    missing: int   # whole slices missing; 0 for an uneven step that is no multiple

    def describe(self) -> str:
        what = (f"{self.missing} slice{'s' * (self.missing > 1)} missing" if self.missing
                else "uneven spacing")
        return (f"gap of {self.step_mm:.2f} mm between slices at {self.before_mm:.2f} mm and "
                f"{self.after_mm:.2f} mm along the normal, expected {self.expected_mm:.2f} mm: {what}")


@dataclass(frozen=True)
class Stack:
    """Slices of one volume, sorted along the normal, with the grid they define."""

    uid: str
    slices: tuple[Slice, ...]
    geometry: Geometry
    gaps: tuple[Gap, ...]
    problems: tuple[str, ...]
    #: Index along the volume's slice axis of each slice; missing slices leave empty slots.
    slots: tuple[int, ...] = ()


def find_duplicates(slices: list[Slice], digests: Callable[[list[Header]], dict[str, str]]
                    ) -> tuple[list[Slice], list[tuple[str, str]]]:
    """The slices without those of duplicate files, and ``(duplicate, original)`` file names.

    A file duplicates an earlier one in the same folder when its series UID, the tags that tell
    images apart (SeriesNumber, EchoNumbers...), and every slice's position, orientation and
    size are the same, and its pixel data bytes are identical. A copy in another folder is kept,
    as a stack of its own (split by folder in :func:`group`): a subset exported beside the
    series is a deliberate copy, and either can be chosen by its ``uid``. ``digests(headers)``
    gives each file's pixel data digest; it is only asked for files whose header already
    matches another's.
    """
    by_file: dict[str, list[Slice]] = defaultdict(list)
    for s in slices:
        by_file[s.name].append(s)
    # Where each file's slices are: only files that share it are compared further.
    places: dict[tuple, list[str]] = defaultdict(list)
    for name, own in by_file.items():
        places[(os.path.dirname(name), tuple(sorted((tuple(round(float(v), 2) for v in s.position),
                                                     tuple(round(v, 4) for v in s.orientation),
                                                     s.rows, s.cols, s.frame) for s in own)))].append(name)
    signatures: dict[tuple, list[str]] = defaultdict(list)
    for place, names in places.items():
        for name in names if len(names) > 1 else ():
            ds = by_file[name][0].dataset
            signatures[(place, series_uid(ds), tuple(text(ds, t) for t in _DISAMBIGUATORS))].append(name)
    suspects = [names for names in signatures.values() if len(names) > 1]
    if not suspects:
        return slices, []
    digest = digests([by_file[n][0].header for names in suspects for n in names])
    duplicates = []
    for names in suspects:
        first_with: dict[str, str] = {}
        for name in names:
            d = digest.get(name)
            if d is None:
                continue
            if d in first_with:
                duplicates.append((name, first_with[d]))
            else:
                first_with[d] = name
    dropped = {d for d, _ in duplicates}
    return [s for s in slices if s.name not in dropped], duplicates


def series_uid(ds) -> str:
    return text(ds, "SeriesInstanceUID") or "no-series-uid"


def group(slices: list[Slice], display) -> list[Stack]:
    """Stacks from every slice found; ``display(name)`` names a file in messages."""
    by_uid: dict[str, list[Slice]] = defaultdict(list)
    for s in slices:
        by_uid[series_uid(s.dataset)].append(s)
    stacks = []
    for uid, members in by_uid.items():
        parts, problems = _split(members, display)
        for k, (part, reason) in enumerate(parts):
            part_uid = uid if len(parts) == 1 else f"{uid}#{k + 1}"
            stacks.append(build(part_uid, part, problems + ([reason] if reason else [])))
    stacks.sort(key=lambda st: (_series_number(st), st.uid))
    return stacks


def _series_number(stack: Stack) -> int:
    number = integer_or_none(stack.slices[0].dataset, "SeriesNumber")
    return 1 << 31 if number is None else number


def _split(members: list[Slice], display) -> tuple[list[tuple[list[Slice], str]], list[str]]:
    """Parts that can each be one grid, with a note per part when the series had to be split."""
    # 1. orientation and matrix size
    kinds: list[tuple[tuple, list[Slice]]] = []
    for s in members:
        for key, part in kinds:
            if key[1:] == (s.rows, s.cols) and np.max(np.abs(np.subtract(key[0], s.orientation))) < ORIENTATION_TOL:
                part.append(s)
                break
        else:
            kinds.append(((s.orientation, s.rows, s.cols), [s]))
    problems = []
    if len(kinds) > 1:
        desc = "; ".join(f"{len(p)} slice(s) {k[1]}x{k[2]} IOP {_fmt_iop(k[0])} (e.g. {display(p[0].name)})"
                         for k, p in kinds)
        problems.append(f"series split into {len(kinds)} stacks because its slices differ in orientation "
                        f"or size: {desc}")
    # 2. several images at one position
    parts = []
    for _, part in kinds:
        keys = _positions(_along_normal(part))
        if len(np.unique(keys)) == len(part):
            parts.append((part, ""))
            continue
        parts.extend(_split_duplicates(part, keys))
    return parts, problems


def _positions(pos: np.ndarray) -> np.ndarray:
    """A number per image naming its position: images chained within SAME_POSITION_MM of each other
    along the normal share it. (Rounding to 0.01 mm would part two copies 0.002 mm apart that
    straddle a rounding edge, and make one stack of both with a 0.002 mm step.)"""
    order = np.argsort(pos, kind="stable")
    keys = np.empty(len(pos), int)
    keys[order] = np.concatenate([[0], np.cumsum(np.diff(pos[order]) > SAME_POSITION_MM)])
    return keys


def _split_duplicates(part: list[Slice], keys: np.ndarray) -> list[tuple[list[Slice], str]]:
    # Copies of one series in several folders (re-exports, other compressions) are the usual cause.
    candidates = [("folder", [os.path.dirname(s.name) for s in part]),
                  ("transfer syntax", [s.pixels.transfer_syntax for s in part])]
    candidates += [(tag, [text(s.dataset, tag) for s in part]) for tag in _DISAMBIGUATORS]
    for tag, values in candidates:
        if len(set(values)) < 2:
            continue
        groups: dict[str, list[int]] = defaultdict(list)
        for i, v in enumerate(values):
            groups[v].append(i)
        if all(len(set(keys[idx])) == len(idx) for idx in groups.values()):
            # (Byte-identical copies in one folder were dropped as duplicates before; copies in
            # other folders or compressions are kept apart, each its own stack.)
            return [([part[i] for i in idx], (f"several images per position in this series UID; this "
                     f"stack holds those with {tag} = {v}")) for v, idx in groups.items()]
    # Nothing tells them apart: the k-th image at each position (in instance order) goes to stack k.
    order = sorted(range(len(part)), key=lambda i: (part[i].instance or 0, i))
    seen: dict[int, int] = defaultdict(int)
    buckets: dict[int, list[Slice]] = defaultdict(list)
    for i in order:
        buckets[seen[keys[i]]].append(part[i])
        seen[keys[i]] += 1
    return [(b, (f"several images at the same position, with different pixel data and no tag telling "
                f"them apart; this stack holds occurrence {k + 1} of each position")) for k, b in sorted(buckets.items())]


def _fmt_iop(iop) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in iop) + "]"


def _axes(orientation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orthonormal (row direction, column direction, normal) from an IOP."""
    r = np.asarray(orientation[:3], dtype=float)
    c = np.asarray(orientation[3:], dtype=float)
    r = r / np.linalg.norm(r)
    c = c - (c @ r) * r  # headers store cosines to ~6 digits; make them exactly orthogonal
    c = c / np.linalg.norm(c)
    return r, c, np.cross(r, c)


def _along_normal(part: list[Slice]) -> np.ndarray:
    _, _, n = _axes(part[0].orientation)
    return np.array([s.position @ n for s in part])


def build(uid: str, part: list[Slice], problems: list[str]) -> Stack:
    """Sort ``part`` along its normal and compute its grid, gaps and problems."""
    r, c, n = _axes(part[0].orientation)
    pos = _along_normal(part)
    order = np.argsort(pos, kind="stable")
    slices = tuple(part[i] for i in order)
    pos = pos[order]
    # What each file said of itself (extra pixel bytes, where a mosaic's step came from), once.
    problems = list(problems) + [note for note in dict.fromkeys(n for s in slices for n in s.notes)
                                 if note not in problems]
    gaps: list[Gap] = []
    if len(slices) == 1:
        step = slices[0].thickness or 1.0
        problems.append(f"single slice: its thickness ({step:g} mm"
                        f"{'' if slices[0].thickness else ', assumed'}) is used as the slice spacing")
    else:
        steps = np.diff(pos)
        step = regular_step(steps)
        gaps = find_gaps(pos, steps, step)
        problems.extend(g.describe() for g in gaps)
        drift = _in_plane_drift(slices, r, c)
        if drift > 0.1:
            problems.append(f"slice positions drift {drift:.2f} mm within the slice plane (gantry tilt "
                            "or sheared stack); the grid assumes a straight stack")
    slots = tuple(range(len(slices)))
    missing = sum(g.missing for g in gaps)
    if gaps and all(g.missing > 0 for g in gaps) and missing > len(slices):
        # More empty slots than images: one slice far away (a misplaced or misread position),
        # not a few missing ones; a grid that size would be mostly empty.
        problems.append(f"{missing} slices would be missing, more than the {len(slices)} present: no empty "
                        f"slices are inserted, so positions beyond the first gap are off by up to "
                        f"{max(abs(g.step_mm - step) for g in gaps):.2f} mm")
    elif gaps and all(g.missing > 0 for g in gaps):
        # Whole slices are missing: leave empty slots for them so every slice keeps its true
        # position (a stitched stack would shift all later slices by the gap).
        slots = tuple(int(k) for k in np.rint((pos - pos[0]) / step))
        where = ", ".join(f"{g.before_mm + step * (j + 1):.2f}" for g in gaps for j in range(g.missing))
        problems.append(f"{missing} empty slice(s) inserted at {where} mm along "
                        "the normal so every slice keeps its position; they hold no image data (0)")
    elif gaps:
        problems.append(f"uneven slice spacing: the grid uses a {step:.3g} mm step, so positions "
                        f"beyond the first gap are off by up to {max(abs(g.step_mm - step) for g in gaps):.2f} mm")
    ps = slices[0].pixel_spacing
    spacings = {s.pixel_spacing for s in slices}
    if len(spacings) > 1:
        problems.append(f"pixel spacing differs between slices ({sorted(spacings)}); the first is used")
    direction = np.column_stack([n, c, r])  # array[slice, row, col]
    geometry = Geometry((slots[-1] + 1, slices[0].rows, slices[0].cols), (float(step), ps[0], ps[1]),
                        tuple(slices[0].position), direction)
    return Stack(uid, slices, geometry, tuple(gaps), tuple(problems), slots)


def regular_step(steps: np.ndarray) -> float:
    """The step of the slice grid: the median step, or the smallest when every step is a whole
    multiple of it (so 3 slices with one missing still get the true step)."""
    steps = np.asarray(steps, dtype=float)
    smallest = float(steps.min())
    if smallest > STEP_ABS_TOL:
        ratios = steps / smallest
        if np.all(np.abs(ratios - np.round(ratios)) * smallest <= _tol(smallest)):
            median = float(np.median(steps))
            if abs(median - smallest) > _tol(smallest):
                return float(np.mean(steps[np.round(ratios) == 1]))
    return float(np.median(steps))


def find_gaps(pos: np.ndarray, steps: np.ndarray, expected: float) -> list[Gap]:
    gaps = []
    for i, step in enumerate(steps):
        if abs(step - expected) <= _tol(expected):
            continue
        k = round(step / expected)
        missing = k - 1 if k >= 2 and abs(step - k * expected) <= _tol(expected) * k else 0
        gaps.append(Gap(float(pos[i]), float(pos[i + 1]), float(step), float(expected), int(missing)))
    return gaps


def _tol(step: float) -> float:
    return max(STEP_ABS_TOL, STEP_REL_TOL * abs(step))


def _in_plane_drift(slices, r, c) -> float:
    d = np.array([s.position - slices[0].position for s in slices])
    return float(np.max(np.hypot(d @ r, d @ c)))
