"""Not losing work: annotations autosaved per study, offered back, and a question before closing.

Where
    ``$LESIONVIEW_CACHE_DIR/autosave/<study key>/`` (default: the platform's user cache,
    ``platformdirs.user_cache_dir("lesionview")``). The study key is the DICOM StudyInstanceUID
    of the T1+C (else T2) image, else its SeriesInstanceUID, else (NIfTI) a hash of its file
    path: the same study opened again finds its autosave, whichever folder it came from.
What
    one NIfTI per annotation Labels layer (``lesions``, ``edema``, ``cord``) on its displayed
    grid at its true physical position, ``levels.json`` (landmark names, LPS mm) and
    ``manifest.json`` (written last; a folder without it is ignored). Every file is written
    atomically, on a worker thread, debounced after edits.
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
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from qtpy.QtCore import QEvent, QObject, QTimer

from lesionview.io import read_nifti, write_nifti
from lesionview.io.atomic import atomic_path
from lesionview.levels import read_landmarks, write_landmarks

from ._layers import layer_geometry, volume_to_layer_data
from ._space import napari_to_lps
from ._study import LABEL_ROLES, POINTS_ROLE, ROLE_KEY, find_layer, role_of, unproxied

ENV_CACHE_DIR = "LESIONVIEW_CACHE_DIR"
ANNOTATION_ROLES = (*LABEL_ROLES, POINTS_ROLE)
MANIFEST = "manifest.json"
#: Quiet time after the last edit before the autosave is written.
DEFAULT_DELAY_MS = 1500
_OBJECT_NAME = "lesionview-autosave"
_LIVE: weakref.WeakSet = weakref.WeakSet()


# ----------------------------------------------------------------------------- where
def cache_dir() -> Path:
    """The lesionview user cache: ``$LESIONVIEW_CACHE_DIR`` or the platform's user cache dir."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("lesionview"))


def study_key(layer) -> str | None:
    """Key of the study an image layer belongs to, or None when nothing identifies it."""
    if layer is None:
        return None
    info = layer.metadata.get("series_info") or {}
    for field_name, prefix in (("study_uid", "study"), ("series_uid", "series")):
        uid = str(info.get(field_name) or "").strip()
        if uid:
            safe = re.sub(r"[^0-9A-Za-z.\-]", "_", uid)
            if len(safe) > 80:
                safe = hashlib.sha256(uid.encode()).hexdigest()[:24]
            return f"{prefix}-{safe}"
    source = str(layer.metadata.get("source") or info.get("source") or "")
    if source:
        resolved = str(Path(source).expanduser().resolve())
        return "file-" + hashlib.sha256(resolved.encode()).hexdigest()[:24]
    return None


def reference_layer(viewer):
    """The image the study is keyed on: the T1+C layer, else the T2 layer."""
    return find_layer(viewer, "t1c") or find_layer(viewer, "t2")


def autosave_dir(key: str) -> Path:
    return cache_dir() / "autosave" / key


@dataclass(frozen=True)
class AutosaveInfo:
    """An autosave found on disk."""

    folder: Path
    saved_at: str
    layers: dict = field(default_factory=dict)   # role -> file name
    names: dict = field(default_factory=dict)    # role -> layer name

    @property
    def when(self) -> str:
        try:
            return datetime.fromisoformat(self.saved_at).astimezone().strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return self.saved_at


def find_autosave(key: str | None) -> AutosaveInfo | None:
    """The autosave of study ``key``, or None (also when its manifest is unreadable)."""
    if not key:
        return None
    folder = autosave_dir(key)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    layers = {r: f for r, f in (manifest.get("layers") or {}).items() if (folder / f).is_file()}
    if not layers:
        return None
    return AutosaveInfo(folder, str(manifest.get("saved_at", "")), layers, manifest.get("names") or {})


def discard_autosave(key: str | None) -> None:
    info = find_autosave(key)
    if info is not None:
        (info.folder / MANIFEST).unlink(missing_ok=True)


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


def write_snapshot(folder: Path, snap: dict) -> Path:
    """Write a :func:`snapshot` into ``folder``, each file atomically, the manifest last."""
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
    manifest = {"saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "layers": layers, "names": names}
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder


def restore(viewer, info: AutosaveInfo) -> list:
    """Put an autosave back into the viewer; returns the layers restored.

    A layer of the same role on the same grid gets its data replaced (keeping its colours and
    napari's undo history); otherwise a new layer is added with the role.
    """
    from ._sample import levels_layer_data

    saver = _LIVE_FOR.get(id(viewer))
    restored = []
    with _quiet(saver):
        for role, file_name in info.layers.items():
            path = info.folder / file_name
            name = info.names.get(role, role)
            existing = find_layer(viewer, role)
            if role == POINTS_ROLE:
                labels, positions = read_landmarks(path)
                ref = existing if existing is not None else reference_layer(viewer)
                grid = {} if ref is None else {"scale": ref.scale, "translate": ref.translate,
                                               "affine": ref.affine.affine_matrix}
                data, kwargs, _ = levels_layer_data(labels, positions, source=str(path), **grid)
                if existing is not None and existing._type_string == "points":
                    existing.data = data
                    existing.features = kwargs["features"]
                    existing.refresh()
                    restored.append(existing)
                else:
                    restored.append(viewer.add_points(data, **{**kwargs, "name": name}))
                continue
            data, kwargs, _ = volume_to_layer_data(read_nifti(path), as_labels=True)
            shown = kwargs["metadata"]["geometry"]
            if (existing is not None and existing._type_string == "labels"
                    and existing.data.shape == data.shape and layer_geometry(existing).same_space(shown)):
                existing.data = data.astype(existing.data.dtype, copy=False)
                restored.append(existing)
                continue
            kwargs["metadata"] = _annotation_metadata(viewer, shown, role)
            kwargs["name"] = name
            layer = viewer.add_labels(data, **kwargs)
            if existing is not None:
                existing.metadata.pop(ROLE_KEY, None)
            restored.append(layer)
    if saver is not None:
        saver.dirty_roles.clear()
    return restored


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

    def key(self) -> str | None:
        viewer = self.viewer
        return None if viewer is None else study_key(reference_layer(viewer))

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
        """Write the autosave now (on a worker thread unless ``wait``); None without a study key."""
        key = self.key()
        if key is None:
            return None
        if self._worker is not None:
            if not wait:
                self._pending = True   # save again once the running one is done
                return None
            _wait_for_workers()
            self._worker = None
        folder, snap = autosave_dir(key), snapshot(self.viewer)
        if not snap:
            return None
        if wait:
            return self._saved(write_snapshot(folder, snap))
        from napari.qt.threading import create_worker

        self._worker = create_worker(write_snapshot, folder, snap, _start_thread=False)
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
                   "They are kept in the autosave and offered back when this study is opened "
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
