"""The 3D view: lesion surfaces inside a translucent cord, vertebral levels labelled.

The surfaces come from :func:`lesionview.measure.surfaces.region_surfaces` (LPS mm) and are put
in napari's world with :func:`~napari_lesionview._space.lps_to_napari`, so they sit exactly on
the voxels of every other layer. While the 3D view is on, the other layers are hidden (a volume
rendering of the T1 image or of the label masks would hide the surfaces), and the linked 2D
views are put away; leaving it (our button or napari's 2D/3D button) brings both back and
removes the 3D layers, so the 2D workspace is as it was.
"""

from __future__ import annotations

import weakref

import numpy as np
from napari.layers import Points, Surface

from lesionview.measure.surfaces import combined, region_surfaces

from ._layers import layer_to_volume
from ._orthoviews import hide_orthogonal_views, orthogonal_views_shown, show_orthogonal_views
from ._space import AXIS_LABELS, UNITS, lps_to_napari
from ._study import find_layer, unproxied
from ._widgets._notify import UserFacingError

#: metadata key marking the layers of the 3D view (value: "lesions", "cord" or "levels").
VIEW3D_KEY = "lesionview_3d"
CORD_OPACITY = 0.25
LEVEL_COLOUR = "#ffe14d"
# Camera: napari's (0, 0, 0) is the sagittal view of the 2D canvas (head up, anterior left,
# seen from the patient's left); turned 30 degrees about the vertical so that the lesions'
# left-right extent shows too. The user turns it as they like.
CAMERA_ANGLES = (0.0, -30.0, 0.0)
#: Margin around the lesions the camera frames (mm): a level or two above and below.
FRAME_MARGIN_MM = 40.0


class _State:
    def __init__(self):
        self.active = False
        self.hidden: list = []          # layers we hid on entering 3D (weak: may be deleted)
        self.views_were_shown = False
        self.active_layer = None        # weak reference to the layer selected before 3D


_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state(viewer) -> _State:
    state = _STATES.get(viewer)
    if state is None:
        state = _STATES[viewer] = _State()
        ref = weakref.ref(viewer)
        # First, so that widgets listening to ndisplay see the 2D workspace already restored.
        viewer.dims.events.ndisplay.connect(lambda event: _on_ndisplay(ref()), position="first")
    return state


def view3d_active(viewer) -> bool:
    state = _STATES.get(unproxied(viewer))
    return bool(state and state.active)


def view3d_layers(viewer) -> dict[str, object]:
    """The 3D view's layers by part ("lesions", "cord", "levels")."""
    return {layer.metadata[VIEW3D_KEY]: layer for layer in unproxied(viewer).layers
            if VIEW3D_KEY in layer.metadata}


def show_3d(viewer) -> dict[str, object]:
    """Build (or rebuild) the surfaces from the lesions, cord and levels layers; show them in 3D.

    Returns the 3D layers by part. Raises :class:`UserFacingError` without a lesions layer.
    """
    viewer = unproxied(viewer)
    lesions = find_layer(viewer, "lesions")
    if lesions is None:
        raise UserFacingError("no lesions layer: open a study and create the annotation layers "
                              "(Study tab), then segment lesions, before the 3D view")
    if not np.any(lesions.data):
        raise UserFacingError("the lesions layer is empty: grow or paint the lesions first "
                              "(Segment tab), then turn the 3D view on")
    parts = {"lesions": _lesion_layer_data(lesions)}
    cord = find_layer(viewer, "cord")
    if cord is not None and np.any(cord.data):
        parts["cord"] = _cord_layer_data(cord)
    levels = find_layer(viewer, "levels")
    if levels is not None and len(levels.data):
        parts["levels"] = _levels_layer_data(levels)

    state = _state(viewer)
    if not state.active:
        state.views_were_shown = orthogonal_views_shown(viewer)
        if state.views_were_shown:
            hide_orthogonal_views(viewer)
        state.hidden = [weakref.ref(layer) for layer in viewer.layers
                        if layer.visible and VIEW3D_KEY not in layer.metadata]
        active = viewer.layers.selection.active
        state.active_layer = weakref.ref(active) if active is not None else None
        for ref in state.hidden:
            ref().visible = False
    shown = _put_layers(viewer, parts)
    state.active = True
    viewer.dims.ndisplay = 3
    _frame(viewer, shown)
    return shown


def hide_3d(viewer) -> None:
    """Back to 2D: the 3D layers go, the layers and linked views hidden for 3D come back."""
    viewer = unproxied(viewer)
    state = _STATES.get(viewer)
    if state is None or not state.active:
        if viewer.dims.ndisplay != 2:
            viewer.dims.ndisplay = 2
        return
    state.active = False   # first: setting ndisplay below calls back into _on_ndisplay
    viewer.dims.ndisplay = 2
    for layer in list(view3d_layers(viewer).values()):
        viewer.layers.remove(layer)
    for ref in state.hidden:
        layer = ref()
        if layer is not None and layer in viewer.layers:
            layer.visible = True
    state.hidden = []
    active = state.active_layer() if state.active_layer else None
    if active is not None and active in viewer.layers:
        viewer.layers.selection.active = active
    if state.views_were_shown:
        show_orthogonal_views(viewer)


def _on_ndisplay(viewer) -> None:
    # napari's own 2D/3D button leaves our 3D view: put the 2D workspace back the same way.
    if viewer is not None and viewer.dims.ndisplay == 2 and view3d_active(viewer):
        hide_3d(viewer)


# ---------------------------------------------------------------------- layer data
def _lesion_layer_data(layer) -> tuple:
    surfaces = region_surfaces(layer_to_volume(layer))
    vertices, faces, labels = combined(surfaces)
    # Each lesion keeps the colour it has in the 2D labels layer.
    colours = {s.label: np.asarray(layer.get_color(s.value), dtype=float) for s in surfaces}
    vertex_colours = np.array([colours[k] for k in labels])
    vertex_colours[:, 3] = 1.0
    kwargs = {"name": "lesions (3D)", "vertex_colors": vertex_colours, "shading": "smooth",
              "metadata": {VIEW3D_KEY: "lesions", "labels": [s.label for s in surfaces]}}
    return (lps_to_napari(vertices), faces), kwargs, "surface"


def _cord_layer_data(layer) -> tuple:
    surfaces = region_surfaces(layer_to_volume(layer), kind="binary")
    vertices, faces, _ = combined(surfaces)
    colour = np.asarray(layer.get_color(1), dtype=float)
    colour[3] = 1.0
    # No depth test: the lesions inside show through it, and its own back faces do not
    # flicker in and out with the order of its triangles.
    kwargs = {"name": "cord (3D)", "vertex_colors": np.tile(colour, (len(vertices), 1)),
              "opacity": CORD_OPACITY, "blending": "translucent_no_depth", "shading": "smooth",
              "metadata": {VIEW3D_KEY: "cord"}}
    return (lps_to_napari(vertices), faces), kwargs, "surface"


def _levels_layer_data(layer) -> tuple:
    # The landmarks as placed (even ones the level model would refuse: the picture shows them).
    names = [str(n) for n in layer.features["name"]] if "name" in layer.features else []
    names += [""] * (len(layer.data) - len(names))
    world = np.array([layer.data_to_world(p) for p in layer.data], dtype=float).reshape(-1, 3)
    kwargs = {"name": "levels (3D)", "features": {"name": names}, "size": 3.0,
              "face_color": LEVEL_COLOUR, "border_color": "#1a1a1a", "symbol": "disc",
              "text": {"string": "{name}", "color": LEVEL_COLOUR, "size": 11,
                       "anchor": "upper_left", "translation": (0.0, -2.0, -6.0)},
              "metadata": {VIEW3D_KEY: "levels"}}
    return world, kwargs, "points"


def _put_layers(viewer, parts: dict[str, tuple]) -> dict[str, object]:
    """Add the 3D layers, or update the ones already there (lesions drawn before the cord)."""
    existing = view3d_layers(viewer)
    for part in set(existing) - set(parts):
        viewer.layers.remove(existing.pop(part))
    for part in ("lesions", "cord", "levels"):
        if part not in parts:
            continue
        data, kwargs, kind = parts[part]
        if part in existing:
            viewer.layers.remove(existing.pop(part))
        cls = Surface if kind == "surface" else Points
        existing[part] = viewer.add_layer(cls(data, axis_labels=AXIS_LABELS, units=UNITS, **kwargs))
    return existing


def _frame(viewer, layers: dict) -> None:
    """Centre the 3D camera on the lesions, a level or two around them in view."""
    lesions = np.asarray(layers["lesions"].data[0], dtype=float)
    low, high = lesions.min(axis=0) - FRAME_MARGIN_MM, lesions.max(axis=0) + FRAME_MARGIN_MM
    # napari 0.9 moved the camera and canvas size under viewer.scene and viewer.canvas.
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    size = viewer.canvas.size if hasattr(viewer, "canvas") else viewer._canvas_size
    camera.center = tuple((low + high) / 2)
    camera.angles = CAMERA_ANGLES
    camera.zoom = 0.9 * min(size) / max(float(np.max(high - low)), 1.0)
