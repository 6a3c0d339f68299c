"""Measurements widget on the twin phantom: live table = lesionview.measure, row click, screenshots.

Real GUI: run under ``xvfb-run -a -s "-screen 0 1280x1024x24"`` (see tests/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gui_helpers import capture_notifications, press
from napari.layers import Layer
from phantom_grids import twin_axial
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from lesionview.levels import read_landmarks
from lesionview.levels.names import disc_name, name_of, parse_landmark
from lesionview.measure import measure
from lesionview.phantom import sample_path
from lesionview.series import SeriesInfo
from lesionview.volume import Volume
from napari_lesionview import _sample
from napari_lesionview._layers import layer_to_volume, volume_to_layer_data
from napari_lesionview._sample import levels_layer_data
from napari_lesionview._space import lps_to_napari
from napari_lesionview._study import ROLE_KEY, find_layer
from napari_lesionview._widgets import measurements as mw
from napari_lesionview._widgets.levels import levels_from_layer
from napari_lesionview._widgets.measurements import (
    COLUMNS,
    KEY_COLUMNS,
    RAW,
    ROWS_SHOWN,
    MeasurementsWidget,
    camera_of,
    edema_cells,
    lesion_cells,
)

pytestmark = pytest.mark.gui
TIMEOUT_MS = 20_000
# Provenance fields that legitimately differ between two calls on the same layers.
VOLATILE = {"created_utc", "inputs"}


def open_twin(viewer) -> None:
    """The twin sample's layers (T2, T1+C, cord, edema, lesions, levels), roles set."""
    for data, kwargs, kind in _sample.twin():
        viewer.add_layer(Layer.create(data, kwargs, kind))


def measure_layers(viewer):
    """The oracle: lesionview.measure called directly on the viewer's layers."""
    layers = {role: find_layer(viewer, role) for role in ("lesions", "edema", "cord", "t1c")}
    vol = {role: None if layer is None else layer_to_volume(layer) for role, layer in layers.items()}
    points = find_layer(viewer, "levels")
    return measure(vol["lesions"], image=vol["t1c"], edema=vol["edema"], cord=vol["cord"],
                   levels=None if points is None else levels_from_layer(points))


def table_rows(widget) -> list[tuple[str, list[str], list]]:
    table = widget.table
    return [(table.item(r, 0).data(RAW + 1),
             [table.item(r, c).text() for c in range(table.columnCount())],
             [table.item(r, c).data(RAW) for c in range(table.columnCount())])
            for r in range(table.rowCount())]


def settled(widget) -> bool:
    return widget.is_current


@pytest.fixture
def twin(viewer, qtbot):
    open_twin(viewer)
    widget = MeasurementsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Measurements")
    qtbot.waitUntil(lambda: settled(widget), timeout=TIMEOUT_MS)
    return viewer, widget


def _same(a, b) -> None:
    assert a.model_dump(exclude=VOLATILE) == b.model_dump(exclude=VOLATILE)


def test_table_equals_measure(twin, tmp_path):
    viewer, widget = twin
    expected = measure_layers(viewer)
    assert len(expected.lesions) == 2 and len(expected.edema) == 1
    _same(widget.result, expected)
    rows = table_rows(widget)
    assert [kind for kind, _, _ in rows] == ["lesion", "lesion", "edema"]
    cells = [lesion_cells(les) for les in expected.lesions] + [edema_cells(ed) for ed in expected.edema]
    for (_, texts, raws), want in zip(rows, cells):
        assert texts == [t for t, _ in want]
        for got, (_, value) in zip(raws, want):
            if isinstance(value, tuple):  # Qt hands a tuple back as a list
                got = tuple(got)
            assert got == value
    # The numbers a reader looks at, spelt out against the oracle.
    first = expected.lesions[0]
    assert rows[0][2][2] == first.max_diameter_mm and rows[0][2][5] == first.volume_mm3
    assert rows[0][1][1] == first.levels.label == "C5" and rows[1][1][1] == "C6"
    assert rows[2][1][mw.COLUMNS.index("Assessment")] == "longitudinally extensive"
    # The rim and flame signs read on the T1+C layer, worded as the core words them.
    signs = mw.COLUMNS.index("Rim / flame signs")
    assert expected.lesions[1].signs is not None
    assert rows[1][1][signs] == ", ".join(expected.lesions[1].signs.findings()).replace(" sign", "").replace(
        "cannot be judged", "not judged")
    assert rows[2][1][signs] == ""  # edema
    # Estimated cord segments beside the vertebral levels, the column title naming the kind.
    assert rows[2][1][mw.SEGMENTS_COLUMN].startswith(expected.edema[0].cord_segments.label)
    assert widget.table.horizontalHeaderItem(mw.SEGMENTS_COLUMN).text() == "Cord segments\n(est.)"
    assert "±" in rows[0][1][3]  # 3 mm sagittal slices: axial diameters carry their uncertainty
    # ...but lengths along the cord and levels do not (the slices lie along the cord).
    assert all("±" not in texts[4] and "?" not in texts[1] for _, texts, _ in rows)
    assert rows[0][1][4] == f"{first.craniocaudal_mm:.1f}"
    assert widget.summary.text() == expected.summary
    assert widget.summary.wordWrap()
    # Every warning of the core is on screen (here: 3 mm sagittal slices).
    assert expected.warnings and widget.warnings.isVisible()
    assert all(w in widget.warnings.text() for w in expected.warnings)
    assert mw.widget_for(viewer) is widget
    widget.show_more_columns(True)  # every column in the saved picture
    widget.resize(1100, 420)
    widget.grab().save(str(tmp_path / "measurements_widget.png"))
    assert (tmp_path / "measurements_widget.png").stat().st_size > 0


def _new_blob(viewer) -> tuple:
    """Voxel indices of a small blob inside the cord, 25 mm above the highest lesion."""
    lesions, cord = find_layer(viewer, "lesions"), find_layer(viewer, "cord")
    les = np.argwhere(np.asarray(lesions.data) > 0)
    top_row = les[:, 1].min() - round(25 / lesions.scale[1])
    centre = np.argwhere(np.asarray(cord.data)[:, top_row] > 0).mean(axis=0).round().astype(int)
    a0, col = centre
    box = np.zeros(lesions.data.shape, bool)
    box[a0 - 1:a0 + 2, top_row - 5:top_row + 6, col - 3:col + 4] = True
    box &= np.asarray(cord.data) > 0
    assert box.sum() > 20
    return np.nonzero(box)


def test_painting_a_lesion_updates_the_table(twin, qtbot):
    viewer, widget = twin
    lesions = find_layer(viewer, "lesions")
    lesions.data_setitem(_new_blob(viewer), 3)
    qtbot.waitUntil(lambda: settled(widget) and len(widget.result.lesions) == 3, timeout=TIMEOUT_MS)
    assert [kind for kind, _, _ in table_rows(widget)] == ["lesion"] * 3 + ["edema"]
    _same(widget.result, measure_layers(viewer))
    assert widget.summary.text() == widget.result.summary
    # napari's own undo takes it back, and the table follows.
    lesions.undo()
    qtbot.waitUntil(lambda: settled(widget) and len(widget.result.lesions) == 2, timeout=TIMEOUT_MS)


def _count_computations(monkeypatch) -> list[bool]:
    """Record each measurement the widget starts: True when it ran on the GUI thread."""
    import threading

    calls = []
    real = mw.compute

    def counting(inputs, **kwargs):
        calls.append(threading.current_thread() is threading.main_thread())
        return real(inputs, **kwargs)

    monkeypatch.setattr(mw, "compute", counting)
    return calls


def test_edits_are_coalesced_and_measured_off_the_gui_thread(twin, qtbot, monkeypatch):
    viewer, widget = twin
    calls = _count_computations(monkeypatch)
    lesions = find_layer(viewer, "lesions")
    blob = _new_blob(viewer)
    for k in range(5):  # five edits in one event-loop turn (as one grow fires): one measurement
        lesions.data_setitem(tuple(ix[k::5] for ix in blob), 3)
    qtbot.waitUntil(lambda: settled(widget) and len(widget.result.lesions) == 3, timeout=TIMEOUT_MS)
    assert calls == [False]


def _mouse(canvas, kind, point, buttons) -> None:
    from qtpy.QtCore import QEvent, QPointF
    from qtpy.QtGui import QMouseEvent

    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    local = QPointF(point)
    event = QMouseEvent(kind, local, QPointF(canvas.mapToGlobal(point)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, event)


def test_a_brush_stroke_is_one_measurement(twin, qtbot, monkeypatch):
    """No quiet time is waited for: napari sends one paint event per stroke, on release. A real
    drag with the brush over the canvas, one mouse move per event-loop turn, is measured once."""
    from qtpy.QtCore import QEvent, QPoint

    viewer, widget = twin
    lesions = find_layer(viewer, "lesions")
    a0, rows, cols = _new_blob(viewer)
    centre = np.array([a0.mean(), rows.mean(), cols.mean()]).round()
    world = np.asarray(lesions.data_to_world(centre))
    viewer.dims.set_point(0, world[0])
    viewer.reset_view()
    viewer.layers.selection.active = lesions
    lesions.mode = "paint"
    lesions.brush_size = 5
    lesions.selected_label = 3
    qtbot.wait(100)
    calls = _count_computations(monkeypatch)
    canvas = viewer.window._qt_viewer.canvas.native
    size = (canvas.height(), canvas.width())
    path = [world + (0, dy, 0) for dy in np.linspace(-4, 4, 12)]  # 8 mm along the cord
    points = [QPoint(round(float(c)), round(float(r))) for r, c in (_canvas_pixel(viewer, w, size) for w in path)]
    before = int(np.count_nonzero(np.asarray(lesions.data) == 3))
    steps = len(lesions._undo_history)
    _mouse(canvas, QEvent.Type.MouseButtonPress, points[0], Qt.MouseButton.LeftButton)
    for point in points[1:]:
        qtbot.wait(20)  # each dab in its own event-loop turn, as a hand drags
        _mouse(canvas, QEvent.Type.MouseMove, point, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    assert calls == [], "measured in the middle of a stroke"
    _mouse(canvas, QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton)
    qtbot.waitUntil(lambda: settled(widget) and len(widget.result.lesions) == 3, timeout=TIMEOUT_MS)
    qtbot.wait(200)  # nothing else comes after the stroke
    painted = int(np.count_nonzero(np.asarray(lesions.data) == 3)) - before
    assert painted > 40, "the drag painted a stroke, not a dot"
    assert calls == [False]
    assert len(lesions._undo_history) == steps + 1  # and napari made it one undo step
    _same(widget.result, measure_layers(viewer))


def test_every_undo_and_redo_reaches_the_table(twin, qtbot):
    """Grow, undo, grow, undo: the history lengths repeat, and each undo must still be seen."""
    viewer, widget = twin
    lesions = find_layer(viewer, "lesions")
    blob = _new_blob(viewer)
    lesions.data = np.zeros_like(lesions.data)
    qtbot.waitUntil(lambda: settled(widget) and not widget.result.lesions, timeout=TIMEOUT_MS)

    def shows(n):
        return settled(widget) and len(widget.result.lesions) == n and widget.table.rowCount() == n + 1

    for _ in range(3):
        lesions.data_setitem(blob, 1)
        qtbot.waitUntil(lambda: shows(1), timeout=TIMEOUT_MS)
        lesions.undo()
        qtbot.waitUntil(lambda: shows(0), timeout=TIMEOUT_MS)
        assert not np.any(lesions.data)
    lesions.redo()
    qtbot.waitUntil(lambda: shows(1), timeout=TIMEOUT_MS)
    lesions.undo()
    qtbot.waitUntil(lambda: shows(0), timeout=TIMEOUT_MS)
    # A re-slice fires the same layer event as an undo, and is not an edit.
    viewer.dims.set_point(0, viewer.dims.point[0] + lesions.scale[0])
    qtbot.wait(50)
    assert settled(widget)


def test_the_cord_centerline_is_drawn_again_only_when_the_cord_changes(twin, qtbot, monkeypatch):
    viewer, widget = twin
    from lesionview.cord import centerline_from_mask

    drawn = []
    monkeypatch.setattr(mw, "centerline_from_mask", lambda *a, **k: drawn.append(1) or centerline_from_mask(*a, **k))
    lesions, cord = find_layer(viewer, "lesions"), find_layer(viewer, "cord")
    # A lesion edit, and a Refresh: the cached centerline, and the very numbers measure() gives.
    lesions.data_setitem(_new_blob(viewer), 3)
    qtbot.waitUntil(lambda: settled(widget) and len(widget.result.lesions) == 3, timeout=TIMEOUT_MS)
    _same(widget.result, measure_layers(viewer))
    before = widget.result
    press(qtbot, widget, "lesionview-measurements-refresh")
    qtbot.waitUntil(lambda: settled(widget) and widget.result is not before, timeout=TIMEOUT_MS)
    _same(widget.result, measure_layers(viewer))
    assert drawn == []
    # A cord edit (the cord above the lesions erased) moves the centerline: drawn again, and the
    # lesions' axial diameters and lengths along the cord follow it.
    les_rows = np.nonzero(np.asarray(lesions.data))[1]
    erase = np.nonzero(np.asarray(cord.data)[:, : les_rows.min() - 30] > 0)
    cord.data_setitem(erase, 0)
    qtbot.waitUntil(lambda: settled(widget) and widget.result is not before, timeout=TIMEOUT_MS)
    assert drawn == [1]
    _same(widget.result, measure_layers(viewer))
    assert ([les.craniocaudal_along_cord_mm for les in widget.result.lesions]
            != [les.craniocaudal_along_cord_mm for les in before.lesions])
    # Undoing it: drawn again, back to the first numbers.
    cord.undo()
    qtbot.waitUntil(lambda: settled(widget) and len(drawn) == 2, timeout=TIMEOUT_MS)
    _same(widget.result, before)
    # An empty cord: no centerline, as measure() without one.
    cord.data = np.zeros_like(cord.data)
    qtbot.waitUntil(lambda: settled(widget) and widget.result.lesions[0].cord_occupancy is None,
                    timeout=TIMEOUT_MS)
    _same(widget.result, measure_layers(viewer))


def test_stale_result_is_discarded(twin, qtbot):
    viewer, widget = twin
    lesions = find_layer(viewer, "lesions")
    widget.refresh()                       # a measurement of the two-lesion state is running...
    assert widget._worker is not None      # ...in a worker: refresh() returned at once
    lesions.data_setitem(_new_blob(viewer), 3)  # ...and an edit supersedes it
    qtbot.waitUntil(lambda: settled(widget), timeout=TIMEOUT_MS)
    assert len(widget.result.lesions) == 3


def test_clicking_a_row_goes_to_the_lesion(twin, qtbot):
    viewer, widget = twin
    lesions = find_layer(viewer, "lesions")
    viewer.layers.selection.active = find_layer(viewer, "t1c")
    target = widget.result.lesions[1]
    table = widget.table
    rect = table.visualItemRect(table.item(1, 2))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    world = lps_to_napari(target.centroid_lps_mm)
    step = np.asarray(viewer.dims.range)[:, 2]
    assert np.all(np.abs(np.asarray(viewer.dims.point) - world) <= step / 2 + 1e-6)
    assert np.allclose(camera_of(viewer).center[-2:], world[1:], atol=1e-6)
    assert lesions.selected_label == target.id
    assert viewer.layers.selection.active is lesions
    # The first lesion too (a different row moves the view again).
    table.selectRow(0)
    assert lesions.selected_label == widget.result.lesions[0].id
    assert np.allclose(camera_of(viewer).center[-2:], lps_to_napari(widget.result.lesions[0].centroid_lps_mm)[1:])


def test_levels_edits_update_the_level_column(twin, qtbot):
    viewer, widget = twin
    points = find_layer(viewer, "levels")
    # Rename every landmark one level down (C5 -> C6, C4/C5 -> C5/C6): lesion 1 moves to C6.
    shifted = []
    for name in points.features["name"]:
        kind, idx = parse_landmark(name)
        shifted.append(name_of(idx + 1) if kind == "body" else disc_name(idx + 1))
    points.features = pd.DataFrame({"name": shifted}, dtype=object)
    qtbot.waitUntil(lambda: settled(widget) and widget.table.item(0, 1).text() == "C6", timeout=TIMEOUT_MS)
    _same(widget.result, measure_layers(viewer))
    # No levels layer at all: no levels in the table, and the warning says why.
    viewer.layers.remove(points)
    qtbot.waitUntil(lambda: settled(widget) and widget.table.item(0, 1).text() == "—", timeout=TIMEOUT_MS)
    assert "no vertebral levels" in widget.warnings.text()


def test_bad_layers_are_a_notification_not_a_crash(twin, qtbot, monkeypatch):
    viewer, widget = twin
    errors = []
    monkeypatch.setattr(mw, "show_error", errors.append)
    edema = find_layer(viewer, "edema")
    wrong = viewer.add_labels(np.zeros((5, 6, 7), np.uint8), name="wrong grid")
    edema.metadata.pop("lesionview_role")
    wrong.metadata["lesionview_role"] = "edema"
    widget.schedule()
    qtbot.waitUntil(lambda: bool(errors), timeout=TIMEOUT_MS)
    assert "edema" in errors[0] and "Not measured" in widget.status.text()
    assert widget.isVisible()


def test_no_lesions_layer_says_what_to_do(viewer, qtbot):
    widget = MeasurementsWidget(viewer)
    qtbot.waitUntil(lambda: "Study widget" in widget.status.text(), timeout=TIMEOUT_MS)
    assert widget.table.rowCount() == 0 and widget.result is None


def _canvas_pixel(viewer, world, shape) -> np.ndarray:
    """Screenshot pixel (row, col) of a world point on the 2D canvas (camera centre, zoom)."""
    shown = np.asarray([world[d] for d in viewer.dims.displayed])
    centre = np.asarray(camera_of(viewer).center[-2:])
    return (shown - centre) * camera_of(viewer).zoom + np.asarray(shape[:2]) / 2


def test_screenshot_shows_the_lesion(twin, qtbot, tmp_path):
    viewer, widget = twin
    lesions, edema = find_layer(viewer, "lesions"), find_layer(viewer, "edema")
    assert lesions.visible and edema.visible
    target = widget.result.lesions[0]
    world = lps_to_napari(target.centroid_lps_mm)
    viewer.dims.set_point(0, world[0])       # the lesion's sagittal slice
    viewer.reset_view()
    qtbot.wait(200)
    with_lesions = viewer.screenshot(canvas_only=True, flash=False)
    lesions.visible = False
    qtbot.wait(200)
    without = viewer.screenshot(canvas_only=True, flash=False)
    lesions.visible = True
    from imageio.v3 import imwrite

    imwrite(tmp_path / "sample_with_lesions.png", with_lesions)
    widget.show_more_columns(True)  # every column in the saved picture
    widget.resize(1100, 420)
    widget.grab().save(str(tmp_path / "measurements_widget.png"))

    rgb = with_lesions[..., :3].astype(int)
    assert rgb.std() > 10, "the canvas is blank"
    changed = np.any(np.abs(rgb - without[..., :3].astype(int)) > 30, axis=-1)
    assert changed.sum() > 10, "the lesions layer draws nothing"
    rows, cols = np.nonzero(changed)
    expected = _canvas_pixel(viewer, world, rgb.shape)
    # The nearest changed pixel (lesion 1 of the pair) sits where its centroid maps.
    dist = np.hypot(rows - expected[0], cols - expected[1])
    assert dist.min() < 10
    near = dist < 10
    # Its colour leans to the lesion label colour (drawn translucent over the image).
    colour = np.asarray(lesions.get_color(target.id))[:3] * 255
    shift = (rgb[rows[near], cols[near]] - without[rows[near], cols[near], :3].astype(int)).mean(axis=0)
    towards = colour - without[rows[near], cols[near], :3].astype(int).mean(axis=0)
    assert np.dot(shift, towards) > 0


# ----------------------------------------------------------------------- controls, by real clicks
def test_copy_summary_puts_the_report_sentence_on_the_clipboard(twin, qtbot, monkeypatch):
    viewer, widget = twin
    seen = capture_notifications(monkeypatch, mw)
    QApplication.clipboard().setText("something else")
    press(qtbot, widget, "lesionview-measurements-copy")
    assert QApplication.clipboard().text() == widget.result.summary == measure_layers(viewer).summary
    assert widget.result.summary.startswith("Two enhancing intramedullary lesions")
    assert seen["info"] and not seen["error"]


def test_copy_summary_waits_for_a_result(viewer, qtbot):
    widget = MeasurementsWidget(viewer)  # no lesions layer: nothing to copy
    viewer.window.add_dock_widget(widget, name="Measurements")
    qtbot.waitUntil(lambda: "Study widget" in widget.status.text(), timeout=TIMEOUT_MS)
    assert not widget.copy_button.isEnabled()


def test_key_columns_first_and_more_columns_on_demand(twin, qtbot, monkeypatch):
    _viewer, widget = twin
    seen = capture_notifications(monkeypatch, mw)
    table = widget.table

    def shown():
        return [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]

    assert [COLUMNS[c] for c in shown()] == ["Region", "Vertebral levels", "Max ⌀ (mm)", "Axial long × short (mm)",
                                             "Craniocaudal (mm)", "Volume (mm³)"]
    assert all(table.horizontalHeaderItem(c).toolTip().startswith(COLUMNS[c]) for c in range(len(COLUMNS)))
    # The hidden numbers are still one hover away: every cell's tooltip lists the whole row.
    assert "Enhancement: " in table.item(0, 0).toolTip() and "Assessment: measurable" in table.item(1, 2).toolTip()
    button = press(qtbot, widget, "lesionview-measurements-more")
    assert button.isChecked() and shown() == list(range(len(COLUMNS)))
    press(qtbot, widget, "lesionview-measurements-more")
    assert not button.isChecked() and shown() == list(range(KEY_COLUMNS))
    assert not seen["error"]


def test_refresh_measures_again(twin, qtbot, monkeypatch):
    _viewer, widget = twin
    seen = capture_notifications(monkeypatch, mw)
    calls = _count_computations(monkeypatch)
    before = widget.result
    press(qtbot, widget, "lesionview-measurements-refresh")
    qtbot.waitUntil(lambda: settled(widget) and widget.result is not before, timeout=TIMEOUT_MS)
    assert calls == [False]
    _same(widget.result, before)
    assert not seen["error"]


def test_summary_and_five_rows_fit_a_narrow_dock(twin, qtbot):
    viewer, widget = twin
    dock = widget.parentWidget()
    viewer.window._qt_window.resizeDocks([dock], [300], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: widget.width() <= 320, timeout=TIMEOUT_MS)
    qtbot.wait(50)
    label = widget.summary
    assert label.height() >= label.heightForWidth(label.width()) > 2 * label.fontMetrics().lineSpacing()
    assert label.visibleRegion().boundingRect() == label.rect()  # no parent clips its last line
    table = widget.table
    rows = ROWS_SHOWN * table.verticalHeader().defaultSectionSize()
    assert table.viewport().height() >= rows


# ------------------------------------------------------------------------- thick axial slices
@pytest.fixture(scope="module")
def twin_axial_layers():
    """Layer tuples of the twin phantom rendered afresh on 3 mm axial slices (0.5 mm pixels):
    cord, edema and lesion masks with their roles, and the sample's vertebral landmarks."""
    g, maps = twin_axial()
    layers = []
    for role, array in (("cord", maps.cord), ("edema", maps.edema), ("lesions", maps.lesion_labels)):
        data, kwargs, kind = volume_to_layer_data(Volume(array, g, info=SeriesInfo(series_description=role)),
                                                  as_labels=True)
        kwargs["metadata"][ROLE_KEY] = role
        layers.append((data, kwargs, kind))
    names, positions = read_landmarks(sample_path("twin") / "landmarks.csv")
    grid = {k: layers[0][1][k] for k in ("scale", "translate", "affine") if k in layers[0][1]}
    layers.append(levels_layer_data(names, positions, **grid))
    return layers


def test_thick_axial_slices_show_the_craniocaudal_uncertainty(viewer, qtbot, twin_axial_layers):
    """3 mm slices across the cord: "9.0 ± 3.0" in the craniocaudal column, "C5 (C6?)" where a
    lesion's end may lie in the next level, and the tooltip spells it out."""
    for data, kwargs, kind in twin_axial_layers:
        viewer.add_layer(Layer.create(data, kwargs, kind))
    widget = MeasurementsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Measurements")
    qtbot.waitUntil(lambda: settled(widget), timeout=TIMEOUT_MS)
    result = widget.result
    _same(result, measure_layers(viewer))
    rows = table_rows(widget)
    assert [kind for kind, _, _ in rows] == ["lesion", "lesion", "edema"]
    regions = [*result.lesions, *result.edema]
    for (_, texts, raws), region in zip(rows, regions):
        unc = region.craniocaudal_uncertainty_mm
        assert unc >= 3.0
        assert texts[4] == f"{region.craniocaudal_mm:.1f} ± 3.0"
        assert tuple(raws[4]) == (region.craniocaudal_mm, unc)
    (_, first, _), (_, second, _), (_, edema, _) = rows
    assert first[1] == "C5 (C6?)" and first[4] == "3.0 ± 3.0"  # its lower end may lie in C6
    assert second[1] == "C6" and edema[1] == "C1-C7"            # whichever slice their ends lie in
    assert "±" not in first[3]                                   # the axial plane is the slice plane
    assert "C5, possibly reaching C6 (maximum diameter 3.0 mm)" in widget.summary.text()
    assert any(w.startswith("slices 3.0 mm thick across the cord") for w in result.warnings)
    table = widget.table
    tip = table.item(0, 3).toolTip()
    assert ("Vertebral levels: C5, possibly reaching C6: its ends are uncertain by ±3.0 mm along the cord (3 mm slices "
            "across it)") in tip
    assert "Craniocaudal (mm): 3.0 ± 3.0" in tip
    assert "Vertebral levels: C6\n" in table.item(1, 0).toolTip()
    assert "C5 (C6?)" in table.horizontalHeaderItem(1).toolTip()
    # The key columns still fit a laptop's dock.
    widths = [table.columnWidth(c) for c in range(KEY_COLUMNS)]
    assert sum(widths) <= 440, widths


def test_edema_that_may_reach_3_levels_reads_possibly_longitudinally_extensive():
    """Thick slices across the cord: an edema region over 2 levels that may reach 3."""
    from lesionview.measure.models import Edema, LevelSpan

    span = LevelSpan(first="C4", last="C5", count=2, possible_first="C4", possible_last="C6")
    ed = Edema(id=1, voxel_count=10, volume_mm3=30.0, craniocaudal_mm=36.0, levels=span,
               longitudinally_extensive=False, craniocaudal_uncertainty_mm=3.0, thick_slices_mm=3.0)
    cells = mw.edema_cells(ed)
    at = mw.COLUMNS.index("Assessment")
    assert cells[at] == ("possibly longitudinally extensive", False)
    assert cells[1][0] == "C4-C5 (C6?)" and cells[4][0] == "36.0 ± 3.0"
    assert mw.edema_cells(ed.model_copy(update={"thick_slices_mm": None}))[at][0] == "not longitudinally extensive"
