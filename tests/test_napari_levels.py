"""Levels widget on the twin phantom, in a real napari viewer (run under Xvfb)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("napari")


from gui_helpers import capture_notifications, click

from lesionview.io import load_volume
from lesionview.levels import LevelModel, read_landmarks
from lesionview.phantom import sample_path
from napari_lesionview._layers import volume_to_layer_data
from napari_lesionview._space import lps_to_napari
from napari_lesionview._study import ROLE_KEY, find_layer
from napari_lesionview._widgets import levels as levels_module
from napari_lesionview._widgets.levels import (
    DISC,
    LevelsWidget,
    levels_from_layer,
    next_name,
)

pytestmark = pytest.mark.gui


def add_t2(viewer):
    data, kwargs, _ = volume_to_layer_data(load_volume(sample_path("twin") / "t2.nii.gz"), as_labels=False)
    kwargs["metadata"][ROLE_KEY] = "t2"
    return viewer.add_image(data, **kwargs)


@pytest.fixture
def messages(monkeypatch):
    """Notifications the widget shows, by kind."""
    return capture_notifications(monkeypatch, levels_module)


@pytest.fixture
def widget(viewer):
    add_t2(viewer)
    w = LevelsWidget(viewer)
    viewer.window.add_dock_widget(w, name="Levels")
    return w


def body_positions():
    names, pos = read_landmarks(sample_path("twin") / "landmarks.csv")
    return dict(zip(names, pos))


def test_next_name():
    assert next_name("C4") == "C5"
    assert next_name("C7") == "T1"
    assert next_name("C7/T1") == "T1/T2"
    assert next_name("S1") == ""
    assert next_name("nonsense") == ""


def test_three_clicks_named_c4_c5_c6(viewer, widget, messages, tmp_path):
    assert widget.next.text() == "C2"          # suggested before anything is chosen
    widget.start.setCurrentText("C4")
    widget.place.setChecked(True)
    layer = find_layer(viewer, "levels")
    assert layer is not None and layer.mode == "add" and viewer.layers.selection.active is layer
    truth = body_positions()
    for name in ("C4", "C5", "C6"):
        click(layer, lps_to_napari(truth[name]))
    assert list(layer.features["name"]) == ["C4", "C5", "C6"]
    np.testing.assert_allclose(layer.data, lps_to_napari([truth[n] for n in ("C4", "C5", "C6")]))
    assert widget.next.text() == "C7"
    assert layer.text.visible and list(layer.text.values) == ["C4", "C5", "C6"]

    model = levels_from_layer(layer)
    assert isinstance(model, LevelModel)
    lesions = json.loads((sample_path("twin") / "truth.json").read_text())["lesions"]
    assert model.level_names_of([lesion["centre_lps_mm"] for lesion in lesions]) == ["C5", "C6"]

    viewer.dims.set_point(0, 0.0)
    viewer.screenshot(str(tmp_path / "levels_viewer.png"))
    widget.grab().save(str(tmp_path / "levels_widget.png"))
    assert not messages["error"]

    widget.place.setChecked(False)
    assert layer.mode == "pan_zoom"


def test_disc_mode_names(viewer, widget):
    widget.mode.setCurrentText(DISC)
    widget.start.setCurrentText("C4/C5")
    widget.place.setChecked(True)
    layer = find_layer(viewer, "levels")
    truth = body_positions()
    click(layer, lps_to_napari(truth["C4/C5"]))
    click(layer, lps_to_napari(truth["C5/C6"]))
    assert list(layer.features["name"]) == ["C4/C5", "C5/C6"]
    assert widget.next.text() == "C6/C7"


def test_rename_and_delete(viewer, widget, messages):
    truth = body_positions()
    widget.set_landmarks(["C4", "C5", "C9"], [truth["C4"], truth["C5"], truth["C6"]])
    layer = find_layer(viewer, "levels")
    layer.selected_data = {2}
    widget.rename_edit.setText("c6")
    widget.rename_selected()
    assert list(layer.features["name"]) == ["C4", "C5", "C6"]
    assert list(layer.text.values) == ["C4", "C5", "C6"]
    widget.rename_edit.setText("C99")
    widget.rename_selected()
    assert "not a vertebral level" in messages["error"][-1]
    layer.selected_data = {0}
    widget.delete_selected()
    assert list(layer.features["name"]) == ["C5", "C6"]
    layer.selected_data = set()
    widget.delete_selected()
    assert "select a point" in messages["error"][-1]


def test_import_from_file(viewer, widget, messages):
    path = sample_path("twin") / "landmarks.csv"
    assert widget.import_file(path) == 19
    layer = find_layer(viewer, "levels")
    names, positions = read_landmarks(path)
    assert list(layer.features["name"]) == names
    np.testing.assert_allclose(layer.data, lps_to_napari(positions))
    model = levels_from_layer(layer)
    lesions = json.loads((sample_path("twin") / "truth.json").read_text())["lesions"]
    assert model.level_names_of([lesion["centre_lps_mm"] for lesion in lesions]) == ["C5", "C6"]
    assert widget.import_file(sample_path("twin") / "landmarks.json") == 19


def test_import_from_label_layer(viewer, widget, messages):
    # SCT-style body labels: value n at the centre of vertebra n, in the image space.
    t2 = find_layer(viewer, "t2")
    labels = np.zeros(t2.data.shape, np.uint8)
    truth = body_positions()
    for n, name in ((4, "C4"), (5, "C5"), (6, "C6"), (7, "C7")):
        index = np.rint(t2.world_to_data(lps_to_napari(truth[name]))).astype(int)
        labels[tuple(index)] = n
    viewer.add_labels(labels, name="body labels", scale=t2.scale, translate=t2.translate)
    widget._refresh_layer_choices()
    assert widget.import_from_layer("body labels", "SCT vertebral-body labels") == 4, messages
    layer = find_layer(viewer, "levels")
    assert list(layer.features["name"]) == ["C4", "C5", "C6", "C7"]
    np.testing.assert_allclose(layer.data, lps_to_napari([truth[n] for n in ("C4", "C5", "C6", "C7")]),
                               atol=0.5)


def test_bad_input_is_a_notification(viewer, widget, messages, tmp_path):
    assert widget.import_file(tmp_path / "missing.csv") is None
    assert "no such landmark file" in messages["error"][-1]
    far = tmp_path / "far.csv"
    far.write_text("name,x,y,z\nC4,0,0,900\nC5,0,0,880\n")
    widget.import_file(far)
    assert "outside image" in messages["error"][-1]
    widget.import_from_layer("no such layer")
    assert "choose a label layer" in messages["error"][-1]
    viewer.add_labels(np.full((4, 4, 4), 60, np.uint8), name="junk")
    widget.import_from_layer("junk", "VerSe vertebra mask")
    assert "VerSe" in messages["error"][-1]
    assert levels_from_layer(None) is None


def test_on_the_sample_levels_layer(viewer, messages):
    """The sample data's levels layer: levels_from_layer reads it; clicks continue naming in it."""
    viewer.open_sample("lesionview", "twin")
    widget = LevelsWidget(viewer)
    layer = find_layer(viewer, "levels")
    lesions = json.loads((sample_path("twin") / "truth.json").read_text())["lesions"]
    model = levels_from_layer(layer)
    assert model.level_names_of([lesion["centre_lps_mm"] for lesion in lesions]) == ["C5", "C6"]
    n = len(layer.data)
    widget.start.setCurrentText("T3")
    widget.place.setChecked(True)
    assert widget.layer is layer
    click(layer, lps_to_napari([0.0, -1.0, -110.0]))
    assert len(layer.data) == n + 1 and layer.features["name"].iloc[-1] == "T3"
    assert widget.next.text() == "T4"
    assert not messages["error"]
