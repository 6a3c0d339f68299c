"""Not losing work: autosave after edits, offered back on reopening, a question before closing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_lesionview import _autosave
from napari_lesionview._study import find_layer
from napari_lesionview._widgets.study import StudyWidget

pytestmark = pytest.mark.gui
PAINTED = (6, 150, 120)   # a voxel outside the twin phantom's lesions


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LESIONVIEW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _open(viewer):
    viewer.open_sample("lesionview", "twin")
    widget = StudyWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Study")
    widget.autosaver.delay_ms = 100
    return widget


def _paint_and_wait(viewer, widget, qtbot):
    lesions = find_layer(viewer, "lesions")
    assert lesions.data[PAINTED] == 0
    lesions.paint(PAINTED, 9)
    assert widget.autosaver.dirty
    key = _autosave.study_key(find_layer(viewer, "t1c"))
    manifest = _autosave.autosave_dir(key) / _autosave.MANIFEST
    qtbot.waitUntil(manifest.is_file, timeout=10_000)
    return key, manifest


def test_cache_dir_follows_the_environment(cache):
    assert _autosave.cache_dir() == cache


def test_study_key_from_uid_or_file():
    class Layer:
        def __init__(self, metadata):
            self.metadata = metadata

    assert _autosave.study_key(Layer({"series_info": {"study_uid": "1.2.3"}})) == "study-1.2.3"
    assert _autosave.study_key(Layer({"series_info": {"series_uid": "4.5"}})) == "series-4.5"
    a = _autosave.study_key(Layer({"series_info": {}, "source": "/data/a/t2.nii.gz"}))
    assert a.startswith("file-") and a != _autosave.study_key(Layer({"source": "/data/b/t2.nii.gz"}))
    assert _autosave.study_key(Layer({})) is None


def test_autosave_appears_and_is_offered_back(viewer, make_napari_viewer, qtbot, tmp_path):
    widget = _open(viewer)
    key, manifest = _paint_and_wait(viewer, widget, qtbot)
    assert key.startswith("study-1.2.826")
    saved = json.loads(manifest.read_text())
    assert set(saved["layers"]) == {"lesions", "edema", "cord", "levels"}
    assert not widget.autosave_box.isVisibleTo(widget)   # this session's own autosave: not offered

    again = make_napari_viewer(show=True)
    widget2 = _open(again)
    assert widget2.autosave_box.isVisibleTo(widget2)
    widget2.grab().save(str(tmp_path / "study_widget_autosave.png"))
    lesions2 = find_layer(again, "lesions")
    assert lesions2.data[PAINTED] == 0
    qtbot.mouseClick(widget2.restore_button, Qt.MouseButton.LeftButton)
    assert find_layer(again, "lesions") is lesions2          # restored in place, not duplicated
    assert lesions2.data[PAINTED] == 9
    np.testing.assert_array_equal(lesions2.data, find_layer(viewer, "lesions").data)
    levels, levels2 = find_layer(viewer, "levels"), find_layer(again, "levels")
    assert list(levels2.features["name"]) == list(levels.features["name"])
    np.testing.assert_allclose([levels2.data_to_world(p) for p in levels2.data],
                               [levels.data_to_world(p) for p in levels.data], atol=1e-6)
    assert not widget2.autosave_box.isVisibleTo(widget2) and not widget2.autosaver.dirty


def test_restore_into_a_viewer_without_annotation_layers(viewer, make_napari_viewer, qtbot):
    widget = _open(viewer)
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


def test_discard_hides_the_offer(viewer, make_napari_viewer, qtbot):
    widget = _open(viewer)
    key, _ = _paint_and_wait(viewer, widget, qtbot)
    widget2 = _open(make_napari_viewer(show=True))
    qtbot.mouseClick(widget2.discard_button, Qt.MouseButton.LeftButton)
    assert _autosave.find_autosave(key) is None and not widget2.autosave_box.isVisibleTo(widget2)


def test_closing_with_unsaved_annotations_asks(viewer, qtbot, tmp_path):
    widget = _open(viewer)
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
    widget = _open(viewer)
    lesions = find_layer(viewer, "lesions")
    lesions.paint(PAINTED, 9)
    assert widget.autosaver.dirty_roles == {"lesions"}
    lesions.save(str(tmp_path / "lesions.nii.gz"), plugin="lesionview")
    assert not widget.autosaver.dirty
