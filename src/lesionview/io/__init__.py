"""Loading images and masks from the files radiologists have: DICOM folders, zips, NIfTI, DICOM SEG.

``load(path)`` returns every image series found; ``load_volume(path)`` the one you ask for. A
DICOM SEG file is a mask (:mod:`lesionview.io.seg`), never an image series.

The NIfTI names are imported on first use (lazy_loader): nibabel costs ~0.25 s to import, and
reading a DICOM folder, which imports this package, needs none of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import lazy_loader

from .nifti_names import is_nifti
from .paths import input_path, path_problem

if TYPE_CHECKING:
    from ..volume import Volume

__all__ = ["input_path", "is_nifti", "load", "load_volume", "path_problem", "read_nifti", "write_nifti"]
__getattr__ = lazy_loader.attach(__name__, submod_attrs={"nifti": ["read_nifti", "write_nifti"]})[0]


def load(path: str | os.PathLike, *, first_volume_of_4d: bool = False, progress=None) -> list[Volume]:
    """Every image series under ``path`` (a NIfTI file, a DICOM file, folder or ``.zip``).

    Raises :class:`~lesionview.errors.InputError` when nothing loadable is there, saying what
    was found instead.
    """
    path = input_path(path)
    if path.is_file() and is_nifti(path):
        from .nifti import read_nifti

        return [read_nifti(path, first_volume_of_4d=first_volume_of_4d)]
    if _seg_file(path):
        return [load_volume(path)]
    return [series.load() for series in _dicom_series(path, progress)]


def load_volume(path: str | os.PathLike, *, series: str | int | None = None,
                first_volume_of_4d: bool = False, progress=None) -> Volume:
    """One volume: the only series at ``path``, or the one whose SeriesInstanceUID, number or
    description matches ``series``. Only that series' pixels are read.

    A DICOM SEG file gives its segments as one mask on the SEG's own grid: labels 1, 2, ... in
    segment-number order (one segment: 0/1); :func:`lesionview.io.seg.read_seg` chooses segments
    and puts them on the image's grid."""
    path = input_path(path)
    if path.is_file() and is_nifti(path):
        from .nifti import read_nifti

        return read_nifti(path, first_volume_of_4d=first_volume_of_4d)
    seg = _seg_file(path)
    if seg:
        from .seg import read_seg

        return read_seg(seg).volume
    from .dicom import pick_series

    return pick_series(_dicom_series(path, progress), series, path).load()


def _seg_file(path: Path) -> Path | None:
    from .seg import find_seg

    return find_seg(path)


def _dicom_series(path: Path, progress):
    from .dicom import scan

    return scan(path, progress=progress).require_series()
