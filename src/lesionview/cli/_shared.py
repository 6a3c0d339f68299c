"""What ``lesionview measure`` and ``lesionview report`` share: their input options, the study
they load and measure (:meth:`lesionview.study.Study.from_paths`), and how they print the result
and the report set written.

Neither command imports the other: both import this module. It is imported to build the command
line (``lesionview --help``), so what measures and prints is imported in the functions that use it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from ..defaults import TWIN_GAP_MM
from ..errors import InputError, shown_path
from ._common import EXIT_PARTIAL, console, err_console

if TYPE_CHECKING:
    from ..measure import StudyMeasurements
    from ..report.build import ReportResult
    from ..study import Study


class LevelsKind(StrEnum):
    auto = "auto"
    landmarks = "landmarks"
    sct_labeled = "sct-labeled"
    sct_discs = "sct-discs"
    sct_body = "sct-body"
    verse = "verse"
    totalsegmentator = "totalsegmentator"
    totalsegmentator_v1 = "totalsegmentator-v1"
    totalsegmentator_mr = "totalsegmentator-mr"
    spineps = "spineps"


#: typer's checks of an input path: it must exist, file or folder.
EXISTING = {"exists": True, "dir_okay": True, "file_okay": True}
#: Cord segments from an image: "--spinal-levels", SCT's word for them, so that the option is not
#: read as one of the --*-segment options that choose segments of a DICOM SEG.
SPINAL_LEVELS_OPTION = typer.Option(
    "--spinal-levels", help="Spinal cord segments as a label image (value n = segment n, 2 = C2 ... 8 = C8, "
    "9 = T1: SCT rootlets or PAM50_spinal_levels); else estimated from --levels.", **EXISTING)
#: Help of --lesion-segment, --edema-segment and --cord-segment (``measure`` and ``report``).
SEGMENT_HELP = ("Which segments of a DICOM SEG {what} input to use: a segment number, a label (any case) or "
                "a code SCHEME:VALUE (e.g. SCT:108369006); repeat for several. Default: the only segment, else "
                "those whose code or label says {what}.")


def segment_option(what: str):
    """The typer option ``--{what}-segment`` (repeatable), shared by ``measure`` and ``report``."""
    return typer.Option(metavar="SEGMENT", help=SEGMENT_HELP.format(what=what))


def measure_study(lesions: Path, *, image: Path | None = None, edema: Path | None = None,
                  cord: Path | None = None, centerline: Path | None = None, levels: Path | None = None,
                  levels_kind: LevelsKind = LevelsKind.auto, connectivity: int = 26,
                  mask_kind: str = "auto", twin_gap: float = TWIN_GAP_MM, resample: bool = False,
                  segments: Path | None = None, lesion_segment: list[str] | None = None,
                  edema_segment: list[str] | None = None, cord_segment: list[str] | None = None
                  ) -> tuple[Study, StudyMeasurements]:
    """The study of the command's inputs (:meth:`Study.from_paths`), and its measurements.

    The measuring options are checked before anything is loaded. Each input brought onto the grid
    measured on (axes permuted, or resampled as ``--resample`` allows) is noted on stderr.
    """
    if connectivity not in (6, 18, 26):
        raise InputError(f"--connectivity must be 6, 18 or 26, not {connectivity}.")
    if mask_kind not in ("auto", "binary", "labels"):
        raise InputError(f"--mask-kind must be auto, binary or labels, not {mask_kind!r}.")
    from ..study import Study

    study = Study.from_paths(lesions, image=image, edema=edema, cord=cord, centerline=centerline, levels=levels,
                             levels_kind=levels_kind.value if isinstance(levels_kind, LevelsKind) else levels_kind,
                             resample=resample, segments=segments, lesion_segment=lesion_segment,
                             edema_segment=edema_segment, cord_segment=cord_segment)
    result = study.measure(connectivity=connectivity, mask_kind=mask_kind, twin_gap_mm=twin_gap)
    _notes(result)
    return study, result


def _notes(result: StudyMeasurements) -> None:
    """A note on stderr for each input brought onto the measured grid (not a warning: nothing is
    lost by permuting axes; resampling was asked for)."""
    for rec in result.inputs:
        done = [rec.reoriented] if rec.reoriented else []
        if rec.resampled:
            done.append(f"resampled ({rec.resampled}) onto the grid measured on, as --resample allows")
        for line in done:
            err_console.print(f"[yellow]note:[/] {escape(rec.role)}: {escape(line)}", highlight=False,
                              soft_wrap=True)


def show_outcome(done: ReportResult) -> None:
    """Print what writing a report set did: the files written, the old files removed (notes),
    and each format that failed; a partial set exits with :data:`EXIT_PARTIAL`."""
    for fmt, path in done.items():
        console.print(f"wrote {fmt:<4} {shown_path(path)}", markup=False, highlight=False)
    for line in done.removals():
        err_console.print(f"[yellow]note:[/] {escape(line)}", highlight=False, soft_wrap=True)
    if done.complete:
        return
    for line in done.failures():
        err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    err_console.print(f"[yellow]partial report:[/] {len(done)} of {len(done) + len(done.failed)} formats "
                      "written.", highlight=False)
    raise typer.Exit(EXIT_PARTIAL)


def print_result(result: StudyMeasurements) -> None:
    """The lesion and edema tables, the summary and the warnings.

    Across slices of 3 mm or more lying across the cord a length along it carries its uncertainty
    ("12.0 ± 3.0") and levels the level they may also reach ("C5 (C6?)", the summary's "C5 (possibly
    reaching C6)"): :mod:`lesionview.report.cells`, as napari's table. Each level column names its
    kind: "vertebral levels" and "cord segments (est.)" ("cord segments" from a segment label image).
    """
    from rich.table import Table

    from ..levels.segments import segments_cell, segments_header
    from ..measure.summary import possibly_extensive
    from ..report.cells import length_cell, levels_cell, plus_minus

    enhancing = result.parameters.image_role == "T1+C"
    table = Table(title="Enhancing lesions" if enhancing else "Lesions", title_justify="left", caption=_levels_caption(result.lesions),
                  caption_justify="left")
    # Each level column names its kind: vertebral levels, cord segments ("(est.)" when estimated).
    segments = segments_header([r.cord_segments for r in [*result.lesions, *result.edema]])
    for col in ("id", "vertebral levels", segments, "volume mm³", "max diam mm", "IBSI mm", "axial mm", "CC mm",
                "occupancy", "enh. ratio", "edema"):
        table.add_column(col, justify="right")
    for les in result.lesions:
        table.add_row(str(les.id), levels_cell(les), segments_cell(les.cord_segments),
                      f"{les.volume_mm3:.1f}", f"{les.max_diameter_mm:.1f}", f"{les.max_diameter_ibsi_mm:.1f}",
                      f"{les.axial_long_mm:.1f} x {les.axial_short_mm:.1f}{plus_minus(les.axial_uncertainty_mm)}",
                      length_cell(les),
                      _opt(les.cord_occupancy, "{:.0%}"), _opt(les.enhancement_ratio, "{:.2f}"),
                      _opt(les.edema_id, "{}"))
    console.print(table)
    if result.edema:
        et = Table(title="T2 edema", title_justify="left", caption=_levels_caption(result.edema),
                   caption_justify="left")
        for col in ("id", "vertebral levels", segments, "count", "extensive", "CC mm", "volume mm³", "lesions",
                    "x length", "x volume"):
            et.add_column(col, justify="right")
        for ed in result.edema:
            et.add_row(str(ed.id), levels_cell(ed), segments_cell(ed.cord_segments),
                       _opt(ed.levels and ed.levels.count, "{}"), "possibly" if possibly_extensive(ed) else _opt(ed.longitudinally_extensive, "{}"),
                       length_cell(ed),
                       f"{ed.volume_mm3:.0f}", ", ".join(map(str, ed.lesion_ids)),
                       _opt(ed.length_ratio, "{:.1f}"), _opt(ed.volume_ratio, "{:.1f}"))
        console.print(et)
    console.print(f"[bold]{escape(shown_path(result.summary))}[/]")
    signs = [les for les in result.lesions if les.signs is not None]
    for les in signs:
        console.print(f"[dim]signs, lesion {les.id}:[/] {', '.join(les.signs.findings())}", highlight=False)
    if signs:
        console.print("[dim]  (imaging features, Rykken et al. AJNR 2013;34:908; not a diagnosis)[/]", highlight=False)
    for ed in result.edema:
        if ed.literature_context:
            console.print(f"[dim]context, edema {ed.id}:[/] {escape(ed.literature_context)}", highlight=False)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(shown_path(w))}")


def _levels_caption(regions) -> str | None:
    """What "C5 (C6?)" means, under a table that shows one: its first such row spelt out."""
    from ..report.cells import levels_cell, levels_sentence

    for r in regions:
        cell = levels_cell(r)
        if r.levels is not None and cell != r.levels.label:
            return f"{cell}: {levels_sentence(r)}"
    return None


def _opt(value, fmt: str) -> str:
    return "" if value is None else fmt.format(value)
