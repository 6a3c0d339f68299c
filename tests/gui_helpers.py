"""Helpers shared by the napari widget tests: synthetic clicks and captured notifications."""

from __future__ import annotations

import numpy as np
from napari.utils._test_utils import read_only_mouse_event
from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

from napari_lesionview._widgets import _notify, _shortcuts

KINDS = ("error", "warning", "info")


def click(target, world) -> None:
    """A left click (press + release, no move) at a world position on a viewer or layer, as
    napari's canvas sends it to their mouse callbacks."""
    for kind, send in (("mouse_press", mouse_press_callbacks), ("mouse_release", mouse_release_callbacks)):
        send(target, read_only_mouse_event(type=kind, position=tuple(world), pos=np.zeros(2), button=1,
                                           dims_displayed=[1, 2]))


def capture_notifications(monkeypatch, widget_module) -> dict[str, list[str]]:
    """Notifications shown by a widget module, by kind. Failures go through ``_notify``; the
    widget shows its other messages itself, and the keyboard shortcuts theirs, so all are captured."""
    seen = {kind: [] for kind in KINDS}
    for kind, shown in seen.items():
        for module in (widget_module, _notify, _shortcuts):
            monkeypatch.setattr(module, f"show_{kind}", shown.append, raising=False)
    return seen


def control(widget, name: str):
    """The child control of ``widget`` whose objectName is ``name`` (e.g. "lesionview-segment-propose").

    Every lesionview control has an objectName of that form, so that ``test_napari_controls.py``
    can list them all and check that some test clicks each one through :func:`press`.
    """
    from qtpy.QtWidgets import QWidget

    found = widget.findChild(QWidget, name)
    assert found is not None, f"no control named {name!r} in {type(widget).__name__}"
    return found


def key(qtbot, viewer, name: str) -> None:
    """Press a key on the canvas (napari's key handling, as a user's key press reaches it)."""
    from qtpy.QtCore import Qt

    modifier = Qt.KeyboardModifier.NoModifier
    if name.startswith("Shift+"):
        modifier, name = Qt.KeyboardModifier.ShiftModifier, name.removeprefix("Shift+")
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, getattr(Qt.Key, f"Key_{name}"), modifier)


def press(qtbot, widget, name: str):
    """Click the button ``name`` of a docked widget as a user does (a real Qt mouse click on it),
    after checking that it is shown and enabled; returns the button."""
    from qtpy.QtCore import Qt

    button = control(widget, name)
    qtbot.waitUntil(button.isVisible, timeout=5000)  # a dock shows its content an event loop later
    assert button.isEnabled(), f"{name} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return button


def choose(qtbot, combo, index: int) -> None:
    """Pick entry ``index`` of a combo box as a user does: click it open, click the entry."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication, QStyle, QStyleOptionComboBox

    qtbot.waitUntil(combo.isVisible, timeout=5000)
    assert combo.isEnabled()
    where = combo.rect().center()
    if combo.isEditable():   # the text field takes clicks: open it with the arrow
        option = QStyleOptionComboBox()
        combo.initStyleOption(option)
        style = combo.style()
        where = style.subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                     QStyle.SubControl.SC_ComboBoxArrow, combo).center()
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton, pos=where)
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    # Qt ignores a release this soon after the popup opened (it takes it for the opening click's).
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    rect = view.visualRect(combo.model().index(index, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())
    assert combo.currentIndex() == index


def napari_errors(since: int) -> list[str]:
    """Error notifications napari recorded after the first ``since`` (uncaught exceptions too)."""
    from napari.utils.notifications import NotificationSeverity, notification_manager

    return [str(n.message) for n in notification_manager.records[since:]
            if n.severity >= NotificationSeverity.ERROR]
