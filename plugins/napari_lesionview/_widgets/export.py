"""Export dock widget: the study's measurements to files, in a folder the user picks.

Every chosen format goes through one :func:`lesionview.report.write_report` call, so the files
are swapped in as one set; a format that fails is shown with why, and the others are still
written. The report files already in the folder are one old set, replaced whole (those not
written again are removed, so the folder never mixes two exports), and only after asking.
Nothing is written inside an input folder, and the writing runs in a worker with napari's
progress bar. Reports are de-identified unless "Identified" is ticked (as the CLI's
``--identified``). A complete export ticks the workflow guide's Export step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lesionview import report
from lesionview.errors import LesionviewError

from .._study import unproxied
from .guide import mark_exported
from .measurements import compute, snapshot, widget_for

UNAVAILABLE = "comes with the reports module"


@dataclass(frozen=True)
class Format:
    key: str
    label: str
    filename: str
    #: The core function named on the check box. All formats are written by one
    #: ``report.write_report`` call; JSON and CSV need only the result, the others the volumes too.
    writer: str = "write_report"

    def available(self) -> bool:
        return hasattr(report, self.writer)

    def path_in(self, folder: Path) -> Path:
        return folder / getattr(report, "FILENAMES", {}).get(self.key, self.filename)


FORMATS = (
    Format("json", "JSON (full typed result)", "measurements.json", "write_json"),
    Format("csv", "CSV (one row per lesion / edema)", "measurements.csv", "write_csv"),
    Format("html", "HTML report", "report.html"),
    Format("pdf", "PDF report", "report.pdf"),
    Format("seg", "DICOM SEG (needs the DICOM T1+C series)", "segmentation.dcm"),
    Format("sr", "DICOM SR TID 1500 (needs the DICOM T1+C series)", "measurements-sr.dcm"),
)
DEFAULT_ON = ("json", "csv")


def _choose_folder_dialog(parent, start: str) -> str | None:
    return QFileDialog.getExistingDirectory(parent, "Export measurements to folder", start) or None


def _ask_overwrite_dialog(parent, existing: list[Path]) -> bool:
    names = "\n".join(str(p) for p in existing)
    answer = QMessageBox.question(parent, "Overwrite files?",
                                  f"These report files of an earlier export are in the folder:\n{names}\n\n"
                                  "Replace them? Those not written again are removed, so that the folder "
                                  "holds the files of this export only.",
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def write_all(result, jobs: list[tuple[Format, Path]], inputs=None, *, deidentify: bool = True):
    """Measure (when no current result is given), then write every format in one
    :func:`lesionview.report.write_report` call; a generator, so a worker can report progress.
    Returns its :class:`~lesionview.report.ReportResult`."""
    if result is None:
        result = compute(inputs)
        yield "measured"
    volumes = {} if inputs is None else {"image": inputs.image, "lesions": inputs.lesions, "edema": inputs.edema,
                                         "cord": inputs.cord, "levels": inputs.levels}
    done = report.write_report(result, jobs[0][1].parent, formats=[fmt.key for fmt, _ in jobs],
                               overwrite=True,  # the user has already been asked about every report file there
                               deidentify=deidentify, **volumes)
    yield "reports"
    return done


class ExportWidget(QWidget):
    """Choose a folder and formats; write the current measurements there."""

    def __init__(self, napari_viewer, *, choose_folder: Callable[[], str | None] | None = None,
                 ask_overwrite: Callable[[list[Path]], bool] | None = None):
        super().__init__()
        self.viewer = unproxied(napari_viewer)
        # Injectable for tests (and scripts): default to real dialogs.
        self._choose_folder = choose_folder or (lambda: _choose_folder_dialog(self, self.folder.text()))
        self._ask_overwrite = ask_overwrite or (lambda existing: _ask_overwrite_dialog(self, existing))
        self._worker = None
        #: Paths written by the last export.
        self.last_paths: list[Path] = []

        self._folder: Path | None = None  # where the running export writes
        self.folder = QLineEdit()
        self.folder.setObjectName("lesionview-export-folder")
        self.folder.setPlaceholderText("folder to write into")
        browse = QPushButton("Choose…")
        browse.setObjectName("lesionview-export-choose")
        browse.setToolTip("Choose the folder to write into")
        browse.clicked.connect(self.choose_folder)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Export measurements to:"))
        layout.addLayout(row)
        self.checks: dict[str, QCheckBox] = {}
        for fmt in FORMATS:
            # Two lines: on one, the longest label asked 549 px of a laptop dock.
            box = QCheckBox(f"{fmt.label}\n{fmt.path_in(Path()).name}")
            available = fmt.available()
            box.setEnabled(available)
            box.setChecked(available and fmt.key in DEFAULT_ON)
            box.setToolTip(f"lesionview.report.{fmt.writer}" if available else UNAVAILABLE)
            box.setObjectName(f"lesionview-export-format-{fmt.key}")
            self.checks[fmt.key] = box
            # As wide as its label: the box and label take a click, the empty rest of a
            # full-width row would not (a click there did nothing).
            layout.addWidget(box, 0, Qt.AlignmentFlag.AlignLeft)
        # The SR references the segments of a SEG written beside it.
        self.checks["sr"].toggled.connect(lambda on: on and self.checks["seg"].setChecked(True))
        self.identified = QCheckBox("Identified (patient name, ID, birth date)")
        self.identified.setObjectName("lesionview-export-identified")
        self.identified.setToolTip("Off (the default): the reports are de-identified: no patient name, ID or "
                                   "birth date in the HTML, PDF, SEG and SR, input paths cut to file names")
        layout.addWidget(self.identified, 0, Qt.AlignmentFlag.AlignLeft)
        self.button = QPushButton("Export")
        self.button.setObjectName("lesionview-export-write")
        self.button.clicked.connect(self.export)
        layout.addWidget(self.button)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def choose_folder(self) -> str | None:
        folder = self._choose_folder()
        if folder:
            self.folder.setText(str(folder))
        return folder or None

    def export(self) -> None:
        """Write the chosen formats into the folder (asking before replacing anything)."""
        if self._worker is not None:
            show_warning("Export: already exporting; wait for it to finish.")
            return
        folder = self.folder.text().strip() or self.choose_folder()
        if not folder:
            return
        folder = Path(folder).expanduser()
        jobs = [(fmt, fmt.path_in(folder)) for fmt in FORMATS if self.checks[fmt.key].isChecked()]
        if not jobs:
            show_warning("Export: tick at least one format.")
            return
        problem = self._input_folder_problem(folder)
        if problem:
            show_error(f"Export: {problem}")
            return
        existing = list(report.report_files(folder).values())  # the old set: replaced whole
        if existing and not self._ask_overwrite(existing):
            self.status.setText("Not exported: the files exist and were kept.")
            show_info(f"Export cancelled: kept the existing {', '.join(p.name for p in existing)} in {folder}.")
            return
        measurements = widget_for(self.viewer)
        result = measurements.result if measurements is not None and measurements.is_current else None
        inputs = None
        reports = any(fmt.writer == "write_report" for fmt, _ in jobs)
        if result is None or reports:  # reports need the volumes; a stale table needs measuring
            try:
                inputs = snapshot(self.viewer)
            except Exception as exc:  # noqa: BLE001
                self._on_error(exc)
                return
            if inputs.lesions is None:
                show_error(f"Export: {inputs.notes[0]}")
                return
        self._start(result, inputs, jobs)

    def _start(self, result, inputs, jobs) -> None:
        steps = 1 + (result is None)
        worker = create_worker(write_all, result, jobs, inputs, deidentify=not self.identified.isChecked(),
                               _start_thread=False, _ignore_errors=True,
                               _progress={"total": steps, "desc": "Exporting measurements"})
        worker.returned.connect(self._on_done)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._folder = jobs[0][1].parent
        self.button.setEnabled(False)
        self.status.setText("Exporting…")
        worker.start()

    def _on_finished(self) -> None:
        self._worker = None
        self.button.setEnabled(True)

    def _on_done(self, done) -> None:
        self.last_paths = list(done.values())
        where = "\n".join(str(p) for p in self.last_paths)
        problems = "\n".join(done.problems())
        if done.complete:
            notes = f"\n{problems}" if problems else ""  # old files of the set not written again
            self.status.setText(f"Wrote:\n{where}{notes}")
            show_info(f"Exported measurements:\n{where}{notes}")
            mark_exported(self.viewer, self._folder)
            return
        wrote = f"Wrote:\n{where}\n" if where else "Nothing written.\n"
        self.status.setText(f"{wrote}Not written:\n{problems}")
        show_error(f"Export incomplete ({len(done)} of {len(done) + len(done.failed)} formats written):\n{problems}")

    def _on_error(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, LesionviewError) else f"{type(exc).__name__}: {exc}"
        self.status.setText(f"Not exported: {message}")
        show_error(f"Export failed: {message}")

    def _input_folder_problem(self, folder: Path) -> str | None:
        """Say so when ``folder`` is (inside) a folder an input layer was read from."""
        target = folder.resolve()
        for layer in self.viewer.layers:
            source = layer.metadata.get("source") if hasattr(layer, "metadata") else None
            if not source or not Path(source).is_dir():
                continue
            src = Path(source).resolve()
            if target == src or src in target.parents:
                return (f"{folder} is inside the input folder of layer {layer.name!r}; "
                        "choose another folder so the source series stays untouched.")
        return None
