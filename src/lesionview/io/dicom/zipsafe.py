"""Reading a zip of a DICOM folder without extracting anything anywhere.

Members are read into memory one at a time, so nothing is written to disk and the zip is
never modified. A member whose name is absolute or climbs out of the archive (``..``) is
refused outright: a well-made export never contains one, so its presence means the archive
was crafted or broken, and the user should know which member it is.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from ...errors import InputError


def is_zip(path: Path) -> bool:
    return path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path))


def unsafe_reason(name: str) -> str | None:
    """Why a member name could escape the archive, or None when it is a plain relative path."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or PureWindowsPath(name).drive or name.startswith(("/", "\\")):
        return "an absolute path"
    if ".." in posix.parts:
        return "a '..' component"
    return None


def member_names(zip_path: Path) -> list[str]:
    """Names of the file members, in archive order, after checking that every one is safe.

    Raises
    ------
    InputError
        The file is not a readable zip, or a member name is absolute or contains ``..``.
    """
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"is not a readable zip archive ({exc}).", path=zip_path,
                         hint="Re-create the zip, or give the folder instead.") from exc
    for info in infos:
        reason = unsafe_reason(info.filename)
        if reason:
            raise InputError(
                f"zip member {info.filename!r} has {reason}, which could write outside the archive; "
                "the zip was refused and nothing was read from it.", path=zip_path,
                hint="Re-create the zip from the DICOM folder itself (e.g. `zip -r study.zip study/`).")
    return [i.filename for i in infos if not i.is_dir()]


#: Uncompressed / compressed size above which a large member is taken for a zip bomb: DICOM
#: compresses a few times, never hundreds.
MAX_RATIO = 100
_BOMB_MIN_BYTES = 64 * 2**20


def looks_like_dicom(head: bytes) -> bool:
    """A Part 10 preamble ("DICM" at byte 128) or a bare dataset starting with group 0002/0008."""
    return head[128:132] == b"DICM" or head[:2] in (b"\x02\x00", b"\x08\x00")


def read_members(zip_path: Path, names):
    """Yield ``(name, bytes)`` for each member in ``names``, read into memory (never extracted).

    A member that does not start like DICOM yields only its first bytes (enough to say what it
    is not), so a large video or archive inside the zip costs nothing; a member that would
    inflate more than :data:`MAX_RATIO` times is refused as a zip bomb.
    """
    with zipfile.ZipFile(zip_path) as zf:
        for name in names:
            info = zf.getinfo(name)
            with zf.open(info) as fh:
                head = fh.read(132)
                if not looks_like_dicom(head):
                    yield name, head
                    continue
                if info.file_size > _BOMB_MIN_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                    raise InputError(
                        f"zip member {name!r} would inflate from {info.compress_size} to {info.file_size} "
                        "bytes, which no DICOM file does; the zip was refused.", path=zip_path,
                        hint="Re-create the zip from the DICOM folder itself.")
                yield name, head + fh.read()
