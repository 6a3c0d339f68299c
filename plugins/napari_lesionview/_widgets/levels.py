"""Levels dock widget: vertebral landmarks placed by clicking, named automatically, or imported.

The landmarks live in the Points layer with role ``levels``: one point per landmark (napari
world coordinates), its name in ``features["name"]``, shown as text beside the point. Any
napari world position maps to LPS with :func:`~napari_lesionview._space.napari_to_lps`, so
:func:`levels_from_layer` turns the layer into a :class:`lesionview.levels.LevelModel` for the
measurements. Placing a point is napari's own "add" mode; the name a new point takes is the
layer's ``feature_defaults["name"]``, which this widget advances after every point added.
The N key places the next landmark at the mouse pointer, whatever the active layer or mode.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from napari.layers import Image, Labels
from napari.utils.notifications import show_info
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lesionview.levels import LevelModel, read_landmarks, read_levels
from lesionview.levels.names import LEVEL_NAMES, MAX_LEVEL, disc_name, name_of, parse_landmark

from .._layers import layer_to_volume
from .._space import AXIS_LABELS, UNITS, lps_to_napari, napari_to_lps
from .._study import ROLE_KEY, find_layer, unproxied
from . import _shortcuts
from ._notify import reported

#: Label-image conventions the import understands, and the LevelModel builder of each.
#: The conventions a label layer can be read with (the CLI's --levels-kind); "Recognise" first:
#: lesionview.levels.detect tells the kind from the values and shape, or refuses naming the kinds.
LABEL_SOURCES = {
    "Recognise the kind": partial(read_levels, kind="auto"),
    "SCT labelled cord (*_seg_labeled)": LevelModel.from_sct_labeled_cord,
    "SCT disc labels": LevelModel.from_sct_disc_labels,
    "SCT vertebral-body labels": LevelModel.from_sct_body_labels,
    "VerSe vertebra mask": LevelModel.from_verse,
    "SPINEPS / TPTBox vertebra mask": LevelModel.from_spineps,
    "TotalSegmentator (total)": LevelModel.from_totalsegmentator,
    "TotalSegmentator (total, v1)": partial(LevelModel.from_totalsegmentator, task="total_v1"),
    "TotalSegmentator (vertebrae_mr)": partial(LevelModel.from_totalsegmentator, task="vertebrae_mr"),
}
BODY, DISC = "vertebral bodies", "discs"
#: What the import dialog offers: lesionview CSV/JSON and 3D Slicer point lists.
FILE_FILTER = "Landmarks (*.csv *.json *.mrk.json *.fcsv);;3D Slicer point list (*.mrk.json *.fcsv)"
#: (key, what it does, LevelsWidget method), as the Segment widget's (``_shortcuts``).
SHORTCUTS = (("N", "place the next level at the mouse pointer (Levels)", "place_at_cursor"),)
# As the sample data's levels layer (napari_lesionview._sample), so both look the same.
TEXT = {"string": "{name}", "size": 11, "color": "#ffe14d", "anchor": "upper_left",
        "translation": (0.0, -2.0, 4.0)}


def next_name(name: str) -> str:
    """The landmark after ``name`` going down the spine ("C4" -> "C5", "C7/T1" -> "T1/T2");
    ``""`` past the last one or for a name that is not a landmark."""
    parsed = parse_landmark(name)
    if parsed is None:
        return ""
    kind, index = parsed
    if kind == "body":
        return name_of(index + 1) if index < MAX_LEVEL else ""
    return disc_name(index + 1) if index + 1 < MAX_LEVEL else ""


def _string_names(layer) -> None:
    """Make the layer's ``name`` feature a string column (missing names empty).

    A points layer made with an empty name list gets a float column, which refuses the first
    name napari writes into it ("could not convert string to float: 'C2'").
    """
    names = layer.features["name"]
    if names.dtype == object:
        return
    features = layer.features.copy()
    features["name"] = pd.Series(["" if pd.isna(n) else str(n) for n in names], index=names.index,
                                 dtype=object)
    layer.features = features


def first_names(mode: str) -> list[str]:
    """Start names offered for a mode: every body ("C1" ... "S1") or every disc ("C0/C1" ...)."""
    if mode == DISC:
        return [disc_name(k) for k in range(MAX_LEVEL)]
    return list(LEVEL_NAMES[1:])


def levels_from_layer(layer) -> LevelModel | None:
    """The :class:`LevelModel` of a levels Points layer (names in ``features["name"]``).

    Returns None when there is no layer or fewer than two landmarks (no level can be modelled).
    Raises :class:`lesionview.errors.InputError` when a name is not a vertebral landmark.
    """
    if layer is None or len(layer.data) < 2 or "name" not in layer.features:
        return None
    world = np.array([layer.data_to_world(p) for p in layer.data], dtype=float).reshape(-1, 3)
    return LevelModel.from_landmarks(list(layer.features["name"]), napari_to_lps(world),
                                     source=f"napari layer {layer.name!r}")


class LevelsWidget(QWidget):
    """Place, name, rename, delete and import vertebral landmarks."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = unproxied(napari_viewer)
        self._layer = None
        self._added = False
        self.mode = QComboBox()
        self.mode.addItems([BODY, DISC])
        self.start = QComboBox()
        self.start.setEditable(True)
        self.next = QLineEdit()
        self.next.setToolTip("Name the next clicked point gets; advances after every click.")
        self.place = QPushButton("Place landmarks (click)")
        self.place.setToolTip("Click the bodies (or discs) on the canvas, or press N with the mouse pointer on one")
        self.place.setCheckable(True)
        self.rename_edit = QLineEdit()
        self.rename_edit.setPlaceholderText("new name, e.g. C5")
        self.source = QComboBox()
        self.source.addItems(list(LABEL_SOURCES))
        self.label_layer = QComboBox()
        self._name_controls()
        self._fill_starts()
        self._connect()
        self.next.setText(self.start.currentText())
        self._layout()
        self._refresh_layer_choices()
        _shortcuts.register(self, SHORTCUTS)

    # ------------------------------------------------------------------ layout
    def _connect(self) -> None:
        self.mode.currentTextChanged.connect(self._fill_starts)
        self.start.currentTextChanged.connect(self.next.setText)
        self.next.textChanged.connect(self._set_default_name)
        self.place.toggled.connect(self._toggle_place)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self._refresh_layer_choices)

    def _layout(self) -> None:
        place = QGroupBox("Place by clicking")
        form = QFormLayout(place)
        form.addRow("Mode", self.mode)
        form.addRow("Start at", self.start)
        form.addRow("Next name", self.next)
        form.addRow(self.place)
        edit = QGroupBox("Selected point")
        row = QHBoxLayout(edit)
        row.addWidget(self.rename_edit)
        self.rename_button = self._button("Rename", self.rename_selected)
        self.delete_button = self._button("Delete", self.delete_selected)
        row.addWidget(self.rename_button)
        row.addWidget(self.delete_button)
        imp = QGroupBox("Import")
        form2 = QFormLayout(imp)
        form2.addRow("Label layer", self.label_layer)
        form2.addRow("Convention", self.source)
        self.import_layer_button = self._button("Import from label layer", self.import_from_layer)
        self.import_file_button = self._button("Import from file (CSV/JSON/Slicer)...", self._choose_file)
        form2.addRow(self.import_layer_button)
        form2.addRow(self.import_file_button)
        for button, name in ((self.rename_button, "rename"), (self.delete_button, "delete"),
                             (self.import_layer_button, "import-layer"),
                             (self.import_file_button, "import-file")):
            button.setObjectName(f"lesionview-levels-{name}")
        layout = QVBoxLayout(self)
        for w in (place, edit, imp):
            layout.addWidget(w)
        layout.addStretch(1)

    def _name_controls(self) -> None:
        # Tests find every control by these names (tests/gui_helpers.py: control, press).
        for attr, name in (("mode", "mode"), ("start", "start"), ("next", "next"),
                           ("place", "place"), ("rename_edit", "rename-name"),
                           ("source", "convention"), ("label_layer", "label-layer")):
            getattr(self, attr).setObjectName(f"lesionview-levels-{name}")

    @staticmethod
    def _button(text, slot) -> QPushButton:
        # slot(), not slot(checked): Qt's clicked(bool) would land in import_from_layer's layer_name.
        button = QPushButton(text)
        button.clicked.connect(lambda *_: slot())
        return button

    def _fill_starts(self, *_):
        self.start.clear()
        self.start.addItems(first_names(self.mode.currentText()))
        self.start.setCurrentIndex(1)  # C2 or C1/C2: the first a sagittal cervical study shows

    def _refresh_layer_choices(self, *_):
        current = self.label_layer.currentText()
        self.label_layer.clear()
        self.label_layer.addItems([layer.name for layer in self.viewer.layers
                                   if isinstance(layer, (Image, Labels)) and np.ndim(layer.data) == 3
                                   and layer.metadata.get(ROLE_KEY) not in ("t1c", "t2")])
        self.label_layer.setCurrentText(current)

    # ------------------------------------------------------------------ the points layer
    @property
    def layer(self):
        """The levels Points layer (created, with text, when missing)."""
        layer = find_layer(self.viewer, "levels")
        if layer is None:
            layer = self.viewer.add_points(
                np.zeros((0, 3)), ndim=3, name="levels", size=3, face_color="#ffe14d",
                units=UNITS, axis_labels=AXIS_LABELS,
                features=pd.DataFrame({"name": pd.Series([], dtype=object)}), text=TEXT,
                metadata={ROLE_KEY: "levels"})
        if "name" not in layer.features:
            layer.features = pd.DataFrame({"name": [""] * len(layer.data)}, dtype=object)
            layer.text = TEXT
        _string_names(layer)
        if layer is not self._layer:
            if self._layer is not None:
                self._layer.events.data.disconnect(self._on_points_changed)
                self._layer.events.features.disconnect(self._advance_name)
            layer.events.data.connect(self._on_points_changed)
            layer.events.features.connect(self._advance_name)
            self._layer = layer
            self._set_default_name(self.next.text())
        return layer

    def _set_default_name(self, name: str) -> None:
        layer = find_layer(self.viewer, "levels")
        if layer is not None and "name" in layer.features:
            _string_names(layer)
            layer.feature_defaults = {"name": name}

    def _on_points_changed(self, event) -> None:
        # napari then selects the new point, which resets feature_defaults to its name; so the
        # suggestion advances on the features event that follows (Points.add emits it last).
        self._added = getattr(event, "action", None) == "added" and self.place.isChecked()

    def _advance_name(self, _event=None) -> None:
        if getattr(self, "_added", False):
            self._added = False
            self.next.setText(next_name(self.next.text()))

    @reported("Place landmarks")
    def _toggle_place(self, on: bool) -> None:
        layer = self.layer
        if on:
            self.viewer.layers.selection.active = layer
            layer.mode = "add"
            self._set_default_name(self.next.text())
        elif layer.mode == "add":
            layer.mode = "pan_zoom"

    @reported("Place the next level")
    def place_at_cursor(self) -> None:
        """Add the next landmark (its suggested name) where the mouse pointer is (the N key);
        the suggestion then advances as after a click."""
        layer = self.layer
        name = self.next.text().strip()
        self._set_default_name(name)
        layer.add(np.asarray(layer.world_to_data(self.viewer.cursor.position), dtype=float))
        if self.next.text() == name:  # not advanced by the add-mode events (place is off)
            self.next.setText(next_name(name))

    # ------------------------------------------------------------------ edit
    @reported("Rename")
    def rename_selected(self) -> None:
        """Give the selected point(s) the typed name (checked to be a vertebral landmark)."""
        layer = self.layer
        name = self.rename_edit.text().strip().upper()
        if parse_landmark(name) is None:
            raise ValueError(f"{name!r} is not a vertebral level or disc (e.g. C5, C4/C5)")
        selected = sorted(layer.selected_data)
        if not selected:
            raise ValueError("select a point first (select mode, click the point)")
        features = layer.features.copy()
        features.loc[selected, "name"] = name
        layer.features = features
        layer.refresh_text()

    @reported("Delete")
    def delete_selected(self) -> None:
        layer = self.layer
        if not layer.selected_data:
            raise ValueError("select a point first (select mode, click the point)")
        layer.remove_selected()

    # ------------------------------------------------------------------ import
    def set_landmarks(self, names, positions_lps) -> None:
        """Replace the layer's points by named landmarks at LPS positions."""
        layer = self.layer
        world = lps_to_napari(np.asarray(positions_lps, dtype=float).reshape(-1, 3))
        data = np.array([layer.world_to_data(p) for p in world], dtype=float).reshape(-1, 3)
        layer.selected_data = set()
        layer.data = data
        layer.features = pd.DataFrame({"name": [str(n) for n in names]}, dtype=object)
        layer.text = TEXT
        layer.refresh()

    @reported("Import landmarks")
    def import_file(self, path) -> int:
        """Landmarks from a CSV/JSON file or a 3D Slicer point list (.mrk.json, .fcsv), LPS or RAS as
        the file says (:mod:`lesionview.levels.landmark_files`); returns how many."""
        names, positions = read_landmarks(path)
        self._check_inside(positions)
        self.set_landmarks(names, positions)
        show_info(f"{len(names)} landmark(s) from {path}")
        return len(names)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Landmarks", "", FILE_FILTER)
        if path:
            self.import_file(path)

    @reported("Import from label layer")
    def import_from_layer(self, layer_name: str | None = None, source: str | None = None) -> int:
        """Landmarks from a label image layer with one of :data:`LABEL_SOURCES`' conventions."""
        name = layer_name or self.label_layer.currentText()
        if not name or name not in self.viewer.layers:
            raise ValueError("choose a label layer (SCT, VerSe, SPINEPS or TotalSegmentator labels)")
        volume = layer_to_volume(self.viewer.layers[name])
        model = LABEL_SOURCES[source or self.source.currentText()](volume)
        if not model.landmarks:
            raise ValueError(f"no landmark found in {name!r}")
        self._check_inside(model.landmark_positions)
        self.set_landmarks(model.landmark_names, model.landmark_positions)
        show_info(f"{len(model.landmarks)} landmark(s) from {name!r}")
        return len(model.landmarks)

    def _check_inside(self, positions) -> None:
        """Landmarks must fall in the study's image (else: wrong file, or RAS read as LPS)."""
        from .._layers import layer_geometry

        image = find_layer(self.viewer, "t2") or find_layer(self.viewer, "t1c")
        if image is None or len(positions) == 0:
            return
        geometry = layer_geometry(image)
        inside = geometry.contains(np.asarray(positions, dtype=float), margin=2.0)
        if not np.all(inside):
            raise ValueError(f"{int(np.count_nonzero(~inside))} landmark(s) lie outside image "
                             f"{image.name!r}: are they from this study, in LPS (or marked RAS)?")
