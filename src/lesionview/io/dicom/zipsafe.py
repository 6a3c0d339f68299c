"""Reading a zip of a DICOM folder without extracting anything anywhere.

Members are read into memory one at a time, so nothing is written to disk and the zip is
never modified. A member whose name is absolute or climbs out of the archive (``..``) is
refused outright: a well-made export never contains one, so its presence means the archive
was crafted or broken, and the user should know which member it is.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
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
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, OverflowError) as exc:
        # (zipfile reports a damaged central directory with any of these)
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
#: Bytes read from a member to tell whether it is worth reading whole (see ``wanted``).
HEAD_BYTES = 144


def read_members(zip_path: Path, names, *, wanted: Callable[[bytes], bool], max_bytes: int,
                 size: Callable[[int], str] = lambda n: f"{n} bytes",
                 ) -> Iterator[tuple[str, bytes | None, tuple[str, str] | None]]:
    """Yield ``(name, bytes, None)`` for each member in ``names``, read into memory (never
    extracted), or ``(name, None, (kind, reason))`` when the member cannot be read.

    A member whose first bytes are not ``wanted`` yields only those bytes (enough to say what it
    is not), so a large video or archive inside the zip costs nothing. A member larger than
    ``max_bytes`` is not read. A member whose data fails its CRC-32 check, or does not inflate,
    is reported as corrupt and the others are still read: one damaged member must not cost the
    whole zip. Nor must one that claims to be DICOM ("DICM" at byte 128) and would inflate more
    than :data:`MAX_RATIO` times (a zip bomb, or an image of mostly zeros): it is reported as
    unsupported without being inflated (``max_bytes`` already bounds the memory it could take).
    """
    with zipfile.ZipFile(zip_path) as zf:
        for name in names:
            info = zf.getinfo(name)
            if info.file_size > max_bytes:
                why = f"{size(info.file_size)} uncompressed, more than the {size(max_bytes)} a DICOM file is read up to"
                yield name, None, ("unsupported", why)
                continue
            try:
                with zf.open(info) as fh:
                    head = fh.read(HEAD_BYTES)
                    claims_dicom = wanted(head) or head[128:132] == b"DICM"
                    if claims_dicom and info.file_size > _BOMB_MIN_BYTES and \
                            info.file_size > MAX_RATIO * max(info.compress_size, 1):
                        yield name, None, ("unsupported", (
                            f"would inflate from {size(info.compress_size)} to {size(info.file_size)}, more than "
                            f"{MAX_RATIO} times, as only a zip bomb or an image of mostly zeros does: not inflated"))
                        continue
                    if not wanted(head):
                        yield name, head, None
                        continue
                    data = head + fh.read()  # reading to the end checks the CRC-32
            except RuntimeError as exc:  # encrypted member
                yield name, None, ("unsupported", f"cannot be read from the zip ({exc})")
            except NotImplementedError as exc:  # compression method zipfile does not know
                yield name, None, ("unsupported", f"cannot be read from the zip ({exc})")
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
                yield name, None, ("corrupt", f"damaged inside the zip: {' '.join(str(exc).split())} (not used)")
            else:
                yield name, data, None
