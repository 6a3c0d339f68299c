"""Putting an autosave back: on its own grid, or resampled onto another series of the study."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lesionview.geometry import Geometry
from lesionview.io import read_nifti
from lesionview.levels import read_landmarks
from lesionview.volume import Volume

from .._layers import layer_geometry
from .._space import AXIS_LABELS, DISPLAY_ORIENTATION, UNITS, layer_transform
from .._study import POINTS_ROLE, ROLE_KEY, find_layer, role_of
from .keys import GridKey, reference_layer
from .saver import _LIVE_FOR, _quiet
from .store import AutosaveInfo


def restore(viewer, info: AutosaveInfo) -> list:
    """Put an autosave made on this viewer's grid back; returns the layers restored.

    A layer of the same role on the same grid gets its data replaced (keeping its colours and
    napari's undo history); otherwise a new layer is added with the role.
    """
    return _put_back(viewer, info, lambda labels, positions: (labels, positions),
                     lambda volume, name: (volume.array, volume.geometry))


def restore_resampled(viewer, info: AutosaveInfo, key: GridKey) -> tuple[list, list[str]]:
    """Put an autosave made on another grid back, resampled onto ``key``'s grid.

    Masks are resampled with nearest neighbour (:func:`lesionview.resample.resample`: labels are
    kept, never blended; what lies outside the saved grid is 0). Landmarks are positions in the
    patient, so they move to the new grid unchanged; those outside it are left out (the levels
    model refuses them). Returns the layers restored and notes for the user.
    """
    from lesionview.resample import resample

    target = key.geometry
    notes = []

    def levels_inside(labels, positions):
        inside = (target.contains(positions, margin=0.5) if len(positions)
                  else np.zeros(0, bool))
        if not np.all(inside):
            left_out = [n for n, ok in zip(labels, inside) if not ok]
            notes.append(f"{len(left_out)} landmark(s) outside this series left out "
                         f"({', '.join(left_out)})")
        return [n for n, ok in zip(labels, inside) if ok], np.asarray(positions)[inside]

    def mask_on_target(volume, name):
        array = volume.array
        if not volume.geometry.same_space(target, atol_mm=0.01):
            array = resample(array, volume.geometry, target, label=True)
            if np.any(volume.array) and not np.any(array):
                notes.append(f"{name} lies outside this series: nothing of it was restored")
        return array, target

    return _put_back(viewer, info, levels_inside, mask_on_target), notes


def _put_back(viewer, info: AutosaveInfo, place_levels, place_mask) -> list:
    """Every file of ``info`` into its layer, as ``place_levels(labels, positions) -> (labels,
    positions)`` and ``place_mask(volume, name) -> (array, geometry)`` place it; the edits are
    the autosave's own, and leave nothing unsaved."""
    saver = _LIVE_FOR.get(id(viewer))
    restored = []
    with _quiet(saver):
        for role, file_name in info.layers.items():
            path = info.folder / file_name
            name = info.names.get(role, role)
            if role == POINTS_ROLE:
                labels, positions = place_levels(*read_landmarks(path))
                restored.append(_put_levels(viewer, labels, positions, name, path))
                continue
            array, geometry = place_mask(read_nifti(path), name)
            restored.append(_put_mask(viewer, role, array, geometry, name))
    if saver is not None:
        saver.dirty_roles.clear()
    return restored


def _put_levels(viewer, names, positions, layer_name: str, path: Path):
    from .._sample import levels_layer_data

    existing = find_layer(viewer, POINTS_ROLE)
    ref = existing if existing is not None else reference_layer(viewer)
    grid = {} if ref is None else {"scale": ref.scale, "translate": ref.translate,
                                   "affine": ref.affine.affine_matrix}
    data, kwargs, _ = levels_layer_data(names, positions, source=str(path), **grid)
    if existing is not None and existing._type_string == "points":
        existing.selected_data = set()
        existing.data = data
        existing.features = kwargs["features"]
        existing.refresh()
        return existing
    return viewer.add_points(data, **{**kwargs, "name": layer_name})


def _label_dtype(array: np.ndarray, wanted=None):
    top = int(array.max()) if array.size else 0
    if wanted is not None and np.issubdtype(wanted, np.integer) and top <= np.iinfo(wanted).max:
        return wanted
    return np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.int32


def _put_mask(viewer, role: str, array: np.ndarray, geometry: Geometry, layer_name: str):
    """``array`` (on ``geometry``) into the layer of ``role``: its data replaced when it lies on
    that grid, else a new layer that takes the role."""
    existing = find_layer(viewer, role)
    if geometry.orientation != DISPLAY_ORIENTATION:   # saved by hand on another orientation
        shown = Volume(array, geometry).reoriented(DISPLAY_ORIENTATION)
        array, geometry = np.ascontiguousarray(shown.array), shown.geometry
    if (existing is not None and existing._type_string == "labels"
            and np.shape(existing.data) == array.shape and layer_geometry(existing).same_space(geometry)):
        existing.data = array.astype(_label_dtype(array, existing.data.dtype), copy=False)
        return existing
    kwargs = {**layer_transform(geometry), "axis_labels": AXIS_LABELS, "units": UNITS,
              "metadata": _annotation_metadata(viewer, geometry, role), "name": layer_name}
    layer = viewer.add_labels(array.astype(_label_dtype(array), copy=False), **kwargs)
    if existing is not None:
        existing.metadata.pop(ROLE_KEY, None)
    return layer


def _annotation_metadata(viewer, shown, role: str) -> dict:
    """Metadata of a restored layer: its role, and the source grid of the image it lies on."""
    from .._writer import _displays_as

    metadata = {ROLE_KEY: role, "geometry": shown}
    for layer in viewer.layers:
        source = layer.metadata.get("source_geometry")
        if source is not None and role_of(layer) in ("t1c", "t2") and _displays_as(source, shown):
            metadata.update(source_geometry=source, series_info=layer.metadata.get("series_info"),
                            source=layer.metadata.get("source"))
            break
    return metadata
