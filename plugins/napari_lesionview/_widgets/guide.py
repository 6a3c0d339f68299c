"""Workflow guide: the order images -> cord -> lesions -> edema -> levels -> export, as a checklist.

Each step is done or not, read from the layers by role (:func:`~napari_lesionview._study.find_layer`),
and says what is missing and which numbers wait for it ("cord occupancy needs a cord mask",
"levels need at least two landmarks"). The first step not done is marked as the next one. The
guide follows the viewer: layers added or removed, painted, points placed, roles chosen.

It is a plain QWidget taking the viewer and docking nothing itself: the lesionview panel puts it
at its top, and ``viewer.window.add_dock_widget(WorkflowGuide(viewer))`` shows it alone.
Export is the one step no layer shows: the export calls :func:`mark_exported`, and an edit of
an annotation layer after that makes it "not exported" again.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .._study import LABEL_ROLES, POINTS_ROLE, find_layer, role_of, unproxied

STEPS = ("images", "cord", "lesions", "edema", "levels", "export")
TITLES = {"images": "Images", "cord": "Cord", "lesions": "Lesions", "edema": "Edema",
          "levels": "Levels", "export": "Export"}
#: Where each step is done, for the tooltips.
WHERE = {"images": "File > Open a DICOM folder or NIfTI files, then choose the T1 post-contrast "
                   "and T2 images in Study (and Create annotation layers).",
         "cord": "Segment: cord from clicks along the cord on T2 (or paint the cord layer).",
         "lesions": "Segment: click an enhancing lesion on T1+C to grow it, or accept proposals.",
         "edema": "Segment: edema from lesions on T2 (grown inside the cord).",
         "levels": "Levels: place landmarks by clicking (C2, C3 ... or discs), or import them.",
         "export": "Export: choose the formats and a folder."}
DONE, TODO = "✓", "○"
#: Quiet time after a layer event before the guide is redrawn (painting sends many events).
DELAY_MS = 80
#: How often roles are looked at: choosing an image in Study changes a layer's metadata,
#: which napari sends no event for.
POLL_MS = 500

# viewer id -> (weak viewer, folder): the last export, until an annotation is edited.
_EXPORTED: dict[int, tuple] = {}


@dataclass(frozen=True)
class Step:
    """One step of the workflow: done or not, and what it has or lacks."""

    key: str
    title: str
    done: bool
    #: One short line: what the step has, or what is missing and which numbers wait for it.
    detail: str
    #: More, for the tooltip.
    more: str = ""


def mark_exported(viewer, folder="") -> None:
    """Tell the guide the study was exported (the export widget calls this when it is done)."""
    viewer = unproxied(viewer)
    for key in [k for k, (ref, _) in _EXPORTED.items() if ref() is None]:
        del _EXPORTED[key]
    _EXPORTED[id(viewer)] = (weakref.ref(viewer), str(folder))


def exported_to(viewer) -> str | None:
    """The folder of the viewer's last export, or None when not exported since the last edit."""
    viewer = unproxied(viewer)
    record = _EXPORTED.get(id(viewer))
    if record is None or record[0]() is not viewer:
        return None
    return record[1]


def _forget_export(viewer) -> None:
    _EXPORTED.pop(id(unproxied(viewer)), None)


def _has_voxels(layer, cache: dict | None = None) -> bool:
    if layer is None or np.ndim(layer.data) != 3:
        return False
    if cache is not None and id(layer) in cache:
        return cache[id(layer)]
    found = bool(np.any(np.asarray(layer.data)))
    if cache is not None:
        cache[id(layer)] = found
    return found


def workflow_steps(viewer, *, filled: dict | None = None) -> list[Step]:
    """The six steps of the workflow as they stand in ``viewer``.

    ``filled`` caches whether a mask layer has any voxel (id(layer) -> bool); the widget keeps
    it and forgets a layer's entry when the layer's data changes.
    """
    viewer = unproxied(viewer)
    t1c, t2 = find_layer(viewer, "t1c"), find_layer(viewer, "t2")
    masks = {role: find_layer(viewer, role) for role in LABEL_ROLES}
    has = {role: _has_voxels(layer, filled) for role, layer in masks.items()}
    levels = find_layer(viewer, POINTS_ROLE)
    n_landmarks = 0 if levels is None else len(levels.data)

    if t1c is not None and t2 is not None:
        images = Step("images", TITLES["images"], True, "T1+C and T2 chosen",
                      f"T1+C: {t1c.name}\nT2: {t2.name}")
    elif t1c is not None:
        images = Step("images", TITLES["images"], False, "no T2: the cord and edema tools need it",
                      "Choose the T2 image in Study.")
    elif t2 is not None:
        images = Step("images", TITLES["images"], False,
                      "no T1+C: the lesion tools and the enhancement ratio need it",
                      "Choose the T1 post-contrast image in Study.")
    else:
        images = Step("images", TITLES["images"], False, "open the study, choose T1+C and T2")

    def mask_step(role: str, missing: str) -> Step:
        if has[role]:
            return Step(role, TITLES[role], True, f"{TITLES[role].lower().rstrip('s')} mask drawn")
        if masks[role] is None:
            return Step(role, TITLES[role], False, f"{missing} (no layer yet: Study > Create)",
                        'Study > "Create annotation layers" makes the empty layers.')
        return Step(role, TITLES[role], False, missing)

    cord = mask_step("cord", "cord occupancy and the enhancement ratio need a cord mask")
    lesions = mask_step("lesions", "every lesion number needs a lesion mask")
    edema = mask_step("edema", "edema volume and extent need an edema mask")
    if n_landmarks >= 2:
        names = [str(n) for n in levels.features["name"]] if "name" in levels.features else []
        span = f" ({names[0]} ... {names[-1]})" if len(names) >= 2 else ""
        level = Step("levels", TITLES["levels"], True, f"{n_landmarks} landmarks{span}")
    else:
        placed = "none placed" if n_landmarks == 0 else "1 placed"
        level = Step("levels", TITLES["levels"], False, f"levels need at least two landmarks ({placed})",
                     "The level of every lesion and edema region (C5, C6 ...) and "
                     "'longitudinally extensive' need them.")

    folder = exported_to(viewer)
    if folder is not None:
        export = Step("export", TITLES["export"], True,
                      f"exported to {Path(folder).name}" if folder else "exported", folder)
    elif not has["lesions"]:
        export = Step("export", TITLES["export"], False, "needs a lesion mask first")
    else:
        export = Step("export", TITLES["export"], False, "not exported since the last edit")
    return [images, cord, lesions, edema, level, export]


class WorkflowGuide(QWidget):
    """The workflow as a checklist that follows the viewer's layers."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = unproxied(napari_viewer)
        self.setObjectName("lesionview-guide")
        self._filled: dict[int, bool] = {}
        self._signature = None
        self._exported = None
        self._watched: weakref.WeakSet = weakref.WeakSet()

        self.marks: dict[str, QLabel] = {}
        self.labels: dict[str, QLabel] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(1)
        for key in STEPS:
            mark, label = QLabel(TODO), QLabel()
            mark.setObjectName(f"lesionview-guide-{key}-mark")
            mark.setFixedWidth(mark.fontMetrics().horizontalAdvance("▶✓") + 2)
            mark.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
            label.setObjectName(f"lesionview-guide-{key}")
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            row = QHBoxLayout()
            row.setSpacing(4)
            row.addWidget(mark)
            row.addWidget(label, 1)
            layout.addLayout(row)
            self.marks[key], self.labels[key] = mark, label
        layout.addStretch(1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._poll_roles)

        layers = self.viewer.layers
        for emitter in (layers.events.inserted, layers.events.removed, layers.events.moved):
            emitter.connect(self._layers_changed)
        for layer in layers:
            self._watch(layer)
        self.steps: list[Step] = []
        self.refresh()

    # ---- following the viewer
    def _watch(self, layer) -> None:
        if layer in self._watched:
            return
        self._watched.add(layer)
        # Not set_data: napari sends it on every slice change, and nothing changed.
        for name in ("data", "paint", "features", "name"):
            emitter = getattr(layer.events, name, None)
            if emitter is not None:
                emitter.connect(self._layer_event)   # napari keeps bound methods weakly

    def _layers_changed(self, event=None) -> None:
        value = getattr(event, "value", None)
        if value is not None and hasattr(value, "events"):
            self._watch(value)
        alive = {id(layer) for layer in self.viewer.layers}
        self._filled = {k: v for k, v in self._filled.items() if k in alive}
        self.schedule()

    def _layer_event(self, event) -> None:
        layer = getattr(event, "source", None)
        if layer is None:
            return
        if event.type in ("data", "paint"):
            self._filled.pop(id(layer), None)
        if event.type != "name" and role_of(layer) in (*LABEL_ROLES, POINTS_ROLE):
            _forget_export(self.viewer)   # the export no longer shows these annotations
        self.schedule()

    def _roles(self) -> tuple:
        return tuple((id(layer), role_of(layer)) for layer in self.viewer.layers)

    def _poll_roles(self) -> None:
        if self._roles() != self._signature or exported_to(self.viewer) != self._exported:
            self.refresh()

    def schedule(self) -> None:
        """Redraw soon (events come in bursts while painting)."""
        self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._poll.start()
        self.refresh()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._poll.stop()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        # Docks ask a widget its minimum height, not its height for a width: without this,
        # wrapped lines are cut off in a narrow dock. (In a scroll area, it scrolls instead.)
        height = self.layout().heightForWidth(self.width())
        if height > 0 and height != self.minimumHeight():
            self.setMinimumHeight(height)

    # ---- drawing
    def refresh(self) -> list[Step]:
        """Read the steps from the viewer and show them; returns them."""
        self._signature = self._roles()
        self._exported = exported_to(self.viewer)
        self.steps = workflow_steps(self.viewer, filled=self._filled)
        following = next((step.key for step in self.steps if not step.done), None)
        for number, step in enumerate(self.steps, start=1):
            mark, label = self.marks[step.key], self.labels[step.key]
            mark.setText(DONE if step.done else ("▶" if step.key == following else TODO))
            title = f"{number} {escape(step.title)}"
            if step.key == following:
                title = f"<b>{title}</b>"
            text = f"{title}: {escape(step.detail)}"
            text = text if not step.done else f"<span style='color: gray'>{text}</span>"
            if label.text() != text:
                label.setText(text)
            label.setToolTip("\n".join(t for t in (step.more, WHERE[step.key]) if t))
            mark.setToolTip("done" if step.done else "next" if step.key == following else "to do")
        self._fit_height()
        return self.steps

    def step(self, key: str) -> Step:
        """The step ``key`` ("images", "cord", ...) as last shown."""
        return next(step for step in self.steps if step.key == key)

    def next_step(self) -> str | None:
        """The first step not done, or None when the workflow is complete."""
        return next((step.key for step in self.steps if not step.done), None)
