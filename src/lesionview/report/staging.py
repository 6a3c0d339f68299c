"""A report set is replaced whole: written into a hidden staging folder, then swapped in.

The staging folder lies inside the output folder, so the swap is a handful of renames on one
file system. The swap moves the old set aside (every file the caller names as part of it),
renames the new files into place and only then deletes the old ones; any failure during it puts
the old ones back, and Ctrl-C waits until it is done. So an interrupted run, or a full disk,
leaves the complete old set or the complete new one, never a mix. The staging folder is removed
on every way out, and one that a killed run left behind is removed by the next run an hour
later; files of the output folder that are not named are never touched.

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
import stat
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Self

from ..errors import OutputError
from ..io.atomic import cause_of

#: Prefix of the hidden staging folders (``.lesionview-report-k3j2x9``).
STAGING_PREFIX = ".lesionview-report-"
#: Causes that mean the folder cannot take the set at all, whichever format met them first.
FULL_OR_READ_ONLY = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
#: Age after which a staging folder is an orphan. A report set takes seconds to write; a staging
#: folder older than this was left by a run that could not clean up (killed with SIGKILL, a power
#: loss), and may hold an identified report nobody will ever look for.
STALE_AFTER_S = 3600.0
#: Inside a staging folder: the old files moved aside during a swap.
ASIDE = ".replaced"


def set_error(folder: str | os.PathLike, exc: OSError, *, doing: str = "write the report",
              kept: bool = True) -> OutputError:
    """``exc``, met while writing a report *set* into ``folder``, as an :class:`OutputError`.

    Unlike :func:`lesionview.io.atomic.output_error` (one file, named), this names the folder
    and, with ``kept``, says that the old files of the folder are as they were (the set is all
    or nothing).

    Examples
    --------
    >>> set_error("/mnt/out", OSError(errno.ENOSPC, "No space left on device")).message
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


def remove_stale(out: str | os.PathLike, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the staging folders in ``out`` last changed more than ``older_than_s`` ago.

    A run that is killed outright (SIGKILL, a power loss) cannot remove its staging folder, which
    may hold a whole report, identified or not. A running one is never that old: a report set
    takes seconds, and its folder changes whenever a file is written into it. Kept whatever its
    age: a staging folder holding old files moved aside (:data:`ASIDE`), because a swap that could
    not put them back told the user to fetch them from there. Files and links of that name are
    not staging folders and are left alone; a folder that cannot be removed is left too.

    Returns
    -------
    list of Path
        The folders removed.
    """
    out = Path(out)
    now = time.time()
    removed = []
    try:
        entries = [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]
    except OSError:
        return removed
    for path in entries:
        try:
            st = path.lstat()
            if not stat.S_ISDIR(st.st_mode) or now - st.st_mtime <= older_than_s:
                continue
            if (path / ASIDE).is_dir() and any((path / ASIDE).iterdir()):
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            removed.append(path)
    return removed


class Staging:
    """A hidden folder inside ``out``, where a report set is written before it replaces the old one.

    Entering creates ``out`` when missing and the staging folder, and removes the staging folders
    that earlier runs left behind (:func:`remove_stale`); leaving removes the staging folder,
    whatever happened (the old files moved aside by :meth:`swap_in` with it). Failures to create
    them are :class:`OutputError` (not a folder, read-only, disk full...).

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
            remove_stale(self.out)
            self.folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out))
        except OSError as exc:
            raise set_error(self.out, exc, doing="create the report folder", kept=False) from exc
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
        aside = self.folder / ASIDE
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
                    raise set_error(self.out, cause, doing="replace the report files") from exc
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
