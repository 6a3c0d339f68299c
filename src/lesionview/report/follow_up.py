"""The follow-up report: one patient's studies over time, as one self-contained HTML page and its PDF.

    >>> result = compare(studies)                                                 # doctest: +SKIP
    >>> done = write_follow_up(result, studies, "out/")                           # doctest: +SKIP
    >>> sorted(done)                                                              # doctest: +SKIP
    ['csv', 'html', 'json', 'pdf']

The page holds a header (timepoints, the alignment of every interval with its residual, the
criteria followed), a timeline (each lesion's maximum diameter and volume, and the edema extent
in vertebral levels, over time), the RANO-BM response table, a per-lesion table with each
interval's class, and side-by-side key images: one row per patient lesion, one picture per
timepoint, each drawn from its own study by :func:`lesionview.report.images.lesion_view`. The
set is written like :func:`lesionview.report.build.write_report`'s: staged, then swapped in
whole, de-identified by default.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compare.models import ChangeClass, Comparison, EdemaExtent, LesionChange
from ..errors import InputError
from ..io.atomic import atomic_path
from .build import ReportResult, record_failure, report_targets
from .follow_up_plots import lesion_colours, timeline_plots
from .html import DEIDENTIFIED_BY_DEFAULT, _date
from .images import KeyImage, lesion_label_volume, lesion_view
from .staging import Staging

#: Every format, in writing order (the PDF prints the HTML).
FORMATS = ("json", "csv", "html", "pdf")
FILENAMES = {"json": "comparison.json", "csv": "comparison.csv", "html": "follow-up.html", "pdf": "follow-up.pdf"}
CRITERIA_STATEMENT = ("No response criteria are published specifically for intramedullary spinal metastases, so the "
                      "response follows RANO-BM (Lin et al., Lancet Oncol 2015;16:e270-e278), written for brain "
                      "metastases.")
_KEY_DPI = 80


@dataclass(frozen=True)
class FollowUpResult(ReportResult):
    """What :func:`write_follow_up` did (see :class:`~lesionview.report.build.ReportResult`)."""

    def failures(self) -> list[str]:
        return [f"{fmt} ({FILENAMES[fmt]}) not written: {why}" for fmt, why in self.failed.items()]


# ------------------------------------------------------------------------------------ page
def render_follow_up_html(comparison: Comparison, studies: Sequence, *, images: bool = True,
                          measurements: Sequence | None = None, view: str = "sagittal",
                          identified: bool = not DEIDENTIFIED_BY_DEFAULT) -> str:
    """The follow-up report page as a string (UTF-8 text, every picture inline as base64 PNG).

    Parameters
    ----------
    comparison : Comparison
        What :func:`lesionview.compare.compare` returned for ``studies``.
    studies : sequence of lesionview.study.Study
        The studies compared, in any order (matched to the timepoints by date and study UID).
    images : bool
        Draw the key images (needs each study's image and lesion mask); the plots are always drawn.
    measurements : sequence of StudyMeasurements, optional
        Each study's ``measure()`` result, in the order of ``studies``; measured again when absent
        (the comparison keeps positions, not the lesion numbering of each mask).
    view : "sagittal" or "axial"
        Plane of the key images.
    identified : bool
        Show the patient ID. Off by default: the report is de-identified.
    """
    import jinja2

    shown = comparison if identified else deidentified(comparison)
    ordered = _ordered(comparison, studies, measurements)
    keys = key_images(comparison, ordered, view=view) if images else {}
    colours = lesion_colours(comparison)
    seen = {(les.id, o.timepoint): o for les in comparison.lesions for o in les.observations}
    changes = {(c.lesion, iv.later): c for iv in comparison.intervals for c in iv.changes}
    dates = [_date(tp.study_date) for tp in comparison.timepoints]
    span = " to ".join(dict.fromkeys(d for d in (dates[0], dates[-1]) if d)) or \
        f"{comparison.timepoints[0].label} to {comparison.timepoints[-1].label}"
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    return env.from_string(_template()).render(
        c=shown, span=span, view=view, plots=timeline_plots(comparison), keys=keys,
        patient=(comparison.patient_id or "–") if identified else "withheld (de-identified report, the default)",
        privacy="Identified report: includes the patient ID." if identified else
        "De-identified report (the default): no patient name, ID or birth date.",
        criteria=CRITERIA_STATEMENT, date=_date, b64=lambda b: base64.b64encode(b).decode("ascii"),
        f0=lambda v: "–" if v is None else f"{v:.0f}", f1=lambda v: "–" if v is None else f"{v:.1f}",
        f2=lambda v: "–" if v is None else f"{v:.2f}", signed=_signed,
        vec=lambda v: "–" if v is None else ", ".join(f"{x:.1f}" for x in v),
        cls=lambda r: "–" if r is None else r.value, edema=_edema_text, colour=colours.get,
        seen=lambda pid, label: seen.get((pid, label)), change=lambda pid, label: changes.get((pid, label)),
        change_text=change_text, absent=lambda pid, label: _absent(comparison, seen, changes, pid, label))


def _template() -> str:
    from .follow_up_page import TEMPLATE

    return TEMPLATE


def deidentified(comparison: Comparison) -> Comparison:
    """The comparison without the patient ID (nor in the warnings); UIDs and dates are kept."""
    ids = {pid for pid in re.split(r",\s*", comparison.patient_id) if pid}
    warnings = [("the studies carry different patient ids (withheld)" if "different patient ids" in w else w)
                for w in comparison.warnings]
    warnings = [w if not any(pid in w for pid in ids) else "a warning naming the patient was withheld"
                for w in warnings]
    return comparison.model_copy(update={"patient_id": "", "warnings": warnings})


def _signed(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def _edema_text(extent: EdemaExtent | None) -> str:
    if extent is None:
        return "–"
    if not extent.levels:
        return "none" if not extent.along_cord_mm else f"levels unknown, {extent.along_cord_mm:.0f} mm"
    along = "" if extent.along_cord_mm is None else f", {extent.along_cord_mm:.0f} mm"
    return f"{extent.levels} ({extent.level_count} level{'s' if extent.level_count != 1 else ''}{along})"


def change_text(ch: LesionChange) -> str:
    """" +9.0 mm (+300%), volume +172 mm³ (+1626%)" after a class; " from L1" for a split."""
    if ch.change in (ChangeClass.SPLIT, ChangeClass.MERGED) and ch.related:
        where = "from" if ch.change == ChangeClass.SPLIT else "into"
        return f" {where} {', '.join(ch.related)}"
    if ch.diameter_change_mm is None:
        return ""
    pct = lambda v: "" if v is None else f" ({v:+.0f}%)"
    vol = "" if ch.volume_change_mm3 is None else f", volume {ch.volume_change_mm3:+.0f} mm³{pct(ch.volume_change_percent)}"
    return f": {ch.diameter_change_mm:+.1f} mm{pct(ch.diameter_change_percent)}{vol}"


def _absent(comparison, seen, changes, pid: str, label: str) -> str:
    """Why a lesion has no picture at a timepoint."""
    ch = changes.get((pid, label))
    if ch is not None and ch.change == ChangeClass.RESOLVED:
        return "resolved: not seen"
    if ch is not None and ch.change == ChangeClass.NOT_MATCHED:
        return "not matched (alignment refused)"
    if (pid, label) in seen:
        return "no image in this study"
    order = [tp.label for tp in comparison.timepoints]
    first = min(order.index(o.timepoint) for les in comparison.lesions if les.id == pid for o in les.observations)
    return "not yet seen" if order.index(label) < first else "not seen"


# ------------------------------------------------------------------------------------ studies
def _ordered(comparison: Comparison, studies: Sequence, measurements: Sequence | None) -> list[tuple]:
    """(study, measurements or None) per timepoint, in the comparison's order (compare's own rule:
    by study date when every study has one, else as given)."""
    studies = list(studies)
    if len(studies) != len(comparison.timepoints):
        raise ValueError(f"{len(studies)} studies for a comparison of {len(comparison.timepoints)} timepoints")
    if measurements is not None and len(measurements) != len(studies):
        raise ValueError(f"{len(measurements)} measurements for {len(studies)} studies")
    order = list(range(len(studies)))
    if all(s.study_date for s in studies):
        order.sort(key=lambda i: studies[i].study_date)
    pairs = [(studies[i], None if measurements is None else measurements[i]) for i in order]
    for tp, (s, _) in zip(comparison.timepoints, pairs):
        if (tp.study_uid or s.study_uid) and tp.study_uid != s.study_uid:
            raise ValueError(f"timepoint {tp.label} is study {tp.study_uid or '(no UID)'}, but the study in its "
                             f"place is {s.study_uid or '(no UID)'}: pass the studies that were compared")
    return pairs


def key_images(comparison: Comparison, ordered: Sequence[tuple], *, view: str = "sagittal",
               dpi: int = _KEY_DPI) -> dict[tuple[str, str], KeyImage]:
    """``{(patient lesion id, timepoint label): KeyImage}``: each lesion in its own study.

    The lesion mask is renumbered with the patient-level numbers (L2 -> 2), so the picture's
    title and red outline name the lesion as the tables do.
    """
    out = {}
    for tp, (study, meas) in zip(comparison.timepoints, ordered):
        image = study.image or study.reference_image or next(iter(study.images.values()), None)
        here = {o.lesion_id: (les.id, o) for les in comparison.lesions for o in les.observations
                if o.timepoint == tp.label}
        if image is None or study.lesions is None or not here:
            continue
        labels = np.asarray(lesion_label_volume(meas or study.measure(), study.lesions).array)
        renumbered = np.where(labels != 0, 100_000 + labels, 0).astype(np.int32)   # unmatched: "others"
        for local, (pid, _) in here.items():
            renumbered[labels == local] = int(pid[1:])
        mask = study.lesions.like(renumbered)
        for local, (pid, o) in here.items():
            png = lesion_view(image, mask, int(pid[1:]), o.centroid_lps_mm, view, edema_mask=study.edema,
                              levels=study.levels, level_name=o.levels or "", size_mm=o.max_diameter_mm, dpi=dpi)
            caption = f"{pid} at {tp.label}: {o.max_diameter_mm:.1f} mm, {o.volume_mm3:.0f} mm³, {o.levels or '–'}"
            out[(pid, tp.label)] = KeyImage(local, view, png, caption)
    return out


# ------------------------------------------------------------------------------------ timeline
# ------------------------------------------------------------------------------------ files
def write_follow_up(comparison: Comparison, studies: Sequence, out_dir: str | os.PathLike,
                    formats: str | Iterable[str] = FORMATS, *, images: bool = True,
                    measurements: Sequence | None = None, deidentify: bool = DEIDENTIFIED_BY_DEFAULT,
                    overwrite: bool = False) -> FollowUpResult:
    """Write the comparison as JSON, CSV, HTML and PDF into ``out_dir``, as one set; say what failed.

    Parameters
    ----------
    comparison, studies, images, measurements
        As :func:`render_follow_up_html`.
    out_dir : path
        Output folder, created if missing; files :data:`FILENAMES`, other files never touched.
    formats : "json,csv,html,pdf" or list
        Formats to write (default: all).
    deidentify : bool
        Default True: no patient ID in any file.
    overwrite : bool
        Replace the follow-up files already in ``out_dir`` (all of them, whichever formats are
        asked for now); otherwise any of them refuses the run.

    Returns
    -------
    FollowUpResult
        ``{format: Path}`` written, ``failed`` (format: reason) and ``removed`` (old files not replaced).

    Raises
    ------
    InputError
        Unknown format, follow-up files already there without ``overwrite``, an output folder
        inside an input folder, or a file where the folder goes.
    OutputError
        The folder cannot take the set (read-only, full...); its old files are as they were.
    """
    items = [f.strip().lower() for f in (formats.split(",") if isinstance(formats, str) else formats)]
    unknown = [f for f in items if f and f not in FORMATS]
    if unknown:
        raise InputError(f"unknown follow-up format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")
    fmts = tuple(f for f in FORMATS if f in items)
    inputs = [i.path for s in studies for i in s.inputs if i.path]
    report_targets(out_dir, (), overwrite=True, inputs=inputs)   # file/folder and input-folder checks only
    out = Path(out_dir).resolve()
    folders = [FILENAMES[f] for f in fmts if (out / FILENAMES[f]).is_dir()]
    if folders:
        raise InputError(f"holds a folder named {', '.join(folders)}, where a report file goes.", path=out,
                         hint="Rename or move that folder, or choose another output folder.")
    _refuse_old(out, overwrite)
    if "html" in fmts or "pdf" in fmts:
        _ordered(comparison, studies, measurements)      # studies that were not compared: refused up front
    shown = deidentified(comparison) if deidentify else comparison
    written, failed = {}, {}
    with Staging(out) as stage:
        def attempt(fmt, write):
            try:
                write(stage.folder / FILENAMES[fmt])
                written[fmt] = out / FILENAMES[fmt]
            except Exception as exc:  # noqa: BLE001 - recorded by name; the other formats go on
                _record(failed, fmt, exc, out)

        if "json" in fmts:
            attempt("json", lambda p: _write_text(p, shown.model_dump_json(indent=2)))
        if "csv" in fmts:
            from ..compare.tabular import write_csv

            attempt("csv", lambda p: write_csv(shown, p))
        if "html" in fmts or "pdf" in fmts:
            try:
                page = render_follow_up_html(comparison, studies, images=images, measurements=measurements,
                                             identified=not deidentify)
            except Exception as exc:  # noqa: BLE001 - both formats print this page
                for fmt in ("html", "pdf"):
                    if fmt in fmts:
                        _record(failed, fmt, exc, out, what="the follow-up page could not be made: ")
            else:
                from .pdf import write_pdf

                if "html" in fmts:
                    attempt("html", lambda p: _write_text(p, page))
                if "pdf" in fmts:
                    attempt("pdf", lambda p: write_pdf(page, p))
        if not written:
            return FollowUpResult({}, failed)
        _refuse_old(out, overwrite)          # again: another run may have written meanwhile
        old = _old_files(out)
        replaced = stage.swap_in([FILENAMES[f] for f in written], replace=[p.name for p in old.values()])
    removed = {f: p for f, p in old.items() if p.name in replaced and f not in written}
    return FollowUpResult(written, failed, removed)


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _old_files(out: Path) -> dict[str, Path]:
    paths = {fmt: out / name for fmt, name in FILENAMES.items()}
    return {fmt: p for fmt, p in paths.items() if os.path.lexists(p) and not p.is_dir()}


def _refuse_old(out: Path, overwrite: bool) -> None:
    old = _old_files(out)
    if old and not overwrite:
        raise InputError(f"already holds {', '.join(p.name for p in old.values())}, of an earlier run.", path=out,
                         hint="Pass --overwrite to replace that whole set, or choose another output folder.")


def _record(failed: dict[str, str], fmt: str, exc: Exception, out: Path, *, what: str = "") -> None:
    record_failure(failed, fmt, exc, out, doing=f"write the follow-up report ({FILENAMES[fmt]})", what=what)
