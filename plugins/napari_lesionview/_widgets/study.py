"""Study widget: which image is T1 post-contrast and which is T2; the annotation layers; autosave.

The image choices are stored as layer roles (:mod:`napari_lesionview._study`), so every other
widget finds them. "Create annotation layers" makes the empty ``lesions``, ``edema``, ``cord``
Labels layers and the ``levels`` Points layer on the T1+C grid (the T2 grid when there is no
T1+C), never duplicating a role that already has a layer. When the chosen study has an
autosave (:mod:`napari_lesionview._autosave`), the widget offers it back.
"""

from __future__ import annotations

import weakref

import numpy as np
from napari.layers import Image
from napari.utils.notifications import Notification, notification_manager, show_info, show_warning
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import _autosave
from .._sample import levels_layer_data
from .._study import (
    IMAGE_ROLES,
    LABEL_ROLES,
    POINTS_ROLE,
    ROLE_KEY,
    find_layer,
    guess_image_layer,
    role_of,
    set_role,
    transform_kwargs,
    unproxied,
)

_NONE = "(none)"
_ROLE_TITLES = {"t1c": "T1 post-contrast", "t2": "T2"}
_TOOLTIPS = {"t1c": "Image the lesion tools work on (enhancing lesions).",
             "t2": "Image the cord and edema tools work on."}
# Label colours of the one-class masks (the lesion layer keeps one colour per lesion).
_COLOURS = {"edema": "#f2c12e", "cord": "#3c9be8"}


class StudyWidget(QWidget):
    """Choose the T1+C and T2 images, create the annotation layers, get autosaves back."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = unproxied(napari_viewer)
        self.autosaver = _autosave.autosaver_for(napari_viewer)
        self._offered: set[str] = set()
        self._handled: set[str] = set()
        self._autosave = None
        self._updating = False

        images = QGroupBox("Images")
        form = QFormLayout(images)
        self.combos: dict[str, QComboBox] = {}
        for role in IMAGE_ROLES:
            combo = QComboBox()
            combo.setToolTip(_TOOLTIPS[role])
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
            combo.currentIndexChanged.connect(lambda _i, role=role: self._chosen(role))
            form.addRow(_ROLE_TITLES[role], combo)
            self.combos[role] = combo

        self.create_button = QPushButton("Create annotation layers")
        self.create_button.setToolTip('Adds the "lesions", "edema", "cord" labels and the "levels" '
                                      "points on the T1+C grid (T2 if there is no T1+C); "
                                      "layers that already exist are kept.")
        self.create_button.clicked.connect(self.create_annotation_layers)

        self.autosave_box = QFrame()
        self.autosave_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.autosave_label = QLabel()
        self.autosave_label.setWordWrap(True)
        self.restore_button = QPushButton("Restore")
        self.restore_button.clicked.connect(self.restore_autosave)
        self.discard_button = QPushButton("Discard")
        self.discard_button.clicked.connect(self.discard_autosave)
        box = QVBoxLayout(self.autosave_box)
        box.addWidget(self.autosave_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.restore_button)
        box.addLayout(buttons)
        self.autosave_box.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(images)
        layout.addWidget(self.create_button)
        layout.addWidget(self.autosave_box)
        layout.addStretch(1)

        self.viewer.layers.events.inserted.connect(self.refresh)
        self.viewer.layers.events.removed.connect(self.refresh)
        self.viewer.layers.events.inserted.connect(self._watch_name)
        for layer in self.viewer.layers:
            layer.events.name.connect(self.refresh)
        self.refresh()

    # ---- image choices
    def image_layers(self) -> list:
        return [layer for layer in self.viewer.layers
                if isinstance(layer, Image) and np.ndim(layer.data) == 3 and not layer.rgb]

    def refresh(self, _event=None) -> None:
        """Refill the combos; keep each choice, else pre-fill from the role, else the role guess."""
        images = self.image_layers()
        self._updating = True
        try:
            for role, combo in self.combos.items():
                chosen = find_layer(self.viewer, role) or guess_image_layer(self.viewer, role)
                if chosen is not None and chosen not in images:
                    chosen = None
                combo.clear()
                combo.addItem(_NONE, None)
                for layer in images:
                    combo.addItem(layer.name, layer)
                combo.setCurrentIndex(images.index(chosen) + 1 if chosen is not None else 0)
                if chosen is not None and role_of(chosen) != role:
                    set_role(self.viewer, chosen, role)
        finally:
            self._updating = False
        self.create_button.setEnabled(bool(images))
        self.check_autosave()

    def _watch_name(self, event) -> None:
        event.value.events.name.connect(self.refresh)

    def chosen(self, role: str):
        """The layer chosen for ``role`` ("t1c" or "t2"), or None."""
        return self.combos[role].currentData()

    def _chosen(self, role: str) -> None:
        if self._updating:
            return
        layer = self.chosen(role)
        if layer is None:
            old = find_layer(self.viewer, role)
            if old is not None:
                old.metadata.pop(ROLE_KEY, None)
        else:
            set_role(self.viewer, layer, role)
            other = next(r for r in IMAGE_ROLES if r != role)
            if self.chosen(other) is layer:   # one image cannot be both
                self._updating = True
                self.combos[other].setCurrentIndex(0)
                self._updating = False
                layer.metadata[ROLE_KEY] = role
        self.check_autosave()

    # ---- annotation layers
    def reference(self):
        """The image the annotation layers are made on: T1+C, else T2."""
        return self.chosen("t1c") or self.chosen("t2")

    def create_annotation_layers(self) -> list:
        """Add the missing annotation layers on the reference image's grid; returns those added."""
        ref = self.reference()
        if ref is None:
            show_warning("Choose the T1 post-contrast or the T2 image first: the annotation layers "
                         "are made on its voxel grid.")
            return []
        added = []
        for role in LABEL_ROLES:
            if find_layer(self.viewer, role) is None:
                kwargs = {**transform_kwargs(ref), "name": role, "metadata": self._metadata(ref, role),
                          "opacity": 0.7 if role == "lesions" else 0.5}
                if role in _COLOURS:
                    kwargs["colormap"] = {None: "transparent", 0: "transparent", 1: _COLOURS[role]}
                added.append(self.viewer.add_labels(np.zeros(ref.data.shape, np.uint8), **kwargs))
        if find_layer(self.viewer, POINTS_ROLE) is None:
            grid = transform_kwargs(ref)
            data, kwargs, _ = levels_layer_data([], np.empty((0, 3)), scale=grid["scale"],
                                                translate=grid["translate"], affine=grid["affine"])
            added.append(self.viewer.add_points(data, **kwargs))
        if added:
            self.viewer.layers.selection.active = added[0]
            show_info(f"Added {', '.join(layer.name for layer in added)} on the grid of {ref.name!r}.")
        else:
            show_info("The annotation layers already exist.")
        return added

    @staticmethod
    def _metadata(ref, role: str) -> dict:
        # The source grid lets the writer save the mask exactly on the image file's grid.
        keep = ("geometry", "source_geometry", "series_info", "source", "slice_axis")
        return {ROLE_KEY: role, **{k: ref.metadata[k] for k in keep if k in ref.metadata}}

    # ---- autosave
    def check_autosave(self):
        """Offer the chosen study's autosave (once per study); returns it, or None."""
        key = _autosave.study_key(self.reference())
        info = _autosave.find_autosave(key)
        if info is not None and (key in self._handled or info.folder == self.autosaver.last_saved):
            info = None   # already restored or discarded, or this session's own autosave
        self._autosave = info
        if info is None:
            self.autosave_box.hide()
            return None
        roles = ", ".join(info.names.get(r, r) for r in info.layers)
        self.autosave_label.setText(f"<b>Autosaved annotations</b> from {info.when} for this "
                                    f"study ({roles}).")
        self.autosave_box.show()
        if key not in self._offered:
            self._offered.add(key)
            notification_manager.dispatch(Notification(
                f"lesionview: autosaved annotations from {info.when} found for this study "
                "(Study panel: Restore).", actions=[("Restore", _weak_call(self.restore_autosave))]))
        return info

    def restore_autosave(self) -> list:
        """Put the offered autosave back into the viewer."""
        if self._autosave is None:
            return []
        self._handled.add(_autosave.study_key(self.reference()))
        layers = _autosave.restore(self.viewer, self._autosave)
        self.autosave_box.hide()
        show_info(f"Restored {', '.join(layer.name for layer in layers)} from the autosave "
                  f"of {self._autosave.when}.")
        return layers

    def discard_autosave(self) -> None:
        key = _autosave.study_key(self.reference())
        self._handled.add(key)
        _autosave.discard_autosave(key)
        self._autosave = None
        self.autosave_box.hide()


def _weak_call(method):
    """A callback that does not keep the widget (and its viewer) alive in notification history."""
    ref = weakref.WeakMethod(method)

    def call(*_args):
        bound = ref()
        return None if bound is None else bound()

    return call
