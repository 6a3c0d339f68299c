"""The ``lesionview`` command line: one sub-command per job, bad input -> message + non-zero exit."""

from __future__ import annotations

import typer

from .info import info
from .measure import measure_command
from .report import report_command

app = typer.Typer(
    name="lesionview",
    help="Measure intramedullary spinal cord lesions and edema on MRI, in physical space.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(info)
app.command("measure")(measure_command)
app.command("report")(report_command)


@app.callback()
def _root() -> None:
    """lesionview: spinal cord lesion measurement (DICOM and NIfTI)."""


def main() -> None:
    app()
