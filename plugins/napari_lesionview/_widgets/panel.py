"""The lesionview panel: the whole workflow in one dock that fits a laptop screen (1366 x 768).

Top to bottom: the workflow guide (when ``guide.py`` is there), the Study, Segment, Levels,
Views and Export widgets as tabs (beside the tabs: mask outlines and window/level presets), and below
them, in a splitter, the Measurements table: the radiologist sees the numbers change while
segmenting.

Why it fits: a dock's minimum size is the sum of its contents' minimum sizes, and five docks
stacked in one column summed theirs (Segment alone asks 560 px, the five 1,600 px). Here every
tab scrolls (its minimum height is a scroll area's, not its content's), the guide is capped, and
only the table keeps a minimum: room for five rows.

The five single widgets stay in the Plugins menu; the panel holds its own instance of each.
"""

from __future__ import annotations

import weakref

import numpy as np
from napari.layers import Image, Labels
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QEvent, QSize, Qt
from qtpy.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import _display
from .._study import unproxied
from .export import ExportWidget
from .levels import LevelsWidget
from .measurements import MeasurementsWidget
from .segment import SegmentWidget
from .study import StudyWidget
from .views import ViewsWidget

#: Width the panel asks for (px): the key table columns and every tab fit without side
#: scrolling; on wide screens up to 30 % of the screen, so more columns fit.
WIDTH = 460
MAX_WIDTH = 600
#: Share of the splitter the Measurements side gets (at least its minimum: five rows).
TABLE_SHARE = 0.45
#: Most height the workflow guide takes before it scrolls: a share of the screen's height
#: (90 px on a 768 px laptop screen, 130 on 1080), between these bounds.
GUIDE_SHARE = 0.12
GUIDE_MAX = (72, 150)
TABS = ("Study", "Segment", "Levels", "Views", "Export")


def workflow_guide(napari_viewer) -> QWidget | None:
    """The workflow guide of ``guide.py`` when that module exists, else None."""
    try:
        from .guide import WorkflowGuide
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.guide":
            raise  # the guide exists but one of its imports is missing: say so
        return None
    return WorkflowGuide(napari_viewer)


class Scrolled(QScrollArea):
    """A widget that scrolls instead of imposing its minimum height (and width) on the window."""

    def __init__(self, widget: QWidget, *, max_height: int | None = None):
        super().__init__()
        self.setWidget(widget)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._max = max_height
        if max_height is not None:
            self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def sizeHint(self) -> QSize:
        hint = self.widget().sizeHint()
        height = hint.height() + 2 * self.frameWidth()
        return QSize(hint.width() + 2 * self.frameWidth(), min(height, self._max) if self._max else height)

    def minimumSizeHint(self) -> QSize:
        # The content's minimum shrinks to a few lines: the rest scrolls.
        line = self.fontMetrics().lineSpacing()
        return QSize(120, min(self.sizeHint().height(), 3 * line))


class LesionviewPanel(QWidget):
    """Study, Segment, Levels and Export as tabs above the live Measurements table."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = unproxied(napari_viewer)
        self.guide = workflow_guide(napari_viewer)
        self.study = StudyWidget(napari_viewer)
        self.segment = SegmentWidget(napari_viewer)
        self.levels = LevelsWidget(napari_viewer)
        self.views = ViewsWidget(napari_viewer)
        self.export = ExportWidget(napari_viewer)
        self.measurements = MeasurementsWidget(napari_viewer)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("lesionview-panel-tabs")
        self.tabs.setUsesScrollButtons(True)
        for title, widget in zip(TABS, (self.study, self.segment, self.levels, self.views, self.export)):
            self.tabs.addTab(Scrolled(widget), title)

        self.outline_button = QPushButton("Outlines")
        self.outline_button.setObjectName("lesionview-panel-outline")
        self.outline_button.setCheckable(True)
        self.outline_button.setToolTip("Draw the lesion, edema and cord masks as outlines, so the "
                                       "enhancement and signal inside them stay visible")
        self.outline_button.toggled.connect(self.set_outlines)
        self.window_buttons: dict[str, QPushButton] = {}
        # Beside the tab titles, not on a row of their own: every pixel of height counts at 768.
        corner = QWidget()
        display = QHBoxLayout(corner)
        display.setContentsMargins(0, 0, 2, 0)
        display.setSpacing(3)
        display.addWidget(self.outline_button)
        display.addSpacing(6)
        window_label = QLabel("W/L")
        window_label.setToolTip("Window/level presets")
        display.addWidget(window_label)
        for preset, (low, high) in _display.PRESETS.items():
            button = QPushButton(preset)
            button.setObjectName(f"lesionview-panel-window-{preset.lower()}")
            button.setToolTip(f"{preset} window/level on the selected image (else the top visible one): "
                              f"its {low:g}th to {high:g}th percentile of the body's voxels")
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _checked=False, preset=preset: self.apply_window(preset))
            display.addWidget(button)
            self.window_buttons[preset] = button
        self.tabs.setCornerWidget(corner, Qt.Corner.TopRightCorner)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("lesionview-panel-splitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.measurements)
        # Until the user drags the handle, the table keeps its share as the window resizes.
        self._user_split = False
        self.splitter.splitterMoved.connect(self._on_split_moved)
        self.splitter.installEventFilter(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        if self.guide is not None:
            screen = self.screen()
            share = int(GUIDE_SHARE * screen.availableGeometry().height()) if screen is not None else GUIDE_MAX[1]
            layout.addWidget(Scrolled(self.guide, max_height=min(max(share, GUIDE_MAX[0]), GUIDE_MAX[1])))
        layout.addWidget(self.splitter, 1)

        self._coloured: weakref.WeakSet = weakref.WeakSet()
        self._contours: weakref.WeakSet = weakref.WeakSet()  # Labels layers whose contour we follow
        self._outlining = False
        self.viewer.layers.events.inserted.connect(self._on_inserted)
        self.viewer.layers.events.removed.connect(self._on_removed)
        for layer in self.viewer.layers:
            self._style(layer)
        self.sync_outline_button()

    def sizeHint(self) -> QSize:
        screen = self.screen()
        wide = int(0.3 * screen.availableGeometry().width()) if screen is not None else WIDTH
        return QSize(min(max(wide, WIDTH), MAX_WIDTH), super().sizeHint().height())

    def eventFilter(self, watched, event) -> bool:
        if watched is self.splitter and event.type() == QEvent.Type.Resize and not self._user_split:
            self.balance()
        return super().eventFilter(watched, event)

    def _on_split_moved(self, *_args) -> None:
        self._user_split = True

    def balance(self) -> None:
        """Give the Measurements side :data:`TABLE_SHARE` of the splitter (at least its minimum)."""
        total = self.splitter.height() - self.splitter.handleWidth()
        if total <= 0:
            return
        table = max(self.measurements.minimumSizeHint().height(), int(total * TABLE_SHARE))
        self.splitter.setSizes([max(total - table, 1), table])

    # ------------------------------------------------------------------ display
    def _on_inserted(self, event) -> None:
        try:
            self._style(event.value)
            self.sync_outline_button()
        except RuntimeError:  # the panel was closed (Qt deleted it): stop listening
            self.viewer.layers.events.inserted.disconnect(self._on_inserted)

    def _on_removed(self, _event=None) -> None:
        try:
            self.sync_outline_button()
        except RuntimeError:  # closed
            self.viewer.layers.events.removed.disconnect(self._on_removed)

    def _style(self, layer) -> None:
        """Colour a mask layer by its role (once: the user's later choice stays) and outline it
        when outlines are on."""
        if not isinstance(layer, Labels):
            return
        if layer not in self._contours:
            # Every Labels layer: a role given later makes it a mask without an event.
            self._contours.add(layer)
            layer.events.contour.connect(self._on_contour)
        if layer in self._coloured:
            return
        if _display.apply_role_colours(layer):
            self._coloured.add(layer)
            if self.outline_button.isChecked():
                _display.set_outline(layer, True)

    def _on_contour(self, event) -> None:
        if self._outlining:  # set_outlines syncs once at its end
            return
        try:
            self.sync_outline_button()
        except RuntimeError:  # closed
            event.source.events.contour.disconnect(self._on_contour)

    def mask_layers(self) -> list:
        """The lesions, edema and cord layers in the viewer."""
        return _display.mask_layers(self.viewer)

    def sync_outline_button(self) -> None:
        """Show on the "Outlines" button whether the masks are outlined, however they were
        switched (Shift+O, napari's layer controls): checked when every mask is. The button
        only shows it here; it does not act (no ``toggled``)."""
        masks = self.mask_layers()
        if not masks:
            return  # nothing to show: keep the user's choice for the masks to come
        on = all(_display.is_outlined(layer) for layer in masks)
        if self.outline_button.isChecked() != on:
            blocked = self.outline_button.blockSignals(True)
            self.outline_button.setChecked(on)
            self.outline_button.blockSignals(blocked)

    def set_outlines(self, on: bool) -> None:
        """Draw the masks as outlines (``on``) or filled."""
        self._outlining = True
        try:
            for layer in self.mask_layers():
                _display.set_outline(layer, on)
        finally:
            self._outlining = False
        if self.outline_button.isChecked() != on:
            self.outline_button.setChecked(on)
        self.sync_outline_button()

    def window_target(self):
        """The image a window preset applies to: the selected image layer, else the top visible one."""
        active = self.viewer.layers.selection.active
        if _is_volume_image(active):
            return active
        return next((layer for layer in reversed(self.viewer.layers) if _is_volume_image(layer) and layer.visible),
                    None)

    def apply_window(self, preset: str):
        """Set the ``preset`` window/level ("T1", "T2", "STIR") on :meth:`window_target`."""
        layer = self.window_target()
        if layer is None:
            show_warning("Window/level: open an image first (no image layer is shown).")
            return None
        low, high = _display.window(layer.data, preset)
        layer.contrast_limits = (low, high)
        show_info(f"{preset} window on {layer.name!r}: {low:.4g} to {high:.4g}")
        return low, high


def _is_volume_image(layer) -> bool:
    return isinstance(layer, Image) and not layer.rgb and np.ndim(layer.data) >= 2
