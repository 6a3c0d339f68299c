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

    ``kind`` is ``"bids"`` (``root`` is the dataset), ``"study"`` (``path`` is a study folder or
    study JSON, :func:`lesionview.study.load_study`) or ``"spec"`` (``spec`` holds
    :meth:`lesionview.study.Study.from_paths` arguments, relative to ``path``, a manifest's folder).
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
            return Study.from_bids(self.path, self.subject, self.session)
        if self.kind == "spec":
            return study_from_spec(self.spec, self.path, where=self.origin, what="a study row")
        return load_study(self.path)

    def input_files(self) -> list[Path]:
        """The files and folders whose content the outputs depend on (hashed for resumption)."""
        if self.kind == "bids":
            rel = Path(f"sub-{self.subject}", *([f"ses-{self.session}"] if self.session else []), "anat")
            return [self.path / rel, self.path / "derivatives" / "labels" / rel]
        if self.kind == "spec":
            from ..study import PATH_KEYS

            return [self.path / self.spec[k] for k in PATH_KEYS if self.spec.get(k)]
        return [self.path]


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

    path = input_path(source, expect="a BIDS dataset, a folder of study folders or a CSV manifest")
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
    return _chosen(jobs, left, path, _labels(participants, "sub"), _labels(sessions, "ses"))


def _labels(values: list[str] | None, key: str) -> set[str] | None:
    return {v.removeprefix(f"{key}-") for v in values} if values else None


def _chosen(jobs: list[Job], left, where: Path, subjects: set[str] | None, sessions: set[str] | None):
    missing = (subjects or set()) - {j.subject for j in jobs} - {n.split("/")[0][4:] for n, _ in left}
    if missing:
        raise InputError(f"has no subject {', '.join(sorted(missing))}.", path=where,
                         hint=f"Subjects there: {', '.join(sorted({j.subject for j in jobs})) or 'none'}.")
    keep = [j for j in jobs if (subjects is None or j.subject in subjects)
            and (sessions is None or j.session in sessions)]
    kept_left = [(n, r) for n, r in left if subjects is None or n.split("/")[0][4:] in subjects]
    return keep, kept_left


def bids_jobs(root: Path) -> tuple[list[Job], list[tuple[str, str]]]:
    """One job per session of a BIDS dataset with a lesion mask in ``derivatives/labels``; the
    sessions without one are left out, with the reason (healthy controls have none)."""
    from ..io.study_files import BIDS_NAMES, entities, find_parts

    jobs, left = [], []
    for sub in entities(root, "sub-"):
        sessions = entities(root / sub, "ses-") or [None]
        for ses in sessions:
            rel = Path(sub, *([ses] if ses else []), "anat")
            if not (root / rel).is_dir():
                continue
            job = Job(sub[4:], ses[4:] if ses else None, "bids", root, origin=str(root / rel))
            labels = root / "derivatives" / "labels" / rel
            files = sorted(p for p in labels.iterdir() if p.is_file()) if labels.is_dir() else []
            if find_parts(files, BIDS_NAMES, labels).get("lesions") is None:
                left.append((job.name, f"no lesion mask (*_label-lesion_seg) in {labels}"))
            else:
                jobs.append(job)
    return jobs, left


def folder_jobs(folder: Path) -> list[Job]:
    """One job per study folder or study JSON in ``folder``; the subject label is its name with
    every character BIDS does not allow in a label removed (``"patient_01"`` -> ``"patient01"``)."""
    entries = sorted(p for p in folder.iterdir()
                     if not p.name.startswith(".") and (p.is_dir() or p.name.lower().endswith(".json")))
    jobs = [Job(_bids_label(p.stem if p.is_file() else p.name, p), None, "study", p, origin=str(p))
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
        if not cells.get(subject_col):
            raise InputError(f"row {number} has no {subject_col}.", path=path, hint="Name the subject of every row.")
        subject = _bids_label(cells.pop(subject_col).removeprefix("sub-"), origin)
        session = cells.pop(session_col, None) if session_col else None
        session = _bids_label(session.removeprefix("ses-"), origin) if session else None
        if "study" in cells:
            jobs.append(Job(subject, session, "study", path.parent / cells["study"], origin=origin))
        else:
            jobs.append(Job(subject, session, "spec", path.parent, spec=cells, origin=origin))
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


def _bids_label(text: str, where) -> str:
    """A BIDS label: letters and digits only (``-`` and ``_`` separate entities in file names)."""
    label = re.sub(r"[^A-Za-z0-9]", "", text)
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
