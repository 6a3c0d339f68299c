"""Autosaves of an earlier lesionview, kept per study, moved into the folder of their grid."""

from __future__ import annotations

import shutil

from lesionview.errors import LesionviewError
from lesionview.geometry import Geometry
from lesionview.io import read_nifti

from .._study import POINTS_ROLE
from .keys import GridKey, autosave_dir, image_on, series_key, study_key
from .store import MANIFEST, AutosaveInfo, _write_manifest, read_autosave

_UNKNOWN_SERIES = "unknown-series"


def migrate_legacy(viewer, study: str | None) -> AutosaveInfo | None:
    """Move a study's format-1 autosave (``autosave/<study>/manifest.json``) into its grid folder.

    The grid is read from the saved masks; an open image of the study on exactly that grid
    names the series, else the series is unknown (offered resampled only). Returns the migrated
    autosave, or None when there was none or it could not be read (then it is left as it is).
    """
    if not study:
        return None
    old = autosave_dir(study)
    info = read_autosave(old)
    if info is None:
        return None
    geometry = None
    for role, file_name in info.layers.items():
        if role != POINTS_ROLE:
            try:
                geometry = read_nifti(old / file_name).geometry
                break
            except (LesionviewError, OSError, ValueError):
                continue
    owner = None if geometry is None else image_on(viewer, geometry)
    if owner is not None and study_key(owner) != study:
        owner = None
    series = series_key(owner) if owner is not None else _UNKNOWN_SERIES
    label = owner.name if owner is not None else "a series of this study (autosave of an earlier lesionview)"
    key = GridKey(study, series, geometry or Geometry((1, 1, 1)), label)
    folder = key.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for file_name in info.layers.values():
            shutil.copy2(old / file_name, folder / file_name)
        _write_manifest(folder, info.layers, info.names, key, saved_at=info.saved_at,
                        extra={"migrated_from": "format 1, keyed by study"} if geometry else
                        {"migrated_from": "format 1, keyed by study", "grid": None})
    except OSError:
        return None
    (old / MANIFEST).unlink(missing_ok=True)
    for file_name in info.layers.values():
        (old / file_name).unlink(missing_ok=True)
    return read_autosave(folder)
