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
