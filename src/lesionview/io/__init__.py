"""Loading images and masks from the files radiologists have: DICOM folders, zips, NIfTI.

``load(path)`` returns every image series found; ``load_volume(path)`` the one you ask for.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import InputError
from ..volume import Volume
from .nifti import is_nifti, read_nifti, write_nifti

__all__ = ["input_path", "is_nifti", "load", "load_volume", "read_nifti", "write_nifti"]


def load(path: str | os.PathLike, *, first_volume_of_4d: bool = False, progress=None) -> list[Volume]:
    """Every image series under ``path`` (a NIfTI file, a DICOM file, folder or ``.zip``).

    Raises :class:`~lesionview.errors.InputError` when nothing loadable is there, saying what
    was found instead.
    """
    path = input_path(path)
    if path.is_file() and is_nifti(path):
        return [read_nifti(path, first_volume_of_4d=first_volume_of_4d)]
    return [series.load() for series in _dicom_series(path, progress)]


def load_volume(path: str | os.PathLike, *, series: str | int | None = None,
                first_volume_of_4d: bool = False, progress=None) -> Volume:
    """One volume: the only series at ``path``, or the one whose SeriesInstanceUID, number or
    description matches ``series``. Only that series' pixels are read."""
    path = input_path(path)
    if path.is_file() and is_nifti(path):
        return read_nifti(path, first_volume_of_4d=first_volume_of_4d)
    found = _dicom_series(path, progress)
    if series is None:
        if len(found) > 1:
            raise InputError(f"holds {len(found)} series ({_names(found)}).", path=path,
                             hint="Give the folder of the one series you mean, or series= (UID, number "
                                  "or description) from Python.")
        return found[0].load()
    key = str(series)
    # A stack's own uid (with its #k when one SeriesInstanceUID was split) names exactly one.
    matches = [s for s in found if key == s.uid] or [
        s for s in found if key in (s.info.series_uid, str(s.info.series_number), s.info.series_description)]
    if len(matches) == 1:
        return matches[0].load()
    if matches:
        raise InputError(f"has {len(matches)} stacks matching {key!r} ({_names(matches)}).", path=path,
                         hint=f"Choose one by its uid, e.g. series={matches[0].uid!r}.")
    raise InputError(f"has no series matching {key!r} (found: {_names(found)}).", path=path)


def _names(found) -> str:
    """The series' labels, with the uid of each whose label another one shares."""
    labels = [s.info.label for s in found]
    return "; ".join(label if labels.count(label) == 1 else f"{label} [uid {s.uid}]"
                     for label, s in zip(labels, found))


#: What a path that is neither a regular file nor a folder is (it is never opened).
_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO), not a file: opening it would wait forever"),
            (stat.S_ISCHR, "a character device, not a file"),
            (stat.S_ISBLK, "a block device, not a file"),
            (stat.S_ISSOCK, "a socket, not a file"))


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


def input_path(path: str | os.PathLike) -> Path:
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
        what, "Give a DICOM folder, a .zip, a DICOM file or a NIfTI file.")
    raise InputError(f"is {description}.", path=path, hint=hint)


def _dicom_series(path: Path, progress):
    from .dicom import scan

    return scan(path, progress=progress).require_series()
