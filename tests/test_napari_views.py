"""Views widget on the twin phantom: linked orthogonal views, the crosshair, the 3D view.

Every button is clicked as a user clicks it (``press``: a real Qt mouse click on the docked
widget). Real GUI: run under ``xvfb-run -a -s "-screen 0 1280x1024x24"`` (tests/conftest.py).
Screenshots of the linked views and of the 3D view are written to the test's tmp_path.
"""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import capture_notifications, click, press
from napari.utils._test_utils import read_only_mouse_event
from napari.utils.interactions import mouse_move_callbacks
from napari.utils.notifications import NotificationSeverity, notification_manager
from qtpy.QtCore import QPoint, Qt
from qtpy.QtGui import QCursor
from qtpy.QtWidgets import QApplication
from scipy import ndimage
from scipy.spatial import cKDTree

from lesionview.measure import measure
from napari_lesionview import _orthoviews, _view3d
from napari_lesionview._layers import layer_geometry, layer_to_volume
from napari_lesionview._space import lps_to_napari, napari_to_lps
from napari_lesionview._study import find_layer
from napari_lesionview._widgets import views as views_module
from napari_lesionview._widgets.views import ViewsWidget

pytestmark = pytest.mark.gui
TIMEOUT_MS = 20_000
CORONAL, AXIAL = (1, 0), (2, 0)   # displayed (rows, columns) of the linked views


@pytest.fixture
def twin(viewer, qtbot, monkeypatch):
    """The twin sample with the Views widget docked; notifications captured."""
    viewer.window._qt_window.resize(1280, 960)
    viewer.open_sample("lesionview", "twin")
    widget = ViewsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Views")
    seen = capture_notifications(monkeypatch, views_module)
    since = len(notification_manager.records)
    yield viewer, widget, seen
    errors = [str(n.message) for n in notification_manager.records[since:]
              if n.severity == NotificationSeverity.ERROR]
    assert not seen["error"] and not errors, (seen["error"], errors)
    _orthoviews.hide_orthogonal_views(viewer)   # put the window's centre back before closing


def lesion_centres(viewer) -> dict[int, np.ndarray]:
    """The oracle: each lesion's centroid from lesionview.measure, napari world mm."""
    result = measure(layer_to_volume(find_layer(viewer, "lesions")))
    return {les.id: lps_to_napari(les.centroid_lps_mm) for les in result.lesions}


def crosshairs(viewer) -> list[tuple[object, np.ndarray]]:
    """(viewer model, world point where its drawn crosshair crosses) of each shown canvas."""
    qt_viewers = [viewer.window._qt_viewer]
    manager = _orthoviews.views_state(viewer).manager
    if _orthoviews.orthogonal_views_shown(viewer):
        qt_viewers += [manager.right_widget.qt_viewer, manager.bottom_widget.qt_viewer]
    found = []
    for qt_viewer in qt_viewers:
        model = qt_viewer.viewer
        visuals = [v for vs in qt_viewer.canvas._viewer_overlay_to_visual.values() for v in vs
                   if isinstance(v, _orthoviews._WorldCrosshair) and v.overlay.visible]
        assert len(visuals) == 1, f"{model.title}: no crosshair shown"
        # vispy order (column, row, depth) back to napari world axes.
        order = list(model.dims.displayed[::-1]) + list(model.dims.not_displayed[::-1])[:1]
        world = np.zeros(3)
        world[order] = visuals[0].position
        found.append((model, world))
    return found


def near(point, world, viewer) -> bool:
    """Within half a slice of ``world`` along every axis (the slider snaps to slices)."""
    step = np.asarray(viewer.dims.range)[:, 2]
    return bool(np.all(np.abs(np.asarray(point) - world) <= step / 2 + 1e-6))


def in_view(model, world) -> bool:
    """True when ``world`` is inside ``model``'s field of view (its displayed axes)."""
    camera = model.scene.camera
    height, width = np.asarray(model.canvas.size) / camera.zoom
    rows, columns = model.dims.displayed
    return bool(abs(world[rows] - camera.center[-2]) < height / 2
                and abs(world[columns] - camera.center[-1]) < width / 2)


def settle(qtbot, ms: int = 150) -> None:
    qtbot.wait(ms)
    QApplication.processEvents()


# ------------------------------------------------------------------------- linked views
def test_orthogonal_views_show_the_same_layers_in_radiological_planes(twin, qtbot, tmp_path):
    viewer, widget, seen = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    assert _orthoviews.orthogonal_views_shown(viewer)
    assert widget.orthogonal.isChecked()
    models = _orthoviews.views_state(viewer).view_models()
    # Coronal (superior up, patient's left on the right) and axial (anterior up, left on the
    # right), beside the sagittal main view.
    assert [tuple(m.dims.displayed) for m in models] == [CORONAL, AXIAL]
    names = [layer.name for layer in viewer.layers]
    for model in models:
        assert [layer.name for layer in model.layers] == names
        # The copies share the data: a painted voxel is in every view.
        assert model.layers["lesions"].data is viewer.layers["lesions"].data
    # The crosshair is drawn in each canvas where the slices cross, in world mm.
    for model, world in crosshairs(viewer):
        assert np.allclose(world, viewer.dims.point), model.title
    settle(qtbot, 300)
    manager = _orthoviews.views_state(viewer).manager
    manager.screenshot(str(tmp_path / "orthogonal_views.png"))

    press(qtbot, widget, "lesionview-views-orthogonal")
    assert not _orthoviews.orthogonal_views_shown(viewer)
    assert not widget.orthogonal.isChecked()
    assert seen["error"] == []


def test_the_plugins_own_check_box_keeps_our_views_and_button_in_step(twin, qtbot):
    viewer, widget, _ = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    box = _orthoviews.views_state(viewer).manager.main_controls_widget.show_checkbox
    box.click()      # napari-orthogonal-views' own "Show orthogonal views" (not in our dock)
    assert not _orthoviews.orthogonal_views_shown(viewer) and not widget.orthogonal.isChecked()
    box.click()
    assert _orthoviews.orthogonal_views_shown(viewer) and widget.orthogonal.isChecked()
    models = _orthoviews.views_state(viewer).view_models()
    assert [tuple(m.dims.displayed) for m in models] == [CORONAL, AXIAL]
    assert len(crosshairs(viewer)) == 3


def test_crosshair_is_drawn_at_the_slice_point_in_pixels(twin, qtbot):
    """The crosshair lines land on the screen where the slices are (napari-orthogonal-views
    alone drew them at step indices: centimetres off for data not starting at 0)."""
    viewer, widget, _ = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    centre = lesion_centres(viewer)[1]
    viewer.dims.set_point([0, 1, 2], tuple(centre))
    settle(qtbot, 300)
    image = viewer.screenshot(canvas_only=True, flash=False)
    camera = viewer.scene.camera
    height = image.shape[0]
    # The magenta line marks the superior-inferior position (rows of the sagittal canvas).
    magenta = (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] > 200)
    rows = np.flatnonzero(magenta.sum(axis=1) > image.shape[1] / 2)
    assert rows.size, "no magenta crosshair line in the sagittal canvas"
    zoom = camera.zoom * height / viewer.canvas.size[0]
    expected = height / 2 + (viewer.dims.point[1] - camera.center[1]) * zoom
    assert abs(rows.mean() - expected) <= 2.5


def test_picking_a_lesion_moves_the_crosshair_to_its_centre(twin, qtbot):
    viewer, widget, _ = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    lesions = find_layer(viewer, "lesions")
    centres = lesion_centres(viewer)
    assert len(centres) == 2
    lesions.mode = "pick"
    for label, centre in sorted(centres.items(), reverse=True):
        # A colour-picker click on one voxel of the lesion, away from its centre.
        voxel = np.argwhere(np.asarray(lesions.data) == label)[0]
        world = lesions.data_to_world(voxel)
        viewer.dims.set_point([0], (world[0],))
        click(lesions, world)
        assert lesions.selected_label == label
        for model, drawn in crosshairs(viewer):
            assert near(drawn, centre, viewer), (model.title, drawn, centre)
            assert near(model.dims.point, centre, viewer)
            assert in_view(model, drawn), f"{model.title}: the crosshair is off screen"


def test_choosing_a_label_to_paint_does_not_move_the_slice(twin, qtbot):
    viewer, widget, _ = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    lesions = find_layer(viewer, "lesions")
    lesions.mode = "paint"
    lesions.selected_label = 3
    before = tuple(viewer.dims.point)
    lesions.selected_label = 1
    assert tuple(viewer.dims.point) == before


def test_measurements_row_click_moves_the_crosshair(twin, qtbot):
    from napari_lesionview._widgets.measurements import MeasurementsWidget

    viewer, widget, _ = twin
    table_widget = MeasurementsWidget(viewer)
    viewer.window.add_dock_widget(table_widget, name="Measurements")
    qtbot.waitUntil(lambda: table_widget.is_current, timeout=TIMEOUT_MS)
    press(qtbot, widget, "lesionview-views-orthogonal")
    centres = lesion_centres(viewer)
    table = table_widget.table
    for row in (1, 0):
        rect = table.visualItemRect(table.item(row, 0))
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        label = int(find_layer(viewer, "lesions").selected_label)
        for model, drawn in crosshairs(viewer):
            assert near(drawn, centres[label], viewer), model.title


def test_follow_cursor_moves_the_crosshair_with_the_mouse(twin, qtbot):
    viewer, widget, _ = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    settle(qtbot, 300)
    before = np.array(viewer.dims.point)
    # Without Shift and without Follow cursor, hovering leaves the crosshair where it is.
    canvas = viewer.window._qt_viewer.canvas.native
    target = QPoint(canvas.width() // 3, canvas.height() // 4)
    qtbot.mouseMove(canvas, target)
    settle(qtbot)
    assert np.allclose(viewer.dims.point, before)

    press(qtbot, widget, "lesionview-views-follow")
    assert _orthoviews.views_state(viewer).follow_cursor
    # A real mouse move over the sagittal canvas: the crosshair (and with it the axial and
    # coronal slices) follows, the sagittal slice stays.
    qtbot.mouseMove(canvas, QPoint(canvas.width() // 2, canvas.height() // 3))
    qtbot.waitUntil(lambda: not np.allclose(viewer.dims.point, before), timeout=TIMEOUT_MS)
    cursor = np.asarray(viewer.cursor.position)
    assert viewer.dims.point[0] == before[0]
    step = np.asarray(viewer.dims.range)[1:, 2]
    assert np.all(np.abs(np.asarray(viewer.dims.point[1:]) - cursor[1:]) <= step / 2 + 1e-6)
    for model in _orthoviews.views_state(viewer).view_models():
        assert np.allclose(model.dims.point, viewer.dims.point)

    # In the axial view: the crosshair moves in its plane (left-right and anterior-posterior).
    axial = _orthoviews.views_state(viewer).view_models()[1]
    position = np.array(viewer.dims.point)
    position[[0, 2]] = (6.0, 20.0)
    mouse_move_callbacks(axial, read_only_mouse_event(type="mouse_move", position=tuple(position),
                                                      modifiers=()))
    qtbot.waitUntil(lambda: np.isclose(viewer.dims.point[2], 20.0), timeout=TIMEOUT_MS)
    assert viewer.dims.point[0] == pytest.approx(6.0)

    press(qtbot, widget, "lesionview-views-follow")
    assert not _orthoviews.views_state(viewer).follow_cursor


def test_shift_moves_the_crosshair_without_follow_mode(twin, qtbot):
    viewer, widget, _ = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    position = np.array(viewer.dims.point)
    position[1:] = (-40.0, 15.0)
    plain = read_only_mouse_event(type="mouse_move", position=tuple(position), modifiers=())
    mouse_move_callbacks(viewer, plain)
    settle(qtbot)
    assert viewer.dims.point[1] != pytest.approx(-40.0)
    shifted = read_only_mouse_event(type="mouse_move", position=tuple(position), modifiers=("Shift",))
    mouse_move_callbacks(viewer, shifted)
    qtbot.waitUntil(lambda: np.isclose(viewer.dims.point[1], -40.0, atol=0.26), timeout=TIMEOUT_MS)
    assert viewer.dims.point[2] == pytest.approx(15.0, abs=0.26)


def test_t_moves_the_crosshair_to_the_mouse_in_world_mm(twin, qtbot):
    viewer, widget, _ = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    settle(qtbot, 300)
    canvas = viewer.window._qt_viewer.canvas.native
    spot = QPoint(canvas.width() // 3, canvas.height() // 4)
    QCursor.setPos(canvas.mapToGlobal(spot))
    qtbot.mouseMove(canvas, spot)
    settle(qtbot)
    cursor = np.asarray(viewer.cursor.position)
    assert not np.allclose(cursor[1:], viewer.dims.point[1:], atol=1.0)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_T)     # the plugin's shortcut, with our command
    settle(qtbot)
    step = np.asarray(viewer.dims.range)[:, 2]
    assert np.all(np.abs(np.asarray(viewer.dims.point) - cursor) <= step / 2 + 1e-6)


# ------------------------------------------------------------------------- 3D view
def _boundary_tree(mask: np.ndarray) -> cKDTree:
    inside = mask.astype(bool)
    return cKDTree(np.argwhere(inside & ~ndimage.binary_erosion(inside, border_value=0)))


def test_3d_view_shows_lesion_surfaces_in_the_cord_with_levels(twin, qtbot, tmp_path):
    viewer, widget, seen = twin
    press(qtbot, widget, "lesionview-views-orthogonal")
    visible_before = {layer.name for layer in viewer.layers if layer.visible}
    active_before = viewer.layers.selection.active
    press(qtbot, widget, "lesionview-views-3d")
    assert viewer.dims.ndisplay == 3 and widget.view3d.isChecked()
    layers = _view3d.view3d_layers(viewer)
    assert set(layers) == {"lesions", "cord", "levels"}
    assert seen["info"] == ["3D view: 2 lesion surface(s)"]

    # One surface per lesion, each within a voxel of its mask's boundary.
    lesions = find_layer(viewer, "lesions")
    centres = lesion_centres(viewer)
    assert sorted(layers["lesions"].metadata["labels"]) == sorted(centres)
    vertices = layers["lesions"].data[0]
    geometry = layer_geometry(lesions)
    index = geometry.world_to_index(napari_to_lps(vertices))
    data = np.asarray(lesions.data)
    for label in centres:
        tree = _boundary_tree(data == label)
        colours = np.asarray(layers["lesions"].vertex_colors)
        mine = np.all(np.isclose(colours[:, :3], lesions.get_color(label)[:3]), axis=1)
        assert mine.any(), f"no vertex has lesion {label}'s colour"
        assert np.max(tree.query(index[mine])[0]) <= 1.0
        # Its surface is around the lesion's centre (the measured centroid).
        assert np.allclose(vertices[mine].mean(axis=0), centres[label], atol=2.0)
    cord = find_layer(viewer, "cord")
    cord_index = geometry.world_to_index(napari_to_lps(layers["cord"].data[0]))
    assert np.max(_boundary_tree(np.asarray(cord.data) > 0).query(cord_index)[0]) <= 1.0
    assert layers["cord"].opacity < 0.5
    assert list(layers["levels"].features["name"]) == list(find_layer(viewer, "levels").features["name"])
    levels = find_layer(viewer, "levels")
    assert np.allclose(layers["levels"].data, [levels.data_to_world(p) for p in levels.data])
    # Only the 3D layers are shown; the linked (2D) views are put away meanwhile.
    assert {layer.name for layer in viewer.layers if layer.visible} == {
        layer.name for layer in layers.values()}
    assert not _orthoviews.orthogonal_views_shown(viewer)

    settle(qtbot, 500)
    image = viewer.screenshot(str(tmp_path / "view3d.png"), canvas_only=True, flash=False)
    # Rendered (Mesa under Xvfb): the cord's blue and the levels' yellow are on the canvas.
    assert np.count_nonzero(image[..., :3].max(axis=-1) > 40) > 1000

    press(qtbot, widget, "lesionview-views-3d")
    assert viewer.dims.ndisplay == 2 and not widget.view3d.isChecked()
    assert _view3d.view3d_layers(viewer) == {}
    assert {layer.name for layer in viewer.layers if layer.visible} == visible_before
    assert viewer.layers.selection.active is active_before
    assert _orthoviews.orthogonal_views_shown(viewer) and widget.orthogonal.isChecked()


def test_napari_2d_button_leaves_the_3d_view_cleanly(twin, qtbot):
    viewer, widget, _ = twin
    press(qtbot, widget, "lesionview-views-3d")
    assert _view3d.view3d_active(viewer)
    viewer.dims.ndisplay = 2          # napari's own 2D/3D toggle
    assert not _view3d.view3d_active(viewer) and not widget.view3d.isChecked()
    assert _view3d.view3d_layers(viewer) == {}
    assert find_layer(viewer, "lesions").visible


@pytest.mark.parametrize("case", ["no layer", "empty layer"])
def test_3d_view_without_lesions_says_what_to_do(viewer, qtbot, monkeypatch, case):
    if case == "empty layer":
        viewer.open_sample("lesionview", "twin")
        find_layer(viewer, "lesions").data = np.zeros_like(find_layer(viewer, "lesions").data)
    visible = [layer.name for layer in viewer.layers if layer.visible]
    widget = ViewsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Views")
    qtbot.waitUntil(widget.isVisible)
    seen = capture_notifications(monkeypatch, views_module)
    press(qtbot, widget, "lesionview-views-3d")
    expected = "no lesions layer" if case == "no layer" else "lesions layer is empty"
    assert len(seen["error"]) == 1 and expected in seen["error"][0], seen["error"]
    assert viewer.dims.ndisplay == 2 and not widget.view3d.isChecked()
    assert [layer.name for layer in viewer.layers if layer.visible] == visible
