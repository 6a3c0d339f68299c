"""Loading images and masks from the files radiologists have: DICOM folders, zips, NIfTI.

``load(path)`` returns every image series found; ``load_volume(path)`` the one you ask for.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..volume import Volume
from .nifti import is_nifti, read_nifti, write_nifti

__all__ = ["is_nifti", "load", "load_volume", "read_nifti", "write_nifti"]


def load(path: str | os.PathLike, *, first_volume_of_4d: bool = False, progress=None) -> list[Volume]:
    """Every image series under ``path`` (a NIfTI file, a DICOM file, folder or ``.zip``).

    Raises :class:`~lesionview.errors.InputError` when nothing loadable is there, saying what
    was found instead.
    """
    path = _existing(path)
    if path.is_file() and is_nifti(path):
        return [read_nifti(path, first_volume_of_4d=first_volume_of_4d)]
    return [series.load() for series in _dicom_series(path, progress)]


def load_volume(path: str | os.PathLike, *, series: str | int | None = None,
                first_volume_of_4d: bool = False, progress=None) -> Volume:
    """One volume: the only series at ``path``, or the one whose SeriesInstanceUID, number or
    description matches ``series``. Only that series' pixels are read."""
    path = _existing(path)
    if path.is_file() and is_nifti(path):
        return read_nifti(path, first_volume_of_4d=first_volume_of_4d)
    found = _dicom_series(path, progress)
    names = "; ".join(s.info.label for s in found)
    if series is None:
        if len(found) > 1:
            raise InputError(f"holds {len(found)} series ({names}).", path=path,
                             hint="Give the folder of the one series you mean, or series= (UID, number "
                                  "or description) from Python.")
        return found[0].load()
    key = str(series)
    for s in found:
        if key in (s.info.series_uid, s.uid, str(s.info.series_number), s.info.series_description):
            return s.load()
    raise InputError(f"has no series matching {key!r} (found: {names}).", path=path)


def _existing(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError("does not exist.", path=path, hint="Check the path.")
    return path


def _dicom_series(path: Path, progress):
    from .dicom import scan

    return scan(path, progress=progress).require_series()
