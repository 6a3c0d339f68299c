"""Where autosaves live, and what keys them: the study, the series and the voxel grid.

An autosave's folder is ``autosave/<study>/<grid>/`` under :func:`cache_dir`; the grid name
hashes the series and the rounded grid geometry, so float noise in headers makes no new key.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lesionview.geometry import Geometry

from .._layers import layer_geometry
from .._study import IMAGE_ROLES, LABEL_ROLES, find_layer, role_of

if TYPE_CHECKING:
    from .store import AutosaveInfo

ENV_CACHE_DIR = "LESIONVIEW_CACHE_DIR"


def cache_dir() -> Path:
    """The lesionview user cache: ``$LESIONVIEW_CACHE_DIR`` or the platform's user cache dir."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("lesionview"))


def _uid_key(prefix: str, uid) -> str | None:
    uid = str(uid or "").strip()
    if not uid:
        return None
    safe = re.sub(r"[^0-9A-Za-z.\-]", "_", uid)
    if len(safe) > 80:
        safe = hashlib.sha256(uid.encode()).hexdigest()[:24]
    return f"{prefix}-{safe}"


def _file_key(layer) -> str | None:
    info = layer.metadata.get("series_info") or {}
    source = str(layer.metadata.get("source") or info.get("source") or "")
    if not source:
        return None
    resolved = str(Path(source).expanduser().resolve())
    return "file-" + hashlib.sha256(resolved.encode()).hexdigest()[:24]


def study_key(layer) -> str | None:
    """Key of the study an image layer belongs to, or None when nothing identifies it."""
    if layer is None:
        return None
    info = layer.metadata.get("series_info") or {}
    return (_uid_key("study", info.get("study_uid")) or _uid_key("series", info.get("series_uid"))
            or _file_key(layer))


def series_key(layer) -> str | None:
    """Key of the series a layer shows: its SeriesInstanceUID, else (NIfTI) its file; or None."""
    if layer is None:
        return None
    info = layer.metadata.get("series_info") or {}
    return _uid_key("series", info.get("series_uid")) or _file_key(layer)


def reference_layer(viewer):
    """The image the study is keyed on: the T1+C layer, else the T2 layer."""
    return find_layer(viewer, "t1c") or find_layer(viewer, "t2")


def autosave_dir(study: str) -> Path:
    """The folder holding every autosave of a study (one sub-folder per grid)."""
    return cache_dir() / "autosave" / study


def _grid_record(geometry: Geometry) -> dict:
    # Rounded, so that float noise in headers does not make another key; -0.0 written as 0.0.
    def r(values, digits):
        return [round(float(v), digits) + 0.0 for v in values]

    return {"shape": list(geometry.shape), "spacing": r(geometry.spacing, 4),
            "origin": r(geometry.origin, 3), "direction": [r(row, 5) for row in geometry.direction]}


def _grid_from_record(record) -> Geometry | None:
    try:
        return Geometry(tuple(record["shape"]), tuple(record["spacing"]), tuple(record["origin"]),
                        record["direction"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class GridKey:
    """What an autosave is keyed by: the series and the voxel grid its masks lie on."""

    study: str
    series: str
    geometry: Geometry
    #: The series as the user sees it (its image layer's name).
    label: str = ""

    @property
    def name(self) -> str:
        text = json.dumps({"series": self.series, **_grid_record(self.geometry)}, sort_keys=True)
        return "grid-" + hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def folder(self) -> Path:
        return autosave_dir(self.study) / self.name

    def matches(self, info: AutosaveInfo) -> bool:
        """True when ``info`` was saved on this series and grid."""
        return (info.series == self.series and info.geometry is not None
                and info.geometry.same_space(self.geometry, atol_mm=0.01))


def _images(viewer) -> list:
    """3D image layers, the T1+C and T2 first."""
    images = [layer for layer in viewer.layers
              if layer._type_string == "image" and np.ndim(layer.data) == 3 and not layer.rgb]
    return sorted(images, key=lambda layer: (role_of(layer) not in IMAGE_ROLES,
                                             IMAGE_ROLES.index(role_of(layer))
                                             if role_of(layer) in IMAGE_ROLES else 0))


def image_on(viewer, geometry: Geometry):
    """The image layer (T1+C first, then T2, then any) displayed on ``geometry``, or None."""
    for layer in _images(viewer):
        try:
            if series_key(layer) and layer_geometry(layer).same_space(geometry, atol_mm=0.01):
                return layer
        except ValueError:   # a layer placed with a translation in its affine: not ours
            continue
    return None


def grid_key(viewer) -> GridKey | None:
    """The key of the viewer's annotations: the grid of its annotation masks (the reference
    image's grid before any mask exists) and the series shown on that grid; None when nothing
    identifies them."""
    reference = reference_layer(viewer)
    masks = [find_layer(viewer, role) for role in LABEL_ROLES]
    on = next((layer for layer in masks if layer is not None and np.ndim(layer.data) == 3), reference)
    if on is None:
        return None
    try:
        geometry = layer_geometry(on)
    except ValueError:
        return None
    owner = image_on(viewer, geometry)
    if owner is None:
        owner = on if series_key(on) else reference
    study, series = study_key(owner) or study_key(reference), series_key(owner)
    if study is None or series is None:
        return None
    return GridKey(study, series, geometry, owner.name)
