"""The Segment widget's back end choice, with toy back ends installed as a site installs a model
(a real entry point of a package in tmp_path: tests/backend_helpers.py). Run under Xvfb."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")

from backend_helpers import install_toy_backends
from gui_helpers import capture_notifications, choose, click, control, press
from qtpy.QtCore import Qt
from test_napari_segment import add_twin, lesion_centres_world

from lesionview.segment import Point
from napari_lesionview._space import napari_to_lps
from napari_lesionview._widgets import segment as segment_module
from napari_lesionview._widgets.segment import SegmentWidget

pytestmark = pytest.mark.gui


@pytest.fixture
def toys(tmp_path, monkeypatch):
    return install_toy_backends(tmp_path, monkeypatch)


@pytest.fixture
def twin(toys, viewer, qtbot):
    """The twin phantom with empty annotations and a Segment widget made after the toys were installed."""
    layers = add_twin(viewer)
    widget = SegmentWidget(viewer)
    dock = viewer.window.add_dock_widget(widget, name="Segment")
    qtbot.waitUntil(dock.isVisible, timeout=5_000)
    viewer.dims.set_point(0, lesion_centres_world()[1][0])
    return viewer, layers, widget


@pytest.fixture
def messages(monkeypatch):
    return capture_notifications(monkeypatch, segment_module)


def entries(combo) -> dict[str, tuple[int, bool, str]]:
    """Back end name -> (row, enabled, tooltip) of the combo's entries."""
    model = combo.model()
    return {combo.itemData(i): (i, model.item(i).isEnabled(), combo.itemData(i, Qt.ItemDataRole.ToolTipRole))
            for i in range(combo.count())}


def test_grow_clicks_go_to_the_chosen_backend(twin, toys, messages, qtbot):
    viewer, layers, widget = twin
    combo = control(widget, "lesionview-segment-backend")
    listed = entries(combo)
    assert combo.currentIndex() == 0 and combo.currentData() == "classical"
    assert toys.MADE == []   # listing on the GUI thread makes no back end (no model loaded)
    assert listed["toysphere"][1] and listed["toysphere"][2] == "threshold in a 3 mm sphere (tests)"
    # Those that cannot run are greyed out, the reason in the tooltip.
    for name, why in (("toyweights", "weights not found"), ("toybroken", "ModuleNotFoundError"),
                      ("toynumber", "not a SegmentationBackend")):
        assert not listed[name][1] and why in listed[name][2]
        assert combo.itemText(listed[name][0]) == f"{name} (unavailable)"

    choose(qtbot, combo, listed["toysphere"][0])
    assert widget.backend.currentData() == "toysphere"
    press(qtbot, widget, "lesionview-segment-grow")
    centre = lesion_centres_world()[1]
    click(viewer, centre)
    assert not messages["error"], messages
    prompts, target, images, masks, options = toys.CALLS[-1]
    assert target == "lesion" and images == ["t1c"] and masks == []   # no cord yet
    assert options["sensitivity"] == widget.sensitivity_value
    assert len(prompts) == 1 and isinstance(prompts[0], Point) and prompts[0].positive
    np.testing.assert_allclose(prompts[0].position_lps, napari_to_lps(centre), atol=1e-6)
    grown = layers["lesions"].data == 1
    assert 0 < np.count_nonzero(grown) and set(np.unique(layers["lesions"].data)) == {0, 1}
    assert "(toysphere)" in widget.status.text()
    assert toys.MADE == ["SphereBackend"]   # made at its first click, kept
    # Back to the classical one: the next click grows by region growing again.
    choose(qtbot, combo, 0)
    click(viewer, lesion_centres_world()[0])
    assert len(toys.CALLS) == 1 and set(np.unique(layers["lesions"].data)) == {0, 1, 2}
    assert not messages["error"], messages


def test_the_guards_apply_to_any_backend(twin, toys, messages, qtbot):
    viewer, layers, widget = twin
    combo = control(widget, "lesionview-segment-backend")
    press(qtbot, widget, "lesionview-segment-grow")
    # A 24 mm ball cannot be an intramedullary lesion: refused, nothing written.
    choose(qtbot, combo, entries(combo)["toybig"][0])
    click(viewer, lesion_centres_world()[1])
    assert toys.CALLS and "24 mm across" in messages["error"][-1]
    assert not np.any(layers["lesions"].data)
    # One whose problem() needs the instance is offered until used; then it says what is missing.
    assert entries(combo)["toylazy"][1]
    choose(qtbot, combo, entries(combo)["toylazy"][0])
    click(viewer, lesion_centres_world()[1])
    assert messages["error"][-1] == ("Grow lesion: the segmentation back end 'toylazy' cannot run: "
                                     "weights not found in /nonexistent/lazy-model")
    assert not np.any(layers["lesions"].data)
    # A back end that fails says so in a notification naming it, not a traceback.
    choose(qtbot, combo, entries(combo)["toycrash"][0])
    click(viewer, lesion_centres_world()[1])
    assert messages["error"][-1] == ("Grow lesion: the segmentation back end 'toycrash' failed: "
                                     "RuntimeError: CUDA out of memory")
    assert not np.any(layers["lesions"].data)
