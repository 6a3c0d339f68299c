"""Study widget: which image is T1 post-contrast and which is T2; the annotation layers; autosave.

The image choices are stored as layer roles (:mod:`napari_lesionview._study`), so every other
widget finds them. "Create annotation layers" makes the empty ``lesions``, ``edema``, ``cord``
Labels layers and the ``levels`` Points layer on the T1+C grid (the T2 grid when there is no
T1+C), never duplicating a role that already has a layer.

Autosaves (:mod:`napari_lesionview._autosave`) are keyed by the series and voxel grid the masks
lie on. One made on this grid is offered back with "Restore"; one made on another series of the
same study only with "Restore, resampled onto this series" (nearest neighbour), so masks never
land on a grid they were not drawn on without the user asking.
"""

from __future__ import annotations

import weakref
from pathlib import Path

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
from .._display import label_colormap
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
from ._notify import reported

_NONE = "(none)"
_ROLE_TITLES = {"t1c": "T1 post-contrast", "t2": "T2"}
_TOOLTIPS = {"t1c": "Image the lesion tools work on (enhancing lesions).",
             "t2": "Image the cord and edema tools work on."}


class StudyWidget(QWidget):
    """Choose the T1+C and T2 images, create the annotation layers, get autosaves back."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = unproxied(napari_viewer)
        self.autosaver = _autosave.autosaver_for(napari_viewer)
        self._offered: set[Path] = set()
        self._handled: set[Path] = set()
        self._autosave = None          # offered autosave of this grid
        self._other_autosave = None    # offered autosave of another grid of the study (newest)
        self._others: list = []        # every autosave of the study's other grids
        self._updating = False

        images = QGroupBox("Images")
        form = QFormLayout(images)
        self.combos: dict[str, QComboBox] = {}
        for role in IMAGE_ROLES:
            combo = QComboBox()
            combo.setToolTip(_TOOLTIPS[role])
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
            combo.setObjectName(f"lesionview-study-{role}")
            combo.currentIndexChanged.connect(lambda _i, role=role: self._chosen(role))
            form.addRow(_ROLE_TITLES[role], combo)
            self.combos[role] = combo

        self.create_button = QPushButton("Create annotation layers")
        self.create_button.setToolTip('Adds the "lesions", "edema", "cord" labels and the "levels" '
                                      "points on the T1+C grid (T2 if there is no T1+C); "
                                      "layers that already exist are kept.")
        self.create_button.setObjectName("lesionview-study-create")
        self.create_button.clicked.connect(self.create_annotation_layers)

        self.autosave_box = QFrame()
        self.autosave_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.autosave_label = QLabel()
        self.autosave_label.setWordWrap(True)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setObjectName("lesionview-study-restore")
        self.restore_button.setToolTip("Puts the annotations autosaved on this series back.")
        self.restore_button.clicked.connect(self.restore_autosave)
        self.resampled_button = QPushButton("Restore, resampled onto this series")
        self.resampled_button.setObjectName("lesionview-study-restore-resampled")
        self.resampled_button.setToolTip(
            "The annotations were drawn on another series (another voxel grid) of this study: "
            "copies them onto this series' grid, nearest neighbour. Landmarks outside it are left out.")
        self.resampled_button.clicked.connect(self.restore_resampled)
        self.discard_button = QPushButton("Discard")
        self.discard_button.setObjectName("lesionview-study-discard")
        self.discard_button.clicked.connect(self.discard_autosave)
        box = QVBoxLayout(self.autosave_box)
        box.addWidget(self.autosave_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.restore_button)
        box.addLayout(buttons)
        box.addWidget(self.resampled_button)
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
        # Bottom to top: cord, edema, lesions (as the samples), so the lesions show over the rest.
        for role in reversed(LABEL_ROLES):
            if find_layer(self.viewer, role) is None:
                # Colour-blind-safe colours by role, as the samples and the panel show them.
                kwargs = {**transform_kwargs(ref), "name": role, "metadata": self._metadata(ref, role),
                          "opacity": 0.7 if role == "lesions" else 0.5, "colormap": label_colormap(role)}
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
        """Offer the autosaves of the annotations' grid and of the study's other grids (each
        once per session); returns the one of this grid, or None."""
        key = _autosave.grid_key(self.viewer)
        if key is not None:
            _autosave.migrate_legacy(self.viewer, key.study)
        mine = self.autosaver.saved_folders

        def offerable(info):
            return info is not None and info.folder not in self._handled and info.folder not in mine

        same = _autosave.find_autosave(key)
        self._others = [info for info in _autosave.other_grid_autosaves(key) if offerable(info)]
        other = self._others[0] if self._others else None   # the newest
        self._autosave = same if offerable(same) else None
        self._other_autosave = other
        if self._autosave is None and other is None:
            self.autosave_box.hide()
            return None
        lines = []
        if self._autosave is not None:
            lines.append(f"<b>Autosaved annotations</b> from {self._autosave.when} on this series "
                         f"({self._autosave.roles}).")
        if other is not None:
            lines.append(f"<b>Annotations autosaved on another series</b> of this study, "
                         f"{other.series_label or 'unnamed'}, from {other.when} ({other.roles}): "
                         "another voxel grid, so they are only restored resampled onto this one.")
        self.autosave_label.setText("<br>".join(lines))
        self.restore_button.setVisible(self._autosave is not None)
        self.resampled_button.setVisible(other is not None)
        self.discard_button.setText("Discard" if self._autosave is not None else "Dismiss")
        self.discard_button.setToolTip(
            "Deletes the autosave of this series." if self._autosave is not None else
            "Hides the offer; the autosave stays with the series it was drawn on.")
        self.autosave_box.show()
        offered = self._autosave or other
        if offered.folder not in self._offered:
            self._offered.add(offered.folder)
            where = "for this series" if offered is self._autosave else "on another series of this study"
            action = self.restore_autosave if offered is self._autosave else self.restore_resampled
            notification_manager.dispatch(Notification(
                f"lesionview: autosaved annotations from {offered.when} found {where} "
                "(Study panel).", actions=[("Restore", _weak_call(action))]))
        return self._autosave

    def _close_offer(self) -> None:
        # Whatever the answer, the user has seen this study's autosaves: not offered again.
        for info in (self._autosave, *self._others):
            if info is not None:
                self._handled.add(info.folder)
        self._autosave, self._other_autosave, self._others = None, None, []
        self.autosave_box.hide()

    @reported("Restore autosave")
    def restore_autosave(self) -> list:
        """Put the offered autosave of this grid back into the viewer."""
        info = self._autosave
        if info is None:
            return []
        self._close_offer()   # before restoring: the layers it adds refresh this widget
        layers = _autosave.restore(self.viewer, info)
        show_info(f"Restored {', '.join(layer.name for layer in layers)} from the autosave of {info.when}.")
        return layers

    @reported("Restore autosave, resampled")
    def restore_resampled(self) -> list:
        """Put the offered autosave of another grid back, resampled onto this grid."""
        info, key = self._other_autosave, _autosave.grid_key(self.viewer)
        if info is None or key is None:
            return []
        self._close_offer()
        layers, notes = _autosave.restore_resampled(self.viewer, info, key)
        message = (f"Restored {', '.join(layer.name for layer in layers)} from the autosave of "
                   f"{info.when} on {info.series_label or 'another series'}, resampled onto "
                   f"{key.label} (nearest neighbour).")
        if notes:
            show_warning(message + " " + "; ".join(notes) + ".")
        else:
            show_info(message)
        return layers

    @reported("Discard autosave")
    def discard_autosave(self) -> None:
        """Delete the offered autosave of this grid; an autosave of another grid is only hidden
        (it belongs to the series it was drawn on)."""
        info = self._autosave
        self._close_offer()
        _autosave.discard_autosave(info)


def _weak_call(method):
    """A callback that does not keep the widget (and its viewer) alive in notification history."""
    ref = weakref.WeakMethod(method)

    def call(*_args):
        bound = ref()
        return None if bound is None else bound()

    return call
