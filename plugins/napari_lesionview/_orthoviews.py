"""Linked sagittal, axial and coronal views with a crosshair, on napari-orthogonal-views.

Why that plugin and not our own
-------------------------------
napari-orthogonal-views (BSD-3, maintained, napari 0.6.5-0.9) puts two more ``QtViewer``
canvases beside the main one, showing the *same* layers: copies that share the data arrays
and the undo history, with every layer property, painting, undo/redo and the slice position
kept in sync both ways. That syncing is most of the work and most of the bugs of linked views,
and it is done and tested there. lesionview adds what a spine reader needs on top:

* **The crosshair in world mm.** The plugin (0.5.0) computes positions as
  ``current_step * step``, the world position only for data starting at 0; MRI sits in
  patient coordinates (the twin phantom starts at -116 mm). Its crosshair was drawn
  centimetres off, "T" (centre on the mouse) jumped to the first slice, and a linked view
  "kept the crosshair in view" by moving its camera off the data. :class:`_WorldCrosshair`
  (registered as the crosshair's visual), :func:`_centre_on_mouse` (registered as "T") and
  :func:`_check_center` (in place of the plugin's) use ``dims.point`` instead. The version
  bound in pyproject keeps these in step with the plugin's code.
* **A radiological axial view**: anterior up, the patient's left on the right of the screen,
  as the sagittal (``_space``: Superior up, Anterior left) and coronal views already are. The
  plugin shows the axial plane turned a quarter (anterior left).
* **The crosshair follows the cursor** while Shift is held (as in 3D Slicer), or always with
  "Follow cursor", in any of the three views; and **the selected lesion**: picking a lesion
  (table row, colour picker, the label box) moves it to the lesion's centre. Not while
  painting: choosing a label to paint with must not move the slice under the brush.
"""

from __future__ import annotations

import weakref

import numpy as np
from napari.components.viewer_model import ViewerModel
from napari.layers import Labels
from napari.utils.action_manager import action_manager
from psygnal import Signal
from qtpy.QtCore import QTimer

from ._study import role_of, unproxied

try:  # the plugin is in the `napari` extra; without it the views say how to get it
    from napari._vispy.utils.visual import overlay_to_visual
    from napari_orthogonal_views import ortho_view_manager as _ovm
    from napari_orthogonal_views import ortho_view_widget as _ovw
    from napari_orthogonal_views.attribute_helpers import get_camera, get_viewbox_size
    from napari_orthogonal_views.cross_hair_overlay import CrosshairOverlay, VispyCrosshairOverlay
    from napari_orthogonal_views.viewer_utils import viewer_model_under_mouse
except ImportError:  # pragma: no cover - the extra is installed by `make setup`
    _ovm = None

#: Where each linked view sits and which plane it shows. ``order`` is the plugin's: the
#: view's last three dims order, as indices into the main viewer's. Main dims are
#: (0: R->L, 1: S->I, 2: A->P); a view displays its last two dims as (rows, columns).
CORONAL_ORDER = (-1, -2, -3)   # rows S->I, columns R->L (the plugin's right-hand view)
AXIAL_ORDER = (-2, -1, -3)     # rows A->P, columns R->L (the plugin's bottom view turned)
#: Share of the window's width and height the linked views take.
VIEW_SHARE = 0.3
#: Label layer modes in which picking a label moves the crosshair (not paint, fill, erase...).
PICKING_MODES = frozenset({"pan_zoom", "pick", "transform"})
#: Mouse moves are gathered for this long (ms) and the newest one moves the crosshair:
#: re-slicing three views takes longer than mouse events come in.
FOLLOW_MS = 30

_MISSING = ("Linked views need the napari-orthogonal-views package: reinstall lesionview with "
            "its napari extra (pip install -e \".[napari]\", or make setup).")


class ViewsState:
    """Per-viewer state of the linked views (the manager is the plugin's, one per viewer)."""

    #: Emitted with True/False when the linked views are shown or hidden (by any control).
    shown_changed = Signal(bool)

    def __init__(self, viewer):
        self._viewer = weakref.ref(viewer)
        self.follow_cursor = False
        self._watched: weakref.WeakSet = weakref.WeakSet()
        self._pending = None
        self._adopted = None
        self._follow_timer = QTimer()
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(FOLLOW_MS)
        self._follow_timer.timeout.connect(self._move_to_pending)
        viewer.mouse_move_callbacks.append(_follow_cursor)
        viewer.layers.events.inserted.connect(self._watch_layers)
        self._watch_layers()

    @property
    def viewer(self):
        return self._viewer()

    @property
    def manager(self):
        """The plugin's manager, created on first use (it rebuilds the window's centre)."""
        manager = _ovm._get_manager(self.viewer)
        if self._adopted is None or self._adopted() is not manager:
            # Also when the plugin's own command made it: its "Show orthogonal views" box
            # bypasses show()/hide() below, so follow that too; and put our "T" in place of its.
            self._adopted = weakref.ref(manager)
            manager.main_controls_widget.show_orth_views.connect(self._after_toggle)
            _register_centre_on_mouse()
        return manager

    @property
    def shown(self) -> bool:
        manager = _ovm._VIEWER_MANAGERS.get(self.viewer) if _ovm else None
        return bool(manager is not None and manager.is_shown())

    def view_models(self) -> list:
        """The viewer models of the linked views (empty when hidden)."""
        if not self.shown:
            return []
        manager = self.manager
        return [w.vm_container.viewer_model for w in (manager.right_widget, manager.bottom_widget)]

    # ------------------------------------------------------------------ show / hide
    def show(self) -> None:
        self.manager.show()
        self._after_toggle(True)

    def hide(self) -> None:
        if _ovm._VIEWER_MANAGERS.get(self.viewer) is not None:
            self.manager.hide()
        self._after_toggle(False)

    def _after_toggle(self, shown) -> None:
        shown = bool(shown)
        if shown:
            manager = self.manager
            manager.bottom_widget.order = AXIAL_ORDER
            manager.right_widget.order = CORONAL_ORDER
            # Camera-centre syncing copies centre components index for index, which no longer
            # match once the axial view is turned: zoom syncing still works.
            manager.bottom_widget.sync_axes = []
            manager.update_dims_order()
            for model in self.view_models():
                if _follow_cursor not in model.mouse_move_callbacks:
                    model.mouse_move_callbacks.append(_follow_cursor)
            manager.set_splitter_sizes(VIEW_SHARE, VIEW_SHARE)
            manager.set_cross_hairs(True)
            # Frame the views once Qt has given them their size (a reset now would fit
            # the placeholder's).
            QTimer.singleShot(0, self._reset_views)
        elif self._adopted is not None and self._adopted() is not None:
            # Fold the plugin's emptied strips away entirely (it leaves 1 %, and its controls
            # tab asks for more): the sagittal canvas gets the whole centre back.
            manager = self._adopted()
            manager.v_splitter.setSizes([sum(manager.v_splitter.sizes()), 0])
            for splitter in (manager.h_splitter_top, manager.h_splitter_bottom):
                splitter.setSizes([sum(splitter.sizes()), 0])
        self.shown_changed.emit(shown)

    def _reset_views(self) -> None:
        for model in self.view_models():
            model.reset_view()

    # ------------------------------------------------------------------ the cursor
    def follow(self, model, axes: list[int], values: list[float]) -> None:
        """Move the crosshair on ``axes`` of ``model`` soon (the newest request wins)."""
        self._pending = (weakref.ref(model), axes, values)
        if not self._follow_timer.isActive():
            self._follow_timer.start()

    def _move_to_pending(self) -> None:
        pending, self._pending = self._pending, None
        model = pending[0]() if pending else None
        if model is not None:
            model.dims.set_point(pending[1], pending[2])

    # ------------------------------------------------------------------ selected lesion
    def _watch_layers(self, event=None) -> None:
        for layer in self.viewer.layers:
            if isinstance(layer, Labels) and layer not in self._watched:
                self._watched.add(layer)
                layer.events.selected_label.connect(self._on_selected_label)

    def _on_selected_label(self, event) -> None:
        layer = event.source
        if not self.shown or role_of(layer) != "lesions" or layer.mode not in PICKING_MODES:
            return
        centre_on_label(self.viewer, layer, int(layer.selected_label))


_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def views_state(viewer) -> ViewsState:
    """The :class:`ViewsState` of ``viewer`` (made on first use)."""
    if _ovm is None:
        from ._widgets._notify import UserFacingError

        raise UserFacingError(_MISSING)
    viewer = unproxied(viewer)
    state = _STATES.get(viewer)
    if state is None:
        state = _STATES[viewer] = ViewsState(viewer)
    return state


def show_orthogonal_views(viewer) -> None:
    """Show the axial and coronal views beside the sagittal one, with the crosshair."""
    views_state(viewer).show()


def hide_orthogonal_views(viewer) -> None:
    """Hide the linked views; the main canvas takes the whole window again."""
    views_state(viewer).hide()


def orthogonal_views_available() -> bool:
    """True when napari-orthogonal-views is installed."""
    return _ovm is not None


def orthogonal_views_shown(viewer) -> bool:
    state = _STATES.get(unproxied(viewer))
    return bool(state is not None and state.shown)


def follows_cursor(viewer) -> bool:
    """True when the crosshair follows the mouse without Shift ("Follow cursor")."""
    state = _STATES.get(unproxied(viewer))
    return bool(state is not None and state.follow_cursor)


def centre_on_label(viewer, layer, label: int) -> bool:
    """Move the crosshair (the slice point) to the centre of ``label`` in ``layer``.

    The centre is the mean of the label's voxel positions, as lesionview.measure computes a
    lesion's centroid. Returns False when the label has no voxel.
    """
    index = np.argwhere(np.asarray(layer.data) == label)
    if index.size == 0:
        return False
    world = np.asarray(layer.data_to_world(index.mean(axis=0)), dtype=float)
    dims = viewer.dims
    dims.set_point(list(range(dims.ndim - len(world), dims.ndim)), tuple(world))
    return True


# ---------------------------------------------------------------------- the cursor
def _follow_cursor(model, event) -> None:
    """Mouse move on any of the three views: the crosshair follows with Shift, or always."""
    main = _main_viewer_of(model)
    state = _STATES.get(main) if main is not None else None
    if state is None or not state.shown or model.dims.ndisplay != 2:
        return
    if not (state.follow_cursor or "Shift" in event.modifiers):
        return
    displayed = list(model.dims.displayed)
    state.follow(model, displayed, [float(event.position[d]) for d in displayed])


def _main_viewer_of(model):
    if model in _STATES:
        return model
    for viewer, state in list(_STATES.items()):
        if any(vm is model for vm in state.view_models()):
            return viewer
    return None


def _centre_on_mouse(model) -> None:
    """The plugin's "T", in world mm: the crosshair goes to the mouse in the hovered view."""
    target = viewer_model_under_mouse() or model
    low = [r.start for r in target.dims.range]
    high = [r.stop for r in target.dims.range]
    target.dims.point = tuple(np.clip(target.cursor.position, low, high))


def _register_centre_on_mouse() -> None:
    # Same action name as the plugin's, so its "T" binding and help text apply to ours.
    action_manager.register_action(name="napari:move_point", command=_centre_on_mouse,
                                   description="Move the crosshair to the mouse position",
                                   keymapprovider=ViewerModel)


def _check_center(model, coords=None) -> tuple[float, float]:
    """The plugin's ``check_center`` in world mm: the camera centre (rows, columns) that keeps
    the crosshair in view, moved only when it is out of view. ``coords`` (step indices) is
    ignored: ``dims.point`` is the crosshair."""
    height, width = get_viewbox_size(model)
    camera = get_camera(model)
    centre = camera.center
    order = model.dims.order
    y, x = model.dims.point[order[-2]], model.dims.point[order[-1]]
    in_rows = abs(y - centre[-2]) < height / camera.zoom / 2
    in_columns = abs(x - centre[-1]) < width / camera.zoom / 2
    return (centre[-2] if in_rows else y), (centre[-1] if in_columns else x)


# ---------------------------------------------------------------------- the crosshair
if _ovm is not None:
    _ovw.check_center = _check_center

    class _WorldCrosshair(VispyCrosshairOverlay):
        """The plugin's crosshair drawn at ``dims.point`` (world mm), not at step indices."""

        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self.viewer.dims.events.point.connect(self._move_crosshairs)

        def _move_crosshairs(self, event=None) -> None:
            point = np.asarray(self.viewer.dims.point, dtype=float)
            displayed = list(self.viewer.dims.displayed[::-1])   # vispy: x = column, y = row
            if len(displayed) == 2:
                hidden = list(self.viewer.dims.not_displayed[::-1]) or [0]
                displayed.append(hidden[0])
            #: Where the lines cross, vispy scene coordinates (tests read it).
            self.position = point[displayed]
            self.node.set_position(self.position)

    overlay_to_visual[CrosshairOverlay] = _WorldCrosshair
