"""Which file of a study folder or a BIDS session plays which part of a study.

Name rules (:data:`FOLDER_NAMES`, :data:`BIDS_NAMES`), image candidates from DICOM series and
NIfTI files, BIDS entities and sidecar identifiers, and the SHA-256 of the files read. Assembling
the parts into a :class:`lesionview.study.Study` is :mod:`lesionview.study`'s job.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..series import Role

#: The key of an image in :attr:`lesionview.study.Study.images`, by its series role.
ROLE_KEYS = {Role.T1_POST: "t1c", Role.T1: "t1", Role.T2: "t2", Role.STIR: "stir", Role.OTHER: "other"}
#: How refusals name each part.
ROLE_NAMES = {"lesions": "lesion mask", "edema": "edema mask", "cord": "cord mask", "centerline": "centerline",
              "levels": "levels"}


def sha256(path, files=None) -> str:
    """Hash of a file, or of a folder's files in sorted order (names relative to it, and bytes).

    ``files`` restricts a folder to those files (e.g. one DICOM series of a study folder).
    """
    path = Path(path)
    h = hashlib.sha256()
    if files is not None:
        chosen = sorted(Path(f) for f in files)
    else:
        chosen = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in chosen:
        if path.is_dir():
            h.update(os.fsencode(f.relative_to(path)))
        try:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except OSError as exc:
            raise InputError(f"cannot be read ({exc.strerror or exc}).", path=f,
                             hint="Check that it exists and that you may read it.") from exc
    return h.hexdigest()


@dataclass
class Candidate:
    """An image a folder offers for a role, loaded only when chosen."""

    key: str
    load: object          # () -> Volume
    path: Path
    files: list | None = None   # a DICOM series' files (its folder may hold others)
    grid: object = None   # Geometry, when known without loading the pixels

    def geometry(self):
        return self.load().geometry if self.grid is None else self.grid   # NIfTI loads are cached


#: Names of a study folder's parts (fnmatch on the lower-case name; the first role that matches wins).
FOLDER_NAMES = {
    "centerline": ("*centerline*.nii*",),
    "levels": ("landmarks*.csv", "landmarks*.json", "landmarks*.fcsv", "*_label-disc*.nii*", "*_labels-disc*.nii*",
               "levels*.nii*"),
    "lesions": ("lesion*.nii*", "lesion*.dcm", "*_label-lesion_seg*.nii*"),
    "edema": ("edema*.nii*", "oedema*.nii*", "edema*.dcm", "*_label-edema_seg*.nii*"),
    "cord": ("cord*.nii*", "cord*.dcm", "*_label-sc_seg*.nii*"),
}
#: Names in a BIDS ``derivatives/labels`` session folder (spinal cord community conventions, old and new).
BIDS_NAMES = {
    "centerline": ("*_centerline*.nii*",),
    "levels": ("*_label-disc*.nii*", "*_labels-disc*.nii*", "landmarks*.csv", "landmarks*.json", "*.mrk.json"),
    "lesions": ("*_label-lesion_seg*.nii*", "*_lesion-manual*.nii*"),
    "edema": ("*_label-edema_seg*.nii*",),
    "cord": ("*_label-sc_seg*.nii*", "*_seg-manual*.nii*"),
}
#: Formats of one file, most preferred first (the same landmarks as CSV and JSON count once).
_SUFFIXES = (".nii.gz", ".nii", ".dcm", ".csv", ".mrk.json", ".json", ".fcsv")


def stem(path: Path) -> tuple[str, int]:
    name = path.name.lower()
    for rank, suffix in enumerate(_SUFFIXES):
        if name.endswith(suffix):
            return name[: -len(suffix)], rank
    return name, len(_SUFFIXES)


def role_of(path: Path, names: dict) -> str | None:
    from fnmatch import fnmatchcase

    return next((role for role, patterns in names.items()
                 if any(fnmatchcase(path.name.lower(), p) for p in patterns)), None)


def find_parts(files: list[Path], names: dict, where: Path) -> dict[str, Path]:
    """The one file of each role among ``files``; refused when a role has two (other than formats
    of one file, or a soft segmentation beside its binary one)."""
    found: dict[str, dict[str, list]] = {}
    for f in files:
        role = role_of(f, names)
        if role is not None:
            name, rank = stem(f)
            found.setdefault(role, {}).setdefault(name, []).append((rank, f))
    out = {}
    for role, stems in found.items():
        if len(stems) > 1:   # a soft segmentation is a companion of the binary one, not a rival
            stems = {s: v for s, v in stems.items() if "softseg" not in s} or stems
        if len(stems) > 1:
            listed = ", ".join(sorted(f.name for v in stems.values() for _, f in v))
            raise InputError(f"holds {len(stems)} {ROLE_NAMES[role]} files ({listed}): which one is the study's "
                             "is ambiguous.", path=where,
                             hint="Keep one there (move the others out), or give the files explicitly "
                                  "(Study.from_paths, lesionview measure).")
        out[role] = min(next(iter(stems.values())))[1]
    return out


def dicom_in(folder: Path) -> tuple[list, list[Path]]:
    """The DICOM image series anywhere under ``folder`` (headers only) and its DICOM SEG files."""
    from .dicom import scan
    from .seg import is_seg

    found = scan(folder)
    segs = [folder / i.path for i in found.ignored if i.kind != "not-dicom" and is_seg(folder / i.path)]
    series = []
    for s in found.series:
        if is_seg(s.files[0]):
            segs.append(Path(s.files[0]))
        else:
            series.append(s)
    series = [Candidate(ROLE_KEYS[s.info.role], s.load, Path(os.path.commonpath(s.files)), s.files, s.geometry)
              for s in series]
    return series, sorted(set(segs))


def nifti_images(files: list[Path], names: dict) -> list[Candidate]:
    """NIfTI files that are not masks, by the role their name says (``t1c``, ``T2w``...)."""
    from functools import cache

    from ..series import SeriesInfo, guess_role
    from .nifti import read_nifti

    out = []
    for f in files:
        if stem(f)[1] > 1 or role_of(f, names) is not None:
            continue
        role, _ = guess_role(SeriesInfo(series_description=f.name.split(".")[0]))
        if role is not Role.OTHER:
            out.append(Candidate(ROLE_KEYS[role], cache(lambda f=f: read_nifti(f)), f))
    return out


def bids_images(anat: Path) -> list[Candidate]:
    """The anatomical images of a BIDS session folder, keyed by suffix (and ``ce-`` entity)."""
    from functools import cache

    from .nifti import read_nifti

    out = []
    for f in sorted(anat.iterdir()):
        name, rank = stem(f)
        if rank > 1:
            continue
        parts = name.split("_")
        suffix = {"t1w": "t1", "t2w": "t2", "stir": "stir"}.get(parts[-1])
        if suffix is None:
            continue
        key = "t1c" if suffix == "t1" and any(e.startswith("ce-") for e in parts) else suffix
        out.append(Candidate(key, cache(lambda f=f: read_nifti(f)), f))
    return out


def entities(folder: Path, prefix: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith(prefix)) \
        if folder.is_dir() else []


def bids_session(path: Path) -> tuple[Path, str, str | None] | None:
    """``(root, subject, session)`` when ``path`` is a BIDS session (or subject, or its anat) folder."""
    path = path.resolve()
    if path.name == "anat":
        path = path.parent
    if path.name.startswith("ses-") and path.parent.name.startswith("sub-"):
        return path.parent.parent, path.parent.name, path.name
    if path.name.startswith("sub-") and ((path / "anat").is_dir() or entities(path, "ses-")):
        return path.parent, path.name, None
    return None


def bids_identifiers(images: list[Path], subject_dir: Path, sub: str, ses: str | None) -> dict[str, str]:
    """Patient ID, study UID and date from the sidecar JSONs of ``images`` (the first that has each),
    else the subject label and the session's ``acq_time`` in ``sub-*_sessions.tsv``."""
    import json

    found: dict[str, str] = {}
    for image in images:
        sidecar = image.with_name(image.name[: len(stem(image)[0])] + ".json")
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        date = meta.get("StudyDate") or meta.get("AcquisitionDate") or str(meta.get("AcquisitionDateTime", ""))[:10]
        for key, value in (("patient_id", meta.get("PatientID")), ("study_uid", meta.get("StudyInstanceUID")),
                           ("study_date", str(date or "").replace("-", "")[:8])):
            if value and key not in found:
                found[key] = str(value)
    if "study_date" not in found and ses is not None:
        date = session_date(subject_dir / f"{sub}_sessions.tsv", ses)
        if date:
            found["study_date"] = date
    found.setdefault("patient_id", sub)
    return found


def session_date(tsv: Path, ses: str) -> str | None:
    """The session's date from the ``acq_time`` column of ``sub-<s>_sessions.tsv`` (YYYYMMDD)."""
    import csv

    try:
        with open(tsv, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row.get("session_id") == ses and row.get("acq_time"):
                    return row["acq_time"][:10].replace("-", "")
    except OSError:
        return None
    return None
