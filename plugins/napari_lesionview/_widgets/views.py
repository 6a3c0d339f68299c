"""Views dock widget: linked sagittal/axial/coronal views with a crosshair, and the 3D view.

The work is in :mod:`napari_lesionview._orthoviews` (linked views, on napari-orthogonal-views)
and :mod:`napari_lesionview._view3d` (surfaces); this widget only turns clicks into their calls
and keeps its buttons in step when the views change by other means (napari's 2D/3D button,
the orthogonal-views plugin's own check box).
"""

from __future__ import annotations

from napari.utils.notifications import show_info
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .. import _orthoviews, _view3d
from .._orthoviews import hide_orthogonal_views, show_orthogonal_views
from .._study import unproxied
from .._view3d import hide_3d, show_3d
from ._notify import reported

__all__ = ["ViewsWidget", "hide_3d", "hide_orthogonal_views", "show_3d", "show_orthogonal_views"]

HELP = ("Crosshair: hold Shift and move the mouse over any view (or turn on Follow cursor); "
        "T moves it to the mouse; picking a lesion (Measurements row, colour picker) moves it "
        "to the lesion's centre.")


class ViewsWidget(QWidget):
    """Buttons for the linked orthogonal views, cursor following, and the 3D view."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = unproxied(napari_viewer)
        self.orthogonal = self._toggle("Orthogonal views", "orthogonal",
                                       "Axial and coronal views beside the sagittal one, linked by "
                                       "a crosshair")
        self.follow = self._toggle("Follow cursor", "follow",
                                   "The crosshair follows the mouse in every view without Shift")
        self.view3d = self._toggle("3D view", "3d",
                                   "Lesion surfaces inside the translucent cord, levels labelled "
                                   "(built from the current layers each time it is turned on)")
        self.orthogonal.toggled.connect(self.set_orthogonal)
        self.follow.toggled.connect(self.set_follow)
        self.view3d.toggled.connect(self.set_3d)
        help_text = QLabel(HELP)
        help_text.setWordWrap(True)

        row = QHBoxLayout()
        for button in (self.orthogonal, self.follow, self.view3d):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(help_text)
        layout.addStretch(1)
        self.viewer.dims.events.ndisplay.connect(self._sync_buttons)
        if _orthoviews.orthogonal_views_available():
            _orthoviews.views_state(self.viewer).shown_changed.connect(self._sync_buttons)

    def _toggle(self, text: str, what: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(f"lesionview-views-{what}")
        button.setCheckable(True)
        button.setToolTip(tip)
        return button

    # --------------------------------------------------------------- actions
    @reported("Orthogonal views")
    def set_orthogonal(self, checked: bool) -> None:
        try:
            if checked:
                if _view3d.view3d_active(self.viewer):
                    hide_3d(self.viewer)   # linked views are 2D views
                show_orthogonal_views(self.viewer)
            else:
                hide_orthogonal_views(self.viewer)
        finally:
            self._sync_buttons()

    @reported("Follow cursor")
    def set_follow(self, checked: bool) -> None:
        try:
            _orthoviews.views_state(self.viewer).follow_cursor = bool(checked)
        finally:
            self._sync_buttons()

    @reported("3D view")
    def set_3d(self, checked: bool) -> None:
        try:
            if checked:
                layers = show_3d(self.viewer)
                lesions = len(layers["lesions"].metadata["labels"])
                show_info(f"3D view: {lesions} lesion surface(s)"
                          + ("" if "cord" in layers else "; no cord mask, so no cord surface"))
            else:
                hide_3d(self.viewer)
        finally:
            self._sync_buttons()

    # --------------------------------------------------------------- buttons follow the views
    def _sync_buttons(self, event=None) -> None:
        try:
            states = ((self.orthogonal, _orthoviews.orthogonal_views_shown(self.viewer)),
                      (self.follow, _orthoviews.follows_cursor(self.viewer)),
                      (self.view3d, _view3d.view3d_active(self.viewer)))
            for button, on in states:
                if button.isChecked() != on:
                    button.blockSignals(True)
                    button.setChecked(on)
                    button.blockSignals(False)
        except RuntimeError:  # the widget was closed
            pass
