"""The README's whole workflow, by clicks, on a DICOM study opened through File > Open Folder.

One panel docked from the Plugins menu on a laptop-sized window; the study opened with the real
File menu action; then Study > Create annotation layers, the cord from centerline clicks, the two
lesions from one click each, the edema, the vertebral levels clicked on the bodies, the live
table, and Export: every button pressed as a user does (tests/gui_helpers.py ``press``), canvas
clicks sent to napari's mouse callbacks (``click``). The numbers must be the case's: two adjacent
enhancing lesions at C5 and C6, T2 edema over several levels, every report format written.

With ``LESIONVIEW_SCREENSHOTS=DIR`` each step is saved as a picture (``make screenshots`` writes
the README's into docs/).
"""

from __future__ import annotations

import json
import os
import shutil
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import click, control, napari_errors, press
from napari.utils.notifications import notification_manager
from pytestqt.exceptions import TimeoutError as WaitedTooLong

from lesionview.levels import read_landmarks
from lesionview.phantom import sample_path
from napari_lesionview._space import lps_to_napari
from napari_lesionview._study import find_layer

pytestmark = pytest.mark.gui

#: A laptop screen: the panel must work there.
WINDOW = (1366, 768)




class Shots:
    """Screenshots of the steps, when LESIONVIEW_SCREENSHOTS names a folder."""

    def __init__(self, viewer):
        folder = os.environ.get("LESIONVIEW_SCREENSHOTS")
        self.folder = Path(folder) if folder else None
        self.viewer = viewer
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        if self.folder:
            from PIL import Image
            from qtpy.QtWidgets import QApplication

            QApplication.processEvents()  # layouts settled, as the user sees them
            # 256 colours: a tenth of the bytes of the RGBA screenshot, for the README.
            picture = Image.fromarray(self.viewer.screenshot(canvas_only=False)).convert("RGB")
            picture.quantize(256).save(self.folder / f"workflow_{name}.png", optimize=True)


def _open_folder(viewer, monkeypatch, folder: Path) -> None:
    """File > Open Folder... with the user picking ``folder`` in the dialog, and no reader question."""
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog
    from qtpy.QtWidgets import QFileDialog

    def no_question(dialog):
        raise AssertionError(f"napari asked which reader opens {dialog._current_file}")

    monkeypatch.setattr(QtReaderDialog, "get_user_choices", no_question)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    (action,) = [a for a in viewer.window.file_menu.actions() if a.text() == "Open Folder..."]
    action.trigger()


def _laid_out_apart(widget) -> bool:
    """The shown items of ``widget``'s layout lie one below the other, none drawn over another (a
    layout squeezed below its minimum height overlaps them)."""
    layout = widget.layout()
    items = [layout.itemAt(i) for i in range(layout.count())]
    rects = [item.geometry() for item in items
             if (item.widget() is None or item.widget().isVisible()) and not item.geometry().isEmpty()]
    return all(above.bottom() < below.top() for above, below in pairwise(rects))


def _tab(qtbot, panel, title: str) -> None:
    """Click the panel's tab called ``title``."""
    from qtpy.QtCore import Qt

    bar = panel.tabs.tabBar()
    index = [panel.tabs.tabText(i) for i in range(panel.tabs.count())].index(title)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert panel.tabs.currentIndex() == index


def test_the_readme_workflow_by_clicks_from_file_open_to_export(napari_settings, viewer, qtbot, monkeypatch,
                                                                    tmp_path):
    from napari_lesionview._reader import prefer_lesionview

    prefer_lesionview(napari_settings)  # as after lesionview's first use (the very first open asks once: tested apart)
    case = sample_path("twin")
    study = tmp_path / "MRI CSPINE"
    shutil.copytree(case / "dicom", study)
    truth = json.loads((case / "truth.json").read_text())
    marks = json.loads((case / "landmarks.json").read_text())
    bodies = dict(zip(*read_landmarks(case / "landmarks.csv")))

    viewer.window._qt_window.resize(*WINDOW)
    panel = viewer.window.add_plugin_dock_widget("lesionview", "lesionview")[1]
    shots = Shots(viewer)
    since = len(notification_manager.records)

    # 1. File > Open Folder on the study: both series, named by number, description, role, plane.
    _open_folder(viewer, monkeypatch, study)
    assert [layer.name for layer in viewer.layers] == ["2 SAG T2 TSE (T2, sagittal)",
                                                       "5 SAG T1 TSE +C (T1+C, sagittal)"]
    qtbot.waitUntil(panel.isVisible)
    window = viewer.window._qt_window
    assert window.width() <= WINDOW[0] and window.height() <= WINDOW[1]

    # 2. Study: the images are pre-filled from the role guess; create the annotation layers.
    _tab(qtbot, panel, "Study")
    assert "T1" in control(panel.study, "lesionview-study-t1c").currentText()
    assert "T2" in control(panel.study, "lesionview-study-t2").currentText()
    press(qtbot, panel.study, "lesionview-study-create")
    layers = {role: find_layer(viewer, role) for role in ("lesions", "edema", "cord", "levels")}
    assert all(layer is not None for layer in layers.values())
    shots("1_study")

    # 3. Segment: the cord from clicks on its centreline, then a click on each lesion, then edema.
    _tab(qtbot, panel, "Segment")
    press(qtbot, panel.segment, "lesionview-segment-cord-clicks")
    clicks = viewer.layers.selection.active
    for point in marks["cord_points"]:          # along the whole cord, foramen magnum to T2/T3
        click(clicks, lps_to_napari(point["position"]))
    press(qtbot, panel.segment, "lesionview-segment-cord")
    assert np.count_nonzero(layers["cord"].data) > 1000, napari_errors(since)
    press(qtbot, panel.segment, "lesionview-segment-grow")
    for lesion in truth["lesions"]:
        where = lps_to_napari(lesion["centre_lps_mm"])
        viewer.dims.set_point(0, where[0])        # the user scrolls to the lesion's slice
        click(viewer, where)
    assert set(np.unique(layers["lesions"].data)) == {0, 1, 2}, napari_errors(since)
    press(qtbot, panel.segment, "lesionview-segment-grow")   # grow mode off again
    press(qtbot, panel.segment, "lesionview-segment-edema")
    assert np.count_nonzero(layers["edema"].data) > np.count_nonzero(layers["lesions"].data), napari_errors(since)
    if shots.folder:  # the picture shows the table and the guide caught up
        qtbot.waitUntil(lambda: panel.measurements.is_current and panel.measurements.result is not None,
                        timeout=60_000)
        qtbot.wait(300)
    shots("2_segment")

    # 4. Levels: click the vertebral bodies C2 to C7, each named as suggested.
    _tab(qtbot, panel, "Levels")
    press(qtbot, panel.levels, "lesionview-levels-place")
    for name in ("C2", "C3", "C4", "C5", "C6", "C7"):
        assert control(panel.levels, "lesionview-levels-next").text() == name
        click(layers["levels"], lps_to_napari(bodies[name]))
    press(qtbot, panel.levels, "lesionview-levels-place")
    assert list(layers["levels"].features["name"]) == ["C2", "C3", "C4", "C5", "C6", "C7"]

    # 5. The live table: the case's numbers.
    table = panel.measurements
    qtbot.waitUntil(lambda: table.result is not None and len(table.result.lesions) == 2
                    and table.result.edema and table.result.lesions[0].levels is not None, timeout=60_000)
    result = table.result
    assert [les.levels.label for les in result.lesions] == ["C5", "C6"]
    assert result.multiplicity.kind.value == "adjacent pair"
    small, large = sorted(les.max_diameter_mm for les in result.lesions)
    assert small == pytest.approx(3.0, abs=1.5) and large == pytest.approx(11.0, abs=2.0)
    assert result.edema[0].levels.count >= 3 and result.edema[0].longitudinally_extensive
    assert table.table.rowCount() == 3
    qtbot.wait(100)  # the layout follows the warnings an event loop later
    assert _laid_out_apart(table), "Measurements widgets drawn over each other"
    shots("3_levels_and_table")

    # 6. Export: every format into a folder the user picks.
    out = tmp_path / "report"
    from qtpy.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(out)))
    _tab(qtbot, panel, "Export")
    press(qtbot, panel.export, "lesionview-export-choose")
    for fmt in ("html", "pdf", "sr"):               # JSON and CSV are ticked already
        press(qtbot, panel.export, f"lesionview-export-format-{fmt}")
    assert control(panel.export, "lesionview-export-format-seg").isChecked()  # the SR's segments
    press(qtbot, panel.export, "lesionview-export-write")
    expected = {"measurements.json", "measurements.csv", "report.html", "report.pdf", "segmentation.dcm",
                "measurements-sr.dcm"}
    try:
        qtbot.waitUntil(lambda: out.is_dir() and {p.name for p in out.iterdir()} >= expected, timeout=120_000)
    except WaitedTooLong:  # say what the user would have seen
        written = sorted(p.name for p in out.iterdir()) if out.is_dir() else "no folder"
        raise AssertionError(f"{panel.export.status.text()}; {written}; {napari_errors(since)}") from None
    written = json.loads((out / "measurements.json").read_text())
    assert [(les["levels"]["first"], les["levels"]["last"]) for les in written["lesions"]] == [("C5", "C5"), ("C6", "C6")]
    shots("4_export")
    assert not napari_errors(since), napari_errors(since)

