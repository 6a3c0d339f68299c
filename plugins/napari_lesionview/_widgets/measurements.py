"""Measurements dock widget: a live table of every lesion and edema region, and the summary.

How it stays live without freezing the GUI
------------------------------------------
* Every Labels and Points layer's edit events (``data``, ``paint``, and undo/redo) start a 0 ms
  single-shot :class:`QTimer`: the events of one edit (a grow writes the layer and fires several)
  are coalesced into one measurement, without waiting. No quiet time is needed for the brush:
  napari (0.9) sends one ``paint`` event per stroke, when the mouse is released, not one per dab.
  Layers are watched whatever their role: roles live in ``metadata`` (no event), so the role is
  looked up when measuring, not when connecting.
* napari has no undo/redo event: its ``undo``/``redo`` only refresh the layer (``set_data``, which
  moving the slider fires too). An undo or redo is told from a re-slice by the newest item of each
  history queue, compared by identity: lengths repeat (grow, undo, grow, undo), items do not.
* When the timer fires, the layers are *snapshotted* on the GUI thread (label arrays copied, so
  painting during the computation cannot tear them) and :func:`lesionview.measure.measure` runs
  in a :func:`napari.qt.threading.thread_worker`.
* One computation runs at a time. An edit made meanwhile bumps a generation counter: the
  running result comes back stale and is dropped, and the newest snapshot is measured next.
* The cord centerline (~40 ms of each measurement) is kept by :class:`CenterlineCache` while the
  cord mask is unchanged, and given to ``measure(centerline=...)``: a lesion edit does not draw
  it again; any cord edit does.

What a laptop dock shows
------------------------
The key columns come first (region, vertebral levels, max diameter, axial long x short,
craniocaudal, volume) under two-line headers, so they fit ~440 px; "More columns" shows the others
(cord segments first), and every cell's tooltip lists the whole row, cord segments included.
Every level column names its kind: "Vertebral levels", and "Cord segments (est.)" when estimated
from them ("Cord segments" when read from a segment label image). The table always keeps room for
:data:`ROWS_SHOWN` rows; the summary sentence is never given less height than its wrapped text
needs (:class:`FittedLabel`), and "Copy summary" puts it on the clipboard.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
from napari.layers import Labels, Points
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lesionview.cord import Centerline, centerline_from_mask
from lesionview.errors import LesionviewError
from lesionview.geometry import Geometry
from lesionview.levels import LevelModel
from lesionview.levels.segments import segments_cell, segments_header, segments_sentence
from lesionview.measure import Edema, Lesion, StudyMeasurements, measure
from lesionview.measure.models import InputRecord
from lesionview.measure.summary import possibly_extensive
from lesionview.report.cells import length_cell, levels_cell, levels_sentence, plus_minus
from lesionview.volume import Volume

from .._space import lps_to_napari
from .._study import find_layer, study_from_layers, unproxied

#: Wait after an edit before measuring (ms). 0: measure as soon as the event loop is free, which
#: still coalesces the several events of one edit (they arrive in the same event-loop turn).
COALESCE_MS = 0

#: Column titles, the key ones first: what a report quotes (region, levels, size, volume).
COLUMNS = ("Region", "Vertebral levels", "Max ⌀ (mm)", "Axial long × short (mm)", "Craniocaudal (mm)",
           "Volume (mm³)", "Cord segments (est.)", "Vertebral level count", "IBSI ⌀ (mm)", "Cord occupancy",
           "Enhancement", "Assessment", "Rim / flame signs")
#: Column of the vertebral levels (its tooltip line is spelt out: :func:`row_tooltip`).
LEVELS_COLUMN = COLUMNS.index("Vertebral levels")
#: Column of the cord segments (its title loses "(est.)" when they come from a label image).
SEGMENTS_COLUMN = COLUMNS.index("Cord segments (est.)")
#: The first KEY_COLUMNS columns are always shown; the others with "More columns".
KEY_COLUMNS = 6
#: Header text: the titles on two lines, so the key columns fit a laptop's dock (~440 px).
HEADERS = ("Region", "Vert.\nlevels", "Max ⌀\n(mm)", "Axial long ×\nshort (mm)", "Cranio-\ncaudal (mm)",
           "Volume\n(mm³)", "Cord segments\n(est.)", "Vertebral\nlevel count", "IBSI ⌀\n(mm)", "Cord\noccupancy",
           "Enhance-\nment", "Assessment", "Rim / flame\nsigns")
HEADER_TIPS = ("Lesion or edema region (its label id)",
               ("Vertebral levels it spans; \"C5 (C6?)\": across slices 3 mm or more thick lying across "
                "the cord it is possibly reaching C6 within the craniocaudal uncertainty (the row's "
                "tooltip says so in full)"),
               "Calibrated maximum 3D diameter (see the README's Measurements)",
               ("Longest diameter perpendicular to the cord axis × the longest perpendicular to that in the "
                "same plane, ± the uncertainty from slice thickness"),
               ("Extent along the superior-inferior axis, ± one voxel along the cord when slices 3 mm or "
                "more thick lie across it"), "Volume",
               ("Spinal cord segments it spans (C1-C8, T1-T12, ...: the cord, named by its nerve roots, not the "
                "vertebrae); estimated from the vertebral levels with a published correspondence (\"C7 (C6?)\": "
                "possibly C6 with the segment boundaries moved by one SD), or read from a segment label image"),
               "Number of vertebral levels spanned",
               "IBSI maximum 3D diameter (mesh vertices)",
               "Largest fraction of the cord cross-section the lesion takes",
               "Mean lesion intensity / mean normal-cord intensity on T1+C",
               "Lesion: RECIST/RANO measurable when max ⌀ >= 10 mm; edema: longitudinally extensive or not",
               ("Rim and flame signs on T1+C: imaging features (Rykken et al. AJNR 2013;34:908), not a diagnosis; "
                "\"not judged\" when the lesion is too small for the resolution"))
#: Rows the table always has room for (issue 10: five at 1366 x 768).
ROWS_SHOWN = 5
#: Qt item role holding the raw value (number, None or bool) behind a formatted cell.
RAW = Qt.ItemDataRole.UserRole

_LIVE = weakref.WeakSet()


def widget_for(viewer) -> MeasurementsWidget | None:
    """The Measurements widget open on ``viewer`` (the Export widget reuses its result)."""
    return next((w for w in list(_LIVE) if w.viewer is viewer), None)


# ------------------------------------------------------------------------- reading the layers
@dataclass(frozen=True)
class Inputs:
    """What one measurement needs, copied off the layers so painting cannot change it mid-way."""

    lesions: Volume | None
    image: Volume | None = None
    edema: Volume | None = None
    cord: Volume | None = None
    levels: LevelModel | None = None
    records: tuple[InputRecord, ...] = ()
    notes: tuple[str, ...] = field(default=())


def snapshot(viewer) -> Inputs:
    """Read the role layers of ``viewer`` into an :class:`Inputs` (call on the GUI thread)."""
    if find_layer(viewer, "lesions") is None:
        return Inputs(None, notes=("No lesions layer yet: create it in the Study widget.",))
    notes: list[str] = []
    study = study_from_layers(viewer, notes=notes)
    return Inputs(study.lesions, image=study.image, edema=study.edema, cord=study.cord, levels=study.levels,
                  records=study.inputs, notes=tuple(notes))


def compute(inputs: Inputs, *, centerlines: CenterlineCache | None = None) -> StudyMeasurements:
    """Measure a snapshot: the one core call (runs in a worker thread). With ``centerlines``, the
    cord centerline comes from that cache (the same one ``measure`` would derive)."""
    centerline = None if centerlines is None else centerlines.get(inputs)
    return measure(inputs.lesions, image=inputs.image, edema=inputs.edema, cord=inputs.cord,
                   levels=inputs.levels, centerline=centerline, inputs=list(inputs.records))


class CenterlineCache:
    """The centerline of the last cord mask measured, kept while the cord stays the same.

    Most edits are to the lesions; drawing the centerline again from an unchanged cord costs ~40 ms
    of every refresh. The key is the cord's voxels themselves (the snapshot's private copy, compared
    with the next one: ~1 ms, no hash collisions) and the grid, so every cord change (a stroke, an
    undo, a new cord layer, a new role) draws it again. It is derived as ``measure`` derives it,
    with :func:`lesionview.cord.centerline_from_mask` on the lesion grid; whenever ``measure``
    would not use one (no cord, an empty cord, a cord off the grid, a cord that gives no
    centerline) it gives None and ``measure`` decides, and says why, itself.
    Not thread-safe: the widget runs one measurement at a time.
    """

    def __init__(self):
        self._key: tuple[np.ndarray, Geometry] | None = None
        self._centerline: Centerline | None = None

    def get(self, inputs: Inputs) -> Centerline | None:
        cord, grid = inputs.cord, inputs.lesions.geometry
        if cord is None or not cord.geometry.same_space(grid):
            return None
        if self._key is not None and self._key[1] == grid and np.array_equal(self._key[0], cord.array):
            return self._centerline
        mask = cord.array != 0
        try:
            centerline = centerline_from_mask(mask, grid) if mask.any() else None
        except LesionviewError:
            centerline = None  # measure() derives it again and reports the problem
        self._key, self._centerline = (cord.array, grid), centerline
        return centerline


# ------------------------------------------------------------------------- formatting
def _num(value, fmt: str = "{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def lesion_cells(les: Lesion) -> list[tuple[str, object]]:
    """(text, raw value) of each column for a lesion row."""
    axial = f"{les.axial_long_mm:.1f} × {les.axial_short_mm:.1f}{plus_minus(les.axial_uncertainty_mm)}"
    levels = les.levels
    return [
        (f"Lesion {les.id}", les.id),
        (levels_cell(les, unknown="—"), levels.label if levels else None),
        (_num(les.max_diameter_mm), les.max_diameter_mm),
        (axial, (les.axial_long_mm, les.axial_short_mm, les.axial_uncertainty_mm)),
        (length_cell(les), (les.craniocaudal_mm, les.craniocaudal_uncertainty_mm)),
        (_num(les.volume_mm3), les.volume_mm3),
        _segments(les),
        (_num(levels.count if levels else None, "{}"), levels.count if levels else None),
        (_num(les.max_diameter_ibsi_mm), les.max_diameter_ibsi_mm),
        (_num(les.cord_occupancy, "{:.0%}"), les.cord_occupancy),
        (_num(les.enhancement_ratio, "{:.2f}"), les.enhancement_ratio),
        ("measurable" if les.measurable else "not measurable (< 10 mm)", les.measurable),
        _signs(les),
    ]


def _signs(les: Lesion) -> tuple[str, object]:
    """(text, raw) of the signs cell: "rim present, flame not judged"; "—" without a T1+C image."""
    if les.signs is None:
        return "—", None
    words = [f.replace(" sign", "").replace("cannot be judged", "not judged") for f in les.signs.findings()]
    return ", ".join(words), (les.signs.rim_sign, les.signs.flame_sign)


def row_tooltip(region: Lesion | Edema, cells: list[tuple[str, object]]) -> str:
    """Every field of a row, one per line ("Volume (mm³): 162.0"); the levels spelt out when the
    cell abbreviates them ("C5, possibly reaching C6: its ends are uncertain by ±3.0 mm ...")."""
    lines = []
    for c, (text, _) in enumerate(cells):
        if c == LEVELS_COLUMN:
            text = levels_sentence(region, unknown=text)
        elif c == SEGMENTS_COLUMN:
            text = segments_sentence(region.cord_segments, unknown=text)
        if text:
            lines.append(f"{_title(c, region)}: {text}")
    return "\n".join(lines)


def _title(c: int, region: Lesion | Edema) -> str:
    span = region.cord_segments
    return "Cord segments" if c == SEGMENTS_COLUMN and span is not None and not span.estimated else COLUMNS[c]


def _segments(region: Lesion | Edema) -> tuple[str, object]:
    """(text, raw) of the cord segments cell: "C7 (C6?)" and the span's label."""
    span = region.cord_segments
    return segments_cell(span, unknown="—"), (span.label if span is not None else None)


def edema_cells(ed: Edema) -> list[tuple[str, object]]:
    """(text, raw value) of each column for an edema row (lesion-only columns left empty)."""
    levels = ed.levels
    if ed.longitudinally_extensive is None:
        verdict = "extent in levels unknown"
    else:
        verdict = "longitudinally extensive" if ed.longitudinally_extensive else "not longitudinally extensive"
        if possibly_extensive(ed):  # thick slices: it may reach 3 levels
            verdict = "possibly longitudinally extensive"
    blank = ("", None)
    return [
        (f"Edema {ed.id}", ed.id),
        (levels_cell(ed, unknown="—"), levels.label if levels else None),
        blank, blank,
        (length_cell(ed), (ed.craniocaudal_mm, ed.craniocaudal_uncertainty_mm)),
        (_num(ed.volume_mm3), ed.volume_mm3),
        _segments(ed),
        (_num(levels.count if levels else None, "{}"), levels.count if levels else None),
        blank, blank, blank,
        (verdict, ed.longitudinally_extensive),
        blank,
    ]


# ------------------------------------------------------------------------- the widget
class MeasurementsWidget(QWidget):
    """Live table of lesion and edema measurements with the summary sentence and warnings."""

    #: Emitted with each new (current) :class:`StudyMeasurements`.
    measured = Signal(object)

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = unproxied(napari_viewer)
        #: The last StudyMeasurements shown (None before the first one).
        self.result: StudyMeasurements | None = None
        self._edits = 0          # generation: bumped by every edit
        self._shown = -1         # generation of what the table shows
        self._notes: tuple[str, ...] = ()   # input problems to show beside the core's warnings
        self._last_error: str | None = None
        self._worker = None
        self._watched: dict = {}  # layer -> its undo/redo history as last seen (see _history)
        self._centerlines = CenterlineCache()

        self.summary = FittedLabel()
        self.summary.setObjectName("lesionview-measurements-summary")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #e8a33d;")
        self._warnings_area = CappedArea(self.warnings, lines=4)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("lesionview-measurements-table")
        for c, (text, tip) in enumerate(zip(HEADERS, HEADER_TIPS)):
            header = QTableWidgetItem(text)
            header.setToolTip(f"{COLUMNS[c]}: {tip}")
            self.table.setHorizontalHeaderItem(c, header)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellClicked.connect(lambda row, _col: self.go_to_row(row))
        self.table.currentCellChanged.connect(lambda row, *_: self.go_to_row(row))

        self.copy_button = QPushButton("Copy summary")
        self.copy_button.setObjectName("lesionview-measurements-copy")
        self.copy_button.setToolTip("Put the summary sentence on the clipboard, to paste into the report")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_summary)
        self.more_button = QPushButton("More columns")
        self.more_button.setObjectName("lesionview-measurements-more")
        self.more_button.setCheckable(True)
        self.more_button.setToolTip("Show " + ", ".join(COLUMNS[KEY_COLUMNS:]) + " too")
        self.more_button.toggled.connect(self.show_more_columns)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("lesionview-measurements-refresh")
        self.refresh_button.setToolTip("Measure again now (the table also refreshes by itself after each edit)")
        self.refresh_button.clicked.connect(self.schedule)

        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.more_button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self._warnings_area)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self.show_more_columns(False)
        self._set_warnings("")

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self.refresh)

        self.viewer.layers.events.inserted.connect(self._on_layers_changed)
        self.viewer.layers.events.removed.connect(self._on_layers_changed)
        self._watch_layers()
        _LIVE.add(self)
        self.schedule()

    # --------------------------------------------------------------- events -> coalesced refresh
    def _on_layers_changed(self, event=None) -> None:
        self._watch_layers()
        self.schedule()

    def _watch_layers(self) -> None:
        for layer in list(self.viewer.layers):
            if layer in self._watched or not isinstance(layer, (Labels, Points)):
                continue
            self._watched[layer] = _history(layer)
            layer.events.data.connect(self.schedule)
            if isinstance(layer, Points):  # a renamed landmark changes the levels
                layer.events.features.connect(self.schedule)
            if isinstance(layer, Labels):
                layer.events.paint.connect(self._on_paint)
                # napari's undo/redo only refresh the layer: compare the history to tell an
                # undo from a mere re-slice (set_data also fires when the slider moves).
                layer.events.set_data.connect(self._on_set_data)
        for layer in [lay for lay in self._watched if lay not in self.viewer.layers]:
            self._unwatch(layer)

    def _unwatch(self, layer) -> None:
        for name in ("data", "paint", "set_data", "features"):
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                for slot in (self.schedule, self._on_paint, self._on_set_data):
                    emitter.disconnect(slot)
        self._watched.pop(layer, None)

    def _on_paint(self, event) -> None:
        self._watched[event.source] = _history(event.source)
        self.schedule()

    def _on_set_data(self, event) -> None:
        layer = event.source
        seen = _history(layer)
        if not _same_history(seen, self._watched.get(layer)):
            self._watched[layer] = seen
            self.schedule()

    def schedule(self, event=None) -> None:
        """An edit happened: measure again once the events of this edit are in (:data:`COALESCE_MS`)."""
        try:
            self._edits += 1
            self._timer.start()
        except RuntimeError:  # the Qt side is gone (widget closed); nothing to refresh
            pass

    @property
    def is_current(self) -> bool:
        """True when :attr:`result` reflects the layers as they are now."""
        return (self.result is not None and self._worker is None and not self._timer.isActive()
                and self._shown == self._edits)


    # --------------------------------------------------------------- display
    def copy_summary(self) -> str:
        """Put the summary sentence (the one the reports carry) on the clipboard; returns it."""
        text = self.result.summary if self.result is not None else ""
        if text:
            QApplication.clipboard().setText(text)
            show_info("Summary copied to the clipboard.")
        return text

    def show_more_columns(self, on: bool) -> None:
        """Show every column (``on``) or the key ones only."""
        for c in range(KEY_COLUMNS, len(COLUMNS)):
            self.table.setColumnHidden(c, not on)
        if self.more_button.isChecked() != on:
            self.more_button.setChecked(on)

    def _set_warnings(self, text: str) -> None:
        self.warnings.setText(text)
        self.warnings.setVisible(bool(text))
        self._warnings_area.setVisible(bool(text))
        self._warnings_area.fit()

    def _fit_table(self) -> None:
        """Keep room for :data:`ROWS_SHOWN` whole rows, the header and a horizontal scroll bar."""
        table = self.table
        extent = table.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, table)
        need = (table.horizontalHeader().sizeHint().height() + ROWS_SHOWN * table.verticalHeader().defaultSectionSize()
                + 2 * table.frameWidth() + extent)
        if table.minimumHeight() != need:
            table.setMinimumHeight(need)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fit_table()

    def resizeEvent(self, event) -> None:
        # napari's style sheet (font, padding) arrives when the widget is docked: fit again.
        super().resizeEvent(event)
        self._fit_table()

    # --------------------------------------------------------------- measuring
    def refresh(self) -> None:
        """Snapshot the layers and measure them in a worker (one at a time)."""
        if self._worker is not None:
            return  # the running one is stale now; `_on_finished` measures the newest state
        try:
            inputs = snapshot(self.viewer)
        except Exception as exc:  # noqa: BLE001 (any bad layer: say so, keep the GUI alive)
            self._fail(exc)
            return
        if inputs.lesions is None:
            self._show_empty(inputs.notes)
            return
        generation = self._edits
        self._notes = inputs.notes
        self.status.setText("Measuring…")
        worker = create_worker(compute, inputs, centerlines=self._centerlines, _start_thread=False,
                               _ignore_errors=True)
        worker.returned.connect(lambda result: self._on_result(result, generation))
        worker.errored.connect(lambda exc: self._on_error(exc, generation))
        worker.finished.connect(self._on_finished)
        self._worker = worker
        worker.start()

    def _on_finished(self) -> None:
        if not _alive(self):
            return
        self._worker = None
        if self._shown != self._edits and not self._timer.isActive():
            self.refresh()

    def _on_result(self, result: StudyMeasurements, generation: int) -> None:
        if generation != self._edits or not _alive(self):
            return  # an edit came in while measuring: this result is already out of date
        self._shown = generation
        self._last_error = None
        self.show_result(result)

    def _on_error(self, exc: Exception, generation: int) -> None:
        if generation == self._edits and _alive(self):
            self._shown = generation
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, LesionviewError) else f"{type(exc).__name__}: {exc}"
        self.status.setText(f"Not measured: {message}")
        self.status.setStyleSheet("color: #e05d5d;")
        if message != self._last_error:  # once per problem, not once per paint stroke
            self._last_error = message
            show_error(f"Measurements: {message}")

    def _show_empty(self, notes) -> None:
        self.result = None
        self.table.setRowCount(0)
        self.summary.setText("")
        self._set_warnings("")
        self.copy_button.setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText(" ".join(notes))

    # --------------------------------------------------------------- result -> table
    def show_result(self, result: StudyMeasurements) -> None:
        """Put ``result`` in the summary, warnings and table."""
        self.result = result
        self.summary.setText(result.summary)
        lines = [*result.warnings, *self._notes]
        self._set_warnings("\n".join(f"⚠ {w}" for w in lines))
        self.copy_button.setEnabled(bool(result.summary))
        self.status.setStyleSheet("")
        self.status.setText(f"{len(result.lesions)} lesion(s), {len(result.edema)} edema region(s)")
        rows = [("lesion", les, lesion_cells(les)) for les in result.lesions]
        rows += [("edema", ed, edema_cells(ed)) for ed in result.edema]
        # "(est.)" only while the segments are estimated (not read from a label image).
        title = segments_header([region.cord_segments for _, region, _ in rows])
        self.table.horizontalHeaderItem(SEGMENTS_COLUMN).setText(
            HEADERS[SEGMENTS_COLUMN] if title.endswith("(est.)") else "Cord\nsegments")
        self.table.blockSignals(True)
        try:
            self.table.clearSelection()
            self.table.setRowCount(len(rows))
            for r, (kind, region, cells) in enumerate(rows):
                tip = row_tooltip(region, cells)
                for c, (text, raw) in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setToolTip(tip)  # every column, also those "More columns" hides
                    item.setData(RAW, raw)
                    if c == 0:
                        item.setData(RAW + 1, kind)
                    if c > 0:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(r, c, item)
        finally:
            self.table.blockSignals(False)
        self.measured.emit(result)

    # --------------------------------------------------------------- row -> viewer
    def go_to_row(self, row: int) -> None:
        """Centre the view on the lesion of table row ``row`` and select its label."""
        item = self.table.item(row, 0) if row >= 0 else None
        if item is None or self.result is None or item.data(RAW + 1) != "lesion":
            return
        ident = int(item.data(RAW))
        lesion = next((les for les in self.result.lesions if les.id == ident), None)
        if lesion is None:
            return
        world = lps_to_napari(lesion.centroid_lps_mm)
        dims = self.viewer.dims
        if dims.ndim >= 3:
            first = dims.ndim - 3  # lesionview layers are the last three world axes
            dims.set_point(list(range(first, dims.ndim)), tuple(world))
            camera = camera_of(self.viewer)
            centre = list(camera.center)
            # The slider snaps to a slice; the displayed axes take the exact centroid.
            shown = [float(world[d - first]) if d >= first else float(dims.point[d]) for d in dims.displayed]
            camera.center = tuple(centre[: len(centre) - len(shown)] + shown)
        layer = find_layer(self.viewer, "lesions")
        if layer is not None:
            layer.selected_label = ident
            self.viewer.layers.selection.active = layer


def _alive(widget: QWidget) -> bool:
    """False once Qt has deleted the widget (a worker may still report back after closing)."""
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True


def camera_of(viewer):
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9, ``viewer.camera`` before)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def _history(layer) -> tuple:
    """(newest undo item, newest redo item, their queue lengths) of a Labels layer.

    Lengths alone repeat (grow, undo, grow, undo: 0 then 1 redo item each time); the items do not:
    an edit appends a new item, an undo or redo moves one to the other queue as a new list. Holding
    them here keeps them alive, so an identity seen before cannot be reused by a newer item.
    Private napari attributes; if they ever go, undo simply stops triggering a refresh.
    """
    undo, redo = getattr(layer, "_undo_history", None) or (), getattr(layer, "_redo_history", None) or ()
    return (undo[-1] if undo else None, redo[-1] if redo else None, len(undo), len(redo))


def _same_history(a: tuple | None, b: tuple | None) -> bool:
    # Items by identity (== would compare the numpy arrays they hold), lengths by value.
    return a is not None and b is not None and a[0] is b[0] and a[1] is b[1] and a[2:] == b[2:]


class FittedLabel(QLabel):
    """A word-wrapped label never given less height than its text needs at its width.

    A layout sizes a wrapped QLabel from a height Qt guesses for some other width; in a narrow
    dock its last lines are then cut off. Asking for ``heightForWidth(width)`` as the minimum
    height whenever the width or the text changes keeps every line readable.
    """

    def __init__(self, text: str = ""):
        super().__init__(text)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def fit(self) -> None:
        need = max(self.heightForWidth(self.width()), 0) if self.text() else 0
        if need != self.minimumHeight():
            self.setMinimumHeight(need)


class CappedArea(QScrollArea):
    """A wrapped label shown whole up to ``lines`` lines, scrolled beyond: many warnings must not
    push the table (or the window) off a laptop screen."""

    def __init__(self, label: QLabel, *, lines: int):
        super().__init__()
        self._lines = lines
        self.setWidget(label)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def fit(self) -> None:
        label = self.widget()
        cap = self._lines * label.fontMetrics().lineSpacing() + 2 * label.margin() + 4
        need = max(label.heightForWidth(self.viewport().width()), 0) if label.text() else 0
        height = min(need, cap) + 2 * self.frameWidth()
        if self.height() != height or self.minimumHeight() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()
