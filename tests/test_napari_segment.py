"""Segment widget on the twin phantom, in a real napari viewer (run under Xvfb)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("napari")


from gui_helpers import capture_notifications, click, control, key, press
from napari.utils._test_utils import read_only_mouse_event
from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks
from qtpy.QtCore import QPoint, Qt

from lesionview.io import load_volume
from lesionview.levels import read_landmarks
from lesionview.phantom import sample_path
from lesionview.segment import dice
from napari_lesionview import _display
from napari_lesionview._layers import volume_to_layer_data
from napari_lesionview._space import lps_to_napari
from napari_lesionview._study import ROLE_KEY, find_layer, transform_kwargs
from napari_lesionview._widgets import segment as segment_module
from napari_lesionview._widgets.levels import SHORTCUTS as LEVEL_SHORTCUTS
from napari_lesionview._widgets.segment import SHORTCUTS, SegmentWidget

pytestmark = pytest.mark.gui


def add_twin(viewer, *, annotations=True):
    """The twin phantom as the Study widget would leave it: images with roles, empty annotations."""
    folder = sample_path("twin")
    layers = {}
    for role, name in (("t2", "t2"), ("t1c", "t1c")):
        data, kwargs, _ = volume_to_layer_data(load_volume(folder / f"{name}.nii.gz"), as_labels=False)
        kwargs["metadata"][ROLE_KEY] = role
        layers[role] = viewer.add_image(data, **kwargs)
    if annotations:
        for role in ("lesions", "edema", "cord"):
            layers[role] = viewer.add_labels(np.zeros(layers["t1c"].data.shape, np.uint16), name=role,
                                             metadata={ROLE_KEY: role}, **transform_kwargs(layers["t1c"]))
    return layers


def truth(name: str) -> np.ndarray:
    """A truth mask of the twin phantom in the display frame (as the layers are shown)."""
    data, _, _ = volume_to_layer_data(load_volume(sample_path("twin") / f"{name}.nii.gz"), as_labels=True)
    return np.asarray(data)


def lesion_centres_world() -> list[np.ndarray]:
    info = json.loads((sample_path("twin") / "truth.json").read_text())
    return [lps_to_napari(lesion["centre_lps_mm"]) for lesion in info["lesions"]]


#: Misclicks on the twin phantom (LPS mm): the C6 vertebral body centre (landmarks.csv), and the
#: CSF behind the cord at the large lesion's height (truth.json: its centre is y = 1.0; the cord
#: ends at y = 4.5 there, T2 is CSF-bright from y = 5 to 7).
VERTEBRAL_BODY = dict(zip(*read_landmarks(sample_path("twin") / "landmarks.csv")))["C6"]
CSF = np.array([0.0, 6.0, -20.5])


def cord_clicks_world(layers, n: int) -> list[np.ndarray]:
    """``n`` points on the true cord's centre in the mid-sagittal slice, spread along it."""
    cord_truth = truth("cord") != 0
    mid = cord_truth.shape[0] // 2
    points = []
    for row in np.linspace(60, cord_truth.shape[1] - 60, n).astype(int):
        cols = np.flatnonzero(cord_truth[mid, row])
        points.append(np.asarray(layers["t2"].data_to_world([mid, row, cols.mean()])))
    return points


def type_into(qtbot, field, text: str) -> None:
    """Replace a spin box's or line edit's text by typing, as a user does, and confirm with Enter."""
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


@pytest.fixture
def messages(monkeypatch):
    """Notifications the widget shows, by kind."""
    return capture_notifications(monkeypatch, segment_module)


@pytest.fixture
def twin(viewer, qtbot):
    layers = add_twin(viewer)
    widget = SegmentWidget(viewer)
    dock = viewer.window.add_dock_widget(widget, name="Segment")
    qtbot.waitUntil(dock.isVisible, timeout=5_000)         # napari shows a new dock a moment later
    viewer.dims.set_point(0, lesion_centres_world()[1][0])
    return viewer, layers, widget


def test_grow_two_lesions_and_undo(twin, messages, tmp_path, qtbot):
    viewer, layers, widget = twin
    lesions = layers["lesions"]
    press(qtbot, widget, "lesionview-segment-grow")
    assert widget.grow_button.isChecked() and widget.on_click in viewer.mouse_drag_callbacks
    assert viewer.layers.selection.active is lesions  # so Ctrl+Z undoes a grow

    truth_lesions = truth("lesion")
    centres = lesion_centres_world()
    click(viewer, centres[1])
    assert set(np.unique(lesions.data)) == {0, 1}, messages
    first = lesions.data == 1
    big = truth_lesions == 2
    assert dice(first, big) >= 0.8

    before = np.array(lesions.data, copy=True)
    click(viewer, centres[0])
    assert set(np.unique(lesions.data)) == {0, 1, 2}, messages
    assert dice(lesions.data == 2, truth_lesions == 1) >= 0.8
    assert lesions.selected_label == 2

    lesions.undo()
    np.testing.assert_array_equal(lesions.data, before)
    lesions.redo()
    assert np.any(lesions.data == 2)
    viewer.screenshot(str(tmp_path / "grow_viewer.png"))
    widget.grab().save(str(tmp_path / "segment_widget.png"))
    assert (tmp_path / "segment_widget.png").stat().st_size > 0
    assert not messages["error"]

    press(qtbot, widget, "lesionview-segment-grow")
    assert not widget.grow_button.isChecked() and widget.on_click not in viewer.mouse_drag_callbacks


def test_drag_does_not_grow(twin, messages):
    viewer, layers, widget = twin
    widget.grow_button.setChecked(True)
    world = tuple(lesion_centres_world()[1])
    mouse_press_callbacks(viewer, read_only_mouse_event(type="mouse_press", position=world,
                                                        pos=np.zeros(2), button=1))
    mouse_release_callbacks(viewer, read_only_mouse_event(type="mouse_release", position=world,
                                                          pos=np.array([40.0, 0.0]), button=1))
    assert not np.any(layers["lesions"].data)


def test_cord_then_edema_by_clicks(twin, messages, qtbot):
    """The README's order, by clicks: lesions, then the cord from centerline clicks, then edema."""
    viewer, layers, widget = twin
    for centre in lesion_centres_world():
        widget.grow_at(centre)
    edema, cord = layers["edema"], layers["cord"]

    # Edema before the cord: refused, saying what to do, the edema layer untouched.
    press(qtbot, widget, "lesionview-segment-edema")
    assert "segment the cord first" in messages["error"][-1]
    assert "Cord: click centerline" in messages["error"][-1]
    assert not np.any(edema.data)
    messages["error"].clear()

    # Cord from 6 clicks along the true cord's centre, placed in add mode of the clicks layer.
    press(qtbot, widget, "lesionview-segment-cord-clicks")
    clicks = viewer.layers[segment_module.CLICKS_NAME]
    assert viewer.layers.selection.active is clicks and clicks.mode == "add"
    for world in cord_clicks_world(layers, 6):
        click(clicks, world)
    assert len(clicks.data) == 6
    press(qtbot, widget, "lesionview-segment-cord")
    assert not messages["error"], messages
    cord_truth = truth("cord") != 0
    span = slice(70, cord_truth.shape[1] - 70)  # between the first and last click
    assert dice(cord.data[:, span] != 0, cord_truth[:, span]) >= 0.8
    assert segment_module.CLICKS_NAME not in viewer.layers
    assert not widget.cord_clicks_button.isChecked()

    press(qtbot, widget, "lesionview-segment-edema")
    assert not messages["error"], messages
    assert dice(edema.data != 0, truth("edema") != 0) >= 0.85
    assert np.all(cord.data[edema.data != 0] | (layers["lesions"].data[edema.data != 0] != 0))
    edema.undo()
    assert not np.any(edema.data)
    cord.undo()
    assert not np.any(cord.data)


def test_cord_click_mode_toggles_off(twin, messages, qtbot):
    viewer, _, widget = twin
    press(qtbot, widget, "lesionview-segment-cord-clicks")
    assert widget.cord_clicks_button.isChecked()
    press(qtbot, widget, "lesionview-segment-grow")        # one click mode at a time
    assert not widget.cord_clicks_button.isChecked() and widget.grow_button.isChecked()
    viewer.layers.remove(segment_module.CLICKS_NAME)
    press(qtbot, widget, "lesionview-segment-cord")         # no clicks: says how many are needed
    assert "0 point(s) clicked" in messages["error"][-1]
    assert len(messages["error"]) == 1


def test_propose_accept_reject(twin, messages, qtbot):
    viewer, layers, widget = twin
    press(qtbot, widget, "lesionview-segment-propose")      # no cord yet: refused, saying how
    assert "segment the cord first: 'Cord: click centerline'" in messages["error"][-1]
    messages["error"].clear()
    layers["cord"].data = truth("cord")
    press(qtbot, widget, "lesionview-segment-propose")
    qtbot.waitUntil(lambda: widget.proposals.count() > 0 and widget.propose_button.isEnabled(), timeout=60_000)
    assert segment_module.PROPOSALS_NAME in viewer.layers
    n = widget.proposals.count()
    assert n >= 2, messages
    # Pick the second candidate (the large C6 lesion) with a click in the list.
    proposals = control(widget, "lesionview-segment-proposals")
    qtbot.mouseClick(proposals.viewport(), Qt.MouseButton.LeftButton,
                     pos=proposals.visualItemRect(proposals.item(1)).center())
    assert proposals.currentRow() == 1
    assert viewer.layers[segment_module.PROPOSALS_NAME].selected_label == 2  # highlighted
    press(qtbot, widget, "lesionview-segment-accept")
    assert dice(layers["lesions"].data == 1, truth("lesion") == 2) >= 0.8
    assert widget.proposals.count() == n - 1
    widget.proposals.setCurrentRow(0)
    press(qtbot, widget, "lesionview-segment-reject")
    assert widget.proposals.count() == n - 2
    assert set(np.unique(layers["lesions"].data)) == {0, 1}
    assert not messages["error"], messages
    layers["lesions"].undo()
    assert not np.any(layers["lesions"].data)


def test_editing_helpers(twin, messages, qtbot):
    _, layers, widget = twin
    lesions = layers["lesions"]
    labels = np.zeros(lesions.data.shape, np.uint16)
    labels[5:8, 100:110, 100:110] = 1
    labels[6, 104, 104] = 0                 # an enclosed hole
    labels[5:8, 200:210, 100:110] = 2
    labels[6, 300, 300] = 2                 # an island of 0.75 mm^3
    lesions.data = labels
    lesions._reset_history()

    press(qtbot, widget, "lesionview-segment-fill-holes")
    assert lesions.data[6, 104, 104] == 1
    type_into(qtbot, control(widget, "lesionview-segment-min-island"), "5.0")
    assert widget.min_island.value() == 5.0
    press(qtbot, widget, "lesionview-segment-remove-islands")
    assert lesions.data[6, 300, 300] == 0 and np.count_nonzero(lesions.data == 2) == 300
    lesions.data_setitem((np.array([6]), np.array([300]), np.array([300])), 2)
    lesions.selected_label = 2
    press(qtbot, widget, "lesionview-segment-split")
    assert lesions.data[6, 300, 300] == 3
    type_into(qtbot, control(widget, "lesionview-segment-merge-ids"), "2, 3")
    assert widget.merge_ids.text() == "2, 3"
    press(qtbot, widget, "lesionview-segment-merge")
    assert lesions.data[6, 300, 300] == 2
    before = np.array(lesions.data, copy=True)
    type_into(qtbot, control(widget, "lesionview-segment-sigma"), "1.0")
    assert widget.sigma.value() == 1.0
    press(qtbot, widget, "lesionview-segment-smooth")
    assert lesions.data[6, 300, 300] == 0      # a single voxel smooths away
    assert not messages["error"], messages
    lesions.undo()
    np.testing.assert_array_equal(lesions.data, before)
    for _ in range(4):
        lesions.undo()
    np.testing.assert_array_equal(lesions.data, labels)


def test_sensitivity_slider(twin, messages, qtbot):
    _, layers, widget = twin
    slider = control(widget, "lesionview-segment-sensitivity")
    assert widget.sensitivity_value == 0.5
    # A click on the groove to the right of the handle steps the value up by a page.
    right = slider.rect().center() + QPoint(slider.width() // 3, 0)
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=right)
    assert widget.sensitivity_value > 0.5
    qtbot.keyClick(slider, Qt.Key.Key_Home)
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    assert widget._sens_label.text() == f"{widget.sensitivity_value:.2f}" != "0.50"
    slider.setValue(30)
    low = np.count_nonzero(layers["lesions"].data == widget.grow_at(lesion_centres_world()[1]))
    layers["lesions"].undo()
    qtbot.keyClick(slider, Qt.Key.Key_End)                  # 1.0: grow into any enhancement
    assert widget.sensitivity_value == 1.0
    qtbot.keyClick(slider, Qt.Key.Key_PageDown)
    qtbot.keyClick(slider, Qt.Key.Key_PageDown)
    assert widget.sensitivity_value == 0.8
    high = np.count_nonzero(layers["lesions"].data == widget.grow_at(lesion_centres_world()[1]))
    assert high > low
    assert not messages["error"], messages


def test_bad_input_is_a_notification(viewer, messages):
    layers = add_twin(viewer)
    widget = SegmentWidget(viewer)
    # A click outside the image.
    assert widget.grow_at((500.0, 500.0, 500.0)) is None
    assert messages["error"] and "outside" in messages["error"][-1]
    # Mismatched shapes: a lesions layer not on the T1c grid.
    viewer.layers.remove(layers["lesions"])
    viewer.add_labels(np.zeros((5, 5, 5), np.uint16), name="small", metadata={ROLE_KEY: "lesions"})
    widget.grow_at(lesion_centres_world()[1])
    assert "not on the grid" in messages["error"][-1]
    widget.edema_from_lesions()
    assert messages["error"][-1].startswith("Edema from lesions")
    # No T1c layer chosen.
    layers["t1c"].metadata.pop(ROLE_KEY)
    widget.grow_at(lesion_centres_world()[1])
    assert "no T1 post-contrast image layer" in messages["error"][-1]
    widget.propose_lesions()
    assert "no T1 post-contrast" in messages["error"][-1]
    # Too few cord clicks, bad merge ids.
    widget.cord_from_clicks()
    assert "0 point(s) clicked" in messages["error"][-1]
    widget.merge_ids.setText("one, two")
    widget.merge()
    assert "not a list of label ids" in messages["error"][-1]


def test_no_layers_at_all(viewer, messages):
    widget = SegmentWidget(viewer)
    widget.grow_button.setChecked(True)      # no T1c: says so, and the mode stays off
    assert "no T1 post-contrast" in messages["error"][-1]
    assert not widget.grow_button.isChecked() and widget.on_click not in viewer.mouse_drag_callbacks
    widget.cord_clicks_button.setChecked(True)
    assert "no T2" in messages["error"][-1] and not widget.cord_clicks_button.isChecked()
    widget.fill_holes()
    assert "no lesions layer" in messages["error"][-1]
    widget.edema_from_lesions()
    widget.accept_proposal()
    assert len(messages["error"]) == 5


def test_on_the_sample_data(viewer, messages):
    """File > Open Sample > twin (DICOM images, roles set): grow into its uint8 lesions layer."""
    viewer.open_sample("lesionview", "twin")
    widget = SegmentWidget(viewer)
    lesions = next(layer for layer in viewer.layers if layer.metadata.get(ROLE_KEY) == "lesions")
    truth_lesions = np.array(lesions.data, copy=True)
    lesions.data = np.zeros_like(truth_lesions)
    lesions._reset_history()
    widget.grow_button.setChecked(True)
    centres = lesion_centres_world()
    click(viewer, centres[1])
    click(viewer, centres[0])
    assert not messages["error"], messages
    assert dice(lesions.data == 1, truth_lesions == 2) >= 0.8
    assert dice(lesions.data == 2, truth_lesions == 1) >= 0.8
    click(viewer, centres[0])                       # the same lesion again: nothing new
    assert "already labelled" in messages["error"][-1]
    lesions.undo()
    lesions.undo()
    assert not np.any(lesions.data)


# ----------------------------------------------------------------------------- misclicks
def test_misclicks_without_a_cord_are_refused_and_change_nothing(twin, messages, qtbot):
    """Issue 10: a click on a vertebral body or in the CSF grew thousands of mm^3, silently."""
    viewer, layers, widget = twin
    lesions = layers["lesions"]
    press(qtbot, widget, "lesionview-segment-grow")
    for world in (lps_to_napari(VERTEBRAL_BODY), lps_to_napari(CSF)):
        viewer.dims.set_point(0, world[0])
        n_errors = len(messages["error"])
        click(viewer, world)
        assert len(messages["error"]) == n_errors + 1, messages
        said = messages["error"][-1]
        assert "not an intramedullary lesion" in said and "segment the cord first" in said, said
        assert "'Cord: click centerline', then 'Segment cord from clicks'" in said
        assert not np.any(lesions.data)
    lesions.undo()                                          # nothing was written: nothing to undo
    assert not np.any(lesions.data)
    click(viewer, lesion_centres_world()[1])                # a real lesion still grows
    assert set(np.unique(lesions.data)) == {0, 1}
    assert widget.status.text().startswith("lesion 1: ") and "no cord yet" in widget.status.text()
    assert not messages["info"] and not messages["warning"]   # success is said in the widget, not a toast


def test_misclicks_with_a_cord_are_refused(twin, messages, qtbot):
    viewer, layers, widget = twin
    layers["cord"].data = truth("cord")
    press(qtbot, widget, "lesionview-segment-grow")
    for world in (lps_to_napari(VERTEBRAL_BODY), lps_to_napari(CSF)):
        viewer.dims.set_point(0, world[0])
        click(viewer, world)
        assert "outside the cord region" in messages["error"][-1]
    assert not np.any(layers["lesions"].data)
    click(viewer, lesion_centres_world()[1])
    assert dice(layers["lesions"].data == 1, truth("lesion") == 2) >= 0.8
    assert len(messages["error"]) == 2, messages
    assert widget.status.text().startswith("lesion 1: ") and "no cord" not in widget.status.text()


def test_growing_a_labelled_lesion_again_adds_no_sliver(twin, messages):
    _, layers, widget = twin
    centre = lesion_centres_world()[1]
    assert widget.grow_at(centre) == 1
    widget.sensitivity.setValue(70)                         # a little larger: its rim is new
    assert widget.grow_at(centre) is None
    assert "already labelled (lesion 1)" in messages["error"][-1]
    assert set(np.unique(layers["lesions"].data)) == {0, 1}


# ----------------------------------------------------------------------------- keyboard
def test_shortcut_keys_leave_napari_keys_alone(twin):
    """Our keys are none of napari's: its default shortcuts, and what the viewer and every layer
    type bind once a Qt viewer is up (napari's actions then sit in the class keymaps)."""
    from napari import layers as napari_layers
    from napari.components import ViewerModel
    from napari.utils.key_bindings import coerce_keybinding
    from napari.utils.shortcuts import default_shortcuts

    ours = {coerce_keybinding(k) for k, _, _ in SHORTCUTS + LEVEL_SHORTCUTS}
    napari_keys = {coerce_keybinding(k) for keys in default_shortcuts.values() for k in keys}
    kinds = (ViewerModel, napari_layers.Image, napari_layers.Labels, napari_layers.Points,
             napari_layers.Shapes, napari_layers.Surface, napari_layers.Tracks, napari_layers.Vectors)
    bound = {k for kind in kinds for cls in kind.__mro__ for k in getattr(cls, "class_keymap", {})}
    assert coerce_keybinding("E") in bound  # the class keymaps do hold napari's own shortcuts
    assert not ours & (napari_keys | bound), ours & (napari_keys | bound)


def test_shortcuts_act_from_the_keyboard(twin, messages, qtbot):
    viewer, layers, widget = twin
    # The help text lists every shortcut.
    shown = control(widget, "lesionview-segment-shortcuts").text()
    assert all(k in shown for k, _, _ in SHORTCUTS + LEVEL_SHORTCUTS)
    lesions = layers["lesions"]

    # G: grow at the mouse pointer, whichever layer is active.
    viewer.layers.selection.active = layers["t2"]
    viewer.cursor.position = tuple(lesion_centres_world()[1])
    key(qtbot, viewer, "G")
    assert set(np.unique(lesions.data)) == {0, 1}, messages
    assert dice(lesions.data == 1, truth("lesion") == 2) >= 0.8

    # K / J: keep or reject the selected proposal.
    lesions.data = np.zeros_like(lesions.data)
    layers["cord"].data = truth("cord")
    widget.propose_lesions()
    qtbot.waitUntil(lambda: widget.proposals.count() >= 2 and widget.propose_button.isEnabled(), timeout=60_000)
    n = widget.proposals.count()
    widget.proposals.setCurrentRow(0)
    key(qtbot, viewer, "K")
    assert widget.proposals.count() == n - 1 and set(np.unique(lesions.data)) == {0, 1}
    widget.proposals.setCurrentRow(0)
    key(qtbot, viewer, "J")
    assert widget.proposals.count() == n - 2 and set(np.unique(lesions.data)) == {0, 1}

    # Shift+O: the masks as outlines, then filled again.
    masks = [layers[role] for role in ("lesions", "edema", "cord")]
    key(qtbot, viewer, "Shift+O")
    assert all(layer.contour == _display.OUTLINE for layer in masks)  # as the panel's button draws them
    key(qtbot, viewer, "Shift+O")
    assert all(layer.contour == 0 for layer in masks)
    assert not messages["error"], messages


def test_shift_o_outlines_every_mask_layer(twin, messages, qtbot):
    """Shift+O outlines what the panel's "Outlines" button outlines: every lesions, edema and cord
    layer (a second edema layer too), through ``_display.set_outline``; other layers are left
    alone, and a mix of outlined and filled masks is outlined first."""
    viewer, layers, _widget = twin
    edema2 = viewer.add_labels(np.zeros(layers["edema"].data.shape, np.uint16), name="edema 2",
                               metadata={ROLE_KEY: "edema"}, **transform_kwargs(layers["t1c"]))
    other = viewer.add_labels(np.zeros((4, 4, 4), np.uint8), name="not a mask")
    masks = [layers["lesions"], layers["edema"], layers["cord"], edema2]
    _display.set_outline(layers["cord"], True)
    key(qtbot, viewer, "Shift+O")
    assert all(layer.contour == _display.OUTLINE for layer in masks) and other.contour == 0
    key(qtbot, viewer, "Shift+O")
    assert all(layer.contour == 0 for layer in masks) and other.contour == 0
    assert not messages["error"], messages


def test_shortcuts_act_on_the_open_widget(viewer, messages, qtbot):
    """Two Segment widgets (the panel's and a docked one): a key acts once, on the newest; once
    it is closed, on the other."""
    layers = add_twin(viewer)
    first = SegmentWidget(viewer)
    second = SegmentWidget(viewer)
    assert segment_module.widget_for(viewer) is second
    second.close()
    second.deleteLater()
    qtbot.waitUntil(lambda: segment_module.widget_for(viewer) is first, timeout=5_000)
    viewer.cursor.position = tuple(lesion_centres_world()[0])
    key(qtbot, viewer, "G")
    assert set(np.unique(layers["lesions"].data)) == {0, 1}, messages
    first.close()


def test_a_key_the_user_bound_is_kept(viewer, messages):
    def mine(viewer):
        pass

    from napari.utils.key_bindings import coerce_keybinding

    viewer.bind_key("G", mine)
    SegmentWidget(viewer)
    assert viewer.keymap[coerce_keybinding("G")] is mine
    assert "key G is already bound" in messages["warning"][-1]
    assert segment_module.SHORTCUTS[1][0] == "K" and coerce_keybinding("K") in viewer.keymap


# ----------------------------------------------------------------------------- the error boundary
def test_levels_buttons_work_from_a_real_click(viewer, qtbot, monkeypatch):
    """Qt's clicked(bool) used to reach methods that take only self (the error boundary passed
    it on): Rename and Delete of the Levels widget, clicked as a user does."""
    from napari_lesionview._widgets import levels as levels_module
    from napari_lesionview._widgets.levels import LevelsWidget

    seen = capture_notifications(monkeypatch, levels_module)
    add_twin(viewer, annotations=False)
    widget = LevelsWidget(viewer)
    dock = viewer.window.add_dock_widget(widget, name="Levels")
    qtbot.waitUntil(dock.isVisible, timeout=5_000)         # napari shows a new dock a moment later
    _, positions = read_landmarks(sample_path("twin") / "landmarks.csv")
    widget.set_landmarks(["C4", "C5", "C9"], positions[3:6])
    layer = find_layer(viewer, "levels")
    layer.selected_data = {2}
    type_into(qtbot, control(widget, "lesionview-levels-rename-name"), "c6")
    press(qtbot, widget, "lesionview-levels-rename")
    assert list(layer.features["name"]) == ["C4", "C5", "C6"]
    layer.selected_data = {0}
    press(qtbot, widget, "lesionview-levels-delete")
    assert list(layer.features["name"]) == ["C5", "C6"]
    assert not seen["error"], seen
