"""Segment widget on the twin phantom, in a real napari viewer (run under Xvfb)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("napari")


from gui_helpers import capture_notifications, click
from napari.utils._test_utils import read_only_mouse_event
from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

from lesionview.io import load_volume
from lesionview.phantom import sample_path
from lesionview.segment import dice
from napari_lesionview._layers import volume_to_layer_data
from napari_lesionview._space import lps_to_napari
from napari_lesionview._study import ROLE_KEY, transform_kwargs
from napari_lesionview._widgets import segment as segment_module
from napari_lesionview._widgets.segment import SegmentWidget

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


@pytest.fixture
def messages(monkeypatch):
    """Notifications the widget shows, by kind."""
    return capture_notifications(monkeypatch, segment_module)


@pytest.fixture
def twin(viewer):
    layers = add_twin(viewer)
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Segment")
    viewer.dims.set_point(0, lesion_centres_world()[1][0])
    return viewer, layers, widget


def test_grow_two_lesions_and_undo(twin, messages, tmp_path):
    viewer, layers, widget = twin
    lesions = layers["lesions"]
    widget.grow_button.setChecked(True)
    assert widget.on_click in viewer.mouse_drag_callbacks
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

    widget.grow_button.setChecked(False)
    assert widget.on_click not in viewer.mouse_drag_callbacks


def test_drag_does_not_grow(twin, messages):
    viewer, layers, widget = twin
    widget.grow_button.setChecked(True)
    world = tuple(lesion_centres_world()[1])
    mouse_press_callbacks(viewer, read_only_mouse_event(type="mouse_press", position=world,
                                                        pos=np.zeros(2), button=1))
    mouse_release_callbacks(viewer, read_only_mouse_event(type="mouse_release", position=world,
                                                          pos=np.array([40.0, 0.0]), button=1))
    assert not np.any(layers["lesions"].data)


def test_edema_and_cord(twin, messages):
    viewer, layers, widget = twin
    for centre in lesion_centres_world():
        widget.grow_at(centre)
    widget.edema_from_lesions()
    assert not messages["error"], messages
    edema = layers["edema"]
    assert dice(edema.data != 0, truth("edema") != 0) >= 0.7
    edema.undo()
    assert not np.any(edema.data)

    # Cord from 5 clicks along the true cord's centre, placed in the temporary Points layer.
    widget.cord_clicks_button.setChecked(True)
    clicks = viewer.layers[segment_module.CLICKS_NAME]
    assert viewer.layers.selection.active is clicks and clicks.mode == "add"
    cord_truth = truth("cord") != 0
    world_of = layers["t2"].data_to_world
    mid = cord_truth.shape[0] // 2
    for row in np.linspace(60, cord_truth.shape[1] - 60, 5).astype(int):
        cols = np.flatnonzero(cord_truth[mid, row])
        clicks.add(np.asarray(world_of([mid, row, cols.mean()])))
    widget.cord_from_clicks()
    assert not messages["error"], messages
    cord = layers["cord"]
    assert np.any(cord.data)
    span = slice(70, cord_truth.shape[1] - 70)  # between the first and last click
    assert dice(cord.data[:, span] != 0, cord_truth[:, span]) >= 0.8
    assert segment_module.CLICKS_NAME not in viewer.layers
    cord.undo()
    assert not np.any(cord.data)


def test_propose_accept_reject(twin, messages, qtbot):
    viewer, layers, widget = twin
    layers["cord"].data = truth("cord")
    worker = widget.propose_lesions()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: widget.proposals.count() > 0, timeout=5_000)
    assert segment_module.PROPOSALS_NAME in viewer.layers
    n = widget.proposals.count()
    assert n >= 2, messages
    widget.proposals.setCurrentRow(0)
    new_id = widget.accept_proposal()
    assert new_id == 1 and np.any(layers["lesions"].data == 1)
    assert widget.proposals.count() == n - 1
    widget.proposals.setCurrentRow(0)
    widget.reject_proposal()
    assert widget.proposals.count() == n - 2
    layers["lesions"].undo()
    assert not np.any(layers["lesions"].data)


def test_editing_helpers(twin, messages):
    _, layers, widget = twin
    lesions = layers["lesions"]
    labels = np.zeros(lesions.data.shape, np.uint16)
    labels[5:8, 100:110, 100:110] = 1
    labels[6, 104, 104] = 0                 # an enclosed hole
    labels[5:8, 200:210, 100:110] = 2
    labels[6, 300, 300] = 2                 # an island of 0.75 mm^3
    lesions.data = labels
    lesions._reset_history()

    widget.fill_holes()
    assert lesions.data[6, 104, 104] == 1
    widget.min_island.setValue(5.0)
    widget.remove_islands()
    assert lesions.data[6, 300, 300] == 0 and np.count_nonzero(lesions.data == 2) == 300
    lesions.data_setitem((np.array([6]), np.array([300]), np.array([300])), 2)
    lesions.selected_label = 2
    widget.split_selected()
    assert lesions.data[6, 300, 300] == 3
    widget.merge_ids.setText("2, 3")
    widget.merge()
    assert lesions.data[6, 300, 300] == 2
    before = np.array(lesions.data, copy=True)
    widget.sigma.setValue(1.0)
    widget.smooth()
    assert lesions.data[6, 300, 300] == 0      # a single voxel smooths away
    assert not messages["error"], messages
    lesions.undo()
    np.testing.assert_array_equal(lesions.data, before)
    for _ in range(4):
        lesions.undo()
    np.testing.assert_array_equal(lesions.data, labels)


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
