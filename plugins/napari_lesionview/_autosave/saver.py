"""When: a viewer's annotations autosaved after each pause in editing, and a question before
closing the window with annotations not saved to a file."""

from __future__ import annotations

import weakref
from pathlib import Path

from qtpy.QtCore import QEvent, QObject, QTimer

from .._study import find_layer, role_of, unproxied
from .keys import ENV_CACHE_DIR, GridKey, cache_dir, grid_key
from .store import ANNOTATION_ROLES, snapshot, write_snapshot

#: Quiet time after the last edit before the autosave is written.
DEFAULT_DELAY_MS = 1500
_OBJECT_NAME = "lesionview-autosave"
_LIVE: weakref.WeakSet = weakref.WeakSet()
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
