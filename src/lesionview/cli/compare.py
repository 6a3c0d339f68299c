"""``lesionview compare``: one patient's studies over time, aligned, matched and classed (RANO-BM).

Each STUDY is a study folder (DICOM series plus masks and landmarks), a BIDS session folder or a
study JSON (:func:`lesionview.study.load_study`). The comparison (:func:`lesionview.compare.compare`)
is printed as a table (one row per patient lesion, one column per timepoint, then each
timepoint's response), and with ``--out`` written as ``comparison.json`` (versioned schema),
``comparison.csv``, ``follow-up.html`` and ``follow-up.pdf`` (:mod:`lesionview.report.follow_up`),
as one set, atomically. Exit codes as ``lesionview report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ._common import console, err_console, user_errors
from ._shared import EXISTING, show_outcome


def compare_command(
    studies: Annotated[list[Path], typer.Argument(help="Two or more studies of one patient: study folders, BIDS "
                                                  "session folders or study JSON files.", **EXISTING)],
    out: Annotated[Path | None, typer.Option(help="Folder for comparison.json, comparison.csv, follow-up.html "
                                             "and follow-up.pdf.")] = None,
    format: Annotated[str | None, typer.Option(
        "--format", "-f", help="Comma-separated formats among json,csv,html,pdf (default: all).")] = None,
    identified: Annotated[bool, typer.Option(help="Include the patient ID (default: de-identified).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace the comparison files in --out, all of them.")] = False,
) -> None:
    """Compare a patient's studies: align them on the spine, match lesions, class changes and response."""
    from ..compare import compare
    from ..io.atomic import check_writable_folder
    from ..report.follow_up import FORMATS, write_follow_up
    from ..study import load_study

    with user_errors():
        formats = [f.strip() for f in (format or ",".join(FORMATS)).split(",") if f.strip()]
        if out is not None:
            check_writable_folder(out)
        loaded = [load_study(path) for path in studies]
        measured = [study.measure() for study in loaded]
        result = compare(loaded, measurements=measured)
        _print(result)
        if out is None:
            return
        done = write_follow_up(result, loaded, out, formats=formats, measurements=measured,
                               deidentify=not identified, overwrite=overwrite)
    show_outcome(done)


def _print(result) -> None:
    table = Table(title="Lesions over time", title_justify="left")
    table.add_column("lesion")
    for tp in result.timepoints:
        table.add_column(f"{tp.label} {tp.study_date or ''}".strip(), justify="right")
    for lesion in result.lesions:
        cells = []
        for tp in result.timepoints:
            seen = next((o for o in lesion.observations if o.timepoint == tp.label), None)
            cells.append("" if seen is None else f"{seen.max_diameter_mm:.1f} mm")
        table.add_row(lesion.id, *cells)
    table.add_row("response", *[r.response.value for r in result.responses])
    console.print(table)
    for a in result.alignments:
        residual = "" if a.residual_mm is None else f", residual {a.residual_mm:.1f} mm"
        line = f"alignment {a.later} -> {a.earlier}: {a.method}{residual}"
        if a.accepted:
            console.print(escape(line), highlight=False)
        else:
            err_console.print(f"[yellow]refused:[/] {escape(line)}: {escape(a.reason)}", highlight=False,
                              soft_wrap=True)
