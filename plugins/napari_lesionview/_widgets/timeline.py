"""Timeline dock widget: one patient's studies over time, aligned, with matched lesions and responses.

"Add study folder..." loads studies (:func:`lesionview.study.load_study`); "Compare" runs
:func:`lesionview.compare.compare` in a worker thread and puts the result back:

* **Layers, aligned in the baseline's frame.** Each study's T1+C image and lesion mask (and its
  edema mask when every study has one) are placed with the rigid map of the comparison carrying
  that study into the baseline's LPS frame: the map is composed with the volume's geometry
  (origin and direction), and the layer placed from that geometry as every lesionview layer is
  (:func:`napari_lesionview._layers.volume_to_layer_data`), so ``layer_geometry`` of an aligned
  layer is its geometry in the baseline frame. The few degrees of repositioning make the
  follow-up layers slightly oblique: napari's 3D view is exact, its 2D view shows them without
  their out-of-plane tilt (it warns "Non-orthogonal slicing").
* **Groups.** napari 0.9 has no layer groups: a study's layers are named with its label as a
  prefix ("t2: T1+C", "t2: lesions") and kept consecutive, studies in time order, at the bottom
  of the layer list (indices 0, 1, ...), so that napari's grid mode (``viewer.canvas.grid``) with
  a stride of one study's layer count shows one study per cell, the baseline top left. They
  carry no lesionview role: the single-study widgets (Segment, Measurements...) ignore them.
* **Side by side** is on after each comparison: every cell shares the one camera, so a click on
  a row centres every timepoint at once. Unticked, the studies overlay (hide all but one to read
  one).
* **Matched lesions share an id and a colour**: each lesion layer is relabelled so a patient
  lesion has the same value in every study (L1 -> 1, L2 -> 2, ...) and every lesion layer has
  the lesion colour cycle of :mod:`napari_lesionview._display`.
* **Table**: a row per patient lesion and a column per timepoint, saying what became of it in the
  interval ending there ("grown +8.6 mm", "new", "resolved"); the last row is each timepoint's
  RANO-BM response. Clicking a lesion row sets the dims point (the slice) and the camera centre
  to its position in the baseline frame: where it was first seen, carried there.

Each interval's rigid map is the comparison's own (``Alignment.matrix_lps``, later frame -> earlier
frame), composed down to the baseline: nothing is registered twice.

The timeline is a dock of its own, not a tab of the lesionview panel: the panel's tabs work on one
study (the layers with roles), while the timeline replaces what the viewer shows with several
studies, and its table needs the height the panel gives the Measurements table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from napari.layers import Layer
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lesionview.compare import Comparison, compare
from lesionview.compare.align import Rigid
from lesionview.compare.match import lesion_set
from lesionview.errors import LesionviewError
from lesionview.geometry import Geometry
from lesionview.study import Study, load_study
from lesionview.volume import Volume

from .. import _display
from .._layers import volume_to_layer_data
from .._space import lps_to_napari
from .._study import unproxied
from ._notify import reported
from .measurements import camera_of

#: Metadata key of the timeline's layers: the timepoint label.
TIMELINE_KEY = "lesionview_timeline"
_LESION = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class TimelineResult:
    """What "Compare" computed (in the worker): everything the widget shows."""

    studies: list[Study]                  # in the comparison's (study date) order
    comparison: Comparison
    to_baseline: list[Rigid | None]       # each study's LPS -> the baseline's LPS; None: not aligned
    lesion_labels: list[np.ndarray]       # each lesion mask relabelled with patient lesion numbers
    notes: list[str]


def run_comparison(studies: list[Study]) -> TimelineResult:
    """Compare ``studies`` and derive what the timeline shows (GUI-free; runs in a worker)."""
    order = list(range(len(studies)))
    if all(s.study_date for s in studies):       # as compare() orders them (stable), so indices agree
        order.sort(key=lambda i: studies[i].study_date)
    studies = [studies[i] for i in order]
    measured = [s.measure() for s in studies]
    comparison = compare(studies, measurements=measured)
    notes: list[str] = []
    to_baseline = baseline_maps(studies, comparison, notes)
    labels = [patient_labels(s, m, comparison, tp.label)
              for s, m, tp in zip(studies, measured, comparison.timepoints)]
    return TimelineResult(studies, comparison, to_baseline, labels, notes)


def baseline_maps(studies: list[Study], comparison: Comparison, notes: list[str]) -> list[Rigid | None]:
    """Each study's rigid map into the baseline frame: the intervals' ``matrix_lps`` composed.

    ``studies`` is not read (the comparison carries the maps); it stays for the existing callers.
    """
    maps: list[Rigid | None] = [Rigid(np.eye(3), np.zeros(3))]
    for al in comparison.alignments:
        prev, rigid = maps[-1], None
        if prev is not None and al.accepted and al.matrix_lps is not None:
            m = np.asarray(al.matrix_lps, float)
            rigid = Rigid(m[:3, :3], m[:3, 3])
        elif prev is not None and al.accepted and al.translation_mm is not None:
            # A comparison written before matrix_lps existed: the rotation axis is not known.
            notes.append(f"{al.later}: the comparison does not keep its rigid map; shown in its own frame")
        elif prev is not None:
            notes.append(f"{al.later}: not aligned to {al.earlier} ({al.reason or al.method}); shown in its own "
                         "frame")
        maps.append(None if rigid is None else Rigid(prev.rotation @ rigid.rotation,
                                                     prev.rotation @ rigid.translation + prev.translation))
    return maps


def patient_labels(study: Study, measured, comparison: Comparison, label: str) -> np.ndarray:
    """The study's lesion mask with each lesion's voxels set to its patient lesion number (L3 -> 3)."""
    found = lesion_set(study, measured).labels
    if found is None:
        return np.zeros(study.lesions.array.shape, np.uint16)
    lut = np.zeros(int(found.max()) + 1, np.uint16)
    for lesion in comparison.lesions:
        for obs in lesion.observations:
            if obs.timepoint == label:
                lut[obs.lesion_id] = int(lesion.id[1:])
    return lut[found]


def moved(volume: Volume, rigid: Rigid) -> Volume:
    """``volume`` with its geometry carried by ``rigid`` (voxels unchanged)."""
    g = volume.geometry
    rotation = rigid.rotation @ g.direction_matrix
    origin = rigid.apply(g.origin)[0]
    return replace(volume, geometry=Geometry(g.shape, g.spacing, tuple(origin), rotation))


def change_text(change) -> str:
    """A cell: the class, and the diameter change of a persistent lesion ("grown +8.6 mm")."""
    text = change.change.value
    if change.change.value in ("grown", "shrunk", "stable") and change.diameter_change_mm is not None:
        text += f" {change.diameter_change_mm:+.1f} mm"
    elif change.related:
        text += (" into " if change.change.value == "merged" else " from ") + ", ".join(change.related)
    return text


class TimelineWidget(QWidget):
    """Studies of one patient over time: aligned layers, matched lesions, changes and responses."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = unproxied(napari_viewer)
        self.studies: list[Study] = []
        #: The last comparison shown (None before the first).
        self.result: TimelineResult | None = None
        self._worker = None
        self._stride = 1          # layers per study: one grid cell each
        self._generation = 0      # bumped by Clear: a comparison still running is then out of date

        self.add_button = QPushButton("Add study folder…")
        self.add_button.setObjectName("lesionview-timeline-add")
        self.add_button.setToolTip("A study's folder: DICOM series and masks (lesion.nii.gz...), a BIDS session, "
                                   "or a study JSON")
        self.add_button.clicked.connect(self.choose_study)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("lesionview-timeline-clear")
        self.clear_button.setToolTip("Forget the studies and remove the timeline's layers")
        self.clear_button.clicked.connect(self.clear)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setObjectName("lesionview-timeline-compare")
        self.compare_button.setToolTip("Align the studies, match their lesions and give each timepoint's response")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self.run)
        self.grid_button = QPushButton("Side by side")
        self.grid_button.setObjectName("lesionview-timeline-grid")
        self.grid_button.setCheckable(True)
        self.grid_button.setChecked(True)
        self.grid_button.setToolTip("One timepoint per view (napari's grid, one camera); unticked: overlaid")
        self.grid_button.toggled.connect(self.show_side_by_side)
        self.list = QListWidget()
        self.list.setObjectName("lesionview-timeline-studies")
        self.list.setMaximumHeight(90)
        self.status = QLabel("Add two or more studies of one patient.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("lesionview-timeline-table")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.cellClicked.connect(lambda row, _col: self.go_to_row(row))

        buttons = QHBoxLayout()
        for b in (self.add_button, self.clear_button, self.compare_button, self.grid_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.list)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

    # ----------------------------------------------------------------- studies
    @reported("Add study")
    def choose_study(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Study folder", "")
        if folder:
            self.add_study(folder)

    def add_study(self, path) -> Study:
        """Load the study at ``path`` (folder, BIDS session or study JSON) and list it."""
        study = load_study(Path(path))
        self.studies.append(study)
        date = study.study_date
        self.list.addItem(f"{study.label}  {date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 else study.label)
        self.compare_button.setEnabled(len(self.studies) >= 2)
        return study

    def clear(self) -> None:
        """Forget the studies and the comparison; remove the timeline's layers."""
        self._generation += 1
        self.studies.clear()
        self.list.clear()
        self.result = None
        self.table.setRowCount(0)
        self._remove_layers()
        self.compare_button.setEnabled(False)
        self.status.setText("Add two or more studies of one patient.")

    # ----------------------------------------------------------------- compare (worker)
    def run(self) -> None:
        """Compare the studies in a worker thread; the result is shown when it returns."""
        if self._worker is not None or len(self.studies) < 2:
            return
        self.status.setText(f"Comparing {len(self.studies)} studies…")
        self.compare_button.setEnabled(False)
        worker = create_worker(run_comparison, list(self.studies), _start_thread=False, _ignore_errors=True)
        generation = self._generation
        worker.returned.connect(lambda result: self._on_result(result, generation))
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()

    def _on_result(self, result: TimelineResult, generation: int) -> None:
        if generation == self._generation and _alive(self):
            self.show_result(result)

    def _on_finished(self) -> None:
        if not _alive(self):
            return
        self._worker = None
        self.compare_button.setEnabled(len(self.studies) >= 2)

    def _on_error(self, exc: Exception) -> None:
        if not _alive(self):
            return
        message = exc.message if isinstance(exc, LesionviewError) else f"{type(exc).__name__}: {exc}"
        self.status.setText(f"Not compared: {message}")
        show_error(f"Timeline: {message}")

    # ----------------------------------------------------------------- result -> layers and table
    def show_result(self, result: TimelineResult) -> None:
        """Put ``result`` in the viewer (aligned layers) and the table."""
        self.result = result
        self._remove_layers()
        images = [s.image if s.image is not None else s.reference_image for s in result.studies]
        # The same parts for every study, so that each grid cell holds one study (see the docstring).
        with_image = all(v is not None for v in images)
        with_edema = all(s.edema is not None for s in result.studies)
        index = 0
        for t, (study, tp) in enumerate(zip(result.studies, result.comparison.timepoints)):
            rigid = result.to_baseline[t]
            suffix = "" if rigid is not None else " (not aligned)"
            parts = [(images[t], "T1+C" if study.image is not None else "image", None)] if with_image else []
            parts.append((study.lesions.like(result.lesion_labels[t]), "lesions", "lesions"))
            if with_edema:
                parts.append((study.edema, "edema", "edema"))
            for volume, what, mask in parts:
                placed = moved(volume, rigid) if rigid is not None else volume
                data, kwargs, kind = volume_to_layer_data(placed, as_labels=mask is not None)
                kwargs["name"] = f"{tp.label}: {what}{suffix}"
                kwargs["metadata"][TIMELINE_KEY] = tp.label
                if mask:
                    kwargs["colormap"] = _display.label_colormap(mask)
                self.viewer.layers.insert(index, Layer.create(data, kwargs, kind))
                index += 1
        self._stride = len(parts)
        self.show_side_by_side(self.grid_button.isChecked())
        self._fill_table(result.comparison)
        c = result.comparison
        self.status.setText(f"{len(c.timepoints)} timepoints, {len(c.lesions)} patient lesion(s). "
                            + " ".join(c.warnings + result.notes))
        for note in result.notes:
            show_warning(f"Timeline: {note}")

    def _remove_layers(self) -> None:
        for layer in [layer for layer in self.viewer.layers if TIMELINE_KEY in layer.metadata]:
            self.viewer.layers.remove(layer)

    def show_side_by_side(self, on: bool) -> None:
        """One timepoint per grid cell (``on``), or all overlaid."""
        grid = self.viewer.canvas.grid
        if on and self.result is not None:
            grid.stride = self._stride
        grid.enabled = bool(on and self.result is not None)

    def _fill_table(self, c: Comparison) -> None:
        labels = [tp.label for tp in c.timepoints]
        cells = {(ch.lesion, iv.later): ch for iv in c.intervals for ch in iv.changes}
        self.table.clear()
        self.table.setColumnCount(1 + len(labels))
        self.table.setHorizontalHeaderLabels(["Lesion", *labels])
        self.table.setRowCount(len(c.lesions) + 1)
        for r, lesion in enumerate(c.lesions):
            seen = {o.timepoint: o for o in lesion.observations}
            first = QTableWidgetItem(lesion.id + (" (target)" if lesion.target else ""))
            first.setData(_LESION, lesion.id)
            first.setForeground(_colour(int(lesion.id[1:])))
            self.table.setItem(r, 0, first)
            for k, label in enumerate(labels, start=1):
                change = cells.get((lesion.id, label))
                text = change_text(change) if change is not None else ("baseline" if k == 1 and label in seen else "")
                item = QTableWidgetItem(text)
                if label in seen:
                    o = seen[label]
                    item.setToolTip(f"{lesion.id} at {label}: {o.max_diameter_mm:.1f} mm (3D), "
                                    f"LD {o.axial_long_mm:.1f} mm, {o.volume_mm3:.0f} mm³, {o.levels or 'level ?'}")
                self.table.setItem(r, k, item)
        last = len(c.lesions)
        self.table.setItem(last, 0, QTableWidgetItem("Response"))
        for k, resp in enumerate(c.responses, start=1):
            item = QTableWidgetItem(resp.response.value)
            item.setToolTip(resp.reason)
            self.table.setItem(last, k, item)
        self.table.resizeColumnsToContents()

    # ----------------------------------------------------------------- row -> every timepoint
    def lesion_position(self, lesion_id: str) -> np.ndarray:
        """LPS position (baseline frame) of a patient lesion: its centroid where first seen, carried over."""
        c = self.result.comparison
        lesion = next(les for les in c.lesions if les.id == lesion_id)
        labels = [tp.label for tp in c.timepoints]
        for obs in lesion.observations:
            rigid = self.result.to_baseline[labels.index(obs.timepoint)]
            if rigid is not None:
                return rigid.apply(obs.centroid_lps_mm)[0]
        raise LookupError(f"{lesion_id} is seen only in studies not aligned to the baseline")

    def go_to_row(self, row: int) -> None:
        """Centre every timepoint on the lesion of table row ``row`` (the slice and the camera)."""
        item = self.table.item(row, 0) if row >= 0 else None
        lesion_id = item.data(_LESION) if item is not None else None
        if lesion_id is None or self.result is None:
            return
        try:
            world = lps_to_napari(self.lesion_position(lesion_id))
        except LookupError as exc:
            show_warning(f"Timeline: {exc}")
            return
        dims = self.viewer.dims
        first = dims.ndim - 3     # lesionview layers are the last three world axes
        dims.set_point(list(range(first, dims.ndim)), tuple(world))
        camera = camera_of(self.viewer)
        centre = list(camera.center)
        shown = [float(world[d - first]) if d >= first else float(dims.point[d]) for d in dims.displayed]
        camera.center = tuple(centre[: len(centre) - len(shown)] + shown)
        for layer in self.viewer.layers:
            if TIMELINE_KEY in layer.metadata and hasattr(layer, "selected_label"):
                layer.selected_label = int(lesion_id[1:])


def _alive(widget: QWidget) -> bool:
    """False once Qt has deleted the widget (the worker may report back after it was closed)."""
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True


def _colour(value: int):
    """The colour lesion ``value`` is drawn with, for its row's id (the table reads as a legend)."""
    from qtpy.QtGui import QBrush, QColor

    r, g, b = (round(255 * float(v)) for v in np.asarray(_display.label_colormap("lesions").map(value)).ravel()[:3])
    return QBrush(QColor(r, g, b))
