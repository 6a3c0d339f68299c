"""The group level of ``lesionview batch``: one cohort table, its summary, plots and page.

It reads what the participant level wrote, every
``OUT_DIR/sub-<s>/[ses-<t>/]anat/<prefix>_desc-lesions_measurements.tsv``, and writes into
``OUT_DIR/group/``:

- ``cohort_measurements.tsv`` (+ ``.json`` data dictionary): one row per lesion and per edema
  region of every session, with ``participant_id`` and ``session_id`` first; the pair rows of the
  session tables are left out (a cohort is counted in lesions and edema regions);
- ``cohort_summary.json``: counts, multiplicity classes by session, the distribution of lesion
  diameters, sessions with longitudinally extensive edema and lesions per vertebral level;
- three plots (:mod:`.group_page`) and ``cohort.html``, a page of all of it.

Every value is a measurement as the session tables hold it: nothing here interprets them.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from .. import __version__
from ..errors import InputError, LesionviewError
from ..io.atomic import atomic_path
from ..levels import names
from . import derivatives

GROUP = "group"
TABLE = "cohort_measurements.tsv"
SUMMARY = "cohort_summary.json"
PAGE = "cohort.html"
#: The multiplicity classes of a session (:class:`lesionview.measure.MultiplicityClass`), written
#: out so that reading tables does not import the measuring code (scipy and all: 0.4 s).
MULTIPLICITY = ("solitary", "adjacent pair", "multiple", "none")

# BIDS labels are alphanumeric; the participant level names files sub-<s>[_ses-<t>]_desc-...
_NAME = re.compile(rf"^(sub-[a-zA-Z0-9]+)(?:_(ses-[a-zA-Z0-9]+))?_{derivatives.MEASUREMENTS}\.tsv$")
_RERUN = "Run the participant level again for this session (with --force), or remove the file."


def levels_spanned(label: str | None) -> tuple[str, ...]:
    """The vertebral levels of a span label, superior first: ``"C7-T1"`` -> ``("C7", "T1")``.

    ``()`` for a region without levels (``""`` or ``"unknown"``). A level counted per lesion
    counts every level of the span, not only its ends.

    Examples
    --------
    >>> levels_spanned("C5-C7")
    ('C5', 'C6', 'C7')
    """
    if not label or label == "unknown":
        return ()
    first, _, last = label.partition("-")
    top, bottom = names.index_of(first), names.index_of(last or first)
    if bottom < top:
        raise InputError(f"{label!r} runs upwards: a span names its most superior level first.")
    return tuple(names.name_of(i) for i in range(top, bottom + 1))


def _levels(value):
    """pydantic sees a ValueError as a bad value; a level name's InputError would escape as a bug."""
    try:
        return levels_spanned(value)
    except LesionviewError as exc:
        raise ValueError(exc.problem) from exc


class _Row(BaseModel):
    """The cells of a session-table row that the group level computes with, checked."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    id: int

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, row: dict) -> dict:
        return {k: (None if v == "" else v) for k, v in row.items()}


class LesionRow(_Row):
    """A lesion row: its levels as the names spanned, its diameter, edema and the session's class."""

    levels: Annotated[tuple[str, ...], BeforeValidator(_levels)]
    max_diameter_mm: float
    edema_id: int | None = None
    multiplicity: Literal["solitary", "adjacent pair", "multiple"]


class EdemaRow(_Row):
    """An edema row: its extent in levels and the lesions inside it."""

    level_count: int | None = None
    longitudinally_extensive: bool | None = None
    lesion_ids: Annotated[tuple[int, ...], BeforeValidator(lambda v: (v or "").split())]


#: Session-table columns the group level cannot do without.
REQUIRED = sorted({"kind"} | set(LesionRow.model_fields) | set(EdemaRow.model_fields))


@dataclass(frozen=True)
class SessionTable:
    """One session's measurements table: its lesion and edema rows as text (for the cohort
    table) and as checked values (for the summary and plots)."""

    participant: str          # "sub-01"
    session: str | None       # "ses-01", None when the subject has no sessions
    path: Path
    rows: list[dict[str, str]]
    lesions: list[LesionRow]
    edema: list[EdemaRow]

    @property
    def multiplicity(self) -> str:
        """The session's multiplicity class: every lesion row carries it; "none" without lesions."""
        return self.lesions[0].multiplicity if self.lesions else "none"


@dataclass(frozen=True)
class GroupResult:
    """What :func:`write_group` wrote, and what the cohort holds."""

    table: Path
    dictionary: Path
    summary: Path
    plots: tuple[Path, ...]
    page: Path
    participants: int
    sessions: int
    lesions: int
    edema: int

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.table, self.dictionary, self.summary, *self.plots, self.page)


def find_session_tables(out_dir: str | os.PathLike) -> list[Path]:
    """Every session's measurements table under ``out_dir`` that its provenance record vouches for
    (the participant level writes the record last; a table without one is of a run that did not
    finish that session, and is left out).

    Raises
    ------
    InputError
        There is none: the participant level has not run (or wrote nothing) in ``out_dir``.
    """
    out_dir = Path(out_dir)
    pattern = f"*_{derivatives.MEASUREMENTS}.tsv"
    found = sorted([*out_dir.glob(f"sub-*/anat/{pattern}"), *out_dir.glob(f"sub-*/ses-*/anat/{pattern}")])
    record = f"_{derivatives.PROVENANCE}.json"
    paths = [p for p in found if p.with_name(p.name.replace(f"_{derivatives.MEASUREMENTS}.tsv", record)).is_file()]
    if not paths:
        raise InputError(f"holds no session measurements (sub-*/[ses-*/]anat/{pattern}).", path=out_dir,
                         hint="Run the participant level first: lesionview batch INPUT OUT_DIR participant.")
    return paths


def read_session_table(path: str | os.PathLike) -> SessionTable:
    """One session's table, its participant and session taken from the file name.

    Raises
    ------
    InputError
        The name is not a BIDS measurements name, or lies in another subject's or session's
        folder; the table is not UTF-8, lacks a column the group level needs, has a row of the
        wrong length or a value that is not what its column holds.
    """
    path = Path(path)
    match = _NAME.match(path.name)
    if match is None:
        raise InputError(f"is not named sub-<label>[_ses-<label>]_{derivatives.MEASUREMENTS}.tsv.",
                         path=path, hint="Rename or remove it.")
    participant, session = match.groups()
    folder = derivatives.session_folder("", participant, session).parts
    if path.parent.parts[-len(folder):] != folder:
        raise InputError(f"is named for {derivatives.prefix(participant, session)} but lies in "
                         f"{path.parent}.", path=path, hint="Move it to its own session's folder.")
    header, rows = _read(path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"is not a measurements table: column(s) {', '.join(missing)} missing.",
                         path=path, hint=_RERUN)
    kept, lesions, edema = [], [], []
    for line, row in enumerate(rows, start=2):
        if None in row or None in row.values():  # csv.DictReader's marks of a row too long or too short
            raise InputError(f"line {line} has {'more' if None in row else 'fewer'} cells than the header's "
                             f"{len(header)}.", path=path, hint=_RERUN)
        kind = row["kind"]
        if kind == "lesion":
            lesions.append(_checked(LesionRow, row, path, line))
        elif kind == "edema":
            edema.append(_checked(EdemaRow, row, path, line))
        elif kind == "pair":
            continue  # pairs stay in the session tables
        else:
            raise InputError(f"line {line}: kind {kind!r} is not lesion, edema or pair.", path=path, hint=_RERUN)
        kept.append(row)
    if len({les.multiplicity for les in lesions}) > 1:
        raise InputError("lesion rows disagree on the session's multiplicity.", path=path, hint=_RERUN)
    return SessionTable(participant, session, path, kept, lesions, edema)


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a BIDS TSV (``derivatives.read_tsv``'s rows), as an InputError when
    the file cannot be read as text. The header is read apart because a session without lesions has
    no row to take it from."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh, delimiter="\t"), [])
        return header, derivatives.read_tsv(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot be read as a UTF-8 tab-separated table ({exc}).", path=path, hint=_RERUN) from exc


def _checked(model: type[_Row], row: dict[str, str], path: Path, line: int) -> _Row:
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'} {e['input']!r}: "
                             f"{e['msg'].removeprefix('Value error, ').rstrip('.')}" for e in exc.errors())
        raise InputError(f"line {line} ({row['kind']}): {problems}.", path=path, hint=_RERUN) from exc


def read_sessions(out_dir: str | os.PathLike) -> list[SessionTable]:
    """Every session's table under ``out_dir`` (:func:`find_session_tables`, :func:`read_session_table`),
    sorted by participant then session label."""
    tables = [read_session_table(p) for p in find_session_tables(out_dir)]
    return sorted(tables, key=lambda s: (s.participant, s.session or ""))


def cohort_rows(sessions: list[SessionTable]) -> list[dict[str, str]]:
    """The cohort table: each session's lesion and edema rows, in order, after its participant and session."""
    return [{"participant_id": s.participant, "session_id": s.session or "", **row}
            for s in sessions for row in s.rows]


def cohort_columns() -> list[str]:
    """The cohort table's columns: who, then the session table's columns unchanged."""
    return ["participant_id", "session_id", *derivatives.columns()]


def cohort_dictionary() -> dict:
    """The cohort table's data dictionary: the session table's, saying which rows are left out."""
    dictionary = derivatives.data_dictionary(cohort_columns())
    dictionary["kind"]["Description"] = (
        "What the row describes: 'lesion' (one connected enhancing lesion) or 'edema' (one connected "
        "T2-hyperintense region). The session tables' 'pair' rows (two lesions and the gap between them) "
        "are left out here, so the pair columns are n/a; read them in each session's measurements table.")
    return dictionary


def cohort_summary(sessions: list[SessionTable]) -> dict:
    """Counts, multiplicity by session, lesion diameters, extensive edema and lesions per level."""
    lesions = [les for s in sessions for les in s.lesions]
    multiplicity = dict.fromkeys(MULTIPLICITY, 0)
    for s in sessions:
        multiplicity[s.multiplicity] += 1
    return {
        "lesionview_version": __version__,
        "counts": {
            "participants": len({s.participant for s in sessions}),
            "sessions": len(sessions),
            "sessions_with_lesions": sum(bool(s.lesions) for s in sessions),
            "lesions": len(lesions),
            "edema_regions": sum(len(s.edema) for s in sessions),
        },
        "multiplicity_by_session": multiplicity,
        "max_diameter_mm": distribution([les.max_diameter_mm for les in lesions]),
        "sessions_with_longitudinally_extensive_edema": sum(
            any(ed.longitudinally_extensive for ed in s.edema) for s in sessions),
        "lesions_per_level": lesions_per_level(lesions),
        "lesions_without_levels": sum(not les.levels for les in lesions),
        "definitions": {
            "sessions": "A participant's session, or the participant when it has no sessions.",
            "multiplicity_by_session": "Sessions per multiplicity class of their lesions; 'none': no lesion.",
            "max_diameter_mm": "Maximum 3D diameter of every lesion: median, quartiles (linear "
                               "interpolation), interquartile range, minimum and maximum.",
            "sessions_with_longitudinally_extensive_edema": "Sessions with an edema region spanning 3 or "
                                                            "more vertebral levels.",
            "lesions_per_level": "Lesions at each vertebral level, superior first: a lesion spanning "
                                 "several levels counts once at each.",
        },
    }


def distribution(values: list[float]) -> dict:
    """Median, quartiles, IQR, minimum and maximum of ``values`` (None for each when empty)."""
    if not values:
        return dict.fromkeys(("count", "median", "q1", "q3", "iqr", "min", "max")) | {"count": 0}
    q1, median, q3 = (float(q) for q in np.percentile(values, [25, 50, 75]))
    return {"count": len(values), "median": median, "q1": q1, "q3": q3, "iqr": q3 - q1,
            "min": float(min(values)), "max": float(max(values))}


def lesions_per_level(lesions: list[LesionRow]) -> dict[str, int]:
    """``{"C5": 2, "C6": 1}``: lesions at each level they span, in anatomical order, levels with one or more."""
    counts = dict.fromkeys(names.LEVEL_NAMES[1:], 0)
    for les in lesions:
        for level in les.levels:
            counts[level] += 1
    return {level: n for level, n in counts.items() if n}


def edema_against_lesions(sessions: list[SessionTable]) -> tuple[list[tuple[float, int]], int]:
    """``(largest max_diameter_mm of the lesions inside, level_count)`` of every edema region, and
    how many regions are left out (no lesion inside, or no levels)."""
    points, left_out = [], 0
    for s in sessions:
        diameters = {les.id: les.max_diameter_mm for les in s.lesions}
        for ed in s.edema:
            inside = [diameters[i] for i in ed.lesion_ids if i in diameters]
            if inside and ed.level_count:
                points.append((max(inside), ed.level_count))
            else:
                left_out += 1
    return points, left_out


def cohort_plots(sessions: list[SessionTable], summary: dict) -> list:
    """The lesion diameter distribution, edema extent against lesion size and the per-level lesion
    map (:class:`.group_page.Plot`)."""
    from .group_page import diameter_histogram, edema_extent_plot, level_map

    return [diameter_histogram([les.max_diameter_mm for s in sessions for les in s.lesions]),
            edema_extent_plot(*edema_against_lesions(sessions)),
            level_map(summary["lesions_per_level"], summary["lesions_without_levels"])]


def write_group(out_dir: str | os.PathLike) -> GroupResult:
    """Write the cohort table, its data dictionary, summary, plots and page into ``OUT_DIR/group/``.

    Every file is written atomically, the page last.

    Raises
    ------
    InputError
        ``out_dir`` holds no session measurements (run the participant level first), or one of
        them is malformed (the error names the file).
    OutputError
        ``OUT_DIR/group`` cannot be written.
    """
    from .group_page import render_page

    sessions = read_sessions(out_dir)
    folder = Path(out_dir) / GROUP
    rows = cohort_rows(sessions)
    table = derivatives.write_tsv(rows, cohort_columns(), folder / TABLE)
    dictionary = derivatives.write_json(cohort_dictionary(), table.with_suffix(".json"))
    summary = cohort_summary(sessions)
    summary_path = derivatives.write_json(summary, folder / SUMMARY)
    plots = cohort_plots(sessions, summary)
    plot_paths = tuple(_write_bytes(p.png, folder / p.file_name) for p in plots)
    page = _write_bytes(render_page(summary, rows, plots, table_name=TABLE).encode("utf-8"), folder / PAGE)
    counts = summary["counts"]
    return GroupResult(table, dictionary, summary_path, plot_paths, page, counts["participants"],
                       counts["sessions"], counts["lesions"], counts["edema_regions"])


def _write_bytes(data: bytes, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
