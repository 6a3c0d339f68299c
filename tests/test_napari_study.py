"""Study widget: image roles pre-filled from the series role guess; annotation layers on the right grid."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import capture_notifications, choose, control, napari_errors, press
from napari.utils.notifications import notification_manager

from lesionview.phantom import sample_path
from napari_lesionview._display import label_colormap
from napari_lesionview._layers import layer_geometry
from napari_lesionview._study import ROLE_KEY, find_layer
from napari_lesionview._widgets import study as study_module
from napari_lesionview._widgets.study import StudyWidget

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LESIONVIEW_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def study(viewer, qtbot):
    """The twin study's two DICOM series opened with the reader (no roles set yet)."""
    viewer.open(str(sample_path("twin") / "dicom"), plugin="lesionview")
    widget = StudyWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Study")
    qtbot.waitUntil(widget.isVisible)
    return viewer, widget


@pytest.fixture
def messages(monkeypatch):
    return capture_notifications(monkeypatch, study_module)




def test_combos_prefilled_from_role_guess(study, tmp_path):
    viewer, widget = study
    t1c, t2 = widget.chosen("t1c"), widget.chosen("t2")
    assert t1c.metadata["series_info"]["role"] == "T1+C" and "T1" in widget.combos["t1c"].currentText()
    assert t2.metadata["series_info"]["role"] == "T2" and "T2" in widget.combos["t2"].currentText()
    assert find_layer(viewer, "t1c") is t1c and find_layer(viewer, "t2") is t2
    widget.grab().save(str(tmp_path / "study_widget.png"))


def test_combos_follow_layers_added_and_removed(study):
    viewer, widget = study
    n = widget.combos["t2"].count()
    extra = viewer.add_image(np.zeros((4, 5, 6)), name="extra")
    assert widget.combos["t2"].count() == n + 1
    viewer.layers.remove(extra)
    assert widget.combos["t2"].count() == n
    viewer.layers.remove(widget.chosen("t2"))
    assert widget.chosen("t2") is None and find_layer(viewer, "t2") is None


def test_choosing_an_image_moves_its_role(study, qtbot, messages):
    viewer, widget = study
    t1c, t2 = widget.chosen("t1c"), widget.chosen("t2")
    since = len(notification_manager.records)
    t2_combo = control(widget, "lesionview-study-t2")
    choose(qtbot, t2_combo, t2_combo.findData(t1c))
    assert t1c.metadata[ROLE_KEY] == "t2" and widget.chosen("t1c") is None
    assert find_layer(viewer, "t2") is t1c and ROLE_KEY not in t2.metadata
    t1c_combo = control(widget, "lesionview-study-t1c")
    choose(qtbot, t1c_combo, t1c_combo.findData(t2))
    assert find_layer(viewer, "t1c") is t2 and widget.chosen("t2") is t1c
    choose(qtbot, t1c_combo, 0)   # "(none)"
    assert widget.chosen("t1c") is None and find_layer(viewer, "t1c") is None
    assert not messages["error"] and not napari_errors(since)


def test_create_annotation_layers_once_on_the_image_grid(study, qtbot, tmp_path, messages):
    viewer, widget = study
    since = len(notification_manager.records)
    press(qtbot, widget, "lesionview-study-create")
    t1c = widget.chosen("t1c")
    for role in ("lesions", "edema", "cord"):
        layer = find_layer(viewer, role)
        assert layer is not None and layer.name == role and layer._type_string == "labels"
        assert layer.data.shape == t1c.data.shape
        np.testing.assert_allclose(layer.scale, t1c.scale)
        # colour-blind-safe colours by role, as the samples and the panel show them
        np.testing.assert_allclose(layer.get_color(1), label_colormap(role).map(1), atol=1e-3)
        np.testing.assert_allclose(layer.translate, t1c.translate)
        assert layer_geometry(layer).same_space(layer_geometry(t1c))
        assert layer.metadata["source_geometry"] == t1c.metadata["source_geometry"]
    levels = find_layer(viewer, "levels")
    assert levels is not None and levels._type_string == "points" and levels.ndim == 3
    np.testing.assert_allclose(levels.scale, t1c.scale)
    assert levels.features["name"].dtype == object        # names are strings from the start
    assert viewer.dims.nsteps[0] == t1c.data.shape[0]   # slider still steps slice by slice
    count = len(viewer.layers)
    press(qtbot, widget, "lesionview-study-create")
    assert len(viewer.layers) == count
    assert "already exist" in messages["info"][-1]
    assert not messages["error"] and not napari_errors(since)
    widget.grab().save(str(tmp_path / "study_widget_created.png"))
    viewer.screenshot(str(tmp_path / "study_viewer.png"), canvas_only=False)


def test_create_without_images_warns_and_adds_nothing(viewer, qtbot):
    widget = StudyWidget(viewer)
    assert not widget.create_button.isEnabled()
    assert widget.create_annotation_layers() == []
    assert len(viewer.layers) == 0


def test_sample_roles_are_picked(viewer):
    viewer.open_sample("lesionview", "twin")
    widget = StudyWidget(viewer)
    assert widget.chosen("t1c") is find_layer(viewer, "t1c")
    assert widget.chosen("t2") is find_layer(viewer, "t2")
    assert widget.create_annotation_layers() == []   # the truth layers already play every role
