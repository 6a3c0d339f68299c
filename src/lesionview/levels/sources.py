"""Where vertebral levels come from: landmark files, SCT label images, VerSe and TotalSegmentator masks.

Conventions and their sources
-----------------------------
Landmark files (lesionview's own format)
    CSV with columns ``name,x,y,z`` in **LPS** millimetres (DICOM patient coordinates, as
    everywhere in lesionview). RAS coordinates (NIfTI / 3D Slicer / ITK-SNAP world) are accepted
    when declared: either a header comment line ``# space: RAS`` (applies to every row) or a
    ``space`` column (``LPS`` or ``RAS`` per row; the column wins over the comment). RAS is
    converted with (x, y, z) -> (-x, -y, z). Names: vertebral-body centres "C5" and discs
    "C4/C5" (see :data:`lesionview.levels.names.ACCEPTED_FORMS`). JSON:
    ``{"space": "LPS", "landmarks": [{"name": "C4/C5", "position": [x, y, z]}, ...]}``
    (``x``, ``y``, ``z`` keys instead of ``position`` also work; a bare list is read as LPS).

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

Discs from vertebra masks
    Whole-vertebra centroids sit posterior to the vertebral bodies, and a tall vertebra (C2
    with the dens) pulls its centroid upwards, so the midpoint of two centroids is not the
    disc. lesionview places disc ``n/n+1`` on the line joining the two centroids, at the plane
    perpendicular to that line that best separates the two vertebral bodies (fewest voxels on
    the wrong side; the middle of the best range, i.e. midway between the facing endplates).
    The bodies are taken as the voxels anterior to the two centroids: posterior elements
    (facets, spinous processes) overlap the next vertebra in height and would drag the plane
    to one edge of the disc.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..cord import Centerline, centerline_from_mask
from ..errors import InputError
from .model import LabelledCord, Landmark, LevelModel
from .names import MAX_LEVEL, index_of

_RAS_TO_LPS = np.array([-1.0, -1.0, 1.0])

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


# ---------------------------------------------------------------------------- landmark files
def read_landmarks(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Names and LPS positions (N, 3) from a landmark CSV or JSON file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such landmark file.", path=path, hint="Check the path.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(path)
        if suffix == ".json":
            return _read_json(path)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read landmarks ({exc}).", path=path,
                         hint="Expected columns name,x,y,z (CSV) or "
                              '{"landmarks": [{"name": ..., "position": [x, y, z]}]} (JSON).') from exc
    raise InputError(f"unknown landmark file type {suffix!r}.", path=path, hint="Use .csv or .json.")


def write_landmarks(path: str | os.PathLike, names, positions, *, space: str = "LPS") -> Path:
    """Write landmarks (LPS positions) as CSV or JSON (by suffix), in ``space`` LPS or RAS."""
    path = Path(path)
    space = _check_space(space, path)
    pos = np.asarray(positions, dtype=float).reshape(-1, 3)
    out = pos * _RAS_TO_LPS if space == "RAS" else pos
    if path.suffix.lower() == ".json":
        data = {"space": space, "landmarks": [{"name": n, "position": [float(v) for v in p]}
                                              for n, p in zip(names, out)]}
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path
    with path.open("w", newline="", encoding="utf-8") as f:
        f.write(f"# lesionview vertebral landmarks; space: {space} (mm)\n")
        w = csv.writer(f)
        w.writerow(["name", "x", "y", "z"])
        for n, p in zip(names, out):
            w.writerow([n, *(repr(float(v)) for v in p)])
    return path


def _check_space(space: str, path) -> str:
    s = str(space).strip().upper()
    if s not in ("LPS", "RAS"):
        raise InputError(f"unknown coordinate space {space!r}.", path=path, hint="Use LPS or RAS.")
    return s


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    text = path.read_text(encoding="utf-8-sig")
    default = "LPS"
    rows = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            m = re.search(r"space\s*[:=]\s*([A-Za-z]+)", stripped)
            if m:
                default = _check_space(m.group(1), path)
            continue
        if stripped:
            rows.append(line)
    reader = csv.DictReader(rows)
    fields = {(f or "").strip().lower(): f for f in (reader.fieldnames or [])}
    missing = [c for c in ("name", "x", "y", "z") if c not in fields]
    if missing:
        raise InputError(f"landmark CSV lacks column(s) {', '.join(missing)}.", path=path,
                         hint="The first non-comment line must be the header name,x,y,z[,space].")
    names, pos = [], []
    for row in reader:
        names.append(row[fields["name"]].strip())
        xyz = np.array([float(row[fields[c]]) for c in "xyz"])
        space = default
        if "space" in fields and (row[fields["space"]] or "").strip():
            space = _check_space(row[fields["space"]], path)
        pos.append(xyz * _RAS_TO_LPS if space == "RAS" else xyz)
    return names, np.array(pos, dtype=float).reshape(-1, 3)


def _read_json(path: Path) -> tuple[list[str], np.ndarray]:
    data = json.loads(path.read_text(encoding="utf-8"))
    default = "LPS"
    items = data
    if isinstance(data, dict):
        default = _check_space(data.get("space", "LPS"), path)
        items = data["landmarks"]
    names, pos = [], []
    for item in items:
        names.append(str(item["name"]).strip())
        xyz = np.array(item["position"] if "position" in item else [item["x"], item["y"], item["z"]],
                       dtype=float).reshape(3)
        space = _check_space(item.get("space", default), path)
        pos.append(xyz * _RAS_TO_LPS if space == "RAS" else xyz)
    return names, np.array(pos, dtype=float).reshape(-1, 3)


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
def verse_masks(volume, *, centerline: Centerline | None = None) -> LevelModel:
    """Levels from a VerSe multilabel vertebra mask (1-7 C, 8-19 T, 20-24 L)."""
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


def _from_vertebra_labels(a: np.ndarray, level_of_value: dict[int, int], volume, centerline, what) -> LevelModel:
    g = volume.geometry
    objects = ndimage.find_objects(np.where(np.isin(a, list(level_of_value)), a, 0))
    pts = {}
    for value, level in level_of_value.items():
        sl = objects[value - 1] if value - 1 < len(objects) else None
        if sl is None:
            continue
        idx = np.argwhere(a[sl] == value) + np.array([s.start for s in sl])
        pts[level] = g.index_to_world(idx)
    levels = sorted(pts)
    marks = []
    for n in levels:
        if n + 1 in pts:
            ca, cb = pts[n].mean(axis=0), pts[n + 1].mean(axis=0)
            u = cb - ca
            dist = np.linalg.norm(u)
            if dist == 0:
                raise InputError(f"vertebrae {n} and {n + 1} have the same centroid.", path=volume.info.source or None)
            u /= dist
            pa, pb = _bodies(pts[n], pts[n + 1], (ca + cb) / 2, u)
            t = _separating_value((pa - ca) @ u, (pb - ca) @ u)
            marks.append(Landmark("disc", n, tuple(ca + t * u)))
    with_disc = {m.index for m in marks} | {m.index + 1 for m in marks}
    n_discs = len(marks)
    for n in levels:
        # An isolated vertebra (or any vertebra when there are fewer than two discs) also
        # anchors the model by its centroid, standing for its mid-height.
        if n not in with_disc or n_discs < 2:
            marks.append(Landmark("body", n, tuple(pts[n].mean(axis=0))))
    return LevelModel(tuple(marks), centerline=centerline, source=_source(volume, what))


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
