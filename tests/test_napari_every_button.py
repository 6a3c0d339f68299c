"""Every button the plugin docks is clicked, somewhere in the suite, as a user clicks it.

The GUI tests press buttons through ``gui_helpers.press`` (a real ``qtbot.mouseClick`` on the
docked widget's button, after checking it is shown and enabled). This test docks every widget of
the manifest, collects the buttons, and fails on one that is unnamed or that no test presses by
its name: a new control cannot land with only its method called.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "plugins" / "napari_lesionview" / "napari.yaml"

# press(qtbot, <widget>, "<name>") or f"<name with {placeholders}>", anywhere in the tests.
PRESS = re.compile(r"""press\(\s*qtbot\s*,\s*[^,]+,\s*(f?)(["'])(lesionview-[^"']+)\2""")


def _pressed_patterns() -> list[re.Pattern]:
    patterns = []
    for path in ROOT.glob("tests/*.py"):
        for fstring, _, name in PRESS.findall(path.read_text()):
            if fstring:  # f"lesionview-export-format-{fmt}": any value in the braces
                parts = re.split(r"\{[^}]*\}", name)
                patterns.append(re.compile("[^-]+".join(map(re.escape, parts)) + r"\Z"))
            else:
                patterns.append(re.compile(re.escape(name) + r"\Z"))
    return patterns


@pytest.mark.gui
def test_every_docked_button_is_pressed_by_a_test(viewer):
    from qtpy.QtWidgets import QPushButton

    names = [w["display_name"] for w in yaml.safe_load(MANIFEST.read_text())["contributions"]["widgets"]]
    buttons = []
    for name in names:
        _, widget = viewer.window.add_plugin_dock_widget("lesionview", name)
        buttons += widget.findChildren(QPushButton)
    assert len(buttons) >= 40, len(buttons)  # the panel holds the others: a wrong lookup finds few

    unnamed = [b.text() for b in buttons if not b.objectName().startswith("lesionview-")]
    assert not unnamed, f"buttons without a lesionview-<widget>-<what> name: {unnamed}"
    patterns = _pressed_patterns()
    unpressed = sorted({b.objectName() for b in buttons
                        if not any(p.match(b.objectName()) for p in patterns)})
    assert not unpressed, f"no test presses these buttons with a real click: {unpressed}"
