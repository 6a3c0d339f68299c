"""Every lesionview control is named, and some test uses it as a user does.

The widgets are docked through napari's plugin menu, every button, combo box, slider, spin box
and text field in them is listed, and each must have an objectName ``lesionview-<widget>-<what>``
that a test file passes to ``press``/``control`` (tests/gui_helpers.py): a real click on the
docked widget. A new control without such a test fails here, so GUI coverage cannot silently
shrink to direct method calls.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
NAME = re.compile(r"^lesionview-[a-z0-9]+-[a-z0-9-]+$")


def _controls(widget):
    from qtpy.QtWidgets import (
        QAbstractButton,
        QAbstractSlider,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QTabBar,
        QTableView,
    )

    kinds = (QAbstractButton, QComboBox, QAbstractSlider, QAbstractSpinBox, QLineEdit)
    found = []
    for kind in kinds:
        for child in widget.findChildren(kind):
            # Qt's own parts of a compound control (a spin box's line edit, a combo's view...)
            # belong to that control; so do a tab bar's scroll buttons.
            parent = child.parentWidget()
            if isinstance(child, QLineEdit) and isinstance(parent, (QAbstractSpinBox, QComboBox)):
                continue
            # (QTabBar's scroll arrows, QTableView's corner button: Qt's, not lesionview's)
            qt_part = isinstance(parent, (QTabBar, QTableView)) and not child.objectName().startswith("lesionview-")
            if qt_part or type(child).__name__ == "QScrollBar":
                continue
            found.append(child)
    return found


def _widget_names() -> list[str]:
    import yaml

    manifest = yaml.safe_load((TESTS.parent / "plugins" / "napari_lesionview" / "napari.yaml").read_text())
    return [w["display_name"] for w in manifest["contributions"]["widgets"]]


def _test_sources() -> str:
    return "\n".join(p.read_text() for p in sorted(TESTS.glob("test_*.py")) if p.name != Path(__file__).name)


@pytest.mark.gui
def test_every_control_is_named_and_clicked_by_some_test(viewer):
    viewer.open_sample("lesionview", "twin")
    sources = _test_sources()
    unnamed, untested = [], []
    names = set()
    for widget_name in _widget_names():
        widget = viewer.window.add_plugin_dock_widget("lesionview", widget_name)[1]
        for control in _controls(widget):
            name = control.objectName()
            if not NAME.match(name):
                unnamed.append(f"{widget_name}: {type(control).__name__} {getattr(control, 'text', lambda: '')()!r}")
                continue
            names.add(name)
    for name in sorted(names):
        if not re.search(rf"""(press|control)\([^)]*["']{re.escape(name)}["']""", sources):
            untested.append(name)
    assert not unnamed, "controls without a lesionview-<widget>-<what> objectName:\n" + "\n".join(unnamed)
    assert not untested, "controls no test presses (press/control in tests/):\n" + "\n".join(untested)
    assert len(names) >= 20  # the widgets really were inspected
