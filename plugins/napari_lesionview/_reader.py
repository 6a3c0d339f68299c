"""napari reader: DICOM folders, ``.zip`` files, single DICOM files and NIfTI, via the core loader.

``get_reader`` claims a path only when it looks like something :func:`lesionview.io.load`
reads (so napari can try other readers otherwise). Once claimed, a
:class:`~lesionview.errors.InputError` from the loader is raised as is: its message names the
file and says what to do, and napari shows it to the user.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

from lesionview.io import load
from lesionview.io.nifti import is_nifti
from lesionview.io.paths import open_regular

from ._layers import volumes_to_layer_data

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

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    layers = []
    for p in paths:
        with progress(total=0, desc=f"Reading {Path(p).name}") as bar:
            def advance(done: int, total: int, bar=bar) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            layers.extend(volumes_to_layer_data(load(p, progress=advance)))
    return layers


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
        with zipfile.ZipFile(path) as zf:
            names = [i for i in zf.infolist()[:_MAX_LISTED] if not i.is_dir()]
            if any(i.filename.lower().endswith(DICOM_SUFFIXES) or
                   i.filename.lower().rsplit("/", 1)[-1] == "dicomdir" for i in names):
                return True
            for info in [i for i in names if _maybe_dicom_name(i.filename)][:_MAX_SNIFFED]:
                with zf.open(info) as fh:
                    if _has_dicom_magic(fh.read(132)):
                        return True
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, zlib.error):
        # A damaged zip: claim it, so the user gets the loader's message rather than
        # "no reader found".
        return True
    return False
