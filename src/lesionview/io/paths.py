"""What a path given as input is, found without opening it, and opening regular files safely.

Opening a FIFO blocks until a writer comes, a device never ends (``/dev/zero``) and a symbolic
link loop cannot be followed, so every loader asks here first: nothing is opened unless it is
a regular file (or a folder, which is walked, never opened).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import InputError

#: What a path that is neither a regular file nor a folder is (it is never opened).
_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO), not a file: opening it would wait forever"),
            (stat.S_ISCHR, "a character device, not a file"),
            (stat.S_ISBLK, "a block device, not a file"),
            (stat.S_ISSOCK, "a socket, not a file"))
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | \
    getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


def path_problem(path: str | os.PathLike) -> tuple[str, str] | None:
    """``(what, description)`` when ``path`` must not be opened, else None (a regular file or a
    folder). ``what`` is "missing", "link" (loop or broken link), "special" (FIFO, device,
    socket) or "unreadable". Follows links, never opens anything.

    Examples
    --------
    >>> path_problem("/dev/null")
    ('special', 'a character device, not a file')
    """
    try:
        st = os.stat(path)
    except ValueError as exc:  # an embedded NUL byte
        return "unreadable", f"not a valid path ({exc})"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link", "a symbolic link loop (it points, through other links, back to itself)"
        if exc.errno == errno.ENOENT and os.path.lexists(path):
            try:
                target = repr(os.readlink(path))
            except OSError:
                target = "a path"
            return "link", f"a broken symbolic link (to {target}, which does not exist)"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing", "missing"
        return "unreadable", f"not readable ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        return None
    return "special", next((why for test, why in _SPECIAL if test(st.st_mode)), "not a regular file")


def input_path(path: str | os.PathLike, *, expect: str = "a DICOM folder, a .zip, a DICOM file or a NIfTI file"
               ) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it is an existing regular file or folder.

    Nothing is opened: a FIFO would block ``open`` forever and a device never ends.

    Raises
    ------
    InputError
        It does not exist, is a broken link or a link loop, or is a FIFO, device or socket.
    """
    path = Path(path)
    problem = path_problem(path)
    if problem is None:
        return path
    what, description = problem
    if what == "missing":
        raise InputError("does not exist.", path=path, hint="Check the path.")
    hint = {"link": "Give the real file or folder.", "unreadable": "Check the path and its permissions."}.get(
        what, f"Give {expect}.")
    raise InputError(f"is {description}.", path=path, hint=hint)


def open_regular(path: str | os.PathLike):
    """``path`` opened for binary reading if it is a regular file, else None; never blocks.

    The type is checked again on the open descriptor, in case the path was swapped for a FIFO
    since it was looked at (the open itself is non-blocking, so that cannot hang either).

    Raises
    ------
    OSError
        It cannot be opened (permissions, vanished...).
    """
    fd = os.open(path, _FLAGS)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")  # the caller closes it
