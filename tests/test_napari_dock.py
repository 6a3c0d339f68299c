"""Every widget docks through napari's own plugin machinery (which hands it a proxied viewer)."""

import pytest

WIDGETS = ["Study", "Segment", "Levels", "Measurements", "Export"]


@pytest.mark.gui
def test_all_widgets_dock_from_the_plugins_menu_and_measure_the_sample(viewer, qtbot):
    viewer.open_sample("lesionview", "twin")
    docked = {name: viewer.window.add_plugin_dock_widget("lesionview", name)[1] for name in WIDGETS}
    assert all(docked.values())
    measurements = docked["Measurements"]
    qtbot.waitUntil(lambda: getattr(measurements, "result", None) is not None, timeout=60_000)
    result = measurements.result
    assert [les.levels.label for les in result.lesions] == ["C5", "C6"]
    assert result.multiplicity.kind.value == "adjacent pair"
    assert docked["Study"].viewer is docked["Segment"].viewer  # the real viewer, not two proxies


@pytest.mark.gui
def test_grow_click_appears_in_the_table_with_the_core_numbers(viewer, qtbot):
    """Issue 5: clicking "grow" at a lesion point makes a label whose row in the live table holds
    the numbers lesionview.measure gives on the same layers."""
    import numpy as np

    from lesionview.levels import LevelModel
    from lesionview.measure import measure
    from napari_lesionview._layers import layer_to_volume
    from napari_lesionview._space import lps_to_napari
    from napari_lesionview._study import find_layer
    from napari_lesionview._widgets.levels import levels_from_layer
    from napari_lesionview._widgets.measurements import lesion_cells

    viewer.open_sample("lesionview", "twin")
    segment = viewer.window.add_plugin_dock_widget("lesionview", "Segment")[1]
    table = viewer.window.add_plugin_dock_widget("lesionview", "Measurements")[1]
    lesions = find_layer(viewer, "lesions")
    lesions.data = np.zeros_like(lesions.data)          # start from no lesion
    qtbot.waitUntil(lambda: table.result is not None and not table.result.lesions, timeout=60_000)

    large_centre = np.array([-0.4, 1.0028, -20.5252])   # truth.json, lesion 2 (LPS mm)
    new_id = segment.grow_at(lps_to_napari(large_centre))
    assert new_id == 1 and np.count_nonzero(lesions.data) > 0
    qtbot.waitUntil(lambda: table.result is not None and len(table.result.lesions) == 1, timeout=60_000)

    expected = measure(layer_to_volume(lesions), image=layer_to_volume(find_layer(viewer, "t1c")),
                       edema=layer_to_volume(find_layer(viewer, "edema")),
                       cord=layer_to_volume(find_layer(viewer, "cord")),
                       levels=levels_from_layer(find_layer(viewer, "levels")))
    shown = [table.table.item(0, c).text() for c in range(table.table.columnCount())]
    assert shown[: len(lesion_cells(expected.lesions[0]))] == [t for t, _ in lesion_cells(expected.lesions[0])]
    assert expected.lesions[0].levels.label == "C6"
    assert isinstance(levels_from_layer(find_layer(viewer, "levels")), LevelModel)


@pytest.mark.gui
def test_the_lesionview_panel_docks_all_of_it_as_one_panel(viewer, qtbot):
    """Issue 10: one dock (tabs above the live table) instead of five stacked ones, whose minimum
    sizes added up to a 1600 x 1677 window."""
    viewer.open_sample("lesionview", "twin")
    dock, panel = viewer.window.add_plugin_dock_widget("lesionview", "lesionview")
    qtbot.waitUntil(lambda: panel.measurements.result is not None, timeout=60_000)
    assert [les.levels.label for les in panel.measurements.result.lesions] == ["C5", "C6"]
    assert panel.study.viewer is panel.segment.viewer is panel.measurements.viewer is viewer
    window = viewer.window._qt_window
    assert window.minimumSizeHint().height() <= 768 and window.minimumSizeHint().width() <= 1366
    assert dock.isVisible()
