"""What every sub-command shares: consoles and the error exit."""

from __future__ import annotations

import contextlib
import sys

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import LesionviewError

# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

#: Exit code for input the user must fix (missing file, not DICOM, mismatched spaces...), and for
#: an output that cannot be written (not a folder, read-only, disk full).
EXIT_BAD_INPUT = 2
#: Exit code when a report set was written only in part (each failed format is named on stderr).
EXIT_PARTIAL = 3


@contextlib.contextmanager
def user_errors():
    """Turn a LesionviewError into a one-line message on stderr and a non-zero exit."""
    try:
        yield
    except LesionviewError as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
