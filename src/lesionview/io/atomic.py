"""Atomic writes: a reader never sees half a file, and a failed write leaves nothing behind.

Every failure to write (a parent that is a file, a read-only disk, a full disk, no permission)
becomes an :class:`~lesionview.errors.OutputError` naming the path, the cause and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from ..errors import OutputError

# Why a write failed, in words, and what the user can do about it.
_CAUSES = {
    errno.ENOSPC: ("the disk is full", "Free some space, or write to another disk."),
    errno.EDQUOT: ("the disk quota is used up", "Free some space, or write to another disk."),
    errno.EFBIG: ("the file is too large for this file system", "Write to another disk."),
    errno.EROFS: ("the file system is read-only", "Write to a folder on a writable disk."),
    errno.EACCES: ("permission denied", "Write to a folder you own, or change its permissions."),
    errno.EPERM: ("permission denied", "Write to a folder you own, or change its permissions."),
    errno.ENAMETOOLONG: ("the name is too long", "Write to a folder with a shorter path."),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "Choose a folder (it is created if missing)."),
}


def output_error(path: str | os.PathLike, exc: OSError) -> OutputError:
    """The :class:`OutputError` for ``exc``, raised while writing ``path``.

    Examples
    --------
    >>> print(output_error("/out/m.json", OSError(errno.ENOSPC, "No space left")).message)
    /out/m.json: cannot be written: the disk is full. Free some space, or write to another disk.
    """
    path = Path(path)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_ancestor(path)
        if blocker is not None:
            return OutputError(f"is a file, so {path} cannot be written under it.", path=blocker,
                               hint="Choose another output folder, or move that file away.")
    cause, hint = cause_of(exc)
    return OutputError(f"cannot be written: {cause}.", path=path, hint=hint)


def cause_of(exc: OSError) -> tuple[str, str]:
    """``(why a write failed, what to do)`` in words, for an OSError met while writing."""
    return _CAUSES.get(exc.errno, (exc.strerror or str(exc) or type(exc).__name__, "Check the output folder."))


def check_writable_folder(folder: str | os.PathLike) -> None:
    """Refuse early a folder that cannot be created or written to (before any slow work).

    ``folder`` may not exist yet: its nearest existing ancestor must be a folder we can write
    into, on a writable file system. A full disk cannot be foreseen; :func:`atomic_path` reports it.

    Raises
    ------
    OutputError
        An ancestor is a file, the file system is read-only, or permission is denied.
    """
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if os.path.lexists(p)), None)
    if existing is None:
        return
    if not existing.is_dir():
        if existing == folder:
            raise OutputError("is a file, not a folder.", path=folder,
                              hint="Choose a folder (it is created if missing).")
        raise OutputError(f"is a file, so the folder {folder} cannot be created under it.", path=existing,
                          hint="Choose another output folder, or move that file away.")
    try:
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False  # unknown: the write itself will tell
    if read_only:
        raise output_error(folder, OSError(errno.EROFS, os.strerror(errno.EROFS)))
    effective = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    if not os.access(existing, os.W_OK | os.X_OK, **effective):
        where = "writing into it" if existing == folder else f"creating it in {existing}"
        raise OutputError(f"permission denied: {where} is not allowed.", path=folder,
                          hint="Write to a folder you own, or change its permissions.")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name keeps the target's suffixes (``.nii.gz``) because some writers choose
    the format from the name. It is removed whatever happens, Ctrl-C included.

    Raises
    ------
    OutputError
        The folder cannot be created, or the file cannot be written or renamed (any ``OSError``
        from here or from the block: disk full, read-only, permission denied...).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "sub" / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> [p.name for p in (folder / "sub").iterdir()]
    ['a.txt']
    """
    path = Path(path)
    suffix = "".join(path.suffixes)
    tmp = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created here (not by mkstemp) so that `tmp` is known before the file exists, whenever
            # Ctrl-C lands, and so that it gets the mode of a plain open() (0666 less the umask).
            for _ in range(100):
                tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.part{suffix}"
                try:
                    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                    break
                except FileExistsError:
                    tmp = None  # someone else's: never remove it
            else:
                raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))
            yield tmp
            os.replace(tmp, path)
        except OSError as exc:
            raise output_error(path, exc) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def _file_ancestor(path: Path) -> Path | None:
    """The nearest ancestor of ``path`` (or ``path``'s folder) that exists and is not a folder."""
    for p in path.parents:
        if os.path.lexists(p):
            return None if p.is_dir() else p
    return None
