"""A report set is replaced whole: written into a hidden staging folder, then swapped in.

The staging folder lies inside the output folder, so the swap is a handful of renames on one
file system. The swap moves the old files of the formats being written aside, renames the new
ones into place and only then deletes the old ones; any failure during it puts the old ones back,
and Ctrl-C waits until it is done. So an interrupted run, or a full disk, leaves the complete
old set or the complete new one, never a mix. The staging folder is removed on every way out;
files of the output folder that are not report files are never touched.

    >>> with Staging(tmp / "out") as stage:                         # doctest: +SKIP
    ...     (stage.folder / "report.html").write_text(page)
    ...     replaced = stage.swap_in(["report.html"], replace=["report.html"])
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Self

from ..errors import OutputError
from ..io.atomic import cause_of

#: Prefix of the hidden staging folders (``.lesionview-report-k3j2x9``).
STAGING_PREFIX = ".lesionview-report-"
#: Causes that mean the folder cannot take the set at all, whichever format met them first.
FULL_OR_READ_ONLY = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}



def output_error(folder: str | os.PathLike, exc: OSError, *, doing: str = "write the report",
                 kept: bool = True) -> OutputError:
    """``exc``, met while writing a report set into ``folder``, as an :class:`OutputError`.

    ``kept`` says that the old files of the folder are as they were (the set is all or nothing).

    Examples
    --------
    >>> output_error("/mnt/out", OSError(errno.ENOSPC, "No space left on device")).message
    '/mnt/out: cannot write the report: the disk is full; the folder is as it was. Free some space, or write to another disk.'
    """
    cause, hint = cause_of(exc)
    as_it_was = "; the folder is as it was" if kept else ""
    return OutputError(f"cannot {doing}: {cause}{as_it_was}.", path=folder, hint=hint)


def is_output_failure(exc: BaseException, folder: str | os.PathLike) -> bool:
    """True when ``exc`` says the folder cannot take files (full, read-only, refused), not that
    one format could not be made from these inputs."""
    if isinstance(exc, OutputError):
        return True
    if not isinstance(exc, OSError):
        return False
    if exc.errno in FULL_OR_READ_ONLY:
        return True
    folder = os.path.abspath(folder)
    for name in (exc.filename, exc.filename2):
        if isinstance(name, (str, bytes, os.PathLike)):
            with contextlib.suppress(ValueError):
                if os.path.commonpath([folder, os.path.abspath(os.fsdecode(name))]) == folder:
                    return True
    return False


def os_cause(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (itself, or what an :class:`OutputError` was raised from)."""
    if isinstance(exc, OSError):
        return exc
    return exc.__cause__ if isinstance(exc.__cause__, OSError) else None


@contextlib.contextmanager
def sigint_deferred():
    """Hold Ctrl-C until the block is done, then deliver it.

    Only the main thread receives signals, so elsewhere (a GUI worker) there is nothing to hold.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler installed outside Python: it could not be put back
        yield
        return
    held = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        if callable(previous):
            previous(signal.SIGINT, held[-1])
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt


class Staging:
    """A hidden folder inside ``out``, where a report set is written before it replaces the old one.

    Entering creates ``out`` when missing and the staging folder; leaving removes the staging
    folder, whatever happened (the old files moved aside by :meth:`swap_in` with it). Failures to
    create them are :class:`OutputError` (not a folder, read-only, disk full...).

    Parameters
    ----------
    out : path
        The output folder.
    """

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.folder: Path | None = None
        self._keep = False

    def __enter__(self) -> Self:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
        except OSError as exc:
            raise output_error(self.out, exc, doing="create the report folder", kept=False) from exc
        return self

    def __exit__(self, *exc_info) -> None:
        if self.folder is not None and not self._keep:
            with sigint_deferred():
                shutil.rmtree(self.folder, ignore_errors=True)

    def swap_in(self, names: Iterable[str], *, replace: Iterable[str]) -> list[str]:
        """Move the staged files ``names`` into ``out``, replacing the files ``replace``: all or none.

        The existing files among ``replace`` (file names in ``out``) are moved aside first, then
        the new ones are renamed into place; the old ones are deleted when the staging folder
        is. On any failure (or an interrupt) during the swap, the new files are taken out again
        and the old ones put back. Ctrl-C is held until the swap is done.

        Returns
        -------
        list of str
            The names of ``replace`` that existed and are now gone or replaced.

        Raises
        ------
        OutputError
            A rename failed; the folder is as it was. If putting an old file back failed too,
            the message says where it was kept (that folder is then not removed).
        """
        aside = self.folder / ".replaced"
        moved, placed = [], []
        with sigint_deferred():
            try:
                aside.mkdir()
                for name in replace:
                    if os.path.lexists(self.out / name):
                        os.replace(self.out / name, aside / name)
                        moved.append(name)
                for name in names:
                    os.replace(self.folder / name, self.out / name)
                    placed.append(name)
            except BaseException as exc:
                lost = self._put_back(placed, moved, aside)
                if lost:
                    self._keep = True
                    raise OutputError(
                        f"the report swap failed ({exc or type(exc).__name__}) and the old "
                        f"{', '.join(lost)} could not be put back; they are kept in {aside}.",
                        path=self.out, hint="Move them back by hand.") from exc
                cause = os_cause(exc)
                if cause is not None:
                    raise output_error(self.out, cause, doing="replace the report files") from exc
                raise
        return moved

    def _put_back(self, placed: list[str], moved: list[str], aside: Path) -> list[str]:
        """Undo a swap half done; return the old files that could not be put back."""
        for name in reversed(placed):
            try:
                os.replace(self.out / name, self.folder / name)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(self.out / name)
        lost = []
        for name in reversed(moved):
            try:
                os.replace(aside / name, self.out / name)
            except OSError:
                lost.append(name)
        return lost
