"""DICOM Segmentation (SEG) objects as masks: the segments of one role, on the source image grid.

A SEG holds numbered segments, each with a label and coded concepts (segmented property category
and type, CID 7150/7151), stored as frames placed in patient space. Reading goes through highdicom
(``segread``, ``Segmentation.get_volume``), which sorts the frames into a regular stack in LPS;
empty frames may be left out of a SEG, so that stack covers only the slices the segments touch.
Given the ``reference`` grid (the image the SEG was drawn on), the stack is put back on it by
moving whole voxels (:meth:`lesionview.geometry.Geometry.grid_map`): nothing is interpolated, and
a SEG whose voxel centres do not fall on the reference's is left on its own grid.

Segments are chosen for a role (lesion, edema, cord) by number, label or code, or, without a
choice, by what their codes (then their labels) mean: :func:`choose_segments`. A FRACTIONAL SEG
counts a voxel in a segment from a fraction of 0.5.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.sr.codedict import codes

from ..errors import InputError
from ..geometry import Geometry, GridMap
from ..series import SeriesInfo
from ..volume import Volume
from .dicom.sniff import HEAD_BYTES, sniff
from .paths import input_path

#: Segmentation Storage (PS3.4 B.5); Modality "SEG" names the same objects.
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
ROLES = ("lesion", "edema", "cord")
#: Segmented property types (SNOMED CT, CID 7151 and neighbours) that say a segment's role.
ROLE_CODES = {
    "lesion": {c.value for c in (codes.SCT.Lesion, codes.SCT.Neoplasm, codes.SCT.NeoplasmPrimary,
                                 codes.SCT.NeoplasmSecondary, codes.SCT.Metastasis, codes.SCT.Mass,
                                 codes.SCT.Nodule)},
    "edema": {codes.SCT.Edema.value},
    "cord": {codes.SCT.SpinalCord.value},
}
#: Words of a segment label that say its role, when its type code does not ("Segment_1" says none).
_ROLE_WORDS = {
    "lesion": re.compile(r"\b(lesions?|tumou?rs?|neoplasms?|metasta\w*|mass(es)?|nodules?|enhanc\w*)\b"),
    "edema": re.compile(r"\b(o?edema\w*|swelling)\b"),
    "cord": re.compile(r"\b(spinal ?cord|cord|sc)\b"),
}
#: SNOMED CT codes were written with designator "SRT" before 2019 (PS3.16 8.1).
_SCHEME_ALIASES = {"SRT": "SCT", "SNM3": "SCT"}
_FRACTION_INSIDE = 0.5
_OPTION = {"lesion": "--lesion-segment", "edema": "--edema-segment", "cord": "--cord-segment"}


def _choose_with(role, example) -> str:
    """How to choose segments: the CLI option of the role, else the Python argument."""
    if role in _OPTION:
        return f"{_OPTION[role]} NUMBER, LABEL or SCHEME:VALUE (may be repeated), e.g. {_OPTION[role]} {example}"
    return f"lesionview.io.seg.read_seg(path, segments=...) (numbers, labels or SCHEME:VALUE codes), e.g. " \
           f"segments={example}"


@dataclass(frozen=True)
class Segment:
    """One segment's description: number, label and coded category and type (scheme, value, meaning)."""

    number: int
    label: str
    category: tuple[str, str, str]
    type: tuple[str, str, str]

    @property
    def code(self) -> str:
        """The type as "SCHEME:VALUE", e.g. "SCT:52988006"."""
        return f"{self.type[0]}:{self.type[1]}"

    def describe(self) -> str:
        """'2 "Lesion 2" SCT:52988006 (Lesion)'."""
        return f'{self.number} "{self.label}" {self.code} ({self.type[2]})'

    def roles(self) -> set[str]:
        """The roles its type code says, else those its label's words say (lesion or edema words
        win over cord words: a "cord lesion" is a lesion)."""
        scheme = _SCHEME_ALIASES.get(self.type[0], self.type[0])
        by_code = {r for r, values in ROLE_CODES.items() if scheme == "SCT" and self.type[1] in values}
        if by_code:
            return by_code
        words = re.sub(r"[^a-z0-9]+", " ", self.label.lower())
        found = {r for r, pattern in _ROLE_WORDS.items() if pattern.search(words)}
        return found - {"cord"} if found - {"cord"} else found


@dataclass(frozen=True)
class SegMask:
    """What :func:`read_seg` returns: the mask, the segments it was made of, and how it was placed."""

    volume: Volume
    segments: tuple[Segment, ...]
    placed: GridMap | None = None

    def descriptions(self) -> list[str]:
        return [s.describe() for s in self.segments]

    @property
    def reoriented(self) -> str | None:
        """What placing the SEG's frames on the reference grid did, for the provenance; None when
        they were kept as highdicom stacked them."""
        if self.placed is None:
            return None
        p = self.placed
        short = [k for k in range(3) if p.shape[k] != p.target.shape[k]]
        if not short:
            cover = ""
        elif len(short) == 1:
            cover = f"; frames on {p.shape[short[0]]} of its {p.target.shape[short[0]]} slices, the others empty"
        else:
            cover = f"; frames cover {p.shape} of its {p.target.shape} voxels, the others empty"
        return f"{p.describe()} (frames placed on the grid measured on, no interpolation{cover})"


def is_seg(path: str | os.PathLike) -> bool:
    """True for a single DICOM file whose header says Segmentation Storage (or Modality SEG)."""
    import pydicom

    path = Path(path)
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as fh:
            if sniff(fh.read(HEAD_BYTES)) is not None:
                return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True,
                                 specific_tags=["SOPClassUID", "Modality"])
        meta = getattr(ds, "file_meta", None)
        sop = str(ds.get("SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else ""))
        return sop == SEG_SOP_CLASS or str(ds.get("Modality", "")).upper() == "SEG"
    except Exception:  # noqa: BLE001 (only a test: the loader then says what is wrong with the file)
        return False


def find_seg(path: str | os.PathLike) -> Path | None:
    """The DICOM SEG file ``path`` is, or the one file of a folder that holds only it (a SEG series
    exported from a PACS; a DICOMDIR beside it is allowed); None for anything else."""
    path = Path(path)
    if not path.is_dir():
        return path if is_seg(path) else None
    found = None
    for f in path.rglob("*"):
        if f.is_file() and not f.name.startswith(".") and f.name.upper() != "DICOMDIR":
            if found is not None:
                return None  # stops at the second file: a folder of images costs two file names
            found = f
    return found if found is not None and is_seg(found) else None


def segments_of(seg) -> list[Segment]:
    """The segment descriptions of a highdicom ``Segmentation``, by number."""
    out = []
    for item in seg.SegmentSequence:
        cat = item.SegmentedPropertyCategoryCodeSequence[0]
        typ = item.SegmentedPropertyTypeCodeSequence[0]
        out.append(Segment(int(item.SegmentNumber), str(item.get("SegmentLabel", "") or ""),
                           (str(cat.CodingSchemeDesignator), str(cat.CodeValue), str(cat.CodeMeaning)),
                           (str(typ.CodingSchemeDesignator), str(typ.CodeValue), str(typ.CodeMeaning))))
    return sorted(out, key=lambda s: s.number)


def list_segments(path: str | os.PathLike) -> list[Segment]:
    """The segments a SEG file describes (number, label, codes), in segment-number order."""
    return segments_of(_segread(input_path(path)))


def choose_segments(found: Sequence[Segment], choice=None, *, role: str | None = None,
                    path=None) -> list[Segment]:
    """The segments a role takes from a SEG.

    Parameters
    ----------
    found : sequence of Segment
        Every segment of the SEG.
    choice : int, str or sequence of them, optional
        Segment numbers, labels (case-insensitive) or codes "SCHEME:VALUE" (a type or category
        code, e.g. "SCT:108369006"; "SRT" stands for "SCT"). Each must match a segment.
    role : {"lesion", "edema", "cord"}, optional
        Without ``choice``: a SEG of one segment gives it, unless its code or label names another
        role; else the segments whose type code (or, for uncoded ones, label) means ``role``.
        Without a role either, every segment.

    Raises
    ------
    InputError
        A choice that matches no segment, or no segment (or an ambiguous one) for the role; the
        message lists the segments (number, label, code) and the option that chooses them.
    """
    if choice is not None and not (isinstance(choice, (list, tuple)) and not choice):
        items = [choice] if isinstance(choice, (str, int)) else list(choice)
        chosen = {s.number: s for item in items for s in _matching(found, item, role, path)}
        return [chosen[n] for n in sorted(chosen)]
    if role is None:
        return list(found)
    if len(found) == 1:
        # A lone segment is taken for any role unless its code or label names another one: a
        # segment coded Lesion given as --cord is a mistake, not a cord.
        others = found[0].roles() - {role}
        if others and role not in found[0].roles():
            raise _refusal(found, role, path, f"its only segment says it is the {_NAMES[min(others)]}, "
                                              f"not the {_NAMES[role]}")
        return list(found)
    mine = [s for s in found if role in s.roles()]
    shared = [s for s in mine if len(s.roles()) > 1]
    if shared:
        raise _refusal(found, role, path, "segment(s) " + ", ".join(s.describe() for s in shared)
                       + f" could be {' or '.join(sorted(shared[0].roles()))}")
    if not mine:
        raise _refusal(found, role, path, f"no segment says it is the {_NAMES[role]} by its code or label")
    return mine


_NAMES = {"lesion": "lesions", "edema": "edema", "cord": "spinal cord", None: "segments"}


def _matching(found: Sequence[Segment], item, role, path) -> list[Segment]:
    text = str(item).strip()
    if text.isdigit():
        hits = [s for s in found if s.number == int(text)]
    elif re.fullmatch(r"[A-Za-z0-9_.\-]+:[^:\s]+", text):
        scheme, value = text.split(":")
        scheme = _SCHEME_ALIASES.get(scheme.upper(), scheme.upper())
        hits = [s for s in found if any(_SCHEME_ALIASES.get(c[0], c[0]).upper() == scheme and c[1] == value
                                        for c in (s.type, s.category))]
        hits = hits or [s for s in found if s.label.strip().lower() == text.lower()]
    else:
        hits = [s for s in found if s.label.strip().lower() == text.lower()]
    if not hits:
        raise _refusal(found, role, path, f"no segment matches {text!r}")
    return hits


def _refusal(found: Sequence[Segment], role, path, why: str) -> InputError:
    return InputError(f"DICOM SEG: {why}. Its segments: " + "; ".join(s.describe() for s in found) + ".",
                      path=path,
                      hint=f"Choose the {_NAMES[role]} segment(s) with {_choose_with(role, found[0].number)}.")


def read_seg(path: str | os.PathLike, *, segments=None, role: str | None = None,
             reference: Geometry | None = None) -> SegMask:
    """A mask from the segments of a DICOM SEG file.

    Parameters
    ----------
    path : path
        The SEG file.
    segments : int, str or sequence of them, optional
        Which segments (see :func:`choose_segments`); default: those of ``role``.
    role : {"lesion", "edema", "cord"}, optional
        What the mask is for. Lesion segments (and, without a role, all segments chosen) become
        labels 1, 2, ... in segment-number order, one label per segment (a single one: a binary
        mask whose components are the lesions); edema and cord segments are merged into one
        binary mask.
    reference : Geometry, optional
        The grid to put the mask on, usually the image the SEG was drawn on: used when every
        voxel of the SEG falls on one of its voxels (same spacing and axes, up to order and
        sense) and no segmented voxel falls outside it; else the SEG keeps its own grid.

    Returns
    -------
    SegMask
        ``volume`` (uint8 or uint16, LPS geometry), the ``segments`` used and how the frames were
        ``placed`` on ``reference`` (None when kept as stacked).

    Raises
    ------
    InputError
        Not a readable SEG, frames that do not form a regular 3D stack, a segment choice that
        matches nothing or is ambiguous (:func:`choose_segments`), or lesion segments that overlap.
    """
    if role not in (None, *ROLES):
        raise ValueError(f"role must be one of {ROLES} or None, not {role!r}")
    path = input_path(path)
    seg = _segread(path)
    chosen = choose_segments(segments_of(seg), segments, role=role, path=path)
    fractional = str(seg.SegmentationType).upper() == "FRACTIONAL"
    # Several segments as one label image: highdicom combines them (refusing overlaps) without
    # holding a layer per segment, which a SEG of a hundred organs would not fit in memory.
    combine = not fractional and len(chosen) > 1 and role not in ("edema", "cord")
    stack = _stack(seg, chosen, combine, role, path)
    problems = []
    if combine:
        array = np.asarray(stack.array)
    else:
        layers = np.asarray(stack.array)
        if fractional:
            if np.any((layers > 0) & (layers < 1)):
                problems.append(f"fractional segmentation: voxels of fraction {_FRACTION_INSIDE} or more "
                                "counted as inside their segment")
            layers = layers >= _FRACTION_INSIDE
        array = _combined(layers != 0, chosen, role, path)
    geometry = Geometry.from_affine(stack.affine, array.shape)
    placed = None
    if reference is not None and not geometry.same_space(reference):
        placed = geometry.grid_map(reference)
        try:
            array = placed.apply(array) if placed is not None else array
        except ValueError:
            placed = None  # segmented voxels outside the reference: kept whole, on the SEG's own grid
        geometry = reference if placed is not None else geometry
    info = SeriesInfo(source=str(path), modality="SEG", patient_id=str(seg.get("PatientID", "") or ""),
                      study_uid=str(seg.get("StudyInstanceUID", "") or ""),
                      series_uid=str(seg.get("SeriesInstanceUID", "") or ""),
                      series_description=str(seg.get("SeriesDescription", "") or ""))
    slice_axis = placed.order.index(0) if placed is not None else 0
    return SegMask(Volume(array, geometry, info=info, slice_axis=slice_axis, problems=tuple(problems)),
                   tuple(chosen), placed)


def _stack(seg, chosen: list[Segment], combine: bool, role, path):
    """The chosen segments as highdicom stacks them: one label image, or a layer per segment."""
    numbers = [s.number for s in chosen]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stack = seg.get_volume(segment_numbers=numbers, combine_segments=combine, relabel=combine)
    except Exception as exc:  # highdicom raises ValueError, RuntimeError... on frames it cannot stack
        if combine and "overlap" in str(exc):
            raise _overlap(chosen, role, path) from exc
        raise InputError(f"the frames of this DICOM SEG do not form a regular 3D stack ({type(exc).__name__}: "
                         f"{str(exc)[:200]}).", path=path,
                         hint="Export the segmentation on the slices of one series (3D Slicer: Export to "
                              "DICOM with the series as reference), or as NIfTI.") from exc
    if str(getattr(stack.coordinate_system, "value", stack.coordinate_system)).upper() != "PATIENT":
        raise InputError("this DICOM SEG is not in patient coordinates (a slide microscopy SEG?).", path=path,
                         hint="Give a SEG of an MR or CT series.")
    return stack


def _overlap(chosen: list[Segment], role, path) -> InputError:
    return InputError(f"DICOM SEG: segments {'; '.join(s.describe() for s in chosen)} overlap, so they cannot be "
                      f"one label image of separate {_NAMES[role]}.", path=path,
                      hint=f"Choose one of them with {_choose_with(role, chosen[0].number)}.")


def _segread(path: Path):
    import highdicom as hd  # here: its import takes ~0.4 s and only SEG input needs it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return hd.seg.segread(path)
    except Exception as exc:  # pydicom and highdicom raise many types on a bad file
        raise InputError(f"cannot be read as a DICOM SEG ({type(exc).__name__}: {str(exc)[:200]}).", path=path,
                         hint="Export the segmentation again, or give it as NIfTI.") from exc


def _combined(layers: np.ndarray, chosen: list[Segment], role: str | None, path) -> np.ndarray:
    """``layers[..., k]`` (segment ``chosen[k]``) as one mask: labels 1..n, or their union."""
    if role in ("edema", "cord") or layers.shape[-1] == 1:
        return layers.any(axis=-1).astype(np.uint8)
    counts = layers.sum(axis=-1)
    if np.any(counts > 1):
        raise _overlap([s for k, s in enumerate(chosen) if np.any(layers[..., k] & (counts > 1))], role, path)
    labels = np.zeros(layers.shape[:3], np.uint8 if len(chosen) < 256 else np.uint16)
    for k in range(layers.shape[-1]):
        labels[layers[..., k]] = k + 1
    return labels

