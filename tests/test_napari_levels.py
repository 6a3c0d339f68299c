"""Levels widget on the twin phantom, in a real napari viewer (run under Xvfb).

The tests named ``..._by_clicks`` use the widget as a user does: real Qt clicks on its buttons
and combo boxes (``press``, ``choose``), typing into its fields, and canvas clicks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("napari")


from gui_helpers import capture_notifications, choose, click, control, key, napari_errors, press
from napari.utils.notifications import notification_manager
from qtpy.QtCore import Qt

from lesionview.io import load_volume
from lesionview.levels import LevelModel, read_landmarks
from lesionview.phantom import sample_path
from napari_lesionview._layers import volume_to_layer_data
from napari_lesionview._space import lps_to_napari
from napari_lesionview._study import ROLE_KEY, find_layer
from napari_lesionview._widgets import levels as levels_module
from napari_lesionview._widgets import study as study_module
from napari_lesionview._widgets.levels import (
    BODY,
    DISC,
    LABEL_SOURCES,
    LevelsWidget,
    levels_from_layer,
    next_name,
)
from napari_lesionview._widgets.study import StudyWidget

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
def widget(viewer, qtbot):
    add_t2(viewer)
    return dock(viewer, qtbot)


def dock(viewer, qtbot) -> LevelsWidget:
    w = LevelsWidget(viewer)
    viewer.window.add_dock_widget(w, name="Levels")
    qtbot.waitUntil(w.isVisible)
    return w




def type_into(qtbot, field, text: str) -> None:
    """Replace a text field's content by typing, as a user does."""
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    field.selectAll()
    qtbot.keyClicks(field, text)


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


def test_n_key_places_the_next_level_at_the_pointer(viewer, widget, qtbot, messages):
    """N adds the suggested name where the mouse pointer is, whatever the active layer, with
    the place button off or on, and the suggestion advances once per key."""
    truth = body_positions()
    widget.start.setCurrentText("C4")
    t2 = find_layer(viewer, "t2")
    for name, placing in (("C4", False), ("C5", False), ("C6", True)):
        if placing:
            press(qtbot, widget, "lesionview-levels-place")
        viewer.layers.selection.active = t2  # N works whichever layer is active
        viewer.cursor.position = tuple(lps_to_napari(truth[name]))
        key(qtbot, viewer, "N")
    layer = find_layer(viewer, "levels")
    assert list(layer.features["name"]) == ["C4", "C5", "C6"]
    np.testing.assert_allclose(layer.data, lps_to_napari([truth[n] for n in ("C4", "C5", "C6")]), atol=1e-6)
    assert widget.next.text() == "C7"
    assert not messages["error"], messages


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


def _body_labels(t2) -> np.ndarray:
    """SCT-style body labels on ``t2``'s grid: value n at the centre of vertebra n (C4 to C7)."""
    labels = np.zeros(t2.data.shape, np.uint8)
    truth = body_positions()
    for n, name in ((4, "C4"), (5, "C5"), (6, "C6"), (7, "C7")):
        index = np.rint(t2.world_to_data(lps_to_napari(truth[name]))).astype(int)
        labels[tuple(index)] = n
    return labels


def test_import_from_label_layer(viewer, widget, messages):
    # SCT-style body labels: value n at the centre of vertebra n, in the image space.
    t2 = find_layer(viewer, "t2")
    labels = _body_labels(t2)
    truth = body_positions()
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


# ---------------------------------------------------------------------- used as a user does
def test_readme_workflow_levels_by_clicks(viewer, qtbot, monkeypatch, tmp_path):
    """The README's workflow: the DICOM folder, Study > Create annotation layers, then landmarks
    placed by canvas clicks in the Levels widget, each named as suggested. The points layer
    Create made had a float name column, and the first click failed with
    "could not convert string to float: 'C2'"."""
    seen = capture_notifications(monkeypatch, levels_module)
    study_seen = capture_notifications(monkeypatch, study_module)
    viewer.open(str(sample_path("twin") / "dicom"), plugin="lesionview")
    study = StudyWidget(viewer)
    viewer.window.add_dock_widget(study, name="Study")
    levels = dock(viewer, qtbot)
    since = len(notification_manager.records)
    press(qtbot, study, "lesionview-study-create")
    layer = find_layer(viewer, "levels")
    assert layer is not None and len(layer.data) == 0

    assert control(levels, "lesionview-levels-next").text() == "C2"
    place = press(qtbot, levels, "lesionview-levels-place")
    assert place.isChecked() and layer.mode == "add" and viewer.layers.selection.active is layer
    truth = body_positions()
    names = ["C2", "C3", "C4", "C5", "C6", "C7"]
    for name in names:
        assert control(levels, "lesionview-levels-next").text() == name   # suggested
        click(layer, lps_to_napari(truth[name]))
    assert list(layer.features["name"]) == names and list(layer.text.values) == names
    np.testing.assert_allclose([layer.data_to_world(p) for p in layer.data],
                               lps_to_napari([truth[n] for n in names]), atol=1e-6)
    assert control(levels, "lesionview-levels-next").text() == "T1"
    press(qtbot, levels, "lesionview-levels-place")
    assert not place.isChecked() and layer.mode == "pan_zoom"

    lesions = json.loads((sample_path("twin") / "truth.json").read_text())["lesions"]
    model = levels_from_layer(layer)
    assert model.level_names_of([lesion["centre_lps_mm"] for lesion in lesions]) == ["C5", "C6"]
    viewer.screenshot(str(tmp_path / "levels_after_create.png"), canvas_only=False)
    assert not seen["error"] and not study_seen["error"] and not napari_errors(since), napari_errors(since)


def test_disc_mode_and_typed_names_by_clicks(viewer, widget, qtbot, messages):
    since = len(notification_manager.records)
    mode = control(widget, "lesionview-levels-mode")
    choose(qtbot, mode, mode.findText(DISC))
    start = control(widget, "lesionview-levels-start")
    assert start.itemText(0) == "C0/C1" and widget.next.text() == "C1/C2"
    choose(qtbot, start, start.findText("C4/C5"))
    assert control(widget, "lesionview-levels-next").text() == "C4/C5"
    press(qtbot, widget, "lesionview-levels-place")
    layer = find_layer(viewer, "levels")
    truth = body_positions()
    click(layer, lps_to_napari(truth["C4/C5"]))
    click(layer, lps_to_napari(truth["C5/C6"]))
    assert list(layer.features["name"]) == ["C4/C5", "C5/C6"]
    # The next name can be typed: the user skips a disc the image does not show.
    type_into(qtbot, control(widget, "lesionview-levels-next"), "C7/T1")
    click(layer, lps_to_napari(truth["C7/T1"]))
    assert list(layer.features["name"]) == ["C4/C5", "C5/C6", "C7/T1"]
    assert widget.next.text() == "T1/T2"
    press(qtbot, widget, "lesionview-levels-place")
    choose(qtbot, mode, mode.findText(BODY))
    assert start.itemText(0) == "C1" and widget.next.text() == "C2"
    assert not messages["error"] and not napari_errors(since)


def test_import_file_rename_and_delete_by_clicks(viewer, widget, qtbot, monkeypatch, messages):
    since = len(notification_manager.records)
    path = sample_path("twin") / "landmarks.csv"
    asked = []
    monkeypatch.setattr(levels_module.QFileDialog, "getOpenFileName",
                        lambda *args: asked.append(args) or (str(path), "Landmarks (*.csv *.json)"))
    press(qtbot, widget, "lesionview-levels-import-file")
    layer = find_layer(viewer, "levels")
    names, _ = read_landmarks(path)
    assert asked and list(layer.features["name"]) == names
    assert "19 landmark(s)" in messages["info"][-1]

    # Select C3 with a click in napari's select mode, rename it to what it is not, and back.
    layer.mode = "select"
    c3 = layer.data_to_world(layer.data[names.index("C3")])
    viewer.dims.set_point(0, c3[0])
    click(layer, c3)
    assert layer.selected_data == {names.index("C3")}
    type_into(qtbot, control(widget, "lesionview-levels-rename-name"), "t5")
    press(qtbot, widget, "lesionview-levels-rename")
    assert layer.features["name"].iloc[names.index("C3")] == "T5"
    type_into(qtbot, widget.rename_edit, "C99")
    press(qtbot, widget, "lesionview-levels-rename")
    assert "not a vertebral level" in messages["error"][-1]
    messages["error"].clear()
    type_into(qtbot, widget.rename_edit, "C3")
    press(qtbot, widget, "lesionview-levels-rename")
    assert list(layer.features["name"]) == names

    press(qtbot, widget, "lesionview-levels-delete")
    assert len(layer.data) == 18 and "C3" not in list(layer.features["name"])
    layer.selected_data = set()
    press(qtbot, widget, "lesionview-levels-delete")
    assert "select a point" in messages["error"][-1]
    assert len(messages["error"]) == 1 and not napari_errors(since)


def test_import_from_label_layer_by_clicks(viewer, widget, qtbot, messages):
    t2 = find_layer(viewer, "t2")
    labels = _body_labels(t2)
    viewer.add_labels(np.zeros(t2.data.shape, np.uint8), name="other labels", scale=t2.scale,
                      translate=t2.translate)
    viewer.add_labels(labels, name="body labels", scale=t2.scale, translate=t2.translate)
    since = len(notification_manager.records)
    choice = control(widget, "lesionview-levels-label-layer")
    choose(qtbot, choice, choice.findText("body labels"))
    convention = control(widget, "lesionview-levels-convention")
    choose(qtbot, convention, list(LABEL_SOURCES).index("SCT vertebral-body labels"))
    press(qtbot, widget, "lesionview-levels-import-layer")
    layer = find_layer(viewer, "levels")
    assert list(layer.features["name"]) == ["C4", "C5", "C6", "C7"]
    assert not messages["error"] and not napari_errors(since)


@pytest.mark.parametrize("kind", ["mrk.json", "fcsv"])
def test_import_slicer_point_list_by_clicks(viewer, widget, qtbot, monkeypatch, messages, tmp_path, kind):
    # The twin's landmarks as 3D Slicer saves them, in RAS: .mrk.json by lesionview's writer, .fcsv by
    # hand with the old numeric header (0 = RAS); both must land where landmarks.csv puts them (LPS).
    names, lps = read_landmarks(sample_path("twin") / "landmarks.csv")
    path = tmp_path / f"twin.{kind}"
    if kind == "fcsv":
        rows = "".join(f"p{i},{-float(x)!r},{-float(y)!r},{float(z)!r},0,0,0,1,1,1,0,{n},,\n"
                       for i, (n, (x, y, z)) in enumerate(zip(names, lps)))
        path.write_text("# Markups fiducial file version = 4.10\n# CoordinateSystem = 0\n"
                        "# columns = id,x,y,z,ow,ox,oy,oz,vis,sel,lock,label,desc,associatedNodeID\n" + rows)
    else:
        from lesionview.levels import write_landmarks

        write_landmarks(path, names, lps, space="RAS")
    offered = []
    monkeypatch.setattr(levels_module.QFileDialog, "getOpenFileName",
                        lambda *args: offered.append(args[3]) or (str(path), args[3]))
    since = len(notification_manager.records)
    press(qtbot, widget, "lesionview-levels-import-file")
    assert "*.mrk.json" in offered[0] and "*.fcsv" in offered[0]
    layer = find_layer(viewer, "levels")
    assert list(layer.features["name"]) == names
    np.testing.assert_allclose([layer.data_to_world(p) for p in layer.data], lps_to_napari(lps), atol=1e-6)
    assert f"{len(names)} landmark(s)" in messages["info"][-1]
    assert not messages["error"] and not napari_errors(since)


def test_a_vertebra_mask_layer_is_recognised_by_clicks_and_point_labels_are_refused(viewer, qtbot, messages):
    """The default convention recognises the kind (as the CLI's --levels-kind auto): a SPINEPS
    mask gives its disc landmarks; SCT point labels, which fit discs and bodies alike, are refused
    with both kinds named and no landmark set."""
    from lesionview.phantom.vertebrae import VertebraPhantom

    phantom = VertebraPhantom("cervical", levels=(4, 7))
    g = phantom.geometry(spacing=1.0)
    data, kwargs, _ = volume_to_layer_data(phantom.mask(g, "spineps"), as_labels=True)
    viewer.add_labels(data, **{**kwargs, "name": "spineps"})
    widget = dock(viewer, qtbot)
    assert widget.source.currentText() == "Recognise the kind"
    choice = control(widget, "lesionview-levels-label-layer")
    choose(qtbot, choice, choice.findText("spineps"))
    since = len(notification_manager.records)
    press(qtbot, widget, "lesionview-levels-import-layer")
    assert find_layer(viewer, "levels") is not None, messages
    names = list(find_layer(viewer, "levels").features["name"])
    assert names == [phantom.disc_name(k) for k in phantom.disc_indices], names
    assert not messages["error"] and not napari_errors(since)

    points = np.zeros(data.shape, np.uint8)
    shown = kwargs["metadata"]["geometry"]                              # the layer's (display) grid
    for value, k in zip((3, 5), phantom.disc_indices):                 # two single voxels
        points[tuple(np.rint(shown.world_to_index(phantom.posterior_tip(k))).astype(int))] = value
    viewer.add_labels(points, **{**kwargs, "name": "points"})
    choose(qtbot, choice, choice.findText("points"))
    press(qtbot, widget, "lesionview-levels-import-layer")
    assert "sct-discs" in messages["error"][-1] and "sct-body" in messages["error"][-1]
    assert list(find_layer(viewer, "levels").features["name"]) == names      # unchanged
