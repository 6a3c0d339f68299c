"""Where vertebral levels come from: landmark files, SCT label images, VerSe, SPINEPS and TotalSegmentator masks.

Conventions and their sources
-----------------------------
Landmark files (lesionview CSV / JSON, 3D Slicer .mrk.json / .fcsv)
    Named points ("C5", "C4/C5") read to **LPS** millimetres: see
    :mod:`lesionview.levels.landmark_files` for every format, its column aliases and its sources.
    ``read_landmarks`` and ``write_landmarks`` live there and are importable from here too.

Spinal Cord Toolbox labelled cord (``sct_label_vertebrae`` output ``*_seg_labeled.nii.gz``)
    Voxel value n = vertebral level n: C1..C7 = 1..7, T1..T12 = 8..19, L1..L5 = 20..24
    ("The convention for label values is C3-->3, C4-->4, etc.": SCT documentation,
    documentation/source/user_section/tutorials/vertebral-labeling/applying-the-labeling-algorithm.rst,
    https://spinalcordtoolbox.com/user_section/tutorials/vertebral-labeling/). SCT assigns one
    level per axial slice of the RPI-reoriented image (``label_segmentation`` in
    spinalcordtoolbox/vertebrae/core.py: every voxel of slice ``z`` gets the level below the
    nearest disc above ``z``), but files produced through the straightened space can have
    slices holding two levels (sct_testing_data ``t2/t2_seg-manual_labeled.nii.gz`` does, in its
    two lowest slices). So lesionview does not re-derive the levels: the labelled voxels are the
    truth (:class:`~lesionview.levels.model.LabelledCord`), and disc planes are placed at the
    surface separating consecutive labels for every other point.

Spinal Cord Toolbox disc labels (``*_labeled_discs.nii.gz``, ``-discfile``, ``-ldisc``)
    Single voxels; value n = the disc between vertebrae n-1 and n: "C2/C3-->3, C3/C4-->4"
    (same SCT page; in the code, ``label_vert`` subtracts one "to use the convention
    'disc labelvalue=3 ==> disc C2/C3'", spinalcordtoolbox/vertebrae/core.py). Hence value 2 is
    the C1/C2 boundary and value 1 the upper border of C1 (occiput/C1); SCT also writes 49
    (pontomedullary groove) and 50 (pontomedullary junction), which are not vertebral and are
    ignored here. SCT places disc labels "on the posterior tip of each disc" (labeling-conventions.rst).

Spinal Cord Toolbox vertebral-level point labels (``sct_register_to_template -l``)
    Value n at the centre of the cord on the mid-vertebral slice of vertebra n (labeling-conventions.rst:
    "labels should be placed as though the vertebrae were projected onto the spinal cord,
    with the label centered in the middle of each vertebral level").

    The two kinds of point label files look alike (single voxels, small integers): the caller
    must say which one a file is. sct_testing_data's ``t2/labels.nii.gz`` (values 3, 5) is a
    case in point: SCT's tests pass it both as ``-l`` and as ``-ldisc``; read as disc labels it
    lands mid-vertebra, read as vertebral-level labels its disc planes coincide (< 1 mm) with the
    boundaries of ``t2_seg-manual_labeled.nii.gz`` but numbered one higher (tests/test_levels.py).

VerSe vertebra masks
    1-7 = C1-C7, 8-19 = T1-T12, 20-24 = L1-L5, 25 = L6 and 28 = T13 (transitional vertebrae)
    (VerSe challenge data description, Sekuboyina et al., Med Image Anal 2021; anjany/verse on
    GitHub). L6 and T13 are refused: with them the count of the levels below is ambiguous.

TotalSegmentator
    Class map ``total`` (v2) of ``totalsegmentator/map_to_binary.py`` in wasserth/TotalSegmentator
    (read at commit 0275d3046117a9615a9876e6e4eefd5156843f1c): 26 vertebrae_S1, 27 vertebrae_L5 ...
    31 vertebrae_L1, 32 vertebrae_T12 ... 43 vertebrae_T1, 44 vertebrae_C7 ... 50 vertebrae_C1;
    and ``vertebrae_mr``: 2 vertebrae_L5 ... 25 vertebrae_C1 (1 is "sacrum", not used:
    it is the whole sacrum, not S1). ``total_v1`` (18 L5 ... 41 C1) is accepted too.

SPINEPS / TPTBox vertebra instance masks (``*_seg-vert_msk.nii.gz``)
    1-7 = C1-C7, 8-19 = T1-T12, 28 = T13, 20-25 = L1-L6, 26 = sacrum (TPTBox's "S1"),
    100 + X = the intervertebral disc below vertebra X, 200 + X = the endplates of X
    (``Vertebra_Instance``, ``VERTEBRA_INSTANCE_IVD_LABEL_OFFSET`` and
    ``VERTEBRA_INSTANCE_ENDPLATE_LABEL_OFFSET`` in TPTBox/core/vert_constants.py, Hendrik-code/TPTBox
    at commit 03bc4dfd7b16422b9a4ea7b488df6dd8f81bbfc4; SPINEPS: Möller H et al., "SPINEPS—automatic
    whole spine segmentation of T2-weighted MR images using a two-phase approach to multi-class
    semantic and instance segmentation", Eur Radiol 2025). Disc 100 + X is the boundary between
    level X and the next (124 = L5/S1); the sacrum stands for S1 (level 25), so without disc 124
    L5 and the sacrum give L5/S1 from their endplates. Endplates count as their vertebra's body.
    T13 and L6 (and their discs and endplates) are refused as for VerSe; the coccyx (27), S2-S6
    (29-33) and rib labels (39-55) are ignored; any other value (a subregion mask) is refused.

Discs from vertebra masks: the posterior tip
    A level boundary is the disc **at the spinal canal**: SCT's disc labels sit "on the posterior
    tip of each disc", and lesionview's disc plane goes through that point, perpendicular to the
    cord. Discs are inclined to that plane (and wedge-shaped in a lordosis or kyphosis), so a
    point at the disc's centre, 8-15 mm further anterior, moves the boundary at the cord by
    millimetres, and a whole-vertebra centroid (pulled behind and below the body by the laminae
    and a caudally tilted spinous process) is no anchor at all. lesionview finds the tip of disc
    ``n/n+1`` as follows:

    1. **Bodies.** The vertebral body is the thickest part of every vertebra from C2 down: the
       voxels deeper inside the vertebra than 0.6 of its deepest voxel (distance transform in mm),
       connected to the deepest one, are its core, whose centre is the body's centre.
    2. **Frame.** Axis: the line from body centre to body centre (for a SPINEPS disc label
       without both bodies, the disc's thinnest direction). Posterior: towards the cord
       when a centerline is given, else towards the posterior elements (centroid minus body
       centre), else patient posterior. Only a mid-sagittal slab (±2.5 mm) is read: uncinate
       processes and pedicles stay out of it.
    3. **Body part of the slab.** Voxels up to the canal (the first empty stretch of 3 mm behind
       the body centre), and no further than the core grown back by its depth (posterior elements
       fused to the body in a mask).
    4. **Endplates.** In 1-voxel bins of the posterior coordinate: the lowest voxel of the upper
       body and the highest of the lower body. A line is fitted to each over the posterior two
       thirds of the disc, dropping bins more than 3/4 voxel off (corners cut by the grid); the tip
       is the mid-line between them at the posterior edge of the last bin kept. For a SPINEPS
       disc label, the mid-line is the least-squares line through the disc's own voxels (posterior
       half) and the edge is its most posterior voxel.

    Where this fails (C1/C2, which has no disc; a pair without a body), the disc falls back to the
    plane best separating the two vertebrae's anterior parts on the line joining their centroids.
    An isolated vertebra anchors the model by its body centre.

    5. **Partial vertebrae.** A vertebra whose label reaches the array's border within its core's
       depth of the core (the field of view cuts its body; a cut spinous process does not count),
       or which is shorter along the spine than 0.6 of its whole neighbour, is *partial*: its core
       and centroid are no body, it never anchors the model, and its neighbour's body moved one
       vertebra on (the spacing of the next pair) stands in for its body in the frame. Its disc
       with a whole neighbour is read from both facing endplates when at least 4 mm of the partial
       vertebra's body lies beyond its endplate in the slab (the cut is on the far side); else the
       disc is dropped with a warning (``LevelModel.warnings``). A SPINEPS disc label touching the
       border is not read either (its endplates are). Finally every tip more than 5 mm off the
       mid-sagittal plane of the others, or whose axis is more than 30 degrees off both its nearest
       discs', is dropped with a warning. Tested on phantoms of a lordotic
    cervical and a kyphotic thoracic spine (:mod:`lesionview.phantom.vertebrae`,
    tests/test_levels_vertebra_masks.py): every tip within 1 mm, on 1 mm grids and on thick
    sagittal (0.7 x 0.7 x 3 mm) or axial (0.8 x 0.8 x 2 mm) ones.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..cord import Centerline, centerline_from_mask
from ..errors import InputError
from .landmark_files import read_landmarks, write_landmarks  # noqa: F401 - re-exported (older imports)
from .model import LabelledCord, Landmark, LevelModel
from .names import MAX_LEVEL, disc_name, index_of, name_of

#: TotalSegmentator class maps (value -> name), from totalsegmentator/map_to_binary.py,
#: wasserth/TotalSegmentator commit 0275d3046117a9615a9876e6e4eefd5156843f1c.
_TS_VERTEBRAE = {
    "total": {26: "S1", 27: "L5", 28: "L4", 29: "L3", 30: "L2", 31: "L1", 32: "T12", 33: "T11",
              34: "T10", 35: "T9", 36: "T8", 37: "T7", 38: "T6", 39: "T5", 40: "T4", 41: "T3",
              42: "T2", 43: "T1", 44: "C7", 45: "C6", 46: "C5", 47: "C4", 48: "C3", 49: "C2",
              50: "C1"},
    "total_v1": {18: "L5", 19: "L4", 20: "L3", 21: "L2", 22: "L1", 23: "T12", 24: "T11", 25: "T10",
                 26: "T9", 27: "T8", 28: "T7", 29: "T6", 30: "T5", 31: "T4", 32: "T3", 33: "T2",
                 34: "T1", 35: "C7", 36: "C6", 37: "C5", 38: "C4", 39: "C3", 40: "C2", 41: "C1"},
    "vertebrae_mr": {2: "L5", 3: "L4", 4: "L3", 5: "L2", 6: "L1", 7: "T12", 8: "T11", 9: "T10",
                     10: "T9", 11: "T8", 12: "T7", 13: "T6", 14: "T5", 15: "T4", 16: "T3", 17: "T2",
                     18: "T1", 19: "C7", 20: "C6", 21: "C5", 22: "C4", 23: "C3", 24: "C2", 25: "C1"},
}
_VERSE_TRANSITIONAL = {25: "L6", 28: "T13"}
_SCT_NON_VERTEBRAL = {49, 50}   # pontomedullary groove / junction


# ---------------------------------------------------------------------------- SCT
def _integer_labels(volume, what: str) -> np.ndarray:
    a = np.asarray(volume.array)
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a)) or np.any(np.abs(a - np.rint(a)) > 1e-3):
            raise InputError(f"{what} must hold whole-number labels.", path=volume.info.source or None)
        a = np.rint(a)
    return a.astype(np.int64)


def _source(volume, default: str) -> str:
    return getattr(volume.info, "source", "") or default


def sct_labeled_cord(volume, *, centerline: Centerline | None = None) -> LevelModel:
    """Levels from an SCT labelled cord (value n = level n); its voxels are kept as the truth."""
    a = _integer_labels(volume, "a labelled cord")
    values = [int(v) for v in np.unique(a) if v != 0]
    bad = [v for v in values if not 1 <= v <= MAX_LEVEL]
    if not values or bad:
        raise InputError(f"not an SCT labelled cord: values {bad or 'none'} outside 1..{MAX_LEVEL}.",
                         path=volume.info.source or None,
                         hint="Expected sct_label_vertebrae output (*_seg_labeled.nii.gz).")
    g = volume.geometry
    if centerline is None:
        centerline = centerline_from_mask(a != 0, g, source=_source(volume, "labelled cord"))
    marks = []
    for n in values:
        if n + 1 not in values:
            continue
        pa = g.index_to_world(np.argwhere(a == n))
        pb = g.index_to_world(np.argwhere(a == n + 1))
        s = _separating_value(centerline.arclength_of(pa), centerline.arclength_of(pb))
        marks.append(Landmark("disc", n, tuple(centerline.point_at(s)[0])))
    return LevelModel(tuple(marks), centerline=centerline, labelled=LabelledCord(a, g),
                      source=_source(volume, "SCT labelled cord"))


def _points_by_value(volume, allowed, what: str) -> dict[int, np.ndarray]:
    a = _integer_labels(volume, what)
    out = {}
    for v in np.unique(a):
        v = int(v)
        if v == 0:
            continue
        if v not in allowed:
            continue
        out[v] = volume.geometry.index_to_world(np.argwhere(a == v)).mean(axis=0)
    return out


def sct_disc_labels(volume, *, centerline: Centerline | None = None) -> LevelModel:
    """Levels from SCT single-voxel disc labels (value n = disc between vertebrae n-1 and n)."""
    a = _integer_labels(volume, "SCT disc labels")
    values = {int(v) for v in np.unique(a)} - {0} - _SCT_NON_VERTEBRAL
    bad = sorted(v for v in values if not 1 <= v <= MAX_LEVEL)
    if bad:
        raise InputError(f"SCT disc label value(s) {bad} are not discs (expected 1..{MAX_LEVEL}, "
                         "3 = C2/C3; 49/50 are ignored).", path=volume.info.source or None)
    pts = _points_by_value(volume, values, "SCT disc labels")
    marks = tuple(Landmark("disc", v - 1, tuple(p)) for v, p in sorted(pts.items()))
    return LevelModel(marks, centerline=centerline, source=_source(volume, "SCT disc labels"))


def sct_body_labels(volume, *, centerline: Centerline | None = None) -> LevelModel:
    """Levels from SCT vertebral-level point labels (value n at the mid-vertebral slice of level n)."""
    a = _integer_labels(volume, "SCT vertebral labels")
    values = {int(v) for v in np.unique(a)} - {0}
    bad = sorted(v for v in values if not 1 <= v <= MAX_LEVEL)
    if bad:
        raise InputError(f"SCT vertebral label value(s) {bad} outside 1..{MAX_LEVEL}.",
                         path=volume.info.source or None)
    pts = _points_by_value(volume, values, "SCT vertebral labels")
    marks = tuple(Landmark("body", v, tuple(p)) for v, p in sorted(pts.items()))
    return LevelModel(marks, centerline=centerline, source=_source(volume, "SCT vertebral labels"))


# ---------------------------------------------------------------------------- vertebra masks
#: SPINEPS / TPTBox instance labels (``Vertebra_Instance`` and ``v_idx2name`` in
#: TPTBox/core/vert_constants.py, Hendrik-code/TPTBox commit 03bc4dfd7b16422b9a4ea7b488df6dd8f81bbfc4).
_SPINEPS_IVD, _SPINEPS_ENDPLATE = 100, 200       # + X: the disc below vertebra X, the endplates of X
_SPINEPS_TRANSITIONAL = {28: "T13", 25: "L6"}
_SPINEPS_SACRUM = 26                             # TPTBox "S1": the sacrum as SPINEPS labels it
#: Coccyx (27), S2-S6 (29-33) and ribs (39-55): labelled by TPTBox, but not level boundaries here.
_SPINEPS_IGNORED = frozenset({27, *range(29, 34), *range(39, 56)})


def verse_masks(volume, *, centerline: Centerline | None = None) -> LevelModel:
    """Levels from a VerSe multilabel vertebra mask (1-7 C, 8-19 T, 20-24 L).

    Each disc landmark is the posterior tip of the disc, found from the facing endplates of the
    two vertebral bodies (see the module docstring).
    """
    a = _integer_labels(volume, "a VerSe vertebra mask")
    values = {int(v) for v in np.unique(a)} - {0}
    trans = sorted(v for v in values if v in _VERSE_TRANSITIONAL)
    if trans:
        raise InputError(f"transitional vertebra(e) {', '.join(_VERSE_TRANSITIONAL[v] for v in trans)} "
                         "present; lesionview numbers levels C1-L5 only.", path=volume.info.source or None,
                         hint="Relabel the mask so its numbering matches the levels you report, "
                              "or give disc landmarks instead.")
    bad = sorted(v for v in values if not 1 <= v <= 24)
    if bad:
        raise InputError(f"VerSe label value(s) {bad} are not vertebrae (1-24).",
                         path=volume.info.source or None)
    return _from_vertebra_labels(a, {v: v for v in values}, volume, centerline, "VerSe vertebrae")


def spineps_masks(volume, *, centerline: Centerline | None = None) -> LevelModel:
    """Levels from a SPINEPS / TPTBox vertebra instance mask.

    Values: 1-7 C1-C7, 8-19 T1-T12, 20-24 L1-L5, 26 sacrum, 100 + X the intervertebral disc
    below vertebra X, 200 + X the endplates of X (TPTBox ``Vertebra_Instance``). Each disc
    label gives its level boundary directly (the posterior tip of the disc mask); where a disc
    is missing, the boundary comes from the facing endplates of the two vertebral bodies, as for
    VerSe masks. The sacrum stands for S1, so it gives L5/S1 as disc 124 would. Transitional
    vertebrae (T13 = 28, L6 = 25, and their discs and endplates) are refused.

    SPINEPS: Möller H, et al. "SPINEPS—automatic whole spine segmentation of T2-weighted MR
    images using a two-phase approach to multi-class semantic and instance segmentation."
    Eur Radiol 2025. TPTBox: https://github.com/Hendrik-code/TPTBox.
    """
    a = _integer_labels(volume, "a SPINEPS vertebra mask")
    values = {int(v) for v in np.unique(a)} - {0}
    trans = sorted({v % 100 for v in values if v in (25, 28, 125, 128, 225, 228)})
    if trans:
        raise InputError(f"transitional vertebra(e) {', '.join(_SPINEPS_TRANSITIONAL[v] for v in trans)} "
                         "(or their discs / endplates) present; lesionview numbers levels C1-L5 and S1 "
                         "only, and with a T13 or L6 the numbering of every level below is ambiguous.",
                         path=volume.info.source or None,
                         hint="Relabel the mask so its numbering matches the levels you report, "
                              "or give disc landmarks instead.")
    vertebra, disc = {}, {}
    unknown = []
    for v in sorted(values):
        base = v % 100
        level = base if 1 <= base <= 24 else (25 if base == _SPINEPS_SACRUM else None)
        if v < 100 and level is not None:
            vertebra[v] = level
        elif v >= _SPINEPS_ENDPLATE and v < 300 and level is not None:
            vertebra[v] = level                   # endplates belong to their vertebral body
        elif _SPINEPS_IVD < v < _SPINEPS_ENDPLATE and level is not None and level <= 24:
            disc[v] = level                       # disc below vertebra X = disc X (between X and X + 1)
        elif v in _SPINEPS_IGNORED or v in (_SPINEPS_IVD + 26, _SPINEPS_IVD + 27):
            continue
        else:
            unknown.append(v)
    if unknown:
        raise InputError(f"SPINEPS label value(s) {unknown} are not vertebrae, discs or endplates "
                         "(1-24, 26, 101-124, 201-226).", path=volume.info.source or None,
                         hint="Pass the vertebra instance mask (*_seg-vert_msk.nii.gz), not the "
                              "subregion (semantic) mask.")
    if not vertebra and not disc:
        raise InputError("no vertebra or disc label in this SPINEPS mask.", path=volume.info.source or None)
    return _from_vertebra_labels(a, vertebra, volume, centerline, "SPINEPS vertebrae", discs=disc)


def totalsegmentator_masks(volume, *, task: str = "total", centerline: Centerline | None = None) -> LevelModel:
    """Levels from TotalSegmentator's multilabel output (vertebrae_* classes of ``task``)."""
    if task not in _TS_VERTEBRAE:
        raise InputError(f"unknown TotalSegmentator task {task!r}.",
                         hint=f"Use one of {', '.join(_TS_VERTEBRAE)}.")
    a = _integer_labels(volume, "a TotalSegmentator mask")
    cmap = _TS_VERTEBRAE[task]
    present = {int(v) for v in np.unique(a)} & set(cmap)
    if not present:
        raise InputError(f"no vertebrae_* class of TotalSegmentator task {task!r} in this mask.",
                         path=volume.info.source or None,
                         hint="Pass the multilabel output of the task that made it (task=...).")
    return _from_vertebra_labels(a, {v: index_of(cmap[v]) for v in present}, volume, centerline,
                                 f"TotalSegmentator {task}")


# Discs from vertebra masks: the posterior tip of each disc (see the module docstring).
_SLAB_MM = 2.5          # half width of the mid-sagittal slab the endplates are read in
_CANAL_GAP_MM = 3.0     # an empty stretch this long behind the body is the canal
_CORE_FRACTION = 0.6    # a vertebra's core: deeper than this fraction of its deepest voxel
_FIT_FRACTION = 0.67    # the mid-line of a disc is fitted over this posterior part of its depth


class _Vertebra:
    """One vertebra: world positions of its voxels, its centroid, the centre of its body, and the
    core of its body (world positions deeper than ``depth`` mm inside the vertebra)."""

    __slots__ = ("body", "body_cut", "centroid", "core", "depth", "points")

    def __init__(self, points: np.ndarray, core: np.ndarray, depth: float, body_cut: bool = False):
        self.points, self.core, self.depth, self.body_cut = points, core, depth, body_cut
        self.centroid, self.body = points.mean(axis=0), core.mean(axis=0)


def _from_vertebra_labels(a: np.ndarray, level_of_value: dict[int, int], volume, centerline, what, *,
                          discs: dict[int, int] | None = None) -> LevelModel:
    g = volume.geometry
    discs = discs or {}
    wanted = list(level_of_value) + list(discs)
    objects = ndimage.find_objects(np.where(np.isin(a, wanted), a, 0)) if wanted else []
    verts = {level: _vertebra(a, [v for v, n in level_of_value.items() if n == level], objects, g)
             for level in sorted(set(level_of_value.values()))}
    verts = {n: v for n, v in verts.items() if v is not None}
    disc_points = {}
    for value, k in discs.items():
        pts = _points_of(a, [value], objects, g)
        box = _box_of([value], objects)
        # A disc label cut by the field of view has no telling mid-line: its endplates give the tip.
        if pts is not None and len(pts) >= 4 and \
                not any(b.start == 0 or b.stop == n for b, n in zip(box, a.shape)):
            disc_points[k] = pts
    partial = _partial(verts)
    warnings = [f"{name_of(n)} is cut by the field of view (or much shorter than its neighbours): its body "
                "does not anchor the levels" for n in sorted(partial)]
    tips, frames = {}, {}
    for k in sorted(set(disc_points) | {n for n in verts if n + 1 in verts}):
        upper, lower = verts.get(k), verts.get(k + 1)
        tip = None
        if k in disc_points:
            tip = _disc_tip(_stand_in(verts, partial, k, k + 1), _stand_in(verts, partial, k + 1, k),
                            disc_points[k], g, centerline)
        if tip is None and upper is not None and lower is not None:
            if k in partial or k + 1 in partial:
                tip = _partial_disc_tip(verts, partial, k, g, centerline)
                if tip is None:
                    warnings.append(f"{disc_name(k)} dropped: next to a vertebra cut by the field of view, its "
                                    "endplates cannot be read reliably")
                    continue
            # C1 has no body (its thickest part is a lateral mass), and C1/C2 no disc.
            elif k > 1:
                tip = _disc_tip(upper, lower, None, g, centerline)
            if tip is None:
                tip = _centroid_chord_disc(upper, lower, volume)
        if tip is not None:
            tips[k] = np.asarray(tip, dtype=float)
            frames[k] = _frame(_stand_in(verts, partial, k, k + 1), _stand_in(verts, partial, k + 1, k),
                               disc_points.get(k), centerline)
    for k, why in _implausible_tips(tips, frames).items():
        warnings.append(f"{disc_name(k)} dropped: its tip lies {why}")
        del tips[k]
    marks = [Landmark("disc", k, tuple(float(v) for v in tip)) for k, tip in sorted(tips.items())]
    with_disc = {m.index for m in marks} | {m.index + 1 for m in marks}
    n_discs = len(marks)
    for n, v in verts.items():
        # An isolated vertebra (or any vertebra when there are fewer than two discs) also
        # anchors the model by the centre of its body, standing for its mid-height; a cut one does not.
        if (n not in with_disc or n_discs < 2) and n not in partial:
            marks.append(Landmark("body", n, tuple(float(c) for c in v.body)))
    return LevelModel(tuple(marks), centerline=centerline, source=_source(volume, what), warnings=tuple(warnings))


# ---------------------------------------------------------------------------- partial vertebrae
_SHORT_FRACTION = 0.6     # shorter along the spine than this fraction of its neighbour: partial
_ENDPLATE_MM = 4.0        # a cut vertebra's own endplate counts when this much body lies beyond it
_OFF_PLANE_MM = 5.0       # a tip further from the mid-sagittal plane of the others is refused
_OFF_AXIS_DEGREES = 30.0  # ... and one whose local axis is further off its neighbours'


def _partial(verts: dict) -> set[int]:
    """Vertebrae cut by the field of view through their body, or much shorter along the spine than
    their whole neighbour (a label cut short some other way): their core and centroid are not a body."""
    out = {n for n, v in verts.items() if v.body_cut}
    for n, v in verts.items():
        for c, c2 in ((n - 1, n - 2), (n + 1, n + 2)):
            if n in out or c in out or c not in verts or c2 not in verts or c2 in out:
                continue
            axis = verts[c].body - verts[c2].body
            axis /= max(np.linalg.norm(axis), 1e-9)
            if np.ptp(v.points @ axis) < _SHORT_FRACTION * np.ptp(verts[c].points @ axis):
                out.add(n)
    return out


def _stand_in(verts: dict, partial: set[int], n: int, towards: int):
    """Vertebra ``n`` as the disc towards ``towards`` sees it; for a partial vertebra, its voxels with
    the body of its whole neighbour moved one vertebra on (the spacing of the next pair), or None."""
    v = verts.get(n)
    if v is None or n not in partial:
        return v
    c, c2 = verts.get(towards), verts.get(2 * towards - n)
    if c is None or c2 is None or towards in partial or 2 * towards - n in partial:
        return None
    shift = c.body - c2.body
    out = _Vertebra(v.points, c.core + shift, c.depth, True)
    out.centroid = c.centroid + shift        # posterior elements as the neighbour's, for the frame
    return out


def _partial_disc_tip(verts, partial, k, g, centerline):
    """Tip of disc ``k`` next to a partial vertebra, from both facing endplates when the partial
    one keeps at least ``_ENDPLATE_MM`` of body beyond its endplate in the slab; else None."""
    upper, lower = _stand_in(verts, partial, k, k + 1), _stand_in(verts, partial, k + 1, k)
    if upper is None or lower is None:
        return None
    tip = _disc_tip(upper, lower, None, g, centerline)
    frame = _frame(upper, lower, None, centerline)
    if tip is None or frame is None:
        return None
    axes = frame[1]
    cut = upper if k in partial else lower
    u = _slab(cut.points, tip, axes, max(_SLAB_MM, 0.6 * _step_along(g, axes[2])))
    # Its body in the slab, where the endplates were read: in front of the tip, over the posterior
    # part (as in _posterior_tip) of a body as deep as its whole neighbour's core reaches.
    whole = lower if cut is upper else upper
    reach = np.ptp(whole.core @ axes[1]) + 2 * whole.depth
    body = u[(u[:, 1] <= 0) & (u[:, 1] >= -_FIT_FRACTION * reach)]
    if len(body) < 3:
        return None
    beyond = -body[:, 0].min() if cut is upper else body[:, 0].max()
    half_disc = float(np.abs(body[:, 0]).min())
    return tip if beyond - half_disc >= _ENDPLATE_MM else None


def _implausible_tips(tips: dict, frames: dict) -> dict[int, str]:
    """Tips off the mid-sagittal plane of the others, or whose axis is off its neighbours'."""
    out = {}
    ks = [k for k in tips if frames.get(k) is not None]
    for k in ks:
        others = [j for j in ks if j != k]
        if len(others) < 2:
            continue
        d, lat = frames[k][1][0], frames[k][1][2]
        lats = np.array([frames[j][1][2] * np.sign(frames[j][1][2] @ lat or 1.0) for j in others])
        normal = lats.mean(axis=0) / np.linalg.norm(lats.mean(axis=0))
        off = abs((tips[k] - np.mean([tips[j] for j in others], axis=0)) @ normal)
        if off > _OFF_PLANE_MM:
            out[k] = f"{off:.0f} mm off the mid-sagittal plane of the other discs"
            continue
        near = sorted(others, key=lambda j: abs(j - k))[:2]
        angles = [np.degrees(np.arccos(np.clip(abs(d @ frames[j][1][0]), -1, 1))) for j in near]
        if min(angles) > _OFF_AXIS_DEGREES:
            out[k] = f"on an axis {min(angles):.0f} degrees off its neighbours'"
    return out


def _box_of(values, objects):
    """Bounding box (slices) of the label values, or None when none is present."""
    boxes = [objects[v - 1] for v in values if v - 1 < len(objects) and objects[v - 1] is not None]
    if not boxes:
        return None
    return tuple(slice(min(b[i].start for b in boxes), max(b[i].stop for b in boxes)) for i in range(3))


def _points_of(a, values, objects, g):
    box = _box_of(values, objects)
    if box is None:
        return None
    idx = np.argwhere(np.isin(a[box], values)) + np.array([s.start for s in box])
    return g.index_to_world(idx)


def _vertebra(a, values, objects, g) -> _Vertebra | None:
    """A vertebra and the centre of its body: the connected part of its thickest core.

    The body is the thickest part of every vertebra from C2 down (laminae, pedicles and
    processes are a few millimetres thick), so the voxels deeper than a fraction of the deepest
    one, around the deepest one, lie inside the body whatever the orientation of the spine.
    """
    box = _box_of(values, objects)
    if box is None:
        return None
    m = np.pad(np.isin(a[box], values), 1)
    start = np.array([s.start for s in box]) - 1
    depth = ndimage.distance_transform_edt(m, sampling=g.spacing)
    deepest = np.unravel_index(int(np.argmax(depth)), depth.shape)
    threshold = _CORE_FRACTION * depth[deepest]
    lab, _ = ndimage.label(depth >= threshold)
    core = np.argwhere(lab == lab[deepest])
    # Cut by the field of view: voxels on the array's border. The cut reaches the body when it
    # passes within the deepest depth (plus a voxel) of the core: the cut face is then one of the
    # surfaces that shaped the core, so neither the core nor the centroid stands for the body.
    # A spinous process cut far from the body leaves the body whole.
    idx = np.argwhere(m) + start
    edge = np.any((idx == 0) | (idx == np.array(a.shape) - 1), axis=1)
    body_cut = False
    if edge.any():
        reach = depth[deepest] + 1.5 * max(g.spacing)
        near = cKDTree(g.index_to_world(core + start)).query(g.index_to_world(idx[edge]), k=1)[0]
        body_cut = bool(near.min() <= reach)
    return _Vertebra(g.index_to_world(idx), g.index_to_world(core + start), float(threshold), body_cut)


def _step_along(g, v) -> float:
    """Grid spacing (mm) of the array axis closest to the unit direction ``v``."""
    return float(g.spacing[int(np.argmax(np.abs(g.direction_matrix.T @ v)))])


def _frame(upper, lower, disc, centerline):
    """Origin and unit axes (rows: inferior, posterior, lateral) at a disc, or None."""
    chord = None if upper is None or lower is None else lower.body - upper.body
    if chord is not None and np.linalg.norm(chord) < 1.0:
        chord = None
    if disc is not None:
        origin = disc.mean(axis=0)
        if chord is not None:
            axis = chord            # the bodies' line: robust to a ragged or partial disc mask
        else:
            # A disc is flat: its thinnest direction is the spine's axis there.
            axis = np.linalg.svd(disc - origin, full_matrices=False)[2][2]
            axis = axis if axis[2] < 0 else -axis                # LPS: -z is inferior
    elif chord is not None:
        origin, axis = (upper.body + lower.body) / 2, chord
    else:
        return None
    d = axis / np.linalg.norm(axis)
    # Posterior: towards the cord when it is known, else towards the posterior elements (which
    # pull a vertebra's centroid behind its body), else patient posterior.
    candidates = []            # (direction, shortest length in mm that is not noise)
    if centerline is not None:
        candidates.append((centerline.point_at(centerline.arclength_of(origin))[0] - origin, 2.0))
    elements = sum((v.centroid - v.body for v in (upper, lower) if v is not None), np.zeros(3))
    candidates += [(elements, 1.0), (np.array([0.0, 1.0, 0.0]), 0.5)]
    for c, shortest in candidates:
        n = np.linalg.norm(c)
        q = c - (c @ d) * d
        if n > shortest and np.linalg.norm(q) > 0.5 * n:
            p = q / np.linalg.norm(q)
            return origin, np.array([d, p, np.cross(d, p)])
    return None


def _slab(points, origin, axes, half_width):
    # Rounded to a micrometre so that round-off of one storage order or another never moves a
    # voxel across a bin edge.
    u = np.round((points - origin) @ axes.T, 3)
    return u[np.abs(u[:, 2]) <= half_width, :2]


def _body_part(u, v, origin, p, step, gap):
    """Slab voxels (inferior, posterior) of vertebra ``v`` that belong to its body.

    The body ends at the canal (the first empty stretch behind the body's centre), and at the
    latest where its core, grown back by the depth that defined it, ends: posterior elements
    fused to the body in a mask (no canal in between) stop there too.
    """
    cap = ((v.core - origin) @ p).max() + v.depth + step / 2
    behind = np.sort(u[(u[:, 1] > (v.body - origin) @ p) & (u[:, 1] <= cap), 1])
    jumps = np.flatnonzero(np.diff(behind) > gap)
    if jumps.size:
        cap = behind[jumps[0]]
    return u[u[:, 1] <= cap]


def _profile(values, where, bins, reduce):
    out = np.full(len(bins) - 1, np.nan)
    i = np.digitize(where, bins) - 1
    ok = (i >= 0) & (i < len(out))
    tmp = np.full(len(out), -np.inf if reduce is np.maximum else np.inf)
    reduce.at(tmp, i[ok], values[ok])
    good = np.isfinite(tmp)
    out[good] = tmp[good]
    return out


def _posterior_tip(centres, bottom, top, step, tol) -> tuple[float, float]:
    """(height, posterior position) of a disc's mid-line at its posterior edge.

    ``bottom`` and ``top`` are the facing endplates (lowest voxel of the upper body, highest of
    the lower one) in bins of the posterior coordinate centred on ``centres``. A line is fitted to
    each over the posterior part of the disc, dropping bins more than a fraction of a voxel off
    either line (``tol``, mm) one at a time (a corner cut by the grid, a process fused to a body);
    the mid-line between the two lines is read at the posterior edge of the last bin kept.
    """
    keep = centres >= centres.max() - _FIT_FRACTION * np.ptp(centres)
    c, lo, hi = centres[keep], bottom[keep], top[keep]
    while len(c) >= 3:
        fb, ft = np.polyfit(c, lo, 1), np.polyfit(c, hi, 1)
        resid = np.maximum(np.abs(lo - np.polyval(fb, c)), np.abs(hi - np.polyval(ft, c)))
        if resid.max() <= tol:
            edge = c.max() + step / 2
            mid = 0.5 * (fb + ft)
            # Steeper than 45 degrees is no endplate: keep the mean then.
            if abs(mid[0]) < 1.0:
                return float(np.polyval(mid, edge)), float(edge)
            return float(np.mean(lo + hi) / 2), float(edge)
        worst = int(np.argmax(resid))
        c, lo, hi = np.delete(c, worst), np.delete(lo, worst), np.delete(hi, worst)
    return float(np.median(lo + hi) / 2), float(c.max() + step / 2)


def _disc_tip(upper, lower, disc, g, centerline):
    """Posterior tip of a disc: from its own mask when given, else from the facing endplates."""
    frame = _frame(upper, lower, disc, centerline)
    if frame is None:
        return None
    origin, axes = frame
    d, p, lat = axes
    half = max(_SLAB_MM, 0.6 * _step_along(g, lat))
    step = max(0.5, _step_along(g, p))
    gap = max(_CANAL_GAP_MM, 1.5 * step)
    if disc is not None:
        u = _slab(disc, origin, axes, half)
        if len(u) < 3:
            return None
        # The mid-line of the disc: least squares of height on depth over its posterior half
        # (every voxel, no bins: an oblique grid would alias them into steps).
        back = u[u[:, 1] >= 0.5 * (u[:, 1].min() + u[:, 1].max())]
        slope, icpt = np.polyfit(back[:, 1], back[:, 0], 1) if np.ptp(back[:, 1]) > step else (0.0, back[:, 0].mean())
        if abs(slope) >= 1.0:          # steeper than 45 degrees is no disc: keep its mean height
            slope, icpt = 0.0, back[:, 0].mean()
        # The edge where the mid-line leaves the disc: the posterior wall may be slanted in this
        # frame (the axis is the disc's own), so its most posterior voxel can be a corner.
        near = np.abs(u[:, 0] - (slope * u[:, 1] + icpt)) <= max(0.5, 0.5 * _step_along(g, d))
        p_edge = (u[near, 1] if near.any() else u[:, 1]).max() + step / 2
        return origin + (slope * p_edge + icpt) * d + p_edge * p
    bodies = []
    for v in (upper, lower):
        u = _slab(v.points, origin, axes, half)
        if len(u) < 3:
            return None
        bodies.append(_body_part(u, v, origin, p, step, gap))
    ub, lb = bodies
    lo, hi = max(ub[:, 1].min(), lb[:, 1].min()), min(ub[:, 1].max(), lb[:, 1].max())
    if hi - lo < step:
        return None
    bins = np.arange(lo - step / 2, hi + step, step)
    bottom = _profile(ub[:, 0], ub[:, 1], bins, np.maximum)   # inferior endplate of the upper body
    top = _profile(lb[:, 0], lb[:, 1], bins, np.minimum)      # superior endplate of the lower body
    ok = np.isfinite(bottom) & np.isfinite(top)
    if ok.sum() < 2:
        return None
    centres = 0.5 * (bins[:-1] + bins[1:])
    # The steps of a voxel staircase stay within about half a voxel (along the spine) of the line.
    t, p_edge = _posterior_tip(centres[ok], bottom[ok], top[ok], step, 0.75 * max(step, _step_along(g, d)))
    return origin + t * d + p_edge * p


def _centroid_chord_disc(upper, lower, volume):
    """Fallback (C1/C2, bodies not found): on the chord of the two centroids, between the bodies."""
    pa, pb = upper.points, lower.points
    ca, cb = upper.centroid, lower.centroid
    u = cb - ca
    dist = np.linalg.norm(u)
    if dist == 0:
        raise InputError("two consecutive vertebrae have the same centroid.", path=volume.info.source or None)
    u /= dist
    pa, pb = _bodies(pa, pb, (ca + cb) / 2, u)
    t = _separating_value((pa - ca) @ u, (pb - ca) @ u)
    return ca + t * u


def _bodies(pa: np.ndarray, pb: np.ndarray, centre: np.ndarray, u: np.ndarray):
    """The voxels of two vertebrae anterior to their mean centroid (mostly vertebral bodies).

    Posterior elements (laminae, spinous processes, facets) overlap the next vertebra in
    height; the bodies face each other across the disc. Falls back to all voxels when the
    anterior part of either is too small to stand for a body.
    """
    anterior = np.array([0.0, -1.0, 0.0])             # LPS: -y is anterior
    anterior = anterior - (anterior @ u) * u
    norm = np.linalg.norm(anterior)
    if norm < 0.5:
        return pa, pb
    anterior /= norm
    ka, kb = (pa - centre) @ anterior > 0, (pb - centre) @ anterior > 0
    if ka.sum() < 0.1 * len(pa) or kb.sum() < 0.1 * len(pb):
        return pa, pb
    return pa[ka], pb[kb]


def _separating_value(upper: np.ndarray, lower: np.ndarray) -> float:
    """Threshold t with fewest ``upper`` values above it plus ``lower`` values below it.

    ``upper`` are projections of the superior structure (expected smaller), ``lower`` of the
    inferior one. Returns the middle of the best gap (or of the best range of thresholds).
    """
    cand = np.unique(np.concatenate([upper, lower]))
    up_sorted, low_sorted = np.sort(upper), np.sort(lower)
    # Threshold just above each candidate value: errors = upper > c  +  lower <= c.
    errors = (len(up_sorted) - np.searchsorted(up_sorted, cand, side="right")) + \
        np.searchsorted(low_sorted, cand, side="right")
    best = np.flatnonzero(errors == errors.min())
    lo = cand[best[0]]
    nxt = np.searchsorted(cand, cand[best[-1]], side="right")
    hi = cand[nxt] if nxt < len(cand) else cand[best[-1]]
    return float((lo + hi) / 2)
