"""The studies of a batch: found in a BIDS dataset, a folder of study folders or a CSV manifest.

A :class:`Job` is what a worker receives: paths and labels, never arrays. It loads its study on
the worker (:meth:`Job.load`) and names the files whose content decides whether an earlier
output is still current (:meth:`Job.input_files`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

#: Manifest columns naming the subject and the session (BIDS participants.tsv and sessions.tsv names
#: first); every other column is a study argument (:data:`lesionview.study.MANIFEST_KEYS`) or ``study``.
SUBJECT_COLUMNS = ("participant_id", "subject")
SESSION_COLUMNS = ("session_id", "session")


@dataclass(frozen=True)
class Job:
    """One study to measure: where it is, and the BIDS subject and session it is written as.

    ``kind`` is ``"bids"`` (``path`` is the dataset; ``spec`` holds the subject and session
    folders' own names, which the labels clean), ``"study"`` (``path`` is a study folder or study
    JSON, :func:`lesionview.study.load_study`) or ``"spec"`` (``spec`` holds
    :meth:`lesionview.study.Study.from_paths` arguments, relative to ``path``, a manifest's folder).
    Paths are absolute: a worker of a remote cluster has another working folder.
    """

    subject: str
    session: str | None
    kind: str
    path: Path
    spec: dict = field(default_factory=dict)
    #: Where the job was declared, for messages: the manifest's file and row, or the folder.
    origin: str = ""

    @property
    def name(self) -> str:
        """``sub-01/ses-02``: how the batch report and the progress name the study."""
        return f"sub-{self.subject}" + (f"/ses-{self.session}" if self.session else "")

    def load(self):
        """The :class:`lesionview.study.Study` (on the worker)."""
        from ..study import Study, load_study, study_from_spec

        if self.kind == "bids":
            return Study.from_bids(self.path, self.spec["subject"], self.spec["session"])
        if self.kind == "spec":
            return study_from_spec(self.spec, self.path, where=self.origin, what="a study row")
        return load_study(self.path)

    def input_files(self) -> list[Path]:
        """The files and folders whose content the outputs depend on (hashed for resumption): a
        BIDS session's image and label folders, a study JSON and the files it names, a manifest
        row's files, or a study folder (every file under it)."""
        from ..io.study_files import bids_session

        if self.kind == "bids":
            return _bids_folders(self.path, self.spec["subject"], self.spec["session"])
        if self.kind == "spec":
            return _spec_paths(self.spec, self.path)
        if self.path.is_file():
            return [self.path, *_spec_paths(_json_spec(self.path), self.path.parent)]
        session = bids_session(self.path)
        return _bids_folders(*session) if session else [self.path]

    def fingerprint(self) -> dict:
        """What the outputs depend on besides file content: how the study is put together (a
        manifest row's options and which file plays which part)."""
        return {"kind": self.kind, "spec": {k: self.spec[k] for k in sorted(self.spec)}}


def _bids_folders(root: Path, subject: str, session: str | None) -> list[Path]:
    rel = Path(subject, *([session] if session else []), "anat")
    return [root / rel, root / "derivatives" / "labels" / rel]


def _spec_paths(spec: dict, base: Path) -> list[Path]:
    from ..study import PATH_KEYS

    return [base / str(spec[k]) for k in PATH_KEYS if spec.get(k)]


def _json_spec(path: Path) -> dict:
    """The arguments of a study JSON (empty when unreadable: loading it says why)."""
    import json

    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return spec if isinstance(spec, dict) else {}


def find_jobs(source: str | Path, *, participants: list[str] | None = None,
              sessions: list[str] | None = None) -> tuple[list[Job], list[tuple[str, str]]]:
    """The studies of ``source``, and those left out with why: ``(jobs, [(name, reason)])``.

    Parameters
    ----------
    source : path
        A BIDS dataset (``dataset_description.json`` and ``sub-*``; lesion masks under
        ``derivatives/labels``), a folder of study folders (each a
        :func:`lesionview.study.load_study` input; the folder name becomes the subject label), or a
        CSV manifest (one study per row; see :func:`manifest_jobs`).
    participants, sessions : list of str, optional
        Only these subject and session labels (with or without ``sub-``/``ses-``).

    Raises
    ------
    InputError
        The source is none of those, or a label asked for is not there.
    """
    from ..io import input_path

    path = input_path(source, expect="a BIDS dataset, a folder of study folders or a CSV manifest").absolute()
    if path.is_file():
        if path.suffix.lower() not in (".csv", ".tsv"):
            raise InputError("is a file but not a CSV manifest.", path=path,
                             hint="Give a BIDS dataset, a folder of study folders, or a .csv/.tsv with one row "
                                  "per study.")
        jobs, left = manifest_jobs(path), []
    elif (path / "dataset_description.json").is_file():
        jobs, left = bids_jobs(path)
    else:
        jobs, left = folder_jobs(path), []
    return _chosen(jobs, left, path, _labels(participants, "sub", path), _labels(sessions, "ses", path))


def _labels(values: list[str] | None, key: str, where: Path) -> set[str] | None:
    return {bids_label(v, key, where) for v in values} if values else None


def _chosen(jobs: list[Job], left: list[tuple[Job, str]], where: Path, subjects: set[str] | None,
            sessions: set[str] | None) -> tuple[list[Job], list[tuple[str, str]]]:
    """The jobs and left-out sessions of the subjects and sessions asked for; a label asked for that
    is not there is refused."""
    everything = jobs + [job for job, _ in left]
    for asked, key, what in ((subjects, "subject", "subject"), (sessions, "session", "session")):
        there = {getattr(j, key) for j in everything} - {None}
        missing = sorted((asked or set()) - there)
        if missing:
            raise InputError(f"has no {what} {', '.join(missing)}.", path=where,
                             hint=f"{what.capitalize()}s there: {', '.join(sorted(there)) or 'none'}.")

    def wanted(job: Job) -> bool:
        return (subjects is None or job.subject in subjects) and (sessions is None or job.session in sessions)

    return [j for j in jobs if wanted(j)], [(j.name, why) for j, why in left if wanted(j)]


def bids_jobs(root: Path) -> tuple[list[Job], list[tuple[Job, str]]]:
    """One job per session of a BIDS dataset with a lesion mask in ``derivatives/labels``; the
    sessions without one are left out, with the reason (healthy controls have none). A session
    whose labels are ambiguous (two lesion masks) is a job: it fails alone, saying why."""
    from ..io.study_files import BIDS_NAMES, entities, find_parts

    jobs, left = [], []
    for sub in entities(root, "sub-"):
        for ses in entities(root / sub, "ses-") or [None]:
            rel = Path(sub, *([ses] if ses else []), "anat")
            if not (root / rel).is_dir():
                continue
            job = Job(bids_label(sub, "sub", root / sub), bids_label(ses, "ses", root / rel) if ses else None,
                      "bids", root, spec={"subject": sub, "session": ses}, origin=str(root / rel))
            labels = root / "derivatives" / "labels" / rel
            files = sorted(p for p in labels.iterdir() if p.is_file()) if labels.is_dir() else []
            try:
                has_lesions = find_parts(files, BIDS_NAMES, labels).get("lesions") is not None
            except InputError:
                has_lesions = True
            if has_lesions:
                jobs.append(job)
            else:
                left.append((job, f"no lesion mask (*_label-lesion_seg) in {labels}"))
    _refuse_duplicates(jobs + [j for j, _ in left], root)
    return jobs, left


def folder_jobs(folder: Path) -> list[Job]:
    """One job per study folder or study JSON in ``folder``; the subject label is its name with
    every character BIDS does not allow in a label removed (``"patient_01"`` -> ``"patient01"``)."""
    from ..io.study_files import FOLDER_NAMES, find_parts

    files = sorted(p for p in folder.iterdir() if p.is_file())
    try:
        one_study = find_parts(files, FOLDER_NAMES, folder).get("lesions") is not None
    except InputError:
        one_study = True
    if one_study:
        raise InputError("is one study (it holds a lesion mask), not a folder of studies.", path=folder,
                         hint="Give the folder above it, which holds one folder per study; or measure this "
                              "study with lesionview measure or report.")
    entries = sorted(p for p in folder.iterdir()
                     if not p.name.startswith(".") and (p.is_dir() or p.name.lower().endswith(".json")))
    jobs = [Job(bids_label(p.stem if p.is_file() else p.name, "sub", p), None, "study", p, origin=str(p))
            for p in entries]
    if not jobs:
        raise InputError("holds no study folder.", path=folder,
                         hint="Give a folder with one subfolder (or study JSON) per study, a BIDS dataset, or a CSV "
                              "manifest.")
    _refuse_duplicates(jobs, folder)
    return jobs


def manifest_jobs(path: Path) -> list[Job]:
    """One job per row of a CSV (or TSV) manifest.

    Columns: ``participant_id`` (or ``subject``), optionally ``session_id`` (or ``session``), then
    either ``study`` (a study folder or study JSON) or the study's parts by the keys of a study
    JSON (``lesions``, ``image``, ``edema``, ``cord``, ``levels``, ``levels_kind``...). Paths are
    relative to the manifest's folder; an empty cell is no value.
    """
    from ..study import MANIFEST_KEYS

    header, rows = _read_rows(path)
    subject_col = next((c for c in SUBJECT_COLUMNS if c in header), None)
    session_col = next((c for c in SESSION_COLUMNS if c in header), None)
    known = {*SUBJECT_COLUMNS, *SESSION_COLUMNS, "study", *MANIFEST_KEYS}
    unknown = sorted(header - known)
    if subject_col is None or unknown or not ({"study", "lesions"} & header):
        problem = (f"unknown columns {', '.join(unknown)}" if unknown else
                   "no participant_id column" if subject_col is None else "no study or lesions column")
        raise InputError(f"is not a batch manifest ({problem}).", path=path,
                         hint="Columns: participant_id, optionally session_id, then study (a study folder or JSON) "
                              f"or lesions and any of {', '.join(MANIFEST_KEYS[1:])}.")
    jobs = []
    for number, row in enumerate(rows, start=2):   # row 1 is the header
        origin = f"{path} (row {number})"
        cells = {k.strip(): v.strip() for k, v in row.items() if k is not None and v and v.strip()}
        if not cells:       # a blank row (spreadsheets export trailing ",,,")
            continue
        if not cells.get(subject_col):
            raise InputError(f"row {number} has no {subject_col}.", path=path, hint="Name the subject of every row.")
        subject = bids_label(cells.pop(subject_col), "sub", origin)
        session = cells.pop(session_col, None) if session_col else None
        session = bids_label(session, "ses", origin) if session else None
        if "study" in cells:
            jobs.append(Job(subject, session, "study", (path.parent / cells["study"]).absolute(), origin=origin))
        else:
            jobs.append(Job(subject, session, "spec", path.parent, spec=_typed(cells, number, path), origin=origin))
    if not jobs:
        raise InputError("lists no study.", path=path, hint="Add one row per study below the header.")
    _refuse_duplicates(jobs, path)
    return jobs


def _read_rows(path: Path) -> tuple[set[str], list[dict]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot be read as a UTF-8 table ({exc}).", path=path,
                         hint="Save the manifest as UTF-8 CSV.") from exc
    reader = csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    rows = list(reader)
    return {c.strip() for c in reader.fieldnames or ()}, rows


#: Manifest columns that are not text: booleans, and lists (several segments of a DICOM SEG: "1;3").
_BOOLEANS = ("resample",)
_LISTS = ("lesion_segment", "edema_segment", "cord_segment")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _typed(cells: dict[str, str], number: int, path: Path) -> dict:
    """A manifest row's study arguments with booleans and lists parsed."""
    out = dict(cells)
    for key in _BOOLEANS:
        if key in out:
            value = out[key].lower()
            if value not in _TRUE + _FALSE:
                raise InputError(f"row {number}: {key} is {cells[key]!r}, not true or false.", path=path,
                                 hint=f"Write {key} as true or false (or leave it empty: false).")
            out[key] = value in _TRUE
    for key in _LISTS:
        if key in out:
            out[key] = [v.strip() for v in out[key].split(";") if v.strip()]
    return out


def bids_label(text: str, key: str, where) -> str:
    """A BIDS label from a folder name, a manifest cell or a ``--participant-label``: its ``sub-``
    or ``ses-`` prefix dropped, and only letters and digits kept (``-`` and ``_`` separate
    entities in file names): ``"sub-patient_01"`` -> ``"patient01"``."""
    label = re.sub(r"[^A-Za-z0-9]", "", str(text).removeprefix(f"{key}-"))
    if not label:
        raise InputError(f"gives no usable subject or session label ({text!r}: BIDS labels are letters and "
                         "digits).", path=where, hint="Rename it, or list the studies in a CSV manifest.")
    return label


def _refuse_duplicates(jobs: list[Job], where: Path) -> None:
    seen: dict[str, Job] = {}
    for job in jobs:
        if job.name in seen:
            raise InputError(f"gives two studies the same name {job.name} ({seen[job.name].origin} and "
                             f"{job.origin}).", path=where,
                             hint="Give each study its own participant_id and session_id.")
        seen[job.name] = job
