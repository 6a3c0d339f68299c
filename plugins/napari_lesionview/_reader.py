"""napari reader: DICOM folders, ``.zip`` files, single DICOM files and NIfTI, via the core loader.

``get_reader`` claims a path only when it looks like something :func:`lesionview.io.load`
reads (so napari can try other readers otherwise). Once claimed, a
:class:`~lesionview.errors.InputError` from the loader is raised as is: its message names the
file and says what to do, and napari shows it to the user.

How napari picks this reader (napari 0.9, npe2)
    For a folder, npe2 lists every reader that accepts folders, whatever its filename patterns,
    and napari's own reader is one; ``.dcm``, ``.dicom``, ``.nii`` and ``.nii.gz`` match
    napari's reader too (``.zip`` and ``.ima`` only ours). With two candidates and no reader
    preference, File > Open, drag-and-drop, ``napari PATH`` and ``viewer.open(PATH, plugin=None)``
    ask "Choose reader" (or raise). So on first use in a napari window (:func:`read`) lesionview
    adds :data:`READER_PREFERENCES` to napari's reader preferences, says so in a notification,
    and never adds a pattern twice: one the user removes in Preferences > Plugins stays removed.
    ``viewer.open(PATH)`` without ``plugin=`` always means napari's own reader (napari's default,
    ``plugin="napari"``); scripts pass ``plugin="lesionview"``.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from fnmatch import fnmatch
from pathlib import Path

from lesionview.errors import OutputError
from lesionview.io import load
from lesionview.io.atomic import atomic_path
from lesionview.io.nifti import is_nifti
from lesionview.io.paths import open_regular
from lesionview.io.seg import find_seg

from ._layers import volumes_to_layer_data
from ._seg import seg_layer_data

#: The npe2 plugin name (``name`` in napari.yaml), as napari's preferences spell it.
PLUGIN_NAME = "lesionview"
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
# How much of a folder or zip to look at before deciding it holds no DICOM (keeps the check fast).
_MAX_LISTED = 2000
_MAX_SNIFFED = 20
_NOT_DICOM = (".txt", ".md", ".json", ".xml", ".csv", ".pdf", ".html", ".htm", ".jpg", ".jpeg",
              ".png", ".tif", ".tiff", ".nii", ".gz", ".zip", ".py", ".bvec", ".bval")


def get_reader(path):
    """:func:`read` if every path is a NIfTI file or a DICOM file, folder or zip; else None."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or not all(_can_read(Path(p)) for p in paths):
        return None
    return read


def read(path) -> list[tuple]:
    """Layer data tuples for every series at ``path`` (a path or a list of paths).

    napari calls readers synchronously; a long DICOM scan at least shows napari's progress bar
    (files read / found) while it runs.
    """
    from napari.utils import progress

    _prefer_lesionview_in_napari()
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    layers = []
    for p in paths:
        with progress(total=0, desc=f"Reading {Path(p).name}") as bar:
            def advance(done: int, total: int, bar=bar) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            seg = find_seg(p)
            if seg is not None:  # a mask: its segments as the panel's cord, edema and lesion layers
                layers.extend(seg_layer_data(seg, _current_viewer()))
                continue
            layers.extend(volumes_to_layer_data(load(p, progress=advance)))
    return layers


def _current_viewer():
    """The viewer the file is opened in (napari's readers are not told), or None."""
    from napari import current_viewer

    return current_viewer()


def _can_read(path: Path) -> bool:
    if path.is_dir():
        return _is_dicom_folder(path)
    name = path.name.lower()
    if is_nifti(name) or name.endswith(DICOM_SUFFIXES):
        return True
    if name.endswith(".zip"):
        return _is_dicom_zip(path)
    return False


def _maybe_dicom_name(name: str) -> bool:
    # DICOM files are often named without a suffix (IM0001) or by UID (1.3.12.2....).
    base = name.rsplit("/", 1)[-1].lower()
    return bool(base) and not base.startswith(".") and not base.endswith(_NOT_DICOM)


def _has_dicom_magic(head: bytes) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


def _is_dicom_folder(folder: Path) -> bool:
    sniffed = 0
    for listed, (root, _dirs, files) in enumerate(os.walk(folder)):
        if listed > _MAX_LISTED:
            break
        for name in files:
            lower = name.lower()
            if lower.endswith(DICOM_SUFFIXES) or lower == "dicomdir":
                return True
            if sniffed < _MAX_SNIFFED and _maybe_dicom_name(lower):
                sniffed += 1
                try:  # never open a FIFO or a device found in the folder: that would block
                    fh = open_regular(os.path.join(root, name))
                except OSError:
                    continue
                if fh is None:
                    continue
                with fh:
                    if _has_dicom_magic(fh.read(132)):
                        return True
    return False


def _is_dicom_zip(path: Path) -> bool:
    try:
        fh = open_regular(path)  # a FIFO named *.zip would block ZipFile(path) forever
    except OSError:
        return True  # claimed: the loader says what is wrong with it
    if fh is None:
        return True
    try:
        with fh, zipfile.ZipFile(fh) as zf:
            names = [i for i in zf.infolist()[:_MAX_LISTED] if not i.is_dir()]
            if any(i.filename.lower().endswith(DICOM_SUFFIXES) or
                   i.filename.lower().rsplit("/", 1)[-1] == "dicomdir" for i in names):
                return True
            for info in [i for i in names if _maybe_dicom_name(i.filename)][:_MAX_SNIFFED]:
                with zf.open(info) as member:
                    if _has_dicom_magic(member.read(132)):
                        return True
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, zlib.error):
        # A damaged zip: claim it, so the user gets the loader's message rather than
        # "no reader found".
        return True
    return False


# ----------------------------------------------------------------------------- napari preferences
#: Reader preferences lesionview adds to napari's (pattern -> a path it stands for). napari
#: matches a folder as "<real path>/", so "*/" is every folder: one without DICOM is refused by
#: get_reader, and napari then asks which other reader to use, as it always did. ``.zip`` and
#: ``.ima`` need none (no other reader claims them), and no pattern of napari's own formats
#: (.tif, .npy, ...) is touched. napari compares case on Linux and macOS: upper-case names, as
#: CD and Windows exports write them, have their own patterns.
READER_PREFERENCES = {
    "*/": "/any/folder/",
    "*.dcm": "/any/image.dcm",
    "*.DCM": "/any/IMAGE.DCM",
    "*.dicom": "/any/image.dicom",
    "*.nii": "/any/image.nii",
    "*.NII": "/any/IMAGE.NII",
    "*.nii.gz": "/any/image.nii.gz",
    "*.NII.GZ": "/any/IMAGE.NII.GZ",
}
# Which patterns lesionview has added, beside napari's settings file (so per napari
# environment, and gone with a reset of napari's settings folder): a pattern the user removed
# is never put back. When napari keeps no settings file, remembered for this session only.
_OFFERED_FILE = "lesionview-reader-preferences.json"
_offered_in_session: dict[str, set[str]] = {}


def prefer_lesionview(settings=None) -> list[str]:
    """Make napari open folders, DICOM and NIfTI files with lesionview without asking.

    Adds each :data:`READER_PREFERENCES` pattern to napari's reader preferences
    (``settings.plugins.extension2reader``, Preferences > Plugins in napari), once: a pattern
    the user removes later is not put back, and a pattern whose files or folders the user had
    already given a reader (directly or through a broader pattern such as "*") is left to them.

    Parameters
    ----------
    settings : napari.settings.NapariSettings, optional
        napari's settings (default: ``napari.settings.get_settings()``).

    Returns
    -------
    list of str
        The patterns added (empty when there was nothing to do).
    """
    if settings is None:
        from napari.settings import get_settings

        settings = get_settings()
    chosen = dict(settings.plugins.extension2reader)
    config = settings.config_path
    record = Path(config).parent / _OFFERED_FILE if isinstance(config, (str, os.PathLike)) else None
    session = _offered_in_session.setdefault(str(record), set())
    offered = session | _read_offered(record)
    # Each pattern is considered once: one the user had already chosen a reader for stays theirs
    # even if they remove that choice later.
    new = [pattern for pattern in READER_PREFERENCES if pattern not in offered]
    if not new:
        return []
    added = [pattern for pattern in new
             if not any(fnmatch(READER_PREFERENCES[pattern], p) for p in chosen)]
    if added:
        settings.plugins.extension2reader = {**chosen, **dict.fromkeys(added, PLUGIN_NAME)}
    session.update(new)
    if record is not None:
        try:
            with atomic_path(record) as tmp:
                tmp.write_text(json.dumps({"offered": sorted(offered | set(new))}, indent=1))
        except OutputError:
            pass  # a read-only settings folder: considered again next session, nothing worse
    return added


def _read_offered(record: Path | None) -> set[str]:
    if record is None:
        return set()
    try:
        offered = json.loads(record.read_text()).get("offered", [])
    except (OSError, ValueError, AttributeError):
        return set()  # none yet, or damaged: offering again is harmless
    return {p for p in offered if isinstance(p, str)}


def _prefer_lesionview_in_napari() -> None:
    """First use in a napari window: add the reader preferences and tell the user."""
    import napari

    # A script or a test reading files without a window leaves napari's preferences alone.
    if napari.current_viewer() is None:
        return
    try:
        added = prefer_lesionview()
    except OSError:
        return  # napari could not save its settings: opening the file matters more
    if added:
        from napari.utils.notifications import show_info

        what = ", ".join("folders" if p == "*/" else p for p in added)
        show_info(f"lesionview will open these without asking which reader to use: {what} "
                  "(napari reader preferences; a folder without DICOM still goes to another "
                  "reader). Change or remove them in Preferences > Plugins.")
