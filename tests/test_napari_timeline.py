"""Timeline dock widget: the seed's four studies over time, aligned in napari, lesions matched by id
and colour, and a click on a lesion row centring every timepoint on it.

Expected values come from the phantom's truth (sample_data/timeline/truth.json: which lesion is
where at each timepoint, the per-interval classes, the responses), and positions from the layers'
own voxels carried into napari's world by napari itself (``layer.data_to_world``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import need
from gui_helpers import press

TIMELINE = Path(__file__).resolve().parents[1] / "sample_data" / "timeline"
#: truth.json's response abbreviations, as lesionview's ResponseClass says them.
RESPONSE_NAMES = {"baseline": "baseline", "CR": "complete response", "PR": "partial response",
                  "SD": "stable disease", "PD": "progressive disease"}


def _centroid_world(layer, value: int) -> np.ndarray:
    """Where napari draws the voxels of ``value`` in ``layer``: their mean index, mapped to world."""
    index = np.argwhere(np.asarray(layer.data) == value).mean(axis=0)
    return np.asarray(layer.data_to_world(index), float)


def _cell(table, row: int, column: int) -> str:
    item = table.item(row, column)
    return "" if item is None else item.text()


@pytest.fixture(scope="module")
def truth() -> dict:
    need((TIMELINE / "truth.json").is_file(),
         "sample_data/timeline is missing (python -m lesionview.phantom writes it)")
    return json.loads((TIMELINE / "truth.json").read_text())


@pytest.mark.gui
def test_timeline_aligns_matches_and_centres(viewer, qtbot, monkeypatch, truth):
    from qtpy.QtCore import Qt

    from napari_lesionview._space import napari_to_lps
    from napari_lesionview._widgets import timeline as tl
    from napari_lesionview._widgets.measurements import camera_of

    widget = viewer.window.add_plugin_dock_widget("lesionview", "Timeline")[1]
    labels = [tp["label"] for tp in truth["timepoints"]]
    # Added out of time order: the comparison orders them by study date.
    for label in reversed(labels[:-1]):
        widget.add_study(TIMELINE / label)
    monkeypatch.setattr(tl.QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(TIMELINE / labels[-1])))
    press(qtbot, widget, "lesionview-timeline-add")
    assert widget.list.count() == len(labels)

    press(qtbot, widget, "lesionview-timeline-compare")
    qtbot.waitUntil(lambda: widget.result is not None and widget._worker is None, timeout=120_000)
    comparison = widget.result.comparison
    assert [tp.label for tp in comparison.timepoints] == labels
    assert all(m is not None for m in widget.result.to_baseline), widget.result.notes

    # Layers: one group per study, named by its label, consecutive, in time order at the bottom.
    names = [layer.name for layer in viewer.layers if tl.TIMELINE_KEY in layer.metadata]
    per_study = len(names) // len(labels)
    assert per_study >= 2
    assert [n.split(": ")[0] for n in names] == [lab for lab in labels for _ in range(per_study)]
    assert names == [layer.name for layer in viewer.layers][: len(names)]
    layers = {layer.name: layer for layer in viewer.layers}
    for label in labels:
        assert f"{label}: T1+C" in layers and f"{label}: lesions" in layers
    grid = viewer.canvas.grid
    assert grid.enabled and grid.stride == per_study   # one timepoint per cell

    # Matched lesions share a label value (L3 -> 3) and a colour in every study.
    for tp in truth["timepoints"]:
        values = set(np.unique(layers[f"{tp['label']}: lesions"].data)) - {0}
        assert values == {int(pid[1:]) for pid in tp["lesion_ids"]}, tp["label"]
    shared = [pid for pid, seen in truth["lesions"].items() if len(seen) >= 2]
    assert shared
    for pid in shared:
        colours = [np.asarray(layers[f"{label}: lesions"].colormap.map(int(pid[1:]))).ravel()
                   for label in truth["lesions"][pid]]
        assert all(np.allclose(c, colours[0]) for c in colours)

    # A matched lesion sits at the same place in napari's world in two studies (baseline frame):
    # apart by its own true displacement in the patient, plus a little alignment error.
    for pid in shared:
        (a, b) = list(truth["lesions"][pid])[:2]
        gap = np.linalg.norm(_centroid_world(layers[f"{a}: lesions"], int(pid[1:]))
                             - _centroid_world(layers[f"{b}: lesions"], int(pid[1:])))
        moved_mm = np.linalg.norm(np.subtract(truth["lesions"][pid][a]["centre_reference_lps_mm"],
                                              truth["lesions"][pid][b]["centre_reference_lps_mm"]))
        assert abs(gap - moved_mm) < 2.0, (pid, gap, moved_mm)
    # ... and every lesion of every study is where the phantom put it in the baseline's scanner
    # frame (truth: world = R @ reference + shift, R and shift the baseline's pose).
    pose = truth["timepoints"][0]["pose"]
    for pid, seen in truth["lesions"].items():
        for label, where in seen.items():
            expected_lps = np.asarray(pose["matrix"]) @ where["centre_reference_lps_mm"] + pose["shift_mm"]
            shown_lps = napari_to_lps(_centroid_world(layers[f"{label}: lesions"], int(pid[1:])))
            assert np.linalg.norm(shown_lps - expected_lps) < 1.0, (pid, label, shown_lps, expected_lps)

    # The table: a row per patient lesion and a response row; each cell the interval's class.
    table = widget.table
    lesion_ids = sorted(truth["lesions"], key=lambda p: int(p[1:]))
    assert [_cell(table, r, 0).split(" ")[0] for r in range(table.rowCount())] == [*lesion_ids, "Response"]
    assert [table.horizontalHeaderItem(c).text() for c in range(1, table.columnCount())] == labels
    expected = {}
    for interval in truth["intervals"]:
        column = labels.index(interval["to"]) + 1
        for cls in ("new", "resolved", "merged", "split"):
            expected.update({(pid, column): cls for pid in interval[cls]})
        expected.update({(p["id"], column): p["class"] for p in interval["persistent"]})
    for (pid, column), cls in expected.items():
        assert _cell(table, lesion_ids.index(pid), column).split(" ")[0] == cls, (pid, column)
    # ... with compare's diameter changes, as compare gave them.
    for interval in comparison.intervals:
        for change in interval.changes:
            text = _cell(table, lesion_ids.index(change.lesion), labels.index(interval.later) + 1)
            assert text.startswith(change.change.value)
            if change.change.value in ("grown", "shrunk"):
                assert text.endswith(f"{change.diameter_change_mm:+.1f} mm")
    responses = [_cell(table, len(lesion_ids), c) for c in range(1, len(labels) + 1)]
    assert responses == [RESPONSE_NAMES[tp["response"]] for tp in truth["response"]["timepoints"]]

    # A click on a lesion's row centres every timepoint on it: the slice and the camera go to
    # where it was first seen, carried into the baseline frame.
    pid = shared[-1]
    first_label = next(iter(truth["lesions"][pid]))
    first = layers[f"{first_label}: lesions"]
    target = _centroid_world(first, int(pid[1:]))
    row = lesion_ids.index(pid)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton,
                     pos=table.visualItemRect(table.item(row, 0)).center())
    voxel = max(first.scale)
    assert np.all(np.abs(np.asarray(viewer.dims.point[-3:]) - target) <= voxel), (viewer.dims.point, target)
    shown = list(viewer.dims.displayed)
    assert np.allclose(np.asarray(camera_of(viewer).center)[-len(shown):], target[shown], atol=min(first.scale))
    assert all(layers[f"{label}: lesions"].selected_label == int(pid[1:]) for label in labels)

    # Overlaid instead of side by side; then Clear removes the timeline's layers.
    press(qtbot, widget, "lesionview-timeline-grid")
    assert not grid.enabled
    press(qtbot, widget, "lesionview-timeline-clear")
    assert not any(tl.TIMELINE_KEY in layer.metadata for layer in viewer.layers)
    assert widget.list.count() == 0 and not widget.compare_button.isEnabled()


def test_a_layer_moved_by_a_rigid_map_puts_every_voxel_where_the_map_sends_it():
    from napari.layers import Layer
    from scipy.spatial.transform import Rotation

    from lesionview.compare.align import Rigid
    from lesionview.geometry import Geometry
    from lesionview.volume import Volume
    from napari_lesionview._layers import volume_to_layer_data
    from napari_lesionview._space import napari_to_lps
    from napari_lesionview._widgets.timeline import moved

    rigid = Rigid(Rotation.from_euler("xyz", [4, -3, 6], degrees=True).as_matrix(), np.array([12.0, -30.0, 7.5]))
    corners = np.array([[0, 0, 0], [5, 19, 15], [2, 7, 11]])
    data = np.zeros((6, 20, 16), np.uint8)
    data[tuple(corners.T)] = [1, 2, 3]
    # Stored in another orientation than napari's display one, so the layer's axes are permuted.
    volume = Volume(data, Geometry(data.shape, (3.0, 0.5, 0.5), (-9.0, 20.0, 40.0),
                                   ((0, 0, 1), (1, 0, 0), (0, -1, 0))))
    expected = rigid.apply(volume.geometry.index_to_world(corners))
    placed = moved(volume, rigid)
    assert np.allclose(placed.geometry.index_to_world(corners), expected, atol=1e-6)
    layer = Layer.create(*volume_to_layer_data(placed, as_labels=True))
    for value, where in enumerate(expected, start=1):
        (index,) = np.argwhere(np.asarray(layer.data) == value)
        assert np.allclose(napari_to_lps(layer.data_to_world(index)), where, atol=1e-6)


def test_a_refused_interval_leaves_that_study_and_the_later_ones_in_their_own_frames():
    from types import SimpleNamespace

    from lesionview.compare.models import Alignment
    from napari_lesionview._widgets.timeline import baseline_maps

    refused = Alignment(earlier="t0", later="t1", method="rigid registration", residual_mm=9.0, rotation_deg=2.0,
                        translation_mm=(1.0, 2.0, 3.0), accepted=False, reason="alignment residual 9.0 mm exceeds 5 mm")
    fine = Alignment(earlier="t1", later="t2", method="rigid registration", residual_mm=0.1, rotation_deg=0.0,
                     translation_mm=(0.0, 0.0, 0.0), accepted=True)
    comparison = SimpleNamespace(alignments=[refused, fine], parameters=SimpleNamespace(max_residual_mm=5.0))
    notes: list[str] = []
    maps = baseline_maps([None, None, None], comparison, notes)
    assert np.allclose(maps[0].rotation, np.eye(3)) and np.allclose(maps[0].translation, 0)
    assert maps[1] is None and maps[2] is None
    assert len(notes) == 1 and "t1" in notes[0] and "9.0 mm" in notes[0]
