"""Export widget: JSON/CSV of the live result into a chosen folder, atomically, never overwriting
without asking. Real GUI: run under ``xvfb-run -a -s "-screen 0 1280x1024x24"``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_napari_measurements import TIMEOUT_MS, VOLATILE, measure_layers, open_twin

from lesionview import report
from lesionview.measure import StudyMeasurements
from lesionview.report.build import deidentified
from napari_lesionview._widgets import export as ex
from napari_lesionview._widgets.export import FORMATS, UNAVAILABLE, ExportWidget
from napari_lesionview._widgets.measurements import MeasurementsWidget

pytestmark = pytest.mark.gui


class Asked:
    """An injected overwrite question that records what it was asked and answers ``answer``."""

    def __init__(self, answer: bool):
        self.answer, self.asked = answer, []

    def __call__(self, existing):
        self.asked.append(sorted(p.name for p in existing))
        return self.answer


@pytest.fixture
def study(viewer, qtbot):
    open_twin(viewer)
    live = MeasurementsWidget(viewer)
    viewer.window.add_dock_widget(live, name="Measurements")
    qtbot.waitUntil(lambda: live.is_current, timeout=TIMEOUT_MS)
    return viewer, live


def _export(qtbot, widget) -> None:
    widget.button.click()
    qtbot.waitUntil(lambda: widget._worker is None, timeout=TIMEOUT_MS)


def test_writes_json_and_csv_of_the_live_result(study, qtbot, tmp_path, monkeypatch):
    viewer, live = study
    infos = []
    monkeypatch.setattr(ex, "show_info", infos.append)
    out = tmp_path / "out"
    widget = ExportWidget(viewer, choose_folder=lambda: str(out), ask_overwrite=Asked(False))
    viewer.window.add_dock_widget(widget, name="Export")
    _export(qtbot, widget)
    assert widget.folder.text() == str(out)  # no folder typed: the (injected) chooser was asked
    assert sorted(p.name for p in out.iterdir()) == ["measurements.csv", "measurements.json"]
    # de-identified like every report (input paths cut to file names), otherwise the live result
    assert json.loads((out / "measurements.json").read_text()) == json.loads(
        deidentified(live.result).model_dump_json())
    report.write_csv(live.result, tmp_path / "oracle.csv")
    assert (out / "measurements.csv").read_text() == (tmp_path / "oracle.csv").read_text()
    assert widget.last_paths == [out / "measurements.json", out / "measurements.csv"]
    # It says where, with the paths.
    assert str(out / "measurements.json") in infos[-1] and str(out / "measurements.csv") in infos[-1]
    widget.resize(500, 360)
    widget.grab().save(str(tmp_path / "export_widget.png"))


def test_never_overwrites_without_asking(study, qtbot, tmp_path):
    viewer, _ = study
    out = tmp_path / "out"
    out.mkdir()
    (out / "measurements.json").write_text("keep me")
    no = Asked(False)
    widget = ExportWidget(viewer, ask_overwrite=no)
    widget.folder.setText(str(out))
    _export(qtbot, widget)
    assert no.asked == [["measurements.json"]]
    assert (out / "measurements.json").read_text() == "keep me"
    assert not (out / "measurements.csv").exists()
    assert "kept" in widget.status.text()

    yes = Asked(True)
    widget._ask_overwrite = yes
    _export(qtbot, widget)
    assert yes.asked == [["measurements.json"]]
    StudyMeasurements.model_validate_json((out / "measurements.json").read_text())
    assert (out / "measurements.csv").is_file()
    assert not [p for p in out.iterdir() if ".part" in p.name]  # atomic: no temporary left behind


def test_an_old_report_is_part_of_the_set_it_asks_about(study, qtbot, tmp_path):
    """JSON + CSV into a folder holding an earlier report.html: asked about it, and on yes it is
    removed (and said), so no old report stands beside the new numbers."""
    viewer, _ = study
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("an earlier report")
    (out / "notes.txt").write_text("mine")
    no = Asked(False)
    widget = ExportWidget(viewer, ask_overwrite=no)
    widget.folder.setText(str(out))
    _export(qtbot, widget)
    assert no.asked == [["report.html"]] and sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.html"]

    widget._ask_overwrite = Asked(True)
    _export(qtbot, widget)
    assert sorted(p.name for p in out.iterdir()) == ["measurements.csv", "measurements.json", "notes.txt"]
    assert "removed the old report.html" in widget.status.text()


def test_measures_itself_without_the_live_table(viewer, qtbot, tmp_path):
    open_twin(viewer)
    widget = ExportWidget(viewer, ask_overwrite=Asked(False))
    widget.folder.setText(str(tmp_path))
    widget.checks["csv"].setChecked(False)
    _export(qtbot, widget)
    written = StudyMeasurements.model_validate_json((tmp_path / "measurements.json").read_text())
    assert written.model_dump(exclude=VOLATILE) == measure_layers(viewer).model_dump(exclude=VOLATILE)
    assert not (tmp_path / "measurements.csv").exists()


def test_later_formats_wait_for_the_reports_module(viewer):
    widget = ExportWidget(viewer)
    for fmt in FORMATS:
        box = widget.checks[fmt.key]
        offered = hasattr(report, fmt.writer)
        assert box.isEnabled() == offered
        if not offered:
            assert box.toolTip() == UNAVAILABLE and not box.isChecked()
    assert widget.checks["json"].isChecked() and widget.checks["csv"].isChecked()


def test_refuses_the_input_folder_and_reports_failures(study, qtbot, tmp_path, monkeypatch):
    viewer, _ = study
    errors = []
    monkeypatch.setattr(ex, "show_error", errors.append)
    source = next(layer.metadata["source"] for layer in viewer.layers
                  if layer.metadata.get("lesionview_role") == "t1c")
    widget = ExportWidget(viewer, ask_overwrite=Asked(True))
    widget.folder.setText(source)
    _export(qtbot, widget)
    assert "input folder" in errors[-1]
    # A folder that cannot be written: a notification, not a traceback.
    blocker = tmp_path / "file"
    blocker.write_text("")
    widget.folder.setText(str(blocker / "sub"))
    _export(qtbot, widget)
    assert errors[-1].startswith("Export failed:") and "Not exported" in widget.status.text()


def test_every_format_goes_through_one_write_report_call(study, qtbot, tmp_path, monkeypatch):
    """One ``lesionview.report.write_report`` call with the study's volumes: the files are
    swapped in as one set (JSON/CSV included)."""
    viewer, live = study
    calls = []

    def write_report(result, out_dir, *, formats, overwrite, **volumes):
        calls.append((result, formats, overwrite, volumes))
        paths = {f: out_dir / f"{f}.out" for f in formats}
        for fmt, path in paths.items():
            path.write_text(fmt)
        return report.ReportResult(paths)

    monkeypatch.setattr(report, "write_report", write_report)
    (tmp_path / "measurements.csv").write_text("old")
    asked = Asked(True)
    widget = ExportWidget(viewer, ask_overwrite=asked)
    assert all(box.isEnabled() for box in widget.checks.values())
    widget.checks["sr"].setChecked(True)
    assert widget.checks["seg"].isChecked()  # the SR needs its SEG
    widget.checks["html"].setChecked(True)
    widget.folder.setText(str(tmp_path))
    _export(qtbot, widget)
    assert asked.asked == [["measurements.csv"]]
    (result, formats, overwrite, volumes), = calls
    assert result is live.result and formats == ["json", "csv", "html", "seg", "sr"] and overwrite
    assert volumes["lesions"].array.shape == volumes["image"].array.shape
    assert volumes["levels"] is not None and volumes["edema"] is not None and volumes["cord"] is not None
    assert [p.name for p in widget.last_paths] == ["json.out", "csv.out", "html.out", "seg.out", "sr.out"]


def test_a_failing_format_is_shown_and_the_others_are_written(study, qtbot, tmp_path, monkeypatch):
    """The SEG fails (as highdicom did on a series without AccessionNumber): JSON, CSV and HTML
    are still written, the SR is not (it needs the SEG), and the user is told which and why."""
    from gui_helpers import capture_notifications
    from qtpy.QtCore import Qt

    viewer, _ = study
    seen = capture_notifications(monkeypatch, ex)

    def no_seg(*args, **kwargs):
        raise AttributeError("'FileDataset' object has no attribute 'AccessionNumber'")

    monkeypatch.setattr("lesionview.report.dicom_seg.write_seg", no_seg)
    out = tmp_path / "out"
    widget = ExportWidget(viewer, ask_overwrite=Asked(False))
    viewer.window.add_dock_widget(widget, name="Export")
    for key in ("html", "seg", "sr"):
        widget.checks[key].setChecked(True)
    widget.folder.setText(str(out))
    qtbot.mouseClick(widget.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget._worker is None and widget.button.isEnabled(), timeout=TIMEOUT_MS)

    assert sorted(p.name for p in out.iterdir()) == ["measurements.csv", "measurements.json", "report.html"]
    assert [p.name for p in widget.last_paths] == ["measurements.json", "measurements.csv", "report.html"]
    StudyMeasurements.model_validate_json((out / "measurements.json").read_text())
    status = widget.status.text()
    assert "Not written" in status and "AccessionNumber" in status
    assert "seg (segmentation.dcm) not written" in status and "sr (measurements-sr.dcm) not written" in status
    (shown,) = seen["error"]
    assert shown.startswith("Export incomplete (3 of 5 formats written)") and "AccessionNumber" in shown
    assert "needs the SEG" in shown and not seen["info"]


def test_every_format_from_a_series_lacking_type_2_attributes(study, qtbot, tmp_path, monkeypatch):
    """No patch this time: the T1+C series really lacks AccessionNumber, StudyID, PatientSex...
    (as highdicom once choked on), opened like any series, and Export writes all six formats;
    the source files are not changed."""
    import hashlib
    import shutil

    import highdicom as hd
    import pydicom
    from gui_helpers import capture_notifications
    from npe2 import PluginManifest
    from qtpy.QtCore import Qt

    from lesionview.phantom import sample_path
    from napari_lesionview._study import find_layer, set_role

    viewer, live = study
    seen = capture_notifications(monkeypatch, ex)
    source = tmp_path / "t1c"
    shutil.copytree(sample_path("twin") / "dicom" / "05_SAG_T1_TSE_C", source)
    dropped = ("AccessionNumber", "StudyID", "PatientSex", "ReferringPhysicianName", "StudyTime",
               "PatientBirthDate", "Manufacturer")
    for f in sorted(source.iterdir()):
        ds = pydicom.dcmread(f)
        for keyword in dropped:
            if keyword in ds:
                delattr(ds, keyword)
        ds.save_as(f)

    def digests():
        return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in source.iterdir()}

    before = digests()
    old = find_layer(viewer, "t1c")
    plugin = PluginManifest.from_file(Path(ex.__file__).parents[1] / "napari.yaml").name
    (layer,) = viewer.open(source, plugin=plugin)
    set_role(viewer, layer, "t1c")
    viewer.layers.remove(old)
    qtbot.waitUntil(lambda: live.is_current, timeout=TIMEOUT_MS)

    out = tmp_path / "out"
    widget = ExportWidget(viewer, ask_overwrite=Asked(False))
    viewer.window.add_dock_widget(widget, name="Export")
    for box in widget.checks.values():
        box.setChecked(True)
    widget.folder.setText(str(out))
    qtbot.mouseClick(widget.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget._worker is None and widget.button.isEnabled(), timeout=4 * TIMEOUT_MS)

    assert not seen["error"], seen["error"]
    names = sorted(report.FILENAMES.values())
    assert sorted(p.name for p in out.iterdir()) == names
    assert sorted(p.name for p in widget.last_paths) == names and widget.status.text().startswith("Wrote")
    # Filled in empty from the copy (the sample series has StudyID "1" and PatientSex "F").
    for ds in (hd.seg.segread(out / "segmentation.dcm"), hd.sr.srread(out / "measurements-sr.dcm")):
        for keyword in ("AccessionNumber", "StudyID", "PatientSex"):
            assert keyword in ds and ds.get(keyword) in ("", None), keyword
    assert digests() == before
