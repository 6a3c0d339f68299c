"""Loading images and masks from the files radiologists have: DICOM folders, zips, NIfTI.

``load(path)`` returns every image series found; ``load_volume(path)`` the one you ask for.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..volume import Volume
from .nifti import is_nifti, read_nifti, write_nifti

__all__ = ["load", "load_volume", "read_nifti", "write_nifti", "is_nifti"]


def load(path: str | os.PathLike, *, first_volume_of_4d: bool = False, progress=None) -> list[Volume]:
    """Every image series under ``path`` (a NIfTI file, a DICOM file, folder or ``.zip``).

    Raises :class:`~lesionview.errors.InputError` when nothing loadable is there, saying what
    was found instead.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("does not exist.", path=path, hint="Check the path.")
    if path.is_file() and is_nifti(path):
        return [read_nifti(path, first_volume_of_4d=first_volume_of_4d)]
    from .dicom import scan  # noqa: PLC0415 (pydicom import is slow; NIfTI users skip it)

    result = scan(path, progress=progress)
    return [series.load() for series in result.require_series()]


def load_volume(path: str | os.PathLike, *, series: str | int | None = None, **kwargs) -> Volume:
    """One volume: the only series at ``path``, or the one whose SeriesInstanceUID, number or
    description matches ``series``."""
    volumes = load(path, **kwargs)
    if series is None:
        if len(volumes) > 1:
            names = "; ".join(v.info.label for v in volumes)
            raise InputError(f"holds {len(volumes)} series ({names}).", path=path,
                             hint="Say which one with series= (CLI: --series) as UID, number or description.")
        return volumes[0]
    key = str(series)
    for v in volumes:
        if key in (v.info.series_uid, str(v.info.series_number), v.info.series_description):
            return v
    names = "; ".join(v.info.label for v in volumes)
    raise InputError(f"has no series matching {key!r} (found: {names}).", path=path)
