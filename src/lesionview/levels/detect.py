"""What a vertebral label image is (``--levels-kind auto``), from its values **and its shape**.

Every convention lesionview reads (see :mod:`lesionview.levels.sources`) is tested on its own;
an image is read only when exactly one fits. Two that fit give different levels (a VerSe C5 is a
``vertebrae_mr`` L2), so lesionview refuses, naming each with its evidence, rather than guess.
Everything is measured in LPS millimetres (centroid heights, extents, contact areas, inscribed
balls), so the same mask stored RAS, LPS, axial, sagittal or oblique gets the same answer.

==================  ==========================================================================
kind                evidence
==================  ==========================================================================
sct-labeled         consecutive values within 1-25 (not the value 1 alone: a binary mask),
                    increasing downwards, layered along a thin tube: largest inscribed ball
                    <= 18 mm, each label <= 25 mm left-right, <= 20 mm equivalent section
                    diameter, <= 60 mm high; consecutive labels share >= 30 % of a section
sct-discs/sct-body  every label a point (<= 64 voxels within 5 mm), values 1-25 increasing
                    downwards 5-60 mm per step; 49/50 (pontomedullary groove / junction, above
                    the rest) exist only in disc files, else both fit and the file is refused
verse               values 1-25, 28 (25 L6, 28 T13), vertebra-sized blobs
                    (0.25-250 cm3, 8-160 mm long), increasing downwards 5-60 mm per vertebra,
                    not the levels of a thin cord: no two neighbours both cord-thin (<= 25 mm
                    left-right, <= 20 mm across) *and* sharing >= 30 % of a section
spineps             VerSe-numbered vertebrae plus TPTBox-only labels: discs 100+X (below
                    vertebra X), endplates 200+X (at X), sacrum 26 / coccyx 27 (below the
                    vertebrae), S2-S6 29-33, ribs 39-55. Vertebrae alone are numbered as in
                    VerSe and read as VerSe
totalsegmentator    vertebrae_* classes 26 (S1) - 50 (C1) as vertebra-sized blobs, value
                    *decreasing* downwards; other classes (organs) up to 117
...-v1, ...-mr      the same with 18 (L5) - 41 (C1), classes up to 104; and 2 (L5) - 25 (C1),
                    classes up to 25, the sacrum (1) below. An organ class shaped and placed
                    like one more vertebra of the column (vertebra-sized, > 25 mm wide, <= 60 mm
                    high, within 20 mm of the nearest vertebra's axis: v1's lung lobe 17 "below
                    L5") means another numbering, and rules that task out
==================  ==========================================================================

A labelled cord and vertebrae are told apart by **width**, not by contact alone. A cord is a
tube 6-15 mm across whose consecutive levels meet across its whole section (contact / mean
section ~1; SCT's own ``t2_seg-manual_labeled`` 1.0-1.6, its levels 13 mm left-right). A whole
vertebra is wider than any cord: > 30 mm left-right with its pedicles and articular processes
(``VertebraPhantom`` 33-37 mm; real C3-L5 45-90 mm with the transverse processes, C1 ~80 mm). And
vertebrae *do* touch: facet joints (a ~1 mm joint space a segmentation closes), uncinate
processes, spinous processes riding on the next lamina, block vertebrae, collapsed discs. Their
contact is 50-80 % of a mean section (volume / height) in the phantom and can be more in a fused
spine, so contact is weighed only between labels thin enough to be levels of a cord.

A vertebra cut by the field of view (its label touches the array's border) is exempt from the size
and spacing tests, which a sliver of a vertebra fails, but still counts for the order (and a SPINEPS
disc is not compared with its centroid); a label as small inside the array is judged as before.

What cannot be told apart is refused with every kind that fits: one vertebra alone (no order:
VerSe C5 or ``vertebrae_mr`` L2), TotalSegmentator ``total`` and ``total_v1`` on 26-41 alone,
``total_v1`` and ``vertebrae_mr`` on 18-25 alone, and SCT disc versus vertebral-level points,
which differ only in where they sit relative to discs and bodies that a label image does not
show (both SCT conventions use value 1: the top or the middle of C1). ``--levels-kind`` says
which one it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..errors import InputError
from .model import LevelModel
from .names import disc_name, name_of

KINDS = ("sct-labeled", "sct-discs", "sct-body", "verse", "spineps", "totalsegmentator",
         "totalsegmentator-v1", "totalsegmentator-mr")
LANDMARK_SUFFIXES = (".csv", ".json", ".mrk.json", ".fcsv")

POINT_MAX_VOXELS, POINT_MAX_MM = 64, 5.0
VERTEBRA_MM3 = (250.0, 250_000.0)        # a cropped edge vertebra .. a large lumbar one
VERTEBRA_EXTENT_MM = (8.0, 160.0)
STEP_MM = (5.0, 60.0)                    # centroid spacing per vertebra (C1/C2 .. lumbar)
# A level of a labelled cord: the cord is 8-15 mm left-right and 6-10 mm front-back (widest at the
# cervical enlargement), a level at most a vertebra and its disc high (~45 mm, lumbar); the limits
# leave room for partial volume and thick slices and stay below the width of any whole vertebra
# (> 30 mm left-right).
CORD_INSCRIBED_MM, CORD_SECTION_MM, CORD_LR_MM, LEVEL_HEIGHT_MM = 18.0, 20.0, 25.0, 60.0
# Contact / mean section of two consecutive levels of a tube: ~1 (SCT's t2 1.0-1.6); the 30 % leaves
# room for a coarse or oblique grid. Only weighed between cord-thin labels (see the module doc).
LAYERED = 0.3
_MAX_VALUE = 10_000

# Position of each VerSe/TPTBox value along the spine (T13 between T12 and L1, then L6, sacrum, coccyx).
_VERSE_ORDER = {v: i for i, v in enumerate([*range(1, 20), 28, *range(20, 26), 26, 27])}
_VERSE_VALUES = frozenset({*range(1, 26), 28})      # VerSe: C1-L5, L6 (25), T13 (28)
_VERSE_NAME = {**{v: name_of(v) for v in range(1, 25)}, 25: "L6", 26: "sacrum", 27: "coccyx", 28: "T13"}
_NAME_ORDER = [_VERSE_NAME[v] for v in _VERSE_ORDER] + ["S1"]
_TPTBOX_OTHER = frozenset({*range(29, 34), *range(39, 56)})   # S2-S6 and ribs (TPTBox v_idx2name)
_TPTBOX_BELOW = (26, 27)                                        # sacrum and coccyx: below the vertebrae
_TS = {"totalsegmentator": (range(26, 51), 117), "totalsegmentator-v1": (range(18, 42), 104),
       "totalsegmentator-mr": (range(2, 26), 25)}
_TS_SACRUM = {"totalsegmentator": {25}, "totalsegmentator-mr": {1}}   # anatomically next to the vertebrae


@dataclass(frozen=True)
class Fit:
    """A kind the image fits, and what showed it."""

    kind: str
    evidence: str


@dataclass(frozen=True)
class Detection:
    """Result of :func:`detect_kind`: the kinds that fit, why the others do not, what was seen."""

    fits: tuple[Fit, ...]
    rejected: dict[str, str] = field(default_factory=dict)
    seen: str = ""
    values: tuple[int, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(f.kind for f in self.fits)


class _Labels:
    """Per-label measurements of an integer label image, in LPS mm, computed on demand."""

    def __init__(self, a: np.ndarray, volume) -> None:
        box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(a)) if a.any() else None
        self.a = a[box] if box else a[:0, :0, :0]
        self.g = volume.geometry.cropped(box) if box else volume.geometry
        counts = np.bincount(self.a.ravel()) if a.size and a.max() <= _MAX_VALUE else None
        if counts is not None:
            self.values = [int(v) for v in np.flatnonzero(counts) if v > 0]
            self.counts = {v: int(counts[v]) for v in self.values}
        else:
            vals, cnt = np.unique(self.a, return_counts=True)
            self.values = [int(v) for v in vals if v != 0]
            self.counts = {int(v): int(c) for v, c in zip(vals, cnt) if v != 0}
        self.boxes = ndimage.find_objects(self.a) if self.values and max(self.values) <= _MAX_VALUE else []
        # Labels touching the array's border: cut by the field of view, so of no telling size.
        self.cut: set[int] = set()
        if box and self.boxes:
            lo, hi = np.array([b.start for b in box]), np.array(a.shape) - np.array([b.stop for b in box])
            for v in self.values:
                b = self.boxes[v - 1]
                if any((lo[i] == 0 and b[i].start == 0) or (hi[i] == 0 and b[i].stop == self.a.shape[i])
                       for i in range(3)):
                    self.cut.add(v)
        # World extent of one voxel along each LPS axis (its edges beyond the centres).
        self.pad = np.abs(self.g.direction_matrix) @ np.array(self.g.spacing)
        self._world: dict[int, np.ndarray] = {}

    def world(self, v: int) -> np.ndarray:
        if v not in self._world:
            sl = self.boxes[v - 1]
            idx = np.argwhere(self.a[sl] == v) + np.array([s.start for s in sl])
            self._world[v] = self.g.index_to_world(idx)
        return self._world[v]

    def mm3(self, v: int) -> float:
        return self.counts[v] * self.g.voxel_volume

    def centroid(self, v: int) -> np.ndarray:
        return self.world(v).mean(axis=0)

    def extent(self, v: int) -> np.ndarray:
        w = self.world(v)
        return w.max(axis=0) - w.min(axis=0) + self.pad

    def is_point(self, v: int) -> bool:
        if self.counts[v] > POINT_MAX_VOXELS:
            return False
        w = self.world(v)
        return float(np.max(w.max(axis=0) - w.min(axis=0))) <= POINT_MAX_MM

    def section(self, v: int) -> float:
        """Mean cross-section (mm^2): volume over superior-inferior height."""
        return self.mm3(v) / float(self.extent(v)[2])

    def not_cord_level(self, v: int) -> str | None:
        """Why label ``v`` is not a level of a thin cord (too wide, thick or high), or None."""
        ext = self.extent(v)
        across = 2 * np.sqrt(self.section(v) / np.pi)
        if ext[0] > CORD_LR_MM or across > CORD_SECTION_MM or ext[2] > LEVEL_HEIGHT_MM:
            return (f"value {v} is {ext[0]:.0f} mm left-right, {across:.0f} mm across on average and "
                    f"{ext[2]:.0f} mm high: not a level of a thin cord")
        return None

    def vertebra_sized(self, v: int) -> str | None:
        """Why label ``v`` is not a vertebra-sized blob, or None."""
        ext, mm3 = self.extent(v), self.mm3(v)
        if self.is_point(v):
            return f"value {v} is a point ({self.counts[v]} voxels)"
        if not VERTEBRA_MM3[0] <= mm3 <= VERTEBRA_MM3[1] or not \
                VERTEBRA_EXTENT_MM[0] <= ext.max() <= VERTEBRA_EXTENT_MM[1]:
            return f"value {v} is not vertebra-sized ({mm3 / 1000:.1f} cm3, {ext.max():.0f} mm long)"
        return None

    def contact(self, u: int, v: int) -> float:
        """Area (mm^2) of the voxel faces labels ``u`` and ``v`` share."""
        su, sv = self.boxes[u - 1], self.boxes[v - 1]
        box = tuple(slice(max(min(p.start, q.start) - 1, 0), max(p.stop, q.stop) + 1) for p, q in zip(su, sv))
        c, area, sp = self.a[box], 0.0, self.g.spacing
        for ax in range(3):
            lo = c[tuple(slice(None, -1) if k == ax else slice(None) for k in range(3))]
            hi = c[tuple(slice(1, None) if k == ax else slice(None) for k in range(3))]
            n = int(np.count_nonzero(((lo == u) & (hi == v)) | ((lo == v) & (hi == u))))
            area += n * float(np.prod([sp[k] for k in range(3) if k != ax]))
        return area

    def layered(self, u: int, v: int) -> float:
        """Shared face over the smaller mean section: ~1 for two levels of one tube, ~0 across a disc."""
        return self.contact(u, v) / min(self.section(u), self.section(v))

    @cached_property
    def inscribed_mm(self) -> float:
        """Diameter of the largest ball inside the union of the labels (mm)."""
        union = np.pad(self.a != 0, 1)
        r = float(ndimage.distance_transform_edt(union, sampling=self.g.spacing).max())
        return max(2 * r - min(self.g.spacing), 0.0)

    def z(self, v: int) -> float:
        return float(self.centroid(v)[2])

    def describe(self) -> str:
        if not self.values:
            return "no labels (every voxel is 0)"
        lo, hi = min(self.counts.values()), max(self.counts.values())
        big = max(self.values, key=lambda v: self.counts[v])
        voxels = f"{lo}" if lo == hi else f"{lo}-{hi}"
        mm3 = _mm3(lo * self.g.voxel_volume) if lo == hi else \
            f"{_mm3(lo * self.g.voxel_volume)}-{_mm3(hi * self.g.voxel_volume)}"
        text = f"values {_ranges(self.values)} ({len(self.values)} label(s), {voxels} voxels = {mm3} mm3 each)"
        if not self.boxes:
            return text
        ext = " x ".join(f"{e:.0f}" for e in self.extent(big))
        return f"{text}; largest, value {big}, {ext} mm (left-right x front-back x head-foot)"


def _mm3(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


def _ranges(values) -> str:
    out, vs = [], sorted(values)
    start = prev = vs[0]
    for v in [*vs[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(out[:12]) + (", ..." if len(out) > 12 else "")


def _chain(lab: _Labels, vertebrae: list[int], position: dict[int, float]) -> str | None:
    """Why ``vertebrae`` (values, ordered by ``position`` superior first) are not a spine, or None."""
    vs = sorted(vertebrae, key=position.get)
    # A vertebra cut by the field of view (touching the array's border) has no telling size and its
    # centroid no telling spacing: it counts for the order only.
    for v in vs:
        why = lab.vertebra_sized(v) if v not in lab.cut or lab.is_point(v) else None
        if why:
            return why
    for u, v in pairwise(vs):
        dz, steps = lab.z(u) - lab.z(v), position[v] - position[u]
        if dz <= 0:
            return f"value {v} lies {-dz:.0f} mm above value {u}, which it should be below"
        if not (u in lab.cut or v in lab.cut) and not STEP_MM[0] <= dz / steps <= STEP_MM[1]:
            return f"values {u} and {v} are {dz:.0f} mm apart over {steps:g} vertebra(e)"
        # Wide vertebrae may touch anywhere (facets, uncinates, fused bodies); thin labels stacked
        # across their whole section are the levels of a labelled cord.
        if not (lab.not_cord_level(u) or lab.not_cord_level(v)) and lab.layered(u, v) >= LAYERED:
            return (f"values {u} and {v} are as thin as a cord and touch across {lab.layered(u, v):.0%} of "
                    "their section: levels of a labelled cord, not vertebrae")
    return None


def _in_column(lab: _Labels, v: int, vertebrae: list[int]) -> bool:
    """Whether label ``v`` is vertebra-sized, wider than a cord (a cropped spinal_cord class is not a
    vertebra), no taller than a level, and within 20 mm (left-right, front-back) of the centroid of
    the vertebra nearest in height."""
    ext = lab.extent(v)
    if lab.vertebra_sized(v) or ext[2] > LEVEL_HEIGHT_MM or ext[0] <= CORD_LR_MM:
        return False
    c = lab.centroid(v)
    near = min(vertebrae, key=lambda u: abs(lab.z(u) - c[2]))
    return bool(np.linalg.norm(c[:2] - lab.centroid(near)[:2]) <= 20.0)


def _names(values, name) -> str:
    """"C3-C7" (superior to inferior, as the convention names them) or one name."""
    named = [name(v) for v in values]
    order = sorted(named, key=lambda n: _NAME_ORDER.index(n))
    return order[0] if len(order) == 1 else f"{order[0]}-{order[-1]}"


def _vertebra_span(lab: _Labels, vs: list[int]) -> str:
    mm3 = [lab.mm3(v) / 1000 for v in vs]
    z = [lab.z(v) for v in vs]
    size = f"{mm3[0]:.1f} cm3" if len(vs) == 1 else f"{min(mm3):.1f}-{max(mm3):.1f} cm3"
    where = f"centroid at z = {z[0]:.0f} mm" if len(vs) == 1 else f"centroids from z = {max(z):.0f} to {min(z):.0f} mm"
    return f"vertebra-sized ({size}), {where}"


# ---------------------------------------------------------------------------- one test per kind
def _sct_labeled(lab: _Labels) -> tuple[str | None, str]:
    vs = lab.values
    if vs == [1]:
        return None, "only the value 1: a binary mask (a cord or lesion segmentation?), not levels"
    if max(vs) > 25 or vs != list(range(vs[0], vs[-1] + 1)):
        return None, f"values {_ranges(vs)} are not consecutive levels 1-25"
    for v in vs:
        if len(vs) == 1 and lab.is_point(v):       # a few voxels of an end level may be left in a file
            return None, f"value {v} is a point, not a stretch of cord"
        why = lab.not_cord_level(v)
        if why:
            return None, why
    for u, v in pairwise(vs):
        if lab.z(v) >= lab.z(u):
            return None, f"value {v} lies above value {u} (levels increase downwards)"
        if lab.layered(u, v) < LAYERED:
            return None, f"values {u} and {v} touch across {lab.layered(u, v):.0%} of a section only: not one tube"
    if lab.inscribed_mm > CORD_INSCRIBED_MM:
        return None, f"the labels are {lab.inscribed_mm:.0f} mm thick (largest inscribed ball): not a thin cord"
    return (f"values {_ranges(vs)} layered downwards along a tube {lab.inscribed_mm:.0f} mm thick "
            f"(largest inscribed ball), consecutive levels sharing their section"), ""


def _sct_points(lab: _Labels, disc: bool) -> tuple[str | None, str]:
    allowed = set(range(1, 26)) | ({49, 50} if disc else set())
    bad = [v for v in lab.values if v not in allowed]
    if bad:
        return None, f"value(s) {_ranges(bad)} outside {'1-25, 49, 50' if disc else '1-25'}"
    big = [v for v in lab.values if not lab.is_point(v)]
    if big:
        return None, f"value {big[0]} is not a point ({lab.counts[big[0]]} voxels)"
    levels = [v for v in lab.values if v <= 25]
    for u, v in pairwise(levels):
        dz = lab.z(u) - lab.z(v)
        if not STEP_MM[0] <= dz / (v - u) <= STEP_MM[1]:
            return None, f"points {u} and {v} are {dz:.0f} mm apart downwards: not {v - u} vertebra(e)"
    pmj = [v for v in lab.values if v > 25]
    if pmj and levels and min(lab.z(v) for v in pmj) <= max(lab.z(v) for v in levels):
        return None, "the pontomedullary labels 49/50 are not above the disc labels"
    extra = ", with 49/50 (pontomedullary groove/junction, written only with disc labels)" if pmj else ""
    read = ", ".join(disc_name(v - 1) if disc else name_of(v) for v in levels)
    return f"single points {_ranges(lab.values)}, value increasing downwards{extra}: {read}", ""


def _verse(lab: _Labels) -> tuple[str | None, str]:
    bad = [v for v in lab.values if v not in _VERSE_VALUES]
    if bad:
        return None, f"value(s) {_ranges(bad)} outside 1-25, 28"
    if lab.values == [1]:
        return None, "only the value 1: a binary mask, not levels"
    why = _chain(lab, lab.values, _VERSE_ORDER)
    if why:
        return None, why
    return (f"vertebrae {_ranges(lab.values)} = {_names(lab.values, _VERSE_NAME.get)}, numbered downwards, "
            f"{_vertebra_span(lab, lab.values)}"), ""


def _spineps(lab: _Labels) -> tuple[str | None, str]:
    parts_ok = {100 + x for x in _VERSE_ORDER} | {200 + x for x in _VERSE_ORDER}
    bad = [v for v in lab.values if v not in _VERSE_ORDER and v not in parts_ok and v not in _TPTBOX_OTHER]
    if bad:
        return None, f"value(s) {_ranges(bad)} outside 1-33, 39-55 (ribs), 101-128, 201-228"
    vert = [v for v in lab.values if v in _VERSE_VALUES]
    parts = [v for v in lab.values if v in parts_ok]
    if len(vert) == len(lab.values):
        return None, ("no sacrum (26), coccyx (27), disc (100+X), endplate (200+X), S2-S6 (29-33) or rib "
                      "(39-55) labels; vertebrae alone are numbered as in VerSe")
    if not vert:
        return None, "no vertebra (1-25, 28) labels"
    why = _chain(lab, vert, _VERSE_ORDER)
    if why:
        return None, why
    for v in _TPTBOX_BELOW:
        if v in lab.counts and lab.z(v) >= min(map(lab.z, vert)):
            return None, f"the {_VERSE_NAME[v]} ({v}) is not below the vertebrae"
    for p in parts:
        x = p % 100
        if x not in lab.counts:
            continue
        if p < 200:          # disc X sits below vertebra X, above the next one present
            below = [v for v in vert if _VERSE_ORDER[v] > _VERSE_ORDER[x]]
            nxt = min(below, key=_VERSE_ORDER.get) if below else None
            # A vertebra cut by the field of view has no telling centroid: not compared.
            if not ((x in lab.cut or lab.z(p) < lab.z(x)) and (nxt is None or nxt in lab.cut or lab.z(p) > lab.z(nxt))):
                return None, f"disc {p} is not between vertebra {x} and the next one"
        else:
            w = lab.world(x)[:, 2]
            if not w.min() - 5 <= lab.z(p) <= w.max() + 5:
                return None, f"endplate {p} is not at vertebra {x}"
    others = [v for v in lab.values if v in _TPTBOX_OTHER or v in _TPTBOX_BELOW]
    return (f"vertebrae {_ranges(vert)} = {_names(vert, _VERSE_NAME.get)} numbered downwards"
            + (f" with discs/endplates {_ranges(parts)} where they belong" if parts else "")
            + (f", sacrum/coccyx/S2-S6/rib labels {_ranges(others)}" if others else "")
            + f", {_vertebra_span(lab, vert)}"), ""


def _totalsegmentator(lab: _Labels, kind: str) -> tuple[str | None, str]:
    classes, top = _TS[kind]
    bad = [v for v in lab.values if v > top]
    if bad:
        return None, f"value(s) {_ranges(bad)} above its last class {top}"
    vert = [v for v in lab.values if v in classes]
    if not vert:
        return None, f"no vertebrae_* class ({classes.start}-{classes.stop - 1})"
    position = {v: -v for v in range(top + 2)}    # the value decreases downwards
    why = _chain(lab, vert, position)
    if why:
        return None, why
    others = [v for v in lab.values if v not in classes]
    # An organ of this task shaped and placed like one more vertebra of the column (total_v1's
    # lung lobe 17 "below L5", which is vertebrae_mr's T2) means the mask is numbered another way.
    for v in sorted(set(others) - _TS_SACRUM.get(kind, set())):
        if _in_column(lab, v, vert):
            return None, (f"value {v}, not a vertebra in this task, is shaped and placed like one more "
                          "vertebra of the column: numbered another way")
    if kind == "totalsegmentator-mr" and 1 in others and lab.z(1) >= min(map(lab.z, vert)):
        return None, "the sacrum (1) is not below the vertebrae"
    tail = f"; {len(others)} other class(es)" if others else ""
    named = _names(vert, lambda v: name_of(classes.stop - v))
    return (f"vertebrae_* classes {_ranges(vert)} = {named}, value decreasing downwards, "
            f"{_vertebra_span(lab, vert)}{tail}"), ""


_TESTS = {"sct-labeled": _sct_labeled, "sct-discs": lambda lab: _sct_points(lab, True),
          "sct-body": lambda lab: _sct_points(lab, False), "verse": _verse, "spineps": _spineps,
          **{k: (lambda lab, k=k: _totalsegmentator(lab, k)) for k in _TS}}


def detect_kind(volume) -> Detection:
    """Every kind of vertebral label image that ``volume`` fits, with the evidence for each.

    Parameters
    ----------
    volume : Volume
        A label image (whole-number values); its geometry places it in LPS mm.

    Returns
    -------
    Detection
        ``fits`` (kind and evidence, possibly none or several), ``rejected`` (kind -> why not)
        and ``seen`` (values and sizes, for messages). Nothing here depends on storage order.
    """
    a = _labels_of(volume)
    lab = _Labels(a, volume)
    seen, values = lab.describe(), tuple(lab.values)
    if not lab.values:
        return Detection((), {k: "no labels" for k in KINDS}, seen)
    if max(lab.values) > _MAX_VALUE:
        return Detection((), {k: f"values up to {max(lab.values)}" for k in KINDS}, seen, values)
    fits, rejected = [], {}
    for kind, test in _TESTS.items():
        evidence, why = test(lab)
        if evidence:
            fits.append(Fit(kind, evidence))
        else:
            rejected[kind] = why
    return Detection(tuple(fits), rejected, seen, values)


def _labels_of(volume) -> np.ndarray:
    a = np.asarray(volume.array)
    path = getattr(volume.info, "source", "") or None
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a)) or np.any(np.abs(a - np.rint(a)) > 1e-3):
            raise InputError("a vertebral label image must hold whole-number labels (found fractions or NaN).",
                             path=path, hint="Pass the label image itself, not a probability map or an image.")
        a = np.rint(a)
    lo, hi = (a.min(), a.max()) if a.size else (0, 0)
    if lo < 0:
        raise InputError(f"a vertebral label image cannot hold negative values (found {int(lo)}).", path=path)
    # int32 holds every class of every convention; a smaller copy matters for whole-body CT masks.
    return a.astype(np.int32 if hi <= _MAX_VALUE else np.int64, copy=False)


# ---------------------------------------------------------------------------- reading
def _builders():
    from functools import partial

    ts = LevelModel.from_totalsegmentator
    return {"sct-labeled": LevelModel.from_sct_labeled_cord, "sct-discs": LevelModel.from_sct_disc_labels,
            "sct-body": LevelModel.from_sct_body_labels, "verse": LevelModel.from_verse,
            # Looked up when called: LevelModel.from_spineps is the SPINEPS reader (model.py).
            "spineps": lambda vol, centerline=None: LevelModel.from_spineps(vol, centerline=centerline),
            "totalsegmentator": ts, "totalsegmentator-v1": partial(ts, task="total_v1"),
            "totalsegmentator-mr": partial(ts, task="vertebrae_mr")}


def is_landmark_file(path: str | os.PathLike) -> bool:
    """True for the landmark files read by :meth:`LevelModel.from_file` (by suffix)."""
    return str(path).lower().endswith(LANDMARK_SUFFIXES)


def read_levels(source, kind: str = "auto", *, centerline=None) -> LevelModel:
    """The level model of a landmark file or label image; ``kind="auto"`` recognises which.

    Parameters
    ----------
    source : path or Volume
        Landmarks (``.csv``, ``.json``, ``.mrk.json``, ``.fcsv``) or a label image (path or
        :class:`~lesionview.volume.Volume`).
    kind : str
        ``"auto"``, ``"landmarks"`` or one of :data:`KINDS`.
    centerline : Centerline, optional
        Passed to the reader.

    Raises
    ------
    InputError
        When the kind is unknown, when ``auto`` finds no kind or more than one (naming each with
        why), or when the reader refuses the file.
    """
    kind = str(kind)
    if kind not in ("auto", "landmarks", *KINDS):
        raise InputError(f"unknown kind of levels {kind!r}.", hint=f"Use auto, landmarks, {', '.join(KINDS)}.")
    path = None
    if not hasattr(source, "geometry"):
        path = Path(source)
        if kind == "landmarks" or (kind == "auto" and not (path.is_dir() or _is_image(path))):
            return LevelModel.from_file(path, centerline=centerline)
        from ..io import load_volume

        source = load_volume(path)
    where = path or getattr(source.info, "source", "") or None
    try:
        if kind == "auto":
            kind = _only_kind(detect_kind(source), where)
        elif kind == "landmarks":
            raise InputError("landmarks come from a file (CSV, JSON, .mrk.json, .fcsv), not an image.", path=where)
        return _builders()[kind](source, centerline=centerline)
    except InputError as exc:
        if exc.path is None and where is not None:   # the reader said what is wrong; say which file
            raise InputError(exc.problem, path=where, hint=exc.hint) from exc
        raise


def _is_image(path: Path) -> bool:
    from ..io import is_nifti

    return not is_landmark_file(path) and (is_nifti(path) or path.suffix.lower() in (".zip", ".dcm"))


def _only_kind(found: Detection, where) -> str:
    if len(found.fits) == 1:
        return found.fits[0].kind
    flags = " or ".join(f"--levels-kind {k}" for k in found.kinds)
    if found.fits:
        each = "; ".join(f"{f.kind} ({f.evidence})" for f in found.fits)
        raise InputError(f"this label image fits {len(found.fits)} kinds of vertebral levels, which number "
                         f"the levels differently: {each}. lesionview does not guess.", path=where,
                         hint=f"Say which it is: {flags}.")
    if found.values == (1,):
        raise InputError("holds only the value 1: a binary mask, such as a cord or lesion segmentation, not "
                         f"vertebral levels ({found.seen}).", path=where,
                         hint="Pass the vertebral labels (e.g. SCT *_seg_labeled, a VerSe or TotalSegmentator "
                              "mask) or landmarks (CSV or JSON).")
    reasons = set(found.rejected.values())
    why = "" if len(reasons) <= 1 else " Not " + "; ".join(f"{k}: {r}" for k, r in found.rejected.items()) + "."
    raise InputError(f"not a vertebral label image lesionview recognises: {found.seen}.{why}", path=where,
                     hint=f"If you know what made it, pass --levels-kind ({', '.join(KINDS)}); "
                          "or give the levels as landmarks (CSV or JSON).")
