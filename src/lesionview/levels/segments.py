"""Spinal cord segments (C1-C8, T1-T12, L1-L5, S1-S5): estimated from the vertebral levels, or read
from a segment label image.

A cord segment is the stretch of cord whose rootlets form one spinal nerve; it is not the vertebra of
the same name (there is a C8 segment and no C8 vertebra, and the cord ends near L1 while the
vertebrae go on). Segment index: 1-8 = C1-C8, 9-20 = T1-T12, 21-25 = L1-L5, 26-30 = S1-S5 (the
numbering of SCT's rootlet segmentation and of PAM50's spinal levels).

The estimate
------------
Segment positions are published on a cord-length or a distance axis; here each segment centre is
put on the **level coordinate** of :class:`~lesionview.levels.LevelModel` (vertebral-body centre
of level n at n, disc n/n+1 at n + 0.5), so it follows the patient's own vertebrae, whatever the
level source. A point's level coordinate interpolates between the two disc planes around it.

* C3-C8, Cadotte et al., AJNR 2015;36:803-810, Figure 3: distance from the pontomedullary
  junction along the cord to each segment's rootlet centre and to the C3-C7 vertebral-body centres,
  mean and SD over 20 adults (numbers as transcribed by the Spinal Cord Toolbox in
  ``dev/spinal_level/sct_extract_spinal_levels.py``). A centre's distance is mapped to the level
  coordinate by the mean body centres (linearly, extended past C3 by the C3-C4 spacing); its SD is
  the segment's SD divided by the local body spacing. That SD is the segment's own spread from the
  pontomedullary junction: the paper does not give the spread of segment-minus-vertebra that we
  could read, so it stands in for it.
* C1-C2 and L1-S5: relative segment lengths of Frostell et al., Front Neurol 2016;7:238, Table 3
  (as used by SCT/PAM50 ``scripts/generate_spinal_levels.py``): C1 and C2 stacked above the
  Cadotte C3 centre at the C3-C4 scale, SD that of C3; L1-S5 stacked between the T12 centre and
  the conus tip.
* T3-T12: Kim et al., J Korean Neurosurg Soc 2012;52:384-390 (16 cadavers): a segment's root entry
  zone lies at the vertebral body two levels above (T5 segment at the T3 body). No spread is
  published with the rule: we assume an SD of half a vertebra (:data:`THORACIC_SD`). The classical
  textbook rule (+2 upper, +3 lower thoracic) differs from it by up to one level in the lower
  thoracic cord. T1 and T2 lie evenly between the C8 and T3 centres.
* Conus tip: Saifuddin et al., Spine 1998;23:1452-1456 (504 adults): mean at the lower third of L1
  (here 20.3), range mid T12 to upper third of L3, about normal: SD = range / 6 ~ 0.45 level.

Segment boundaries are midway between neighbouring centres, their SD the mean of the two. The
reported range is the segments the region touches with the boundaries at their means; the
*possible* range moves every boundary by one SD the way that widens the range (about two people in
three lie within it), and adds the reach of thick slices across the cord.

A segment label image
---------------------
When one is given (value n = segment n: SCT ``sct_deepseg -task seg_spinal_rootlets_t2w`` / ``sct_deepseg
rootlets`` output, "2: C2 rootlet, 3: C3 rootlet, ..."; or PAM50 ``PAM50_spinal_levels`` warped to the
study), segments come from it, not from the estimate. As SCT does for rootlets, segment n runs along
the cord from the most rostral voxel of label n to the most rostral voxel of label n + 1 (to its own
most caudal voxel when n + 1 is absent): rootlets enter the cord at their rostral end and run down to
their foramen. Positions along the cord are arc lengths on the study's centerline (superior-inferior
without one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..geometry import SUPERIOR

SEGMENT_NAMES: tuple[str, ...] = (
    ("",) + tuple(f"C{i}" for i in range(1, 9)) + tuple(f"T{i}" for i in range(1, 13))
    + tuple(f"L{i}" for i in range(1, 6)) + tuple(f"S{i}" for i in range(1, 6)))
MAX_SEGMENT = len(SEGMENT_NAMES) - 1  # 30 = S5

#: Cadotte et al. 2015, Figure 3 (via SCT): mm from the pontomedullary junction, (mean, SD). The bodies'
#: SDs are kept for reference: the estimate uses the segments' (see the module notes).
CADOTTE_BODY_MM = {3: (69.99, 4.58), 4: (86.11, 5.35), 5: (101.16, 6.33), 6: (115.54, 7.15), 7: (130.08, 8.25)}
CADOTTE_SEGMENT_MM = {3: (51.46, 3.15), 4: (65.68, 3.96), 5: (81.08, 5.15), 6: (95.39, 5.68), 7: (109.33, 6.05),
                      8: (122.77, 7.03)}
#: Frostell et al. 2016, Table 3 (via PAM50): each segment's length, % of the cord length, C1..S5.
FROSTELL_LENGTH_PERCENT = (1.6, 2.2, 3.5, 3.5, 3.5, 3.3, 3.2, 3.4, 3.6, 3.9, 4.4, 5.0, 5.1, 5.6, 5.6, 5.4, 5.1,
                           4.7, 4.3, 3.9, 3.6, 2.8, 2.4, 2.2, 1.7, 1.5, 1.6, 1.4, 1.3, 0.9)
#: Kim et al. 2012: thoracic segments T3-T12 lie this many vertebral levels above their namesake.
THORACIC_OFFSET = 2
#: Assumed SD (levels) of the thoracic rule, which is published without a spread.
THORACIC_SD = 0.5
#: Saifuddin et al. 1998: conus tip at the lower third of L1 (level coordinate), SD (levels).
CONUS_TIP, CONUS_SD = 20.3, 0.45

ESTIMATE_SOURCE = ("estimated from the vertebral levels: Cadotte et al. AJNR 2015 (C3-C8), Frostell et al. "
                   "Front Neurol 2016 (C1-C2, L1-S5), Kim et al. J Korean Neurosurg Soc 2012 (T3-T12, SD 0.5 level "
                   "assumed), Saifuddin et al. Spine 1998 (conus); possible range = boundaries ±1 SD")


def segment_name(index: int) -> str:
    """"C8" for 8, "T1" for 9; "" for 0."""
    index = int(index)
    if not 0 <= index <= MAX_SEGMENT:
        raise ValueError(f"segment index must be 0..{MAX_SEGMENT}, got {index}")
    return SEGMENT_NAMES[index]


def segment_index(name: str) -> int:
    """8 for "C8", 9 for "T1"."""
    key = name.strip().upper()
    if key not in SEGMENT_NAMES[1:]:
        raise InputError(f"{name!r} is not a spinal cord segment.", hint="Use C1-C8, T1-T12, L1-L5 or S1-S5.")
    return SEGMENT_NAMES.index(key)


def estimated_centres() -> tuple[np.ndarray, np.ndarray]:
    """Centre (level coordinate) and SD (levels) of segments 1..30, as index-aligned arrays (entry 0 unused)."""
    centre, sd = np.full(MAX_SEGMENT + 1, np.nan), np.full(MAX_SEGMENT + 1, np.nan)
    body = np.array([CADOTTE_BODY_MM[n][0] for n in range(3, 8)])
    for n, (mm, sigma) in CADOTTE_SEGMENT_MM.items():
        centre[n], slope = _body_coordinate(mm, body, first=3)
        sd[n] = sigma * slope
    length = np.concatenate([[np.nan], FROSTELL_LENGTH_PERCENT])
    scale = (centre[4] - centre[3]) / ((length[3] + length[4]) / 2)  # levels per % of cord length
    for n in (2, 1):
        centre[n] = centre[n + 1] - scale * (length[n] + length[n + 1]) / 2
        sd[n] = sd[3]
    t3, t12 = 11, 20
    for n in range(t3, t12 + 1):
        centre[n] = (n - 1) - THORACIC_OFFSET  # segment T(k) is index 8 + k, vertebra T(k) is 7 + k
        sd[n] = THORACIC_SD
    for n in (9, 10):  # T1, T2: evenly between C8 and T3
        f = (n - 8) / 3
        centre[n] = centre[8] + f * (centre[t3] - centre[8])
        sd[n] = sd[8] + f * (sd[t3] - sd[8])
    # L1-S5 stacked by length from the T12 centre down to the conus tip (the end of S5).
    steps = np.concatenate([[length[t12] / 2], length[t12 + 1:]])
    ends = np.cumsum(steps) / steps.sum()
    centre[t12 + 1:] = centre[t12] + (ends[1:] - length[t12 + 1:] / 2 / steps.sum()) * (CONUS_TIP - centre[t12])
    sd[t12 + 1:] = CONUS_SD
    return centre, sd


def _body_coordinate(mm: float, body: np.ndarray, *, first: int) -> tuple[float, float]:
    """Level coordinate of a distance (mm from the pontomedullary junction) given the mean body
    centres ``body`` of levels first, first+1, ...; linear between them and past the ends with the
    nearest spacing. Also the local levels per mm (to turn an SD in mm into levels)."""
    j = int(np.clip(np.searchsorted(body, mm) - 1, 0, len(body) - 2))
    slope = 1.0 / (body[j + 1] - body[j])
    return first + j + (mm - body[j]) * slope, slope


# ---------------------------------------------------------------------------- the model
@dataclass(frozen=True, eq=False)
class CordSegments:
    """Where each cord segment lies along the cord: interval k is segment ``index[k]``, from ``lo[k]``
    to ``hi[k]`` on an axis that grows caudally (the level coordinate for an estimate, arc length in
    mm for a label image), each end known to +-``lo_sd``/``hi_sd``.

    Build it with :func:`estimate_segments` or :func:`segments_from_image`.
    """

    index: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    lo_sd: np.ndarray
    hi_sd: np.ndarray
    estimated: bool
    source: str
    levels: object = None      # the LevelModel of an estimate
    centerline: object = None  # the centerline of an image's axis (None: superior-inferior)

    def axis_of(self, points) -> np.ndarray:
        """Position of world points (N, 3) on this model's axis; NaN where unknown."""
        p = np.asarray(points, float).reshape(-1, 3)
        if self.levels is not None:
            return level_coordinate(self.levels, p)
        if self.centerline is not None:
            return np.asarray(self.centerline.arclength_of(p), float)
        return -(p @ SUPERIOR)

    def segment_at(self, u, shift: float = 0.0) -> np.ndarray:
        """Segment index at axis positions ``u`` (0: none), with every boundary moved by ``shift``
        SDs (positive: caudally). A point on a boundary belongs to the segment below it."""
        u = np.asarray(u, float)
        out = np.zeros(u.shape, np.int64)
        for k in range(len(self.index)):
            lo, hi = self.lo[k] + shift * self.lo_sd[k], self.hi[k] + shift * self.hi_sd[k]
            out[(u >= lo) & (u < hi) & (out == 0)] = self.index[k]
        return out

    def segment_of(self, points) -> np.ndarray:
        return self.segment_at(self.axis_of(points))

    def span(self, points, extra=None):
        """The :class:`~lesionview.measure.models.LevelSpan` (kind "cord segment") of a region's voxel
        centres; ``extra`` are the points its ends may reach (thick slices), widening the possible range."""
        from ..measure.models import LevelSpan

        u = self.axis_of(points)
        idx = self.segment_at(u)
        known = idx[idx > 0]
        base = {"kind": "cord segment", "estimated": self.estimated}
        if known.size == 0:
            return LevelSpan(outside_fraction=1.0, **base)
        values, counts = np.unique(known, return_counts=True)
        fractions = {segment_name(v): round(float(c) / idx.size, 4) for v, c in zip(values, counts)}
        first, last = int(values.min()), int(values.max())
        reach = u if extra is None or len(extra) == 0 else np.concatenate([u, self.axis_of(extra)])
        reach = reach[np.isfinite(reach)]
        # The top may lie in a segment above when the boundaries sit lower, the bottom in one below
        # when they sit higher (an image's boundaries have no SD: only thick slices move them).
        top, bottom = self.segment_at(reach.min(), +1.0), self.segment_at(reach.max(), -1.0)
        lo, hi = min(first, int(top) or first), max(last, int(bottom))
        possible = {}
        if self.estimated or (lo, hi) != (first, last):
            possible = {"possible_first": segment_name(lo), "possible_last": segment_name(hi)}
        return LevelSpan(first=segment_name(first), last=segment_name(last), count=last - first + 1,
                         fractions=fractions, outside_fraction=round(1.0 - known.size / idx.size, 4),
                         **possible, **base)


def estimate_segments(levels) -> CordSegments:
    """Cord segments estimated from a :class:`~lesionview.levels.LevelModel` (see the module notes)."""
    centre, sd = estimated_centres()
    c, s = centre[1:], sd[1:]
    mid, mid_sd = (c[:-1] + c[1:]) / 2, (s[:-1] + s[1:]) / 2
    lo = np.concatenate([[c[0] - (mid[0] - c[0])], mid])
    hi = np.concatenate([mid, [CONUS_TIP]])
    return CordSegments(index=np.arange(1, MAX_SEGMENT + 1), lo=lo, hi=hi,
                        lo_sd=np.concatenate([[s[0]], mid_sd]), hi_sd=np.concatenate([mid_sd, [CONUS_SD]]),
                        estimated=True, source=ESTIMATE_SOURCE, levels=levels)


def segments_from_image(volume, *, centerline=None) -> CordSegments:
    """Cord segments from a label image (value n = segment n), along ``centerline`` (arc length) or,
    without one, superior-inferior. See the module notes for the convention."""
    source = getattr(volume.info, "source", "") or "segment label image"
    a = np.asarray(volume.array)
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a)) or np.any(np.abs(a - np.rint(a)) > 1e-3):
            raise InputError("a cord segment image must hold whole-number labels (n = segment n); this one holds "
                             "fractions (a probabilistic map?).", path=source,
                             hint="Give a label image: SCT rootlets (sct_deepseg rootlets) or PAM50_spinal_levels.")
        a = np.rint(a)
    a = a.astype(np.int64)
    values = [int(v) for v in np.unique(a) if v != 0]
    bad = [v for v in values if not 1 <= v <= MAX_SEGMENT]
    if not values or bad:
        raise InputError(f"not a cord segment image: values {bad or 'none'} outside 1..{MAX_SEGMENT}.",
                         path=source, hint="Expected value n = segment n (2 = C2 ... 8 = C8, 9 = T1), e.g. SCT "
                                           "rootlets (sct_deepseg rootlets) or PAM50_spinal_levels.")
    model = CordSegments(np.zeros(0, np.int64), *(np.zeros(0),) * 4, estimated=False, source=source,
                         centerline=centerline)
    ends = {}
    for v in values:
        u = model.axis_of(volume.geometry.index_to_world(np.argwhere(a == v)))
        ends[v] = (float(u.min()), float(u.max()))
    lo = np.array([ends[v][0] for v in values])
    hi = np.array([ends[v + 1][0] if v + 1 in ends else ends[v][1] + 1e-6 for v in values])
    if np.any(hi <= lo) or np.any(np.diff(lo) <= 0):
        raise InputError("the cord segment labels are out of order along the cord (a higher number lies above "
                         "a lower one).", path=source, hint="Check that value n is segment n, superior first.")
    zero = np.zeros(len(values))
    return CordSegments(np.array(values, np.int64), lo, hi, zero, zero, estimated=False,
                        source=os.fspath(source), centerline=centerline)


# ---------------------------------------------------------------------------- texts
def segments_header(spans) -> str:
    """Column title naming the kind: "cord segments (est.)" when any of ``spans`` is estimated,
    else "cord segments"."""
    return "cord segments (est.)" if any(s is not None and s.estimated for s in spans) else "cord segments"


def extra_segments(span) -> list[str]:
    """The segments beyond ``span.first``-``span.last`` the region may reach (its possible range),
    superior first: ``["C1", "T2"]``, ``["T2-T3"]`` for more than one; ``[]`` when none.

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan
    >>> extra_segments(LevelSpan(kind="cord segment", first="C2", last="T1", count=8, possible_first="C1",
    ...                          possible_last="T3", estimated=True))
    ['C1', 'T2-T3']
    """
    if span is None or span.first is None or span.possible_label is None:
        return []
    top, bottom = segment_index(span.first), segment_index(span.last)
    lo, hi = segment_index(span.possible_first or span.first), segment_index(span.possible_last or span.last)
    out = []
    if lo < top:
        out.append(segment_name(lo) if lo == top - 1 else f"{segment_name(lo)}-{segment_name(top - 1)}")
    if hi > bottom:
        out.append(segment_name(hi) if hi == bottom + 1 else f"{segment_name(bottom + 1)}-{segment_name(hi)}")
    return out


def segments_cell(span, *, unknown: str = "") -> str:
    """"C2-T1 (C1? T2?)": the segments, and those it may reach within the uncertainty (as
    :func:`lesionview.report.cells.levels_cell` writes vertebral levels); ``unknown`` without segments."""
    if span is None:
        return unknown
    if span.first is None:
        return "outside"
    extra = extra_segments(span)
    return span.label + (" (" + " ".join(f"{e}?" for e in extra) + ")" if extra else "")


def segments_sentence(span, *, unknown: str = "") -> str:
    """The cell spelt out: "C2-T1, possibly C1-T2 (estimated from the vertebral levels; segment
    boundaries +-1 SD)", or "C2-C8 (from the segment label image)".

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan
    >>> segments_sentence(LevelSpan(kind="cord segment", first="C2", last="T1", count=8, possible_first="C1",
    ...                             possible_last="T2", estimated=True))
    'C2-T1, possibly C1-T2 (estimated from the vertebral levels; segment boundaries ±1 SD)'
    """
    if span is None:
        return unknown
    if span.first is None:
        return "outside the cord segments " + ("estimated" if span.estimated else "labelled")
    text = span.label + (f", possibly {span.possible_label}" if span.possible_label else "")
    how = ("estimated from the vertebral levels; segment boundaries ±1 SD" if span.estimated
           else "from the segment label image")
    return f"{text} ({how})"


def segments_phrase(span) -> str:
    """For a sentence: "estimated cord segments C2-T1, possibly C1-T2", "cord segments C2-C8 (segment
    label image)"; "" without segments or when the region lies outside them.

    Examples
    --------
    >>> from lesionview.measure.models import LevelSpan
    >>> segments_phrase(LevelSpan(kind="cord segment", first="C2", last="T1", count=8, possible_first="C1",
    ...                           possible_last="T2", estimated=True))
    'estimated cord segments C2-T1, possibly C1-T2'
    """
    if span is None or span.first is None:
        return ""
    possible = f", possibly {span.possible_label}" if span.possible_label else ""
    if span.estimated:
        return f"estimated cord segments {span.label}{possible}"
    return f"cord segments {span.label}{possible} (segment label image)"


# ---------------------------------------------------------------------------- level coordinate
def level_coordinate(levels, points) -> np.ndarray:
    """The continuous level coordinate (body centre of level n at n, disc n/n+1 at n + 0.5) of
    world points (N, 3), interpolated between the two disc planes around each point by its
    distances to them; NaN outside the outermost discs.

    Examples
    --------
    >>> from lesionview.levels import LevelModel
    >>> m = LevelModel.from_landmarks(["C4/C5", "C5/C6"], [[0, 0, 10], [0, 0, -10]])
    >>> level_coordinate(m, [[0, 0, 0], [0, 0, 5], [0, 0, 100]]).round(2).tolist()
    [5.0, 4.75, nan]
    """
    p = np.asarray(points, float).reshape(-1, 3)
    out = np.full(len(p), np.nan)
    k = np.asarray(levels.disc_indices)
    if len(k) < 2:
        return out
    normals = np.asarray(levels.disc_normals, float)
    offset = np.einsum("kj,kj->k", np.asarray(levels.disc_points, float), normals)
    for start in range(0, len(p), 200_000):  # bounded memory for big masks
        d = p[start:start + 200_000] @ normals.T - offset          # > 0: below that disc plane
        j = (d > 0).sum(axis=1) - 1                                  # last plane the point is below
        inside = (j >= 0) & (j < len(k) - 1)
        r = np.flatnonzero(inside)
        above, below = d[r, j[r]], d[r, j[r] + 1]
        out[start + r] = k[j[r]] + 0.5 + above / (above - below)
    return out
