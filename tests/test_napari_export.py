"""Export widget: JSON/CSV of the live result into a chosen folder, atomically, never overwriting
without asking. Real GUI: run under ``xvfb-run -a -s "-screen 0 1280x1024x24"``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gui_helpers import capture_notifications, control, press
from qtpy.QtCore import Qt
from test_napari_measurements import TIMEOUT_MS, VOLATILE, measure_layers, open_twin

from lesionview import report
from lesionview.measure import StudyMeasurements
from lesionview.report.build import deidentified
from napari_lesionview._widgets import export as ex
from napari_lesionview._widgets.export import FORMATS, UNAVAILABLE, ExportWidget
from napari_lesionview._widgets.guide import exported_to
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
    """Click Export on the docked widget (docking it first, as the user finds it)."""
    if widget.parent() is None:
        widget.viewer.window.add_dock_widget(widget, name="Export")
    press(qtbot, widget, "lesionview-export-write")
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
    assert exported_to(viewer) is None  # incomplete: the guide's Export step stays open


def test_every_format_from_a_series_lacking_type_2_attributes(study, qtbot, tmp_path, monkeypatch):
    """No patch this time: the T1+C series really lacks AccessionNumber, StudyID, PatientSex...
    (as highdicom once choked on), opened like any series, and Export writes all six formats;
    the source files are not changed."""
    import hashlib
    import shutil

    import highdicom as hd
    import pydicom
    from npe2 import PluginManifest

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


# ----------------------------------------------------------------------- by clicks, as a user does
class Dialogs:
    """Qt's folder chooser and overwrite question, patched: the chooser returns ``folder``, the
    question answers ``overwrite``; both record that they were shown."""

    def __init__(self, monkeypatch, folder: Path, overwrite: bool = False):
        from qtpy.QtWidgets import QMessageBox

        self.folder, self.overwrite = folder, overwrite
        self.chosen_from, self.asked = [], []

        def get_existing_directory(parent, caption="", start="", *args, **kwargs):
            self.chosen_from.append(start)
            return str(self.folder)

        def question(parent, title, text, *args, **kwargs):
            self.asked.append(text)
            return QMessageBox.StandardButton.Yes if self.overwrite else QMessageBox.StandardButton.No

        monkeypatch.setattr(ex.QFileDialog, "getExistingDirectory", staticmethod(get_existing_directory))
        monkeypatch.setattr(ex.QMessageBox, "question", staticmethod(question))


@pytest.fixture
def docked(viewer, qtbot, monkeypatch):
    """The twin study with the Export widget docked from the Plugins menu (its real dialogs) and
    the notifications it shows, by kind."""
    open_twin(viewer)
    seen = capture_notifications(monkeypatch, ex)
    _dock, widget = viewer.window.add_plugin_dock_widget("lesionview", "Export")
    qtbot.waitUntil(widget.isVisible, timeout=5_000)
    return viewer, widget, seen


def _wait_export(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: widget._worker is None and widget.button.isEnabled(), timeout=TIMEOUT_MS)


def test_clicks_choose_a_folder_and_write_the_ticked_formats_only(docked, qtbot, tmp_path, monkeypatch):
    viewer, widget, seen = docked
    out = tmp_path / "chosen"
    dialogs = Dialogs(monkeypatch, out)
    press(qtbot, widget, "lesionview-export-choose")
    assert dialogs.chosen_from == [""] and control(widget, "lesionview-export-folder").text() == str(out)
    csv = press(qtbot, widget, "lesionview-export-format-csv")      # ticked by default: untick it
    html = press(qtbot, widget, "lesionview-export-format-html")    # tick it
    assert not csv.isChecked() and html.isChecked() and widget.checks["json"].isChecked()
    assert exported_to(viewer) is None
    press(qtbot, widget, "lesionview-export-write")
    _wait_export(qtbot, widget)

    assert sorted(p.name for p in out.iterdir()) == ["measurements.json", "report.html"]  # no CSV
    assert "De-identified report" in (out / "report.html").read_text()
    assert not dialogs.asked  # nothing to replace, nothing asked
    assert not seen["error"] and not seen["warning"], seen
    assert str(out / "report.html") in seen["info"][-1]
    assert exported_to(viewer) == str(out)  # the guide's Export step is ticked

    # Choose again: the chooser opens at the folder shown; JSON unticked is not written again.
    press(qtbot, widget, "lesionview-export-choose")
    assert dialogs.chosen_from[-1] == str(out)
    json_box = press(qtbot, widget, "lesionview-export-format-json")
    assert not json_box.isChecked()
    dialogs.overwrite = True
    press(qtbot, widget, "lesionview-export-write")
    _wait_export(qtbot, widget)
    assert len(dialogs.asked) == 1 and "measurements.json" in dialogs.asked[0]
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]  # the old JSON is part of the set
    assert not seen["error"], seen["error"]


def test_the_identified_box_puts_the_identifiers_in(docked, qtbot, tmp_path, monkeypatch):
    """Off by default: input paths cut to file names and no patient identifiers; ticked: the
    full input paths in the JSON and "Identified report" in the HTML. The folder is typed."""
    _viewer, widget, seen = docked
    out = tmp_path / "typed"
    dialogs = Dialogs(monkeypatch, tmp_path / "never chosen", overwrite=True)
    field = control(widget, "lesionview-export-folder")
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(field, str(out))
    press(qtbot, widget, "lesionview-export-format-csv")
    press(qtbot, widget, "lesionview-export-format-html")
    box = control(widget, "lesionview-export-identified")
    assert not box.isChecked()

    def exported():
        press(qtbot, widget, "lesionview-export-write")
        _wait_export(qtbot, widget)
        paths = [i["path"] for i in json.loads((out / "measurements.json").read_text())["inputs"] if i["path"]]
        assert paths
        return paths, (out / "report.html").read_text()

    paths, html = exported()
    assert all(Path(p).name == p for p in paths) and "De-identified report" in html
    assert press(qtbot, widget, "lesionview-export-identified").isChecked()
    paths, html = exported()
    assert all(Path(p).is_absolute() for p in paths) and "Identified report" in html
    assert not press(qtbot, widget, "lesionview-export-identified").isChecked()
    paths, html = exported()
    assert all(Path(p).name == p for p in paths) and "De-identified report" in html
    assert not dialogs.chosen_from  # a typed folder: the chooser never opened
    assert not seen["error"], seen["error"]


def test_every_format_box_by_clicks(docked, qtbot, tmp_path, monkeypatch):
    """Each format box ticked and unticked by a click reaches ``write_report`` as asked (the
    writing itself is patched: the other tests write every format for real). Ticking SR ticks
    the SEG it references."""
    _viewer, widget, seen = docked
    calls = []

    def write_report(result, out_dir, *, formats, overwrite, deidentify, **volumes):
        calls.append((list(formats), deidentify))
        paths = {f: Path(out_dir) / f"{f}.out" for f in formats}
        for path in paths.values():
            path.write_text("x")
        return report.ReportResult(paths)

    monkeypatch.setattr(report, "write_report", write_report)
    widget.folder.setText(str(tmp_path))
    press(qtbot, widget, "lesionview-export-format-sr")
    assert widget.checks["sr"].isChecked() and widget.checks["seg"].isChecked()
    press(qtbot, widget, "lesionview-export-format-pdf")
    press(qtbot, widget, "lesionview-export-format-json")
    press(qtbot, widget, "lesionview-export-write")
    _wait_export(qtbot, widget)
    assert calls[-1] == (["csv", "pdf", "seg", "sr"], True)

    # Untick them all (one literal press each, for test_napari_controls.py), tick JSON again.
    press(qtbot, widget, "lesionview-export-format-seg")
    press(qtbot, widget, "lesionview-export-format-sr")
    press(qtbot, widget, "lesionview-export-format-pdf")
    press(qtbot, widget, "lesionview-export-format-csv")
    press(qtbot, widget, "lesionview-export-format-json")
    assert [key for key, box in widget.checks.items() if box.isChecked()] == ["json"]
    Dialogs(monkeypatch, tmp_path, overwrite=True)
    press(qtbot, widget, "lesionview-export-write")
    _wait_export(qtbot, widget)
    assert calls[-1] == (["json"], True)
    assert not seen["error"], seen["error"]

    press(qtbot, widget, "lesionview-export-format-json")  # nothing ticked: said, nothing written
    press(qtbot, widget, "lesionview-export-write")
    assert len(calls) == 2 and any("tick at least one format" in m for m in seen["warning"])


def test_the_panel_export_ticks_the_workflow_guide(viewer, qtbot, tmp_path, monkeypatch):
    """In the lesionview panel: the Export tab, then Choose and Export by clicks; the guide's
    Export step turns done, naming the folder."""
    viewer.open_sample("lesionview", "twin")
    seen = capture_notifications(monkeypatch, ex)
    _dock, panel = viewer.window.add_plugin_dock_widget("lesionview", "lesionview")
    qtbot.waitUntil(lambda: panel.measurements.is_current, timeout=TIMEOUT_MS)
    if panel.guide is None:
        pytest.skip("no workflow guide module")
    assert not panel.guide.step("export").done
    bar = panel.tabs.tabBar()
    export_tab = [panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("Export")
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(export_tab).center())
    assert panel.tabs.currentWidget().widget() is panel.export

    out = tmp_path / "study export"
    Dialogs(monkeypatch, out)
    press(qtbot, panel, "lesionview-export-choose")
    press(qtbot, panel, "lesionview-export-write")
    _wait_export(qtbot, panel.export)
    assert sorted(p.name for p in out.iterdir()) == ["measurements.csv", "measurements.json"]
    qtbot.waitUntil(lambda: panel.guide.step("export").done, timeout=5_000)
    assert out.name in panel.guide.step("export").detail
    assert not seen["error"], seen["error"]
