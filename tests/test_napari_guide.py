"""Workflow guide: the checklist images -> cord -> lesions -> edema -> levels -> export follows the
viewer as a user works through the study."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import click, press

from lesionview.levels import read_landmarks
from lesionview.phantom import sample_path
from napari_lesionview._space import lps_to_napari
from napari_lesionview._study import find_layer
from napari_lesionview._widgets.guide import (
    STEPS,
    WorkflowGuide,
    exported_to,
    mark_exported,
    workflow_steps,
)
from napari_lesionview._widgets.levels import LevelsWidget
from napari_lesionview._widgets.study import StudyWidget

pytestmark = pytest.mark.gui


def _dock(viewer, qtbot, widget, name):
    viewer.window.add_dock_widget(widget, name=name)
    qtbot.waitUntil(widget.isVisible)
    return widget


def _state(guide) -> dict[str, bool]:
    return {step.key: step.done for step in guide.steps}


def test_empty_viewer_waits_for_images(viewer, qtbot, tmp_path):
    guide = _dock(viewer, qtbot, WorkflowGuide(viewer), "Workflow")
    assert [step.key for step in guide.steps] == list(STEPS)
    assert not any(_state(guide).values()) and guide.next_step() == "images"
    assert "open the study" in guide.step("images").detail
    assert "needs a lesion mask" in guide.step("export").detail
    assert guide.marks["images"].text() == "▶" and "<b>1 Images</b>" in guide.labels["images"].text()
    assert "File > Open" in guide.labels["images"].toolTip()
    guide.grab().save(str(tmp_path / "guide_empty.png"))


def test_guide_follows_the_workflow(viewer, qtbot, tmp_path):
    """Alone in its dock, the guide ticks each step as the user does it, says what each number
    still waits for, and 'exported' lasts until the next edit."""
    guide = _dock(viewer, qtbot, WorkflowGuide(viewer), "Workflow")
    viewer.open(str(sample_path("twin") / "dicom"), plugin="lesionview")
    study = _dock(viewer, qtbot, StudyWidget(viewer), "Study")    # pre-fills the T1+C and T2 roles
    qtbot.waitUntil(lambda: guide.step("images").done, timeout=3000)
    assert guide.step("images").detail == "T1+C and T2 chosen" and guide.next_step() == "cord"
    assert "no layer yet" in guide.step("cord").detail

    press(qtbot, study, "lesionview-study-create")
    qtbot.waitUntil(lambda: "no layer yet" not in guide.step("cord").detail, timeout=3000)
    assert "cord occupancy" in guide.step("cord").detail and not guide.step("cord").done
    guide.grab().save(str(tmp_path / "guide_layers_made.png"))

    cord = find_layer(viewer, "cord")
    cord.paint((6, 200, 180), 1)
    qtbot.waitUntil(lambda: guide.step("cord").done, timeout=3000)
    assert guide.next_step() == "lesions" and guide.marks["cord"].text() == "✓"
    assert guide.marks["lesions"].text() == "▶"

    find_layer(viewer, "lesions").paint((6, 210, 180), 1)
    qtbot.waitUntil(lambda: guide.step("lesions").done, timeout=3000)
    assert "not exported" in guide.step("export").detail
    find_layer(viewer, "edema").paint((6, 220, 180), 1)
    qtbot.waitUntil(lambda: guide.step("edema").done, timeout=3000)
    assert guide.next_step() == "levels"

    names, positions = read_landmarks(sample_path("twin") / "landmarks.csv")
    levels = LevelsWidget(viewer)
    _dock(viewer, qtbot, levels, "Levels")
    press(qtbot, levels, "lesionview-levels-place")
    layer = find_layer(viewer, "levels")
    click(layer, lps_to_napari(positions[names.index("C2")]))
    qtbot.waitUntil(lambda: "(1 placed)" in guide.step("levels").detail, timeout=3000)
    assert "at least two landmarks" in guide.step("levels").detail and not guide.step("levels").done
    click(layer, lps_to_napari(positions[names.index("C3")]))
    qtbot.waitUntil(lambda: guide.step("levels").done, timeout=3000)
    assert guide.step("levels").detail == "2 landmarks (C2 ... C3)"
    assert guide.next_step() == "export"

    mark_exported(viewer, tmp_path)
    qtbot.waitUntil(lambda: guide.step("export").done, timeout=3000)
    assert guide.next_step() is None and tmp_path.name in guide.step("export").detail
    guide.grab().save(str(tmp_path / "guide_done.png"))

    find_layer(viewer, "lesions").paint((6, 211, 180), 1)   # an edit: the export is stale
    qtbot.waitUntil(lambda: not guide.step("export").done, timeout=3000)
    assert exported_to(viewer) is None and guide.next_step() == "export"

    viewer.layers.remove(find_layer(viewer, "cord"))
    qtbot.waitUntil(lambda: not guide.step("cord").done, timeout=3000)
    assert guide.next_step() == "cord"


def test_sample_case_has_everything_but_the_export(viewer, qtbot):
    viewer.open_sample("lesionview", "twin")
    guide = _dock(viewer, qtbot, WorkflowGuide(viewer), "Workflow")
    assert _state(guide) == {"images": True, "cord": True, "lesions": True, "edema": True,
                             "levels": True, "export": False}
    assert guide.step("levels").detail.startswith("19 landmarks")


def test_missing_image_and_emptied_mask_are_said(viewer, qtbot):
    viewer.open_sample("lesionview", "twin")
    viewer.layers.remove(find_layer(viewer, "t2"))
    edema = find_layer(viewer, "edema")
    edema.data = np.zeros_like(edema.data)
    steps = {step.key: step for step in workflow_steps(viewer)}
    assert not steps["images"].done and "no T2" in steps["images"].detail
    assert not steps["edema"].done and "edema volume" in steps["edema"].detail
    assert steps["cord"].done and steps["lesions"].done
