"""What an autosave is on disk: one file per annotation layer and the manifest, written last.

:func:`snapshot` copies the layers on the GUI thread; :func:`write_snapshot` writes them (on a
worker thread) into the grid's folder; :func:`read_autosave` and the finders read them back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lesionview.geometry import Geometry
from lesionview.io import write_nifti
from lesionview.io.atomic import atomic_path
from lesionview.levels import write_landmarks

from .._layers import layer_geometry
from .._space import napari_to_lps
from .._study import LABEL_ROLES, POINTS_ROLE, find_layer
from .keys import GridKey, _grid_from_record, _grid_record, autosave_dir

ANNOTATION_ROLES = (*LABEL_ROLES, POINTS_ROLE)
MANIFEST = "manifest.json"
#: Manifest layout: 2 keys the autosave by grid (1, without the field, by study).
FORMAT = 2


@dataclass(frozen=True)
class AutosaveInfo:
    """An autosave found on disk."""

    folder: Path
    saved_at: str
    layers: dict = field(default_factory=dict)   # role -> file name
    names: dict = field(default_factory=dict)    # role -> layer name
    series: str = ""
    #: The series the masks were drawn on, as the user saw it.
    series_label: str = ""
    geometry: Geometry | None = None

    @property
    def when(self) -> str:
        try:
            return datetime.fromisoformat(self.saved_at).astimezone().strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return self.saved_at

    @property
    def roles(self) -> str:
        return ", ".join(self.names.get(r, r) for r in self.layers)


def read_autosave(folder: Path) -> AutosaveInfo | None:
    """The autosave in ``folder``, or None (no manifest, unreadable, or no file left)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        layers = {r: f for r, f in (manifest.get("layers") or {}).items()
                  if r in ANNOTATION_ROLES and (folder / str(f)).is_file()}
    except (OSError, ValueError, AttributeError):
        return None
    if not layers:
        return None
    grid = _grid_from_record(manifest.get("grid") or {})
    return AutosaveInfo(folder, str(manifest.get("saved_at", "")), layers, manifest.get("names") or {},
                        str(manifest.get("series") or ""), str(manifest.get("series_label") or ""), grid)


def study_autosaves(study: str | None) -> list[AutosaveInfo]:
    """Every autosave of a study (one per grid), newest first; legacy ones are not listed."""
    if not study:
        return []
    try:
        folders = [f for f in autosave_dir(study).iterdir() if f.is_dir()]
    except OSError:
        return []
    found = [info for info in map(read_autosave, folders) if info is not None]
    return sorted(found, key=lambda info: info.saved_at, reverse=True)


def find_autosave(key: GridKey | None) -> AutosaveInfo | None:
    """The autosave saved on ``key``'s series and grid, or None."""
    if key is None:
        return None
    info = read_autosave(key.folder)
    if info is not None and key.matches(info):
        return info
    return next((info for info in study_autosaves(key.study) if key.matches(info)), None)


def other_grid_autosaves(key: GridKey | None) -> list[AutosaveInfo]:
    """Autosaves of ``key``'s study made on another series or grid, newest first."""
    if key is None:
        return []
    return [info for info in study_autosaves(key.study) if not key.matches(info)]


def discard_autosave(info: AutosaveInfo | None) -> None:
    """Forget an autosave (its manifest goes; the folder is reused by the next save)."""
    if info is not None:
        (info.folder / MANIFEST).unlink(missing_ok=True)


def snapshot(viewer) -> dict:
    """Copies of the annotation layers (GUI thread, fast); :func:`write_snapshot` saves them."""
    from .._writer import _points_to_world

    snap = {}
    for role in ANNOTATION_ROLES:
        layer = find_layer(viewer, role)
        if layer is None:
            continue
        if role == POINTS_ROLE:
            points = np.asarray(layer.data, dtype=float).reshape(-1, 3)
            world = _points_to_world(points, {"scale": layer.scale, "translate": layer.translate,
                                              "affine": layer.affine.affine_matrix})
            names = [str(n) for n in layer.features["name"]] if "name" in layer.features else []
            if len(names) != len(points):
                names = [f"P{i + 1}" for i in range(len(points))]
            snap[role] = (layer.name, names, napari_to_lps(world))
        elif np.ndim(layer.data) == 3:
            snap[role] = (layer.name, np.array(layer.data, copy=True), layer_geometry(layer))
    return snap


def _write_manifest(folder: Path, layers: dict, names: dict, key: GridKey, *, saved_at: str | None = None,
                    extra: dict | None = None) -> None:
    manifest = {"format": FORMAT,
                "saved_at": saved_at or datetime.now(UTC).isoformat(timespec="seconds"),
                "study": key.study, "series": key.series, "series_label": key.label,
                "grid": _grid_record(key.geometry), "layers": layers, "names": names, **(extra or {})}
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def write_snapshot(key: GridKey, snap: dict) -> Path:
    """Write a :func:`snapshot` into ``key``'s folder, each file atomically, the manifest last."""
    folder = key.folder
    folder.mkdir(parents=True, exist_ok=True)
    layers, names = {}, {}
    for role, item in snap.items():
        names[role] = item[0]
        if role == POINTS_ROLE:
            layers[role] = f"{role}.json"
            with atomic_path(folder / layers[role]) as tmp:
                write_landmarks(tmp, item[1], item[2])
        else:
            layers[role] = f"{role}.nii.gz"
            write_nifti(item[1], folder / layers[role], geometry=item[2])
    _write_manifest(folder, layers, names, key)
    return folder
