"""Segment dock widget: lesions from a click, automatic proposals, edema, cord, editing helpers.

Every action reads the layers by role (:mod:`napari_lesionview._study`), calls one core
function of :mod:`lesionview.segment` on the displayed arrays with the displayed layer's
geometry (the core works in any storage orientation), and writes the answer back.

Undo
----
Every change to the ``lesions``, ``edema`` and ``cord`` Labels layers goes through
``Labels.data_setitem`` with only the voxels that change (:func:`write_labels`), which napari
records as one step of the layer's own history: Ctrl+Z on the layer (or ``layer.undo()``)
restores the previous labels, Ctrl+Shift+Z redoes. While "Grow lesion" is on, the lesions
layer is the active layer, so Ctrl+Z undoes the last grown lesion.

Not undoable (napari has no viewer-level history): creating or removing the temporary
"lesion proposals" Labels layer and "cord clicks" Points layer, accepting/rejecting in the
proposals list (the *accepted* lesion written into the lesions layer is undoable), and creating
a missing lesions/edema/cord layer.

Guards
------
The tools refuse, saying what to do, rather than produce a plausible-looking wrong mask: a
grown region that cannot be an intramedullary lesion (mostly outside the cord, or too large for
any cord: :func:`lesionview.segment.lesion.check_lesion`) is not written, and edema is grown
only inside a segmented cord (T2-bright CSF beside the cord looks like edema).

Keyboard shortcuts
------------------
:data:`SHORTCUTS` are bound on the viewer to keys napari leaves free, so they work whichever
layer is active; they act on the newest Segment widget of the viewer (see ``_shortcuts``).
"""

from __future__ import annotations

import functools

import numpy as np
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from .. import _display
from .._layers import layer_geometry
from .._space import napari_to_lps
from .._study import ROLE_KEY, find_layer, transform_kwargs, unproxied
from . import _shortcuts
from ._notify import UserFacingError, reported
from .levels import SHORTCUTS as LEVEL_SHORTCUTS

#: Mouse travel (canvas pixels) below which a press-release is a click, not a pan (as napari's).
CLICK_PIXELS = 5
PROPOSALS_NAME = "lesion proposals"
CLICKS_NAME = "cord clicks"
_ROLE_WORDS = {"t1c": "T1 post-contrast", "t2": "T2", "lesions": "lesions", "edema": "edema",
               "cord": "cord"}
#: What the user does to get a cord mask (the buttons' words).
SEGMENT_CORD_FIRST = "segment the cord first: 'Cord: click centerline', then 'Segment cord from clicks'"
#: (key, what it does, SegmentWidget method). Keys napari binds to nothing by default, so no
#: napari shortcut is shadowed (tests/test_napari_segment.py checks this against napari's own).
SHORTCUTS = (
    ("G", "grow a lesion at the mouse pointer (T1c)", "grow_at_cursor"),
    ("K", "keep (accept) the selected proposal", "accept_proposal"),
    ("J", "reject the selected proposal", "reject_proposal"),
    ("Shift+O", "masks as outlines / filled", "toggle_outlines"),
)


def write_labels(layer, new: np.ndarray) -> int:
    """Write ``new`` into a Labels layer as ONE undoable step; returns the number of voxels changed.

    Only changed voxels are recorded (``Labels.data_setitem``), so the history stays small.
    """
    old = np.asarray(layer.data)
    if new.shape != old.shape:
        raise UserFacingError(f"result shape {new.shape} does not match layer {layer.name!r} {old.shape}")
    changed = np.nonzero(new != old)
    if changed[0].size == 0:
        return 0
    values = new[changed]
    if values.size and values.max() > np.iinfo(old.dtype).max:
        raise UserFacingError(f"label {int(values.max())} does not fit layer {layer.name!r} ({old.dtype})")
    layer.data_setitem(changed, values.astype(old.dtype, copy=False))
    return int(changed[0].size)


class SegmentWidget(QWidget):
    """Grow lesions from clicks, accept automatic proposals, grow edema and cord, edit lesions."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = unproxied(napari_viewer)
        self._worker = None
        self._press = None
        self.sensitivity = QSlider(Qt.Orientation.Horizontal)
        self.sensitivity.setObjectName("lesionview-segment-sensitivity")
        self.sensitivity.setRange(0, 100)
        self.sensitivity.setValue(50)
        self.sensitivity.setToolTip("Higher: the lesion grows into fainter enhancement (larger).")
        self._sens_label = QLabel("0.50")
        self.sensitivity.valueChanged.connect(lambda v: self._sens_label.setText(f"{v / 100:.2f}"))
        self.backend = self._backends()
        self.grow_button = self._button("Grow lesion (click on T1c)", self._toggle_grow, "grow", checkable=True,
                                        tip="While on, a click on the T1c grows a lesion there (key G: at the pointer)")
        self.propose_button = self._button("Propose lesions", self.propose_lesions, "propose",
                                           tip="Find enhancing candidates inside the segmented cord")
        self.proposals = QListWidget()
        self.proposals.setObjectName("lesionview-segment-proposals")
        self.proposals.setMaximumHeight(110)
        self.proposals.currentItemChanged.connect(self._highlight_proposal)
        self.accept_button = self._button("Accept (K)", self.accept_proposal, "accept",
                                          tip="The selected candidate becomes a lesion (key K)")
        self.reject_button = self._button("Reject (J)", self.reject_proposal, "reject",
                                          tip="Drop the selected candidate (key J)")
        self.edema_button = self._button("Edema from lesions", self.edema_from_lesions, "edema",
                                         tip="T2-bright cord around the lesions (needs the cord)")
        self.cord_clicks_button = self._button("Cord: click centerline", self._toggle_cord_clicks, "cord-clicks",
                                               checkable=True, tip="While on, clicks on the T2 add centerline points")
        self.cord_button = self._button("Segment cord from clicks", self.cord_from_clicks, "cord",
                                        tip="The cord on T2 around the 3-10 clicked points")
        self.min_island = self._spin(5.0, 0.0, 10000.0, " mm³", "min-island")
        self.sigma = self._spin(0.5, 0.1, 5.0, " mm", "sigma")
        self.merge_ids = QLineEdit()
        self.merge_ids.setObjectName("lesionview-segment-merge-ids")
        self.merge_ids.setPlaceholderText("ids, e.g. 1, 2")
        self.status = QLabel("")
        self.status.setObjectName("lesionview-segment-status")
        self.status.setWordWrap(True)
        # The help lists the Levels widget's key too: the panel has both.
        self.shortcuts = QLabel(_shortcuts.help_text(SHORTCUTS + LEVEL_SHORTCUTS))
        self.shortcuts.setObjectName("lesionview-segment-shortcuts")
        self.shortcuts.setWordWrap(True)
        self._layout()
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        _shortcuts.register(self, SHORTCUTS)

    # ------------------------------------------------------------------ layout
    @staticmethod
    def _button(text, slot, name, *, checkable=False, tip="") -> QPushButton:
        """A button named ``lesionview-segment-<name>``: a checkable one passes its state to
        ``slot``, a plain one calls ``slot()`` (Qt's ``clicked(bool)`` argument is not passed on)."""
        button = QPushButton(text)
        button.setObjectName(f"lesionview-segment-{name}")
        button.setCheckable(checkable)
        button.setToolTip(tip)
        if checkable:
            button.toggled.connect(slot)
        else:
            button.clicked.connect(lambda *_: slot())
        return button

    @staticmethod
    def _spin(value, low, high, suffix, name) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setObjectName(f"lesionview-segment-{name}")
        spin.setRange(low, high)
        spin.setDecimals(1)
        spin.setValue(value)
        spin.setSuffix(suffix)
        return spin

    @staticmethod
    def _backends() -> QComboBox:
        """The installed segmentation back ends ("classical" first); those that cannot grow a
        lesion here are greyed out, the reason in their tooltip."""
        from lesionview.segment import available_backends

        combo = QComboBox()
        combo.setObjectName("lesionview-segment-backend")
        combo.setToolTip("Who draws a lesion from a click: lesionview's region growing (classical) "
                         "or an installed model")
        for name, info in available_backends().items():
            usable = info.available and "lesion" in info.targets
            combo.addItem(name if usable else f"{name} (unavailable)", name)
            why = info.reason or "it does not segment lesions"
            combo.setItemData(combo.count() - 1, info.description if usable else why,
                              Qt.ItemDataRole.ToolTipRole)
            combo.model().item(combo.count() - 1).setEnabled(usable)
        return combo

    @staticmethod
    def _row(*widgets) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in widgets:
            layout.addWidget(w)
        return row

    def _layout(self) -> None:
        lesions = QGroupBox("Enhancing lesions (T1c)")
        form = QFormLayout(lesions)
        form.addRow("Sensitivity", self._row(self.sensitivity, self._sens_label))
        form.addRow("Back end", self.backend)
        form.addRow(self.grow_button)
        form.addRow(self.propose_button)
        form.addRow(self.proposals)
        form.addRow(self._row(self.accept_button, self.reject_button))
        other = QGroupBox("Edema and cord (T2)")
        box = QVBoxLayout(other)
        for w in (self.edema_button, self.cord_clicks_button, self.cord_button):
            box.addWidget(w)
        edit = QGroupBox("Edit lesions")
        form2 = QFormLayout(edit)
        form2.addRow(self._button("Fill holes", self.fill_holes, "fill-holes",
                                  tip="Fill holes enclosed in each lesion"))
        form2.addRow(self._row(self._button("Remove islands <", self.remove_islands, "remove-islands",
                                            tip="Remove pieces of a lesion smaller than this volume"),
                               self.min_island))
        form2.addRow(self._button("Split selected label", self.split_selected, "split",
                                  tip="Give each separate piece of the selected lesion its own id"))
        form2.addRow(self._row(self._button("Merge labels", self.merge, "merge",
                                            tip="Make the listed lesion ids one lesion"), self.merge_ids))
        form2.addRow(self._row(self._button("Smooth", self.smooth, "smooth",
                                            tip="Smooth each lesion's outline (Gaussian of this width)"),
                               self.sigma))
        layout = QVBoxLayout(self)
        for w in (lesions, other, edit, self.status, self.shortcuts):
            layout.addWidget(w)
        layout.addStretch(1)

    # ------------------------------------------------------------------ layers
    def _image(self, role: str):
        layer = find_layer(self.viewer, role)
        if layer is None:
            raise UserFacingError(f"no {_ROLE_WORDS[role]} image layer is chosen; "
                                  "choose it in the Study widget")
        if np.ndim(layer.data) != 3:
            raise UserFacingError(f"the {_ROLE_WORDS[role]} layer {layer.name!r} is not a 3D volume")
        return layer

    def _labels(self, role: str, image, *, create: bool = True):
        """The Labels layer of ``role`` on ``image``'s grid (created empty if missing)."""
        layer = find_layer(self.viewer, role)
        if layer is None:
            if not create:
                return None
            layer = self.viewer.add_labels(np.zeros(np.shape(image.data), np.uint16), name=role,
                                           metadata={ROLE_KEY: role}, **transform_kwargs(image))
        self._check_same_grid(layer, image)
        return layer

    @staticmethod
    def _check_same_grid(layer, image) -> None:
        if np.shape(layer.data) != np.shape(image.data) or not layer_geometry(layer).same_space(
                layer_geometry(image)):
            raise UserFacingError(
                f"layer {layer.name!r} {np.shape(layer.data)} is not on the grid of image "
                f"{image.name!r} {np.shape(image.data)}; create the annotation layers on that "
                "image (Study widget) or resample them")

    def _cord_mask(self, image):
        """The cord mask on ``image``'s grid when a non-empty cord layer is there, else None."""
        cord = find_layer(self.viewer, "cord")
        if cord is None or not np.any(cord.data):
            return None
        self._check_same_grid(cord, image)
        return np.asarray(cord.data) != 0

    def _on_layer_removed(self, event) -> None:
        if event.value.name == CLICKS_NAME and self.cord_clicks_button.isChecked():
            self.cord_clicks_button.setChecked(False)
        if event.value.name == PROPOSALS_NAME:
            self.proposals.clear()

    def _tell(self, text: str, warning: str = "") -> None:
        """Say what an action did: in the widget's status line, and as a napari notification only
        when there is something to warn about. (A notification's fade-in repaints the whole
        window: under software OpenGL that doubled the time from a click to the table's row.)"""
        self.status.setText(f"{text}. {warning}" if warning else text)
        if warning:
            show_warning(f"{text}. {warning}")

    @property
    def sensitivity_value(self) -> float:
        return self.sensitivity.value() / 100.0

    # ------------------------------------------------------------------ grow lesion
    def _toggle_grow(self, on: bool) -> None:
        callbacks = self.viewer.mouse_drag_callbacks
        if on:
            if self.cord_clicks_button.isChecked():
                self.cord_clicks_button.setChecked(False)
            if not self._activate_lesions():
                self.grow_button.setChecked(False)  # the error says what is missing
                return
            if self.on_click not in callbacks:
                callbacks.append(self.on_click)
        elif self.on_click in callbacks:
            callbacks.remove(self.on_click)

    @reported("Grow lesion")
    def _activate_lesions(self) -> bool:
        # The lesions layer active in pan/zoom: a click paints nothing, and Ctrl+Z undoes a grow.
        lesions = self._labels("lesions", self._image("t1c"))
        self.viewer.layers.selection.active = lesions
        lesions.mode = "pan_zoom"
        return True

    def on_click(self, viewer, event):
        """Viewer mouse-drag callback while "Grow lesion" is on: a click (not a drag) grows."""
        if event.type != "mouse_press" or getattr(event, "button", 1) != 1:
            return
        start = np.asarray(event.pos, dtype=float)
        yield
        while event.type == "mouse_move":
            yield
        if np.linalg.norm(np.asarray(event.pos, dtype=float) - start) < CLICK_PIXELS:
            self.grow_at(event.position)

    @reported("Grow lesion")
    def grow_at(self, world_position) -> int | None:
        """Grow a lesion from the napari world position; write it as a new id. Returns the id."""
        from lesionview.segment.backends import CLASSICAL, Point, segment_with

        if self.viewer.dims.ndisplay != 2:
            raise UserFacingError("switch to the 2D view to click a seed")
        t1c = self._image("t1c")
        lesions = self._labels("lesions", t1c)
        seed = napari_to_lps(np.asarray(world_position, dtype=float)[-3:])
        cord = self._cord_mask(t1c)
        # The chosen back end draws it (classical: grow_lesion, the click as a positive point); a
        # region that cannot be an intramedullary lesion is refused whichever drew it (check_lesion).
        backend = self.backend.currentData() or CLASSICAL
        seg = segment_with(backend, {"t1c": np.asarray(t1c.data)}, layer_geometry(t1c), Point(seed), "lesion",
                           masks={"cord": cord}, sensitivity=self.sensitivity_value)
        if not np.any(seg.mask):
            # The core says "segment the cord first"; here is how, in the widget's words.
            hint = " ('Cord: click centerline', then 'Segment cord from clicks')" if (
                cord is None and seg.details.get("refused")) else ""
            raise UserFacingError((seg.reason or "nothing grew from this point") + hint)
        new_id = self._add_lesion(lesions, seg.mask)
        text = f"lesion {new_id}: {seg.volume_mm3:.1f} mm³" + ("" if backend == CLASSICAL else f" ({backend})")
        if cord is None:
            text += " (no cord yet: whether it lies inside the cord is not checked)"
        self._tell(text, seg.reason)
        return new_id

    def grow_at_cursor(self) -> int | None:
        """Grow a lesion where the mouse pointer is (the G key)."""
        return self.grow_at(self.viewer.cursor.position)

    @staticmethod
    def _add_lesion(lesions, mask: np.ndarray) -> int:
        """Write ``mask`` into background voxels of ``lesions`` as the next free id (one undo step).

        A region mostly labelled already is refused: growing a labelled lesion again would
        otherwise add its rim as a sliver of a "new lesion"."""
        old = np.asarray(lesions.data)
        where = np.nonzero(np.asarray(mask, bool))
        under = old[where]
        free = under == 0
        if np.count_nonzero(free) * 2 < under.size:
            ids = ", ".join(str(int(i)) for i in np.unique(under[~free]))
            raise UserFacingError(f"that region is already labelled (lesion {ids}); to redraw it, "
                                  "undo it (Ctrl+Z) or erase it first")
        new_id = int(old.max()) + 1
        if new_id > np.iinfo(old.dtype).max:
            raise UserFacingError(f"no free lesion id in a {old.dtype} layer")
        lesions.data_setitem(tuple(axis[free] for axis in where), new_id)
        lesions.selected_label = new_id
        return new_id

    # ------------------------------------------------------------------ proposals
    @reported("Propose lesions")
    def propose_lesions(self):
        """Automatic proposals in a worker thread (progress shown); candidates listed to accept."""
        from lesionview.segment.lesion import propose_lesions

        t1c = self._image("t1c")
        self._labels("lesions", t1c)
        cord = self._cord_mask(t1c)
        if cord is None:
            raise UserFacingError(f"the proposals are searched inside the cord; {SEGMENT_CORD_FIRST}")
        self.propose_button.setEnabled(False)
        worker = create_worker(propose_lesions, np.asarray(t1c.data), layer_geometry(t1c), cord,
                               _progress={"total": 0, "desc": "Proposing lesions"})
        worker.returned.connect(functools.partial(self._show_proposals, t1c))
        worker.errored.connect(lambda exc: show_error(f"Propose lesions failed: {exc}"))
        worker.finished.connect(lambda: self.propose_button.setEnabled(True))
        self._worker = worker
        worker.start()
        return worker

    @reported("Propose lesions")
    def _show_proposals(self, t1c, seg) -> None:
        labels = np.asarray(seg.mask).astype(np.uint16)
        ids = [int(i) for i in np.unique(labels) if i]
        self.proposals.clear()
        if PROPOSALS_NAME in self.viewer.layers:
            self.viewer.layers.remove(PROPOSALS_NAME)
        if not ids:
            show_warning(f"no lesion proposed. {seg.reason}".strip())
            return
        counts = np.bincount(labels.ravel())
        voxel = layer_geometry(t1c).voxel_volume
        found = {int(c.get("id", 0)): c for c in seg.details.get("candidates", []) if isinstance(c, dict)}
        for i in ids:
            ratio = found.get(i, {}).get("peak_enhancement_ratio")
            extra = f", peak x{ratio:.1f}" if isinstance(ratio, (int, float)) else ""
            item = QListWidgetItem(f"candidate {i}: {counts[i] * voxel:.1f} mm³{extra}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.proposals.addItem(item)
        layer = self.viewer.add_labels(labels, name=PROPOSALS_NAME, opacity=0.5,
                                       **transform_kwargs(t1c))
        self.proposals.setCurrentRow(0)
        self._tell(f"{len(ids)} lesion candidate(s): accept (K) or reject (J) each")
        return layer

    def _highlight_proposal(self, item, _previous=None) -> None:
        if item is not None and PROPOSALS_NAME in self.viewer.layers:
            self.viewer.layers[PROPOSALS_NAME].selected_label = item.data(Qt.ItemDataRole.UserRole)

    def _take_proposal(self):
        item = self.proposals.currentItem()
        if item is None or PROPOSALS_NAME not in self.viewer.layers:
            raise UserFacingError("no candidate selected; run Propose lesions first")
        layer = self.viewer.layers[PROPOSALS_NAME]
        candidate = item.data(Qt.ItemDataRole.UserRole)
        mask = np.asarray(layer.data) == candidate
        self.proposals.takeItem(self.proposals.row(item))
        layer.data = np.where(mask, 0, layer.data).astype(layer.data.dtype)
        if self.proposals.count() == 0:
            self.viewer.layers.remove(layer)
        return mask

    @reported("Accept proposal")
    def accept_proposal(self) -> int | None:
        """The selected candidate becomes a new lesion id (undoable in the lesions layer)."""
        lesions = self._labels("lesions", self._image("t1c"))
        return self._add_lesion(lesions, self._take_proposal())

    @reported("Reject proposal")
    def reject_proposal(self) -> None:
        self._take_proposal()

    # ------------------------------------------------------------------ edema
    @reported("Edema from lesions")
    def edema_from_lesions(self) -> None:
        """grow_edema on T2 from the lesions layer; replaces the edema layer (undoable)."""
        from lesionview.segment.edema import grow_edema

        t2 = self._image("t2")
        lesions = find_layer(self.viewer, "lesions")
        if lesions is None or not np.any(lesions.data):
            raise UserFacingError("the lesions layer is empty: grow or accept a lesion first")
        self._check_same_grid(lesions, t2)
        cord = self._cord_mask(t2)
        if cord is None:
            # Without the cord, T2-bright CSF beside it passes for edema (issue 10: 31,000 mm³
            # instead of 4,350, T2-T9 instead of T4-T7); grow_edema refuses too.
            raise UserFacingError(f"edema is grown only inside the cord; {SEGMENT_CORD_FIRST}")
        edema = self._labels("edema", t2)
        seg = grow_edema(np.asarray(t2.data), layer_geometry(t2), lesion_mask=np.asarray(lesions.data) != 0,
                         cord_region=cord, sensitivity=self.sensitivity_value)
        self._replace(edema, seg, "edema")

    def _replace(self, layer, seg, what: str) -> None:
        if not np.any(seg.mask):
            raise UserFacingError(seg.reason or f"no {what} found")
        write_labels(layer, np.asarray(seg.mask, bool).astype(layer.data.dtype))
        self._tell(f"{what}: {seg.volume_mm3:.0f} mm³", seg.reason)

    # ------------------------------------------------------------------ cord
    def _toggle_cord_clicks(self, on: bool) -> None:
        if on and not self._start_cord_clicks():
            self.cord_clicks_button.setChecked(False)

    @reported("Cord from clicks")
    def _start_cord_clicks(self) -> bool:
        if self.grow_button.isChecked():
            self.grow_button.setChecked(False)
        t2 = self._image("t2")
        if CLICKS_NAME not in self.viewer.layers:
            self.viewer.add_points(np.zeros((0, 3)), ndim=3, name=CLICKS_NAME, size=3,
                                   face_color="cyan", units=t2.units, axis_labels=t2.axis_labels)
        points = self.viewer.layers[CLICKS_NAME]
        self.viewer.layers.selection.active = points
        points.mode = "add"
        self._tell("click the cord at 3 to 10 levels, then 'Segment cord from clicks'")
        return True

    def cord_clicks(self) -> np.ndarray:
        """The clicked centerline points in LPS mm (N, 3)."""
        if CLICKS_NAME not in self.viewer.layers:
            return np.zeros((0, 3))
        layer = self.viewer.layers[CLICKS_NAME]
        world = [layer.data_to_world(p) for p in layer.data]
        return napari_to_lps(np.reshape(world, (-1, 3)))

    @reported("Cord from clicks")
    def cord_from_clicks(self) -> None:
        """segment_cord on T2 through the clicked points; replaces the cord layer (undoable)."""
        from lesionview.segment.cord import segment_cord

        t2 = self._image("t2")
        points = self.cord_clicks()
        if not 3 <= len(points) <= 10:
            raise UserFacingError(f"{len(points)} point(s) clicked; click the cord at 3 to 10 levels "
                                  "(turn on 'Cord: click centerline')")
        cord = self._labels("cord", t2)
        seg = segment_cord(np.asarray(t2.data), layer_geometry(t2), points)
        self._replace(cord, seg, "cord")
        self.cord_clicks_button.setChecked(False)
        self.viewer.layers.remove(CLICKS_NAME)
        self.viewer.layers.selection.active = cord

    # ------------------------------------------------------------------ editing helpers
    def _edit(self, edit) -> int:
        """Apply ``edit(labels, geometry) -> labels`` to the lesions layer as one undo step."""
        lesions = find_layer(self.viewer, "lesions")
        if lesions is None:
            raise UserFacingError("no lesions layer; choose the images in the Study widget first")
        if np.ndim(lesions.data) != 3:
            raise UserFacingError(f"the lesions layer {lesions.name!r} is not 3D")
        old = np.asarray(lesions.data)
        n = write_labels(lesions, edit(old, layer_geometry(lesions)))
        self._tell(f"{n} voxel(s) changed" if n else "nothing to change")
        return n

    @reported("Fill holes")
    def fill_holes(self) -> int | None:
        from lesionview.segment.edit import fill_holes

        return self._edit(lambda labels, _g: fill_holes(labels))

    @reported("Remove islands")
    def remove_islands(self) -> int | None:
        from lesionview.segment.edit import remove_islands

        size = self.min_island.value()
        return self._edit(lambda labels, g: remove_islands(labels, g, min_volume_mm3=size))

    @reported("Split label")
    def split_selected(self) -> int | None:
        from lesionview.segment.edit import split_label

        lesions = find_layer(self.viewer, "lesions")
        label = int(lesions.selected_label) if lesions is not None else 0
        if lesions is not None and not np.any(np.asarray(lesions.data) == label):
            raise UserFacingError(f"label {label} is not in the lesions layer; select a lesion label")
        return self._edit(lambda labels, _g: split_label(labels, label))

    @reported("Merge labels")
    def merge(self) -> int | None:
        from lesionview.segment.edit import merge_labels

        text = self.merge_ids.text().replace(";", ",").replace(" ", ",")
        try:
            ids = sorted({int(t) for t in text.split(",") if t.strip()})
        except ValueError:
            raise UserFacingError(f"{self.merge_ids.text()!r} is not a list of label ids (e.g. 1, 2)") from None
        if len(ids) < 2:
            raise UserFacingError("give at least two label ids to merge, e.g. 1, 2")
        return self._edit(lambda labels, _g: merge_labels(labels, ids))

    @reported("Smooth")
    def smooth(self) -> int | None:
        from lesionview.segment.edit import smooth_mask

        sigma = self.sigma.value()
        return self._edit(lambda labels, g: smooth_mask(labels, g, sigma_mm=sigma))

    # ------------------------------------------------------------------ display
    @reported("Outlines")
    def toggle_outlines(self) -> bool | None:
        """Draw the lesions, edema and cord masks as outlines, or filled again when they all are
        outlined (the Shift+O key; the lesionview panel's "Outlines" button follows). Returns True
        when outlines are now on."""
        layers = _display.mask_layers(self.viewer)
        if not layers:
            raise UserFacingError("no lesions, edema or cord layer to outline; create them in the Study widget")
        on = not all(_display.is_outlined(layer) for layer in layers)
        for layer in layers:
            _display.set_outline(layer, on)
        return on


# ---------------------------------------------------------------------- keyboard shortcuts
def widget_for(viewer) -> SegmentWidget | None:
    """The newest Segment widget open on ``viewer`` (shortcuts act on it)."""
    return _shortcuts.newest(SegmentWidget, viewer)
