"""Not losing work: annotations autosaved per voxel grid, offered back, and a question before closing.

Where
    ``$LESIONVIEW_CACHE_DIR/autosave/<study>/<grid>/`` (default: the platform's user cache,
    ``platformdirs.user_cache_dir("lesionview")``). Masks are only meaningful on the voxel grid
    they were drawn on, so an autosave is keyed by that grid (:class:`GridKey`): the series the
    grid belongs to (its SeriesInstanceUID, else, for NIfTI, a hash of its file path) and the
    grid's geometry (shape, spacing, origin, direction). ``<study>`` (the StudyInstanceUID, else
    the series, else the file) only groups the autosaves of one study, so that the annotations
    of another series of the study can be offered too, resampled onto this grid (nearest
    neighbour, :func:`restore_resampled`), when the user asks for it.
What
    one NIfTI per annotation Labels layer (``lesions``, ``edema``, ``cord``) on its displayed
    grid at its true physical position, ``levels.json`` (landmark names, LPS mm) and
    ``manifest.json`` (the grid key, written last; a folder without it is ignored). Every file
    is written atomically, on a worker thread, debounced after edits.
Earlier autosaves
    lesionview before this layout kept one autosave per study, ``autosave/<study>/manifest.json``,
    whichever series the masks were drawn on. They are migrated, not ignored, when their study
    is next opened (:func:`migrate_legacy`): the grid is read from the saved masks' NIfTI
    headers; an open image of the study on exactly that grid names the series, else the series
    stays unknown and the autosave is only ever offered resampled (which changes nothing when
    the grids agree). A legacy autosave that cannot be read is left where it is, and ignored.
When asked
    closing the napari window (its close button, File > Close Window, Quit) with annotations
    changed since they were last saved to a file or restored asks first. The question is
    :attr:`Autosaver.ask_close` (a callable ``message -> bool``), replaceable in tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from qtpy.QtCore import QEvent, QObject, QTimer

from lesionview.errors import LesionviewError
from lesionview.geometry import Geometry
from lesionview.io import read_nifti, write_nifti
from lesionview.io.atomic import atomic_path
from lesionview.levels import read_landmarks, write_landmarks
from lesionview.volume import Volume

from ._layers import layer_geometry
from ._space import AXIS_LABELS, DISPLAY_ORIENTATION, UNITS, layer_transform, napari_to_lps
from ._study import IMAGE_ROLES, LABEL_ROLES, POINTS_ROLE, ROLE_KEY, find_layer, role_of, unproxied

ENV_CACHE_DIR = "LESIONVIEW_CACHE_DIR"
ANNOTATION_ROLES = (*LABEL_ROLES, POINTS_ROLE)
MANIFEST = "manifest.json"
#: Manifest layout: 2 keys the autosave by grid (1, without the field, by study).
FORMAT = 2
#: Quiet time after the last edit before the autosave is written.
DEFAULT_DELAY_MS = 1500
_OBJECT_NAME = "lesionview-autosave"
_LIVE: weakref.WeakSet = weakref.WeakSet()
_UNKNOWN_SERIES = "unknown-series"


# ----------------------------------------------------------------------------- where
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


# ----------------------------------------------------------------------------- what
def snapshot(viewer) -> dict:
    """Copies of the annotation layers (GUI thread, fast); :func:`write_snapshot` saves them."""
    from ._writer import _points_to_world

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


def restore(viewer, info: AutosaveInfo) -> list:
    """Put an autosave made on this viewer's grid back; returns the layers restored.

    A layer of the same role on the same grid gets its data replaced (keeping its colours and
    napari's undo history); otherwise a new layer is added with the role.
    """
    saver = _LIVE_FOR.get(id(viewer))
    restored = []
    with _quiet(saver):
        for role, file_name in info.layers.items():
            path = info.folder / file_name
            name = info.names.get(role, role)
            if role == POINTS_ROLE:
                labels, positions = read_landmarks(path)
                restored.append(_put_levels(viewer, labels, positions, name, path))
                continue
            volume = read_nifti(path)
            restored.append(_put_mask(viewer, role, volume.array, volume.geometry, name))
    if saver is not None:
        saver.dirty_roles.clear()
    return restored


def restore_resampled(viewer, info: AutosaveInfo, key: GridKey) -> tuple[list, list[str]]:
    """Put an autosave made on another grid back, resampled onto ``key``'s grid.

    Masks are resampled with nearest neighbour (:func:`lesionview.resample.resample`: labels are
    kept, never blended; what lies outside the saved grid is 0). Landmarks are positions in the
    patient, so they move to the new grid unchanged; those outside it are left out (the levels
    model refuses them). Returns the layers restored and notes for the user.
    """
    from lesionview.resample import resample

    target = key.geometry
    saver = _LIVE_FOR.get(id(viewer))
    restored, notes = [], []
    with _quiet(saver):
        for role, file_name in info.layers.items():
            path = info.folder / file_name
            name = info.names.get(role, role)
            if role == POINTS_ROLE:
                labels, positions = read_landmarks(path)
                inside = (target.contains(positions, margin=0.5) if len(positions)
                          else np.zeros(0, bool))
                if not np.all(inside):
                    left_out = [n for n, ok in zip(labels, inside) if not ok]
                    notes.append(f"{len(left_out)} landmark(s) outside this series left out "
                                 f"({', '.join(left_out)})")
                labels = [n for n, ok in zip(labels, inside) if ok]
                restored.append(_put_levels(viewer, labels, np.asarray(positions)[inside], name, path))
                continue
            volume = read_nifti(path)
            array = volume.array
            if not volume.geometry.same_space(target, atol_mm=0.01):
                array = resample(array, volume.geometry, target, label=True)
                if np.any(volume.array) and not np.any(array):
                    notes.append(f"{name} lies outside this series: nothing of it was restored")
            restored.append(_put_mask(viewer, role, array, target, name))
    if saver is not None:
        saver.dirty_roles.clear()
    return restored, notes


def _put_levels(viewer, names, positions, layer_name: str, path: Path):
    from ._sample import levels_layer_data

    existing = find_layer(viewer, POINTS_ROLE)
    ref = existing if existing is not None else reference_layer(viewer)
    grid = {} if ref is None else {"scale": ref.scale, "translate": ref.translate,
                                   "affine": ref.affine.affine_matrix}
    data, kwargs, _ = levels_layer_data(names, positions, source=str(path), **grid)
    if existing is not None and existing._type_string == "points":
        existing.selected_data = set()
        existing.data = data
        existing.features = kwargs["features"]
        existing.refresh()
        return existing
    return viewer.add_points(data, **{**kwargs, "name": layer_name})


def _label_dtype(array: np.ndarray, wanted=None):
    top = int(array.max()) if array.size else 0
    if wanted is not None and np.issubdtype(wanted, np.integer) and top <= np.iinfo(wanted).max:
        return wanted
    return np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.int32


def _put_mask(viewer, role: str, array: np.ndarray, geometry: Geometry, layer_name: str):
    """``array`` (on ``geometry``) into the layer of ``role``: its data replaced when it lies on
    that grid, else a new layer that takes the role."""
    existing = find_layer(viewer, role)
    if geometry.orientation != DISPLAY_ORIENTATION:   # saved by hand on another orientation
        shown = Volume(array, geometry).reoriented(DISPLAY_ORIENTATION)
        array, geometry = np.ascontiguousarray(shown.array), shown.geometry
    if (existing is not None and existing._type_string == "labels"
            and np.shape(existing.data) == array.shape and layer_geometry(existing).same_space(geometry)):
        existing.data = array.astype(_label_dtype(array, existing.data.dtype), copy=False)
        return existing
    kwargs = {**layer_transform(geometry), "axis_labels": AXIS_LABELS, "units": UNITS,
              "metadata": _annotation_metadata(viewer, geometry, role), "name": layer_name}
    layer = viewer.add_labels(array.astype(_label_dtype(array), copy=False), **kwargs)
    if existing is not None:
        existing.metadata.pop(ROLE_KEY, None)
    return layer


def _annotation_metadata(viewer, shown, role: str) -> dict:
    """Metadata of a restored layer: its role, and the source grid of the image it lies on."""
    from ._writer import _displays_as

    metadata = {ROLE_KEY: role, "geometry": shown}
    for layer in viewer.layers:
        source = layer.metadata.get("source_geometry")
        if source is not None and role_of(layer) in ("t1c", "t2") and _displays_as(source, shown):
            metadata.update(source_geometry=source, series_info=layer.metadata.get("series_info"),
                            source=layer.metadata.get("source"))
            break
    return metadata


# ----------------------------------------------------------------------------- when
_LIVE_FOR: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def autosaver_for(viewer) -> Autosaver:
    """The viewer's :class:`Autosaver`, made and attached on first use."""
    viewer = unproxied(viewer)
    saver = _LIVE_FOR.get(id(viewer))
    if saver is None or saver.viewer is not viewer:
        saver = Autosaver(viewer)
    return saver


def mark_saved_data(data) -> None:
    """A writer saved ``data`` to a user file: its layer no longer counts as unsaved."""
    for saver in list(_LIVE):
        if saver.viewer is None:
            continue
        for role in list(saver.dirty_roles):
            layer = find_layer(saver.viewer, role)
            if layer is None or layer.data is data:
                saver.dirty_roles.discard(role)


def _ask_with_message_box(parent, message: str) -> bool:
    from qtpy.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved annotations", message,
                      QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel, parent)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Close


def _wait_for_workers() -> None:
    from qtpy.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(10_000)


class _quiet:
    """Edits made by the autosave itself (restoring) are not user edits."""

    def __init__(self, saver):
        self.saver = saver

    def __enter__(self):
        if self.saver is not None:
            self.saver._quiet += 1

    def __exit__(self, *exc):
        if self.saver is not None:
            self.saver._quiet -= 1


class Autosaver(QObject):
    """Watches a viewer's annotation layers, autosaves them and guards closing the window."""

    def __init__(self, viewer, *, delay_ms: int = DEFAULT_DELAY_MS):
        qt_window = viewer.window._qt_window
        super().__init__(qt_window)
        self.setObjectName(_OBJECT_NAME)
        # Weak: the window owns this object, and must not keep its own viewer alive.
        self._viewer = weakref.ref(viewer)
        self.dirty_roles: set[str] = set()
        #: ``message -> bool`` (True closes); None shows a Qt question box.
        self.ask_close = None
        self.last_saved: Path | None = None
        #: Every folder this session wrote: its own autosaves are never offered back to it.
        self.saved_folders: set[Path] = set()
        self._quiet = 0
        self._worker = None
        self._pending = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save)
        viewer.layers.events.inserted.connect(self._on_inserted)
        for layer in viewer.layers:
            self._watch(layer)
        self._install_close_guard(qt_window)
        _LIVE.add(self)
        _LIVE_FOR[id(viewer)] = self

    # ---- state
    @property
    def viewer(self):
        return self._viewer()

    @property
    def delay_ms(self) -> int:
        return self._timer.interval()

    @delay_ms.setter
    def delay_ms(self, value: int) -> None:
        self._timer.setInterval(int(value))

    @property
    def dirty(self) -> bool:
        return bool(self.dirty_roles)

    def key(self) -> GridKey | None:
        """The key the annotations are saved under now (see :func:`grid_key`)."""
        viewer = self.viewer
        return None if viewer is None else grid_key(viewer)

    # ---- edits
    def _on_inserted(self, event) -> None:
        self._watch(event.value)

    def _watch(self, layer) -> None:
        for name in ("data", "paint", "features"):
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                emitter.connect(self._on_layer_event)   # napari keeps bound methods weakly

    def _on_layer_event(self, event) -> None:
        self._edited(event.source)

    def _edited(self, layer) -> None:
        role = role_of(layer)
        viewer = self.viewer
        if self._quiet or role not in ANNOTATION_ROLES or viewer is None or layer not in viewer.layers:
            return
        self.dirty_roles.add(role)
        try:
            self._timer.start()   # restarts: saved once the user pauses
        except RuntimeError:      # the window (and this timer) is gone
            pass

    # ---- saving
    def save(self, *, wait: bool = False) -> Path | None:
        """Write the autosave now (on a worker thread unless ``wait``); None without a key."""
        key = self.key()
        if key is None:
            return None
        if self._worker is not None:
            if not wait:
                self._pending = True   # save again once the running one is done
                return None
            _wait_for_workers()
            self._worker = None
        folder, snap = key.folder, snapshot(self.viewer)
        if not snap:
            return None
        self.saved_folders.add(folder)
        if wait:
            return self._saved(write_snapshot(key, snap))
        from napari.qt.threading import create_worker

        self._worker = create_worker(write_snapshot, key, snap, _start_thread=False)
        self._worker.returned.connect(self._saved)
        self._worker.errored.connect(self._failed)
        self._worker.finished.connect(self._finished)
        self._worker.start()
        return folder

    def _saved(self, folder: Path) -> Path:
        self.last_saved = folder
        return folder

    def _failed(self, exc: Exception) -> None:
        from napari.utils.notifications import show_warning

        show_warning(f"Autosave failed ({exc}); annotations are only in this window. "
                     f"Check that {cache_dir()} is writable or set {ENV_CACHE_DIR}.")

    def _finished(self) -> None:
        self._worker = None
        if self._pending:
            self._pending = False
            self._timer.start()

    def flush(self) -> None:
        """Save now and wait: before closing, a debounced save must not be lost."""
        if self._timer.isActive() or self.dirty:
            self._timer.stop()
            _wait_for_workers()
            self._worker = None
            self.save(wait=True)

    # ---- closing
    def confirm_close(self) -> bool:
        """Ask before closing with unsaved annotations; True to close."""
        if not self.dirty:
            return True
        self.flush()
        roles = ", ".join(sorted(self.dirty_roles))
        message = (f"The annotations ({roles}) have changes not saved to a file.\n\n"
                   "They are kept in the autosave and offered back when this series is opened "
                   "again. Close anyway?")
        ask = self.ask_close or (lambda m: _ask_with_message_box(self.viewer.window._qt_window, m))
        return bool(ask(message))

    def _install_close_guard(self, qt_window) -> None:
        # The close button arrives as a spontaneous close event; File > Close Window and Quit
        # call the window's close(confirm_need=True) (napari asks its own question the same way).
        # Only weak references here: napari's leak checks (and users) need the window, its
        # viewer and this object to go away without waiting for a full garbage collection.
        qt_window.installEventFilter(self)
        window_ref, saver_ref = weakref.ref(qt_window), weakref.ref(self)
        napari_close = type(qt_window).close

        def close(quit_app=False, confirm_need=False):
            saver = saver_ref()
            if confirm_need and saver is not None and saver.dirty:
                if not saver.confirm_close():
                    return None
                confirm_need = False   # asked once is enough
            return napari_close(window_ref(), quit_app=quit_app, confirm_need=confirm_need)

        qt_window.close = close

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.Type.Close:
            return False
        if event.spontaneous() and self.dirty:
            event.ignore()
            if self.confirm_close():
                window = weakref.ref(obj)
                QTimer.singleShot(0, lambda: window() is not None and type(window()).close(
                    window(), quit_app=False, confirm_need=False))
            return True
        self._closing()
        return False

    def _closing(self) -> None:
        # Closing for good: write what the debounce still holds, and let no worker outlive us.
        try:
            if self._timer.isActive():
                self.flush()
            self._timer.stop()
        except RuntimeError:   # already torn down
            pass
        _wait_for_workers()
        self._worker = None
