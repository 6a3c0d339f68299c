"""The ``lesionview`` command line: one sub-command per job, bad input -> message + non-zero exit.

:func:`main` is the entry point of the ``lesionview`` script and of ``python -m lesionview``. It
handles Ctrl-C before importing anything heavy (typer, rich, numpy, nibabel take seconds), so an
interrupt prints one line and never a traceback, and it is the last resort for a bug: one line
and exit 70, the traceback only under ``LESIONVIEW_DEBUG=1``. The typer ``app`` is built on first use.

Fast start: every call and every batch worker pays for what is imported before the command runs.
A command module imports at module level only the standard library, typer and rich, and light
lesionview modules (:mod:`lesionview.defaults` holds the defaults the options show); the work
(numpy, scipy, nibabel, pydicom...) is imported inside the command function, for the input at
hand. ``tests/test_import_cost.py`` keeps it so; ``benchmarks/bench_start.py`` times it.
"""

from __future__ import annotations

import os
import sys
import time

try:
    from ..errors import LesionviewError, shown_path
    from ._common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_SOFTWARE
except KeyboardInterrupt:  # Ctrl-C while the console script imports this module, before main() runs
    sys.stderr.write("interrupted\n")
    raise SystemExit(130) from None  # EXIT_INTERRUPTED, which could not be imported

EPILOG = (
    "Exit status: 0 done; 2 bad input, or an output that cannot be written; 3 report written "
    "only in part; 70 internal error (a bug in lesionview); 130 interrupted (Ctrl-C)."
)
#: A second Ctrl-C this soon after the first is ignored: the first one is still cleaning up.
_CLEANUP_SECONDS = 2.0


def main(argv: list[str] | None = None) -> None:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and exit with its status."""
    interrupts = _Interrupts()
    try:
        try:
            interrupts.install()
            code = _run(argv)
        except BaseException as exc:  # noqa: BLE001 - the last resort: every exit goes through here
            # After a Ctrl-C, a failure is its doing: extension modules turn KeyboardInterrupt into
            # other errors (pybind11's "ImportError: initialization failed").
            interrupted = interrupts.delivered and not isinstance(exc, SystemExit)
            code = EXIT_INTERRUPTED if interrupted else _status(exc)
        interrupts.stop()
    except KeyboardInterrupt:  # the first Ctrl-C landed while an error was being reported
        interrupts.stop()
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        _say("\ninterrupted" if _isatty(sys.stderr) else "interrupted")
    raise SystemExit(code)


class _Interrupts:
    """Ctrl-C raises KeyboardInterrupt once, so ``finally`` blocks (temporary files) still run;
    a second Ctrl-C during that cleanup is ignored, and every one once we are exiting."""

    def __init__(self):
        self.delivered = False  # a Ctrl-C was turned into KeyboardInterrupt
        self.first: float | None = None
        self.stopped = False

    def install(self) -> None:
        import signal

        try:
            signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread (embedded use): leave Python's default
            return
        # A KeyboardInterrupt that lands in a __del__ or a weakref callback cannot propagate;
        # Python would print it as "Exception ignored ... Traceback". Lost, it is re-armed.
        previous = sys.unraisablehook

        def quiet(unraisable):
            if isinstance(unraisable.exc_value, KeyboardInterrupt):
                self.first = None
                return
            previous(unraisable)

        sys.unraisablehook = quiet

    def stop(self) -> None:
        self.stopped = True

    def _on_sigint(self, signum, frame) -> None:
        now = time.monotonic()
        if self.stopped or (self.first is not None and now - self.first < _CLEANUP_SECONDS):
            return
        # After a while a further Ctrl-C interrupts again, in case some code swallowed the first.
        self.first = now
        self.delivered = True
        raise KeyboardInterrupt


def _run(argv: list[str] | None) -> int:
    """Run the typer app without click's standalone mode (it would swallow Ctrl-C), then do what
    standalone mode does with click's exceptions: usage errors shown as now, exit 2."""
    import typer

    app = _app()
    # Typer either uses click or vendors it: its usage errors derive from click's ClickException.
    click_exception = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    try:
        result = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return EXIT_INTERRUPTED
    except click_exception as exc:
        try:
            from typer import rich_utils

            rich_utils.rich_format_error(exc)
        except (ImportError, AttributeError):
            exc.show()
        return exc.exit_code
    # Standalone mode off, click returns a command's return value or the code of an Exit it caught.
    return result if isinstance(result, int) else 0


def _status(exc: BaseException) -> int:
    """The exit status for ``exc`` escaping a command, after saying what happened."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        _say(str(code))
        return 1
    if isinstance(exc, LesionviewError):
        _say(f"error: {exc.message}")
        return EXIT_BAD_INPUT
    if isinstance(exc, BrokenPipeError):  # `lesionview info DIR | head`: the reader left
        _silence_stdout()
        return 1
    if os.environ.get("LESIONVIEW_DEBUG", "").strip() not in ("", "0"):
        import traceback

        traceback.print_exception(exc)
    text = " ".join(shown_path(str(exc)).split())
    _say(f"internal error: {type(exc).__name__}: {text} — this is a bug in lesionview; please report "
         "it with the command line; set LESIONVIEW_DEBUG=1 for the traceback")
    return EXIT_SOFTWARE


def _say(line: str) -> None:
    """One line on stderr, whatever state the streams are in."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError, AttributeError):
        return False


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


_APP = None


def _app():
    """The typer app, built (and typer, rich, numpy... imported) on first use."""
    global _APP
    if _APP is None:
        import typer

        from .batch import batch_command
        from .compare import compare_command
        from .info import info
        from .measure import measure_command
        from .report import report_command

        app = typer.Typer(
            name="lesionview",
            help="Measure intramedullary spinal cord lesions and edema on MRI, in physical space.",
            epilog=EPILOG,
            no_args_is_help=True,
            add_completion=False,
            pretty_exceptions_enable=False,
        )
        app.command()(info)
        app.command("measure")(measure_command)
        app.command("report")(report_command)
        app.command("compare")(compare_command)
        app.command("batch")(batch_command)

        @app.callback()
        def _root() -> None:
            """lesionview: spinal cord lesion measurement (DICOM and NIfTI)."""

        _APP = app
    return _APP


def __getattr__(name: str):
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
