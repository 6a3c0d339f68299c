"""Not losing work: autosave after edits, offered back on reopening, a question before closing.

Autosaves are keyed by the series and voxel grid the masks lie on: the sagittal annotations of
the twin phantom are offered back on the sagittal series, and on another series of the same
study (an axial render, a cropped copy) only resampled, when the user asks.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from gui_helpers import capture_notifications, control, napari_errors, press
from napari.utils.notifications import notification_manager

from lesionview.geometry import Geometry
from lesionview.measure import measure
from lesionview.phantom import render, sample_path
from lesionview.volume import Volume
from napari_lesionview import _autosave
from napari_lesionview._layers import layer_geometry, layer_to_volume, volume_to_layer_data
from napari_lesionview._space import DISPLAY_ORIENTATION
from napari_lesionview._study import ROLE_KEY, find_layer
from napari_lesionview._widgets import study as study_module
from napari_lesionview._widgets.study import StudyWidget

pytestmark = pytest.mark.gui
PAINTED = (6, 150, 120)   # a voxel outside the twin phantom's lesions


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LESIONVIEW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def messages(monkeypatch):
    """Notifications of the Study widget (and of the error boundary), by kind."""
    return capture_notifications(monkeypatch, study_module)




def _dock(viewer, qtbot) -> StudyWidget:
    widget = StudyWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Study")
    widget.autosaver.delay_ms = 100
    qtbot.waitUntil(widget.isVisible)   # docked widgets show once the event loop has run
    return widget


def _open(viewer, qtbot) -> StudyWidget:
    viewer.open_sample("lesionview", "twin")
    return _dock(viewer, qtbot)


def _paint_and_wait(viewer, widget, qtbot, where=PAINTED, value=9):
    lesions = find_layer(viewer, "lesions")
    assert lesions.data[where] == 0
    lesions.paint(where, value)
    assert widget.autosaver.dirty
    key = widget.autosaver.key()
    manifest = key.folder / _autosave.MANIFEST
    qtbot.waitUntil(manifest.is_file, timeout=10_000)
    qtbot.waitUntil(lambda: widget.autosaver._worker is None, timeout=10_000)
    return key, manifest


def _second_series(viewer, volume: Volume, *, uid_suffix: str, description: str, number: int):
    """Add ``volume`` as the T1+C series of another series of the twin study (its own UID)."""
    info = volume.info.model_copy(update={"series_uid": volume.info.series_uid + uid_suffix,
                                          "series_description": description, "series_number": number})
    volume = Volume(volume.array, volume.geometry, info=info, slice_axis=volume.slice_axis)
    data, kwargs, _ = volume_to_layer_data(volume, as_labels=False)
    kwargs["metadata"][ROLE_KEY] = "t1c"
    return viewer.add_image(data, **kwargs)


def _axial_geometry() -> Geometry:
    """16 axial slices of 3 mm, 0.8 mm pixels, around the twin lesions (C5-C6)."""
    centre = np.array([0.1, 1.0, -15.5])
    direction = np.array([[0, 0, -1.0], [0, 1.0, 0], [1.0, 0, 0]]).T   # feet, posterior, left
    shape, spacing = (16, 96, 96), (3.0, 0.8, 0.8)
    origin = centre - direction @ (np.array(spacing) * (np.array(shape) - 1) / 2)
    return Geometry(shape, spacing, tuple(origin), direction)


def test_cache_dir_follows_the_environment(cache):
    assert _autosave.cache_dir() == cache


def test_study_and_series_keys_from_uid_or_file():
    class Layer:
        def __init__(self, metadata):
            self.metadata = metadata

    assert _autosave.study_key(Layer({"series_info": {"study_uid": "1.2.3"}})) == "study-1.2.3"
    assert _autosave.study_key(Layer({"series_info": {"series_uid": "4.5"}})) == "series-4.5"
    a = _autosave.study_key(Layer({"series_info": {}, "source": "/data/a/t2.nii.gz"}))
    assert a.startswith("file-") and a != _autosave.study_key(Layer({"source": "/data/b/t2.nii.gz"}))
    assert _autosave.study_key(Layer({})) is None
    both = Layer({"series_info": {"study_uid": "1.2.3", "series_uid": "4.5"}})
    assert _autosave.series_key(both) == "series-4.5"
    assert _autosave.series_key(Layer({"source": "/data/a/t2.nii.gz"})) == a
    assert _autosave.series_key(Layer({})) is None


def test_grid_key_is_the_series_and_the_grid():
    g = Geometry((13, 480, 360), (3.0, 0.5, 0.5), (18.0, -80.0, 116.1))
    key = _autosave.GridKey("study-1", "series-2", g)
    noisy = Geometry(g.shape, g.spacing, (18.0 + 1e-6, -80.0, 116.1 - 1e-6))
    assert _autosave.GridKey("study-1", "series-2", noisy).name == key.name   # float noise: same key
    assert _autosave.GridKey("study-1", "series-3", g).name != key.name        # another series
    cropped = g.cropped((slice(1, 12), slice(0, 480), slice(0, 360)))
    assert _autosave.GridKey("study-1", "series-2", cropped).name != key.name  # another grid
    assert key.folder.parent == _autosave.autosave_dir("study-1")


def test_autosave_appears_and_is_offered_back(viewer, make_napari_viewer, qtbot, tmp_path, messages):
    widget = _open(viewer, qtbot)
    key, manifest = _paint_and_wait(viewer, widget, qtbot)
    assert key.study.startswith("study-1.2.826") and key.series == _autosave.series_key(find_layer(viewer, "t1c"))
    assert key.geometry.same_space(layer_geometry(find_layer(viewer, "lesions")))
    saved = json.loads(manifest.read_text())
    assert set(saved["layers"]) == {"lesions", "edema", "cord", "levels"}
    assert saved["format"] == 2 and saved["series"] == key.series and saved["grid"]["shape"] == [13, 480, 360]
    assert not widget.autosave_box.isVisibleTo(widget)   # this session's own autosave: not offered

    again = make_napari_viewer(show=True)
    since = len(notification_manager.records)
    widget2 = _open(again, qtbot)
    assert widget2.autosave_box.isVisibleTo(widget2)
    assert not control(widget2, "lesionview-study-restore-resampled").isVisibleTo(widget2)  # same grid
    assert control(widget2, "lesionview-study-discard").text() == "Discard"
    widget2.grab().save(str(tmp_path / "study_widget_autosave.png"))
    lesions2 = find_layer(again, "lesions")
    assert lesions2.data[PAINTED] == 0
    press(qtbot, widget2, "lesionview-study-restore")
    assert find_layer(again, "lesions") is lesions2          # restored in place, not duplicated
    assert lesions2.data[PAINTED] == 9
    np.testing.assert_array_equal(lesions2.data, find_layer(viewer, "lesions").data)
    levels, levels2 = find_layer(viewer, "levels"), find_layer(again, "levels")
    assert list(levels2.features["name"]) == list(levels.features["name"])
    np.testing.assert_allclose([levels2.data_to_world(p) for p in levels2.data],
                               [levels.data_to_world(p) for p in levels.data], atol=1e-6)
    assert not widget2.autosave_box.isVisibleTo(widget2) and not widget2.autosaver.dirty
    assert "Restored" in messages["info"][-1]
    assert not messages["error"] and not napari_errors(since)


def test_restore_by_click_adds_the_layers_without_an_error(viewer, make_napari_viewer, qtbot, messages):
    """The README workflow: the DICOM folder opened, no annotation layer yet, Restore clicked.
    Restoring adds layers, which refreshed the widget under the restore and showed
    "'NoneType' object has no attribute 'when'"."""
    widget = _open(viewer, qtbot)
    key, _ = _paint_and_wait(viewer, widget, qtbot)
    again = make_napari_viewer(show=True)
    again.open(str(sample_path("twin") / "dicom"), plugin="lesionview")
    since = len(notification_manager.records)
    widget2 = _dock(again, qtbot)
    assert _autosave.grid_key(again).name == key.name   # the T1+C grid, before any mask exists
    assert widget2.autosave_box.isVisibleTo(widget2)
    press(qtbot, widget2, "lesionview-study-restore")
    lesions = find_layer(again, "lesions")
    assert lesions is not None and lesions.data[PAINTED] == 9
    assert lesions.metadata["source_geometry"] == find_layer(again, "t1c").metadata["source_geometry"]
    assert {find_layer(again, r).name for r in ("lesions", "edema", "cord", "levels")} == \
        {"lesions", "edema", "cord", "levels"}
    assert not widget2.autosave_box.isVisibleTo(widget2)
    assert not messages["error"] and not napari_errors(since), napari_errors(since)
    assert "Restored lesions" in messages["info"][-1]


def test_restore_into_a_viewer_without_annotation_layers(viewer, make_napari_viewer, qtbot):
    widget = _open(viewer, qtbot)
    key, _ = _paint_and_wait(viewer, widget, qtbot)
    again = make_napari_viewer(show=True)
    again.open_sample("lesionview", "twin")
    for role in ("lesions", "edema", "cord", "levels"):
        again.layers.remove(find_layer(again, role))
    layers = _autosave.restore(again, _autosave.find_autosave(key))
    assert {layer.name for layer in layers} == {"lesions", "edema", "cord", "levels"}
    lesions = find_layer(again, "lesions")
    assert lesions.data[PAINTED] == 9
    assert lesions.metadata["source_geometry"] == find_layer(again, "t1c").metadata["source_geometry"]


def test_discard_by_click_deletes_it_without_an_error(viewer, make_napari_viewer, qtbot, messages):
    widget = _open(viewer, qtbot)
    key, _ = _paint_and_wait(viewer, widget, qtbot)
    since = len(notification_manager.records)
    widget2 = _open(make_napari_viewer(show=True), qtbot)
    press(qtbot, widget2, "lesionview-study-discard")
    assert _autosave.find_autosave(key) is None and not widget2.autosave_box.isVisibleTo(widget2)
    assert not messages["error"] and not napari_errors(since)


def test_another_series_of_the_study_is_offered_only_resampled(viewer, make_napari_viewer, qtbot, tmp_path,
                                                               messages):
    """Sagittal annotations, then the study's axial T1+C alone: no plain Restore (its masks would
    land on a grid they were not drawn on, and every tool would refuse them); "Restore, resampled
    onto this series" puts them on the axial grid, where they are measured."""
    widget = _open(viewer, qtbot)
    key, _ = _paint_and_wait(viewer, widget, qtbot)
    sagittal = find_layer(viewer, "lesions")

    axial = make_napari_viewer(show=True)
    image = _second_series(axial, render("twin", _axial_geometry(), "T1C"), uid_suffix=".7",
                           description="AX T1 TSE +C", number=7)
    since = len(notification_manager.records)
    widget2 = _dock(axial, qtbot)
    axial_key = _autosave.grid_key(axial)
    assert axial_key.study == key.study and axial_key.series != key.series
    assert _autosave.find_autosave(axial_key) is None                     # not this grid's
    assert widget2.autosave_box.isVisibleTo(widget2)
    assert not control(widget2, "lesionview-study-restore").isVisibleTo(widget2)
    assert "another series" in widget2.autosave_label.text()
    assert control(widget2, "lesionview-study-discard").text() == "Dismiss"
    widget2.grab().save(str(tmp_path / "study_widget_other_series.png"))

    press(qtbot, widget2, "lesionview-study-restore-resampled")
    lesions = find_layer(axial, "lesions")
    assert lesions is not None and layer_geometry(lesions).same_space(layer_geometry(image))
    for role in ("edema", "cord"):
        assert layer_geometry(find_layer(axial, role)).same_space(layer_geometry(image))
    # The lesions are where they were: the same place in the patient, about the same volume.
    geometry = layer_geometry(lesions)
    for label in (1, 2):
        before = layer_geometry(sagittal).index_to_world(np.argwhere(sagittal.data == label)).mean(0)
        after = geometry.index_to_world(np.argwhere(lesions.data == label)).mean(0)
        assert np.linalg.norm(after - before) < 2.0, (label, before, after)
    saved_mm3 = np.count_nonzero(np.isin(sagittal.data, (1, 2))) * np.prod(layer_geometry(sagittal).spacing)
    restored_mm3 = np.count_nonzero(np.isin(lesions.data, (1, 2))) * np.prod(geometry.spacing)
    assert restored_mm3 == pytest.approx(saved_mm3, rel=0.35)
    # Landmarks outside the axial slab were left out, and that was said.
    levels = find_layer(axial, "levels")
    assert 2 <= len(levels.data) < 19 and "left out" in messages["warning"][-1]
    assert not messages["error"] and not napari_errors(since)
    # The tools take the restored masks: one grid, measured without a grid error.
    result = measure(layer_to_volume(lesions), cord=layer_to_volume(find_layer(axial, "cord")),
                     image=layer_to_volume(image))
    assert len(result.lesions) == 2

    # Edits now autosave on the axial grid, beside the sagittal autosave, not over it.
    axial_key2, _ = _paint_and_wait(axial, widget2, qtbot, where=(8, 10, 10), value=5)
    assert axial_key2.name == axial_key.name and axial_key2.folder != key.folder
    assert _autosave.find_autosave(key) is not None and len(_autosave.study_autosaves(key.study)) == 2


def test_cropped_copy_restores_exactly(viewer, make_napari_viewer, qtbot, messages):
    """A cropped copy of the T1+C lies on the same lattice: nearest neighbour copies every voxel."""
    widget = _open(viewer, qtbot)
    _paint_and_wait(viewer, widget, qtbot)
    t1c, saved = find_layer(viewer, "t1c"), np.array(find_layer(viewer, "lesions").data)
    crop = (slice(2, 11), slice(100, 400), slice(60, 300))
    volume = Volume(np.asarray(t1c.data)[crop], layer_geometry(t1c).cropped(crop),
                    info=layer_to_volume(t1c).info)
    assert volume.geometry.orientation == DISPLAY_ORIENTATION

    other = make_napari_viewer(show=True)
    _second_series(other, volume, uid_suffix=".8", description="SAG T1 TSE +C crop", number=8)
    widget2 = _dock(other, qtbot)
    press(qtbot, widget2, "lesionview-study-restore-resampled")
    np.testing.assert_array_equal(find_layer(other, "lesions").data, saved[crop])
    assert not messages["error"]


def _as_legacy(key):
    """Move the autosave of ``key`` to the earlier layout (one folder per study, no series or
    grid in its manifest); returns that folder."""
    legacy = _autosave.autosave_dir(key.study)
    manifest = json.loads((key.folder / _autosave.MANIFEST).read_text())
    for name in manifest["layers"].values():
        shutil.move(key.folder / name, legacy / name)
    shutil.rmtree(key.folder)
    (legacy / _autosave.MANIFEST).write_text(json.dumps({k: manifest[k] for k in ("saved_at", "layers", "names")}))
    return legacy


def test_legacy_study_autosave_is_migrated_to_its_grid(viewer, make_napari_viewer, qtbot, messages):
    """An autosave of the earlier layout (one per study) is moved to the grid its masks lie on,
    attributed to the open series on that grid, and offered back as before."""
    widget = _open(viewer, qtbot)
    key, _ = _paint_and_wait(viewer, widget, qtbot)
    legacy = _as_legacy(key)

    again = make_napari_viewer(show=True)
    widget2 = _open(again, qtbot)
    assert not (legacy / _autosave.MANIFEST).exists() and not (legacy / "lesions.nii.gz").exists()
    info = _autosave.find_autosave(widget2.autosaver.key())
    assert info is not None and info.series == key.series
    assert json.loads((info.folder / _autosave.MANIFEST).read_text())["migrated_from"]
    press(qtbot, widget2, "lesionview-study-restore")
    assert find_layer(again, "lesions").data[PAINTED] == 9
    assert not messages["error"]


def test_legacy_autosave_of_a_grid_not_open_is_offered_resampled(viewer, make_napari_viewer, qtbot, messages):
    """Opened on the axial series only: the legacy sagittal masks cannot be attributed to an open
    series, so they are offered resampled, never put on the axial grid as they are."""
    widget = _open(viewer, qtbot)
    key, _ = _paint_and_wait(viewer, widget, qtbot)
    _as_legacy(key)

    axial = make_napari_viewer(show=True)
    _second_series(axial, render("twin", _axial_geometry(), "T1C"), uid_suffix=".7",
                   description="AX T1 TSE +C", number=7)
    widget2 = _dock(axial, qtbot)
    assert not control(widget2, "lesionview-study-restore").isVisibleTo(widget2)
    assert control(widget2, "lesionview-study-restore-resampled").isVisibleTo(widget2)
    press(qtbot, widget2, "lesionview-study-discard")          # "Dismiss": kept for its series
    assert not widget2.autosave_box.isVisibleTo(widget2)
    assert _autosave.study_autosaves(key.study)
    assert not messages["error"]


def test_unreadable_autosaves_are_ignored(viewer, qtbot, messages):
    widget = _open(viewer, qtbot)
    key = widget.autosaver.key()
    (_autosave.autosave_dir(key.study)).mkdir(parents=True)
    (_autosave.autosave_dir(key.study) / _autosave.MANIFEST).write_text("{not json")
    key.folder.mkdir(parents=True)
    (key.folder / _autosave.MANIFEST).write_text(json.dumps({"format": 2, "layers": {"lesions": "gone.nii.gz"}}))
    widget.refresh()
    assert widget.check_autosave() is None and not widget.autosave_box.isVisibleTo(widget)
    assert _autosave.migrate_legacy(viewer, key.study) is None
    assert not messages["error"]


def test_closing_with_unsaved_annotations_asks(viewer, qtbot, tmp_path):
    widget = _open(viewer, qtbot)
    asked = []
    widget.autosaver.ask_close = lambda message: asked.append(message) or False
    qt_window = viewer.window._qt_window
    assert widget.autosaver.confirm_close() and asked == []   # nothing edited: no question
    find_layer(viewer, "lesions").paint(PAINTED, 9)
    qt_window.close(quit_app=False, confirm_need=True)        # File > Close Window
    assert len(asked) == 1 and "lesions" in asked[0]
    assert qt_window.isVisible()                              # cancelled: the window stays
    # Asking flushed the autosave first: nothing is lost whatever the answer.
    assert _autosave.find_autosave(widget.autosaver.key()) is not None
    # Answering "Close" lets it close (not done for real: the fixture closes the viewer itself).
    widget.autosaver.ask_close = lambda message: asked.append(message) or True
    assert widget.autosaver.confirm_close() and len(asked) == 2
    viewer.window.screenshot(str(tmp_path / "viewer_with_study.png"))


def test_saving_to_a_file_clears_unsaved(viewer, qtbot, tmp_path):
    widget = _open(viewer, qtbot)
    lesions = find_layer(viewer, "lesions")
    lesions.paint(PAINTED, 9)
    assert widget.autosaver.dirty_roles == {"lesions"}
    lesions.save(str(tmp_path / "lesions.nii.gz"), plugin="lesionview")
    assert not widget.autosaver.dirty

