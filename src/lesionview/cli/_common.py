"""What every sub-command shares: consoles, exit codes and the error exit.

Light on purpose: the entry point (:func:`lesionview.cli.main`) reads the exit codes before any
heavy import, so rich and typer are imported only when a console or the error exit is first used.
"""

from __future__ import annotations

import contextlib
import sys

from ..errors import LesionviewError

#: Exit code for input the user must fix (missing file, not DICOM, mismatched spaces...), and for
#: an output that cannot be written (not a folder, read-only, disk full).
EXIT_BAD_INPUT = 2
#: Exit code when a report set was written only in part (each failed format is named on stderr).
EXIT_PARTIAL = 3
#: Exit code of an internal error, i.e. a bug in lesionview (EX_SOFTWARE of sysexits.h).
EXIT_SOFTWARE = 70
#: Exit code after Ctrl-C: 128 + SIGINT, what shells report for an interrupted command.
EXIT_INTERRUPTED = 130


def __getattr__(name: str):
    """``console`` and ``err_console``, made on first use (rich is imported then)."""
    if name not in ("console", "err_console"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _console(stderr=name == "err_console")


def _console(*, stderr: bool):
    name = "err_console" if stderr else "console"
    if name not in globals():
        from rich.console import Console

        stream = sys.stderr if stderr else sys.stdout
        # Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
        wide = stream is None or not stream.isatty()
        globals()[name] = Console(stderr=stderr, width=160 if wide else None)
    return globals()[name]


@contextlib.contextmanager
def user_errors():
    """Turn a LesionviewError into a one-line message on stderr and a non-zero exit."""
    try:
        yield
    except LesionviewError as exc:
        import typer
        from rich.markup import escape

        _console(stderr=True).print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False,
                                    soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
