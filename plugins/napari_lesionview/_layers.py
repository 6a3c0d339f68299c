"""Volumes as napari layer data, and napari layers back as volumes.

A volume becomes one layer tuple ``(data, kwargs, layer_type)``: reoriented to the display
orientation (see :mod:`napari_lesionview._space`), placed in physical space, carrying what
the core knows in ``metadata``:

``series_info``    the :class:`~lesionview.series.SeriesInfo` as a JSON-able dict
``geometry``       :class:`~lesionview.geometry.Geometry` of the layer data (display orientation)
``source_geometry`` the geometry as stored in the file
``problems``       list of loading problems to show the user
``source``         the file or folder it came from

Image layers are named as a radiologist reads a series list: series number, description, then
the role guess and the plane, "5 SAG T1 TSE +C (T1+C, sagittal)" (see :func:`layer_name`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from lesionview.geometry import Geometry
from lesionview.io.nifti import is_nifti
from lesionview.series import Role, SeriesInfo
from lesionview.volume import Volume

from ._space import (
    AXIS_LABELS,
    DISPLAY_ORIENTATION,
    UNITS,
    geometry_from_transform,
    layer_transform,
)

#: Integer volumes with at most this many distinct values (all >= 0) open as Labels.
MAX_MASK_VALUES = 16
_MASK_NAME = re.compile(r"seg|mask|label", re.IGNORECASE)
# Contrast window of an image: percentiles of its voxel values, estimated on a subsample.
_PERCENTILES = (0.5, 99.5)
_SAMPLE = 2_000_000


def is_mask(volume: Volume) -> bool:
    """True for a segmentation: boolean, few integer values, or whole numbers in a *seg* file."""
    array = volume.array
    if array.dtype == bool:
        return True
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        return False
    # File names mark masks in NIfTI land only; a DICOM folder name says nothing about pixels.
    source = volume.info.source
    named = bool(source) and is_nifti(source) and bool(_MASK_NAME.search(Path(source).name))
    if named:
        # A soft (probabilistic) segmentation is an image: Labels would round it away.
        whole = np.all(np.isfinite(array)) and np.all(array == np.round(array))
        return bool(whole and array.min() >= 0)
    if not np.issubdtype(array.dtype, np.integer) or array.size == 0:
        return False
    low, high = int(array.min()), int(array.max())
    if low < 0 or high - low > 4096:
        return False
    counts = np.bincount((array - low).ravel().astype(np.intp))
    return int(np.count_nonzero(counts)) <= MAX_MASK_VALUES


def contrast_limits(array: np.ndarray) -> tuple[float, float]:
    """A display window: the 0.5-99.5 percentiles of the finite voxel values."""
    flat = array.ravel()
    if flat.size > _SAMPLE:
        flat = flat[:: flat.size // _SAMPLE + 1]
    flat = flat[np.isfinite(flat)] if np.issubdtype(flat.dtype, np.floating) else flat
    if flat.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(flat, _PERCENTILES))
    if high <= low:  # flat image: any non-empty window
        low, high = float(flat.min()), float(flat.max())
        if high <= low:
            high = low + 1.0
    return low, high


def layer_name(volume: Volume) -> str:
    """Name of an image layer: series number, description, role guess and plane.

    "5 SAG T1 TSE +C (T1+C, sagittal)" for a DICOM series, "t2 (T2, sagittal)" for a NIfTI
    file (its stem is the description, and it has no series number). The role is left out when
    nothing was guessed ("3 SAG DWI (sagittal)"); a slice plane tilted more than
    :data:`~lesionview.geometry.OBLIQUE_DEGREES` from every patient axis reads "oblique
    sagittal" (the nearest plane), as radiologists say it.
    """
    info = volume.info
    number = str(info.series_number) if info.series_number is not None else ""
    description = info.series_description or info.protocol_name or "unnamed series"
    plane = volume.plane
    if plane == "oblique":
        normal = volume.geometry.direction_matrix[:, volume.slice_axis]
        nearest = ("sagittal", "coronal", "axial")[int(np.argmax(np.abs(normal)))]
        plane = f"oblique {nearest}"
    tags = ([info.role.value] if info.role != Role.OTHER else []) + [plane]
    return f"{' '.join(p for p in (number, description) if p)} ({', '.join(tags)})"


def volume_to_layer_data(volume: Volume, *, as_labels: bool | None = None) -> tuple:
    """One napari layer tuple ``(data, kwargs, "image" | "labels")`` for ``volume``.

    ``as_labels`` forces the layer type; by default :func:`is_mask` decides.
    """
    labels = is_mask(volume) if as_labels is None else as_labels
    shown = volume.reoriented(DISPLAY_ORIENTATION)
    data = np.ascontiguousarray(shown.array)
    info = volume.info
    metadata = {
        "series_info": info.model_dump(mode="json"),
        "geometry": shown.geometry,
        "source_geometry": volume.geometry,
        "slice_axis": shown.slice_axis,
        "problems": list(volume.problems),
        "source": info.source,
    }
    kwargs = {
        **layer_transform(shown.geometry),
        "axis_labels": AXIS_LABELS,
        "units": UNITS,
        "metadata": metadata,
    }
    if labels:
        if not np.issubdtype(data.dtype, np.integer):
            data = data.astype(np.uint8 if data.size and data.max() <= 255 else np.int32)
        # The role guess ("(T2)") means nothing for a mask; its file name does.
        kwargs["name"] = info.series_description or info.label
        return data, kwargs, "labels"
    kwargs.update(name=layer_name(volume), colormap="gray", contrast_limits=contrast_limits(data))
    return data, kwargs, "image"


def volumes_to_layer_data(volumes: list[Volume]) -> list[tuple]:
    """Layer tuples for every volume, in the order given (the last is drawn on top)."""
    return [volume_to_layer_data(v) for v in volumes]


def layer_geometry(layer) -> Geometry:
    """Physical :class:`Geometry` (LPS) of a 3D napari layer's data, from its transforms.

    Works for layers this plugin made and for layers the user created over them (e.g. a
    Labels layer sharing an image's scale, translate and affine).
    """
    shape = np.shape(layer.data)
    if len(shape) != 3:
        raise ValueError(f"layer {layer.name!r} is {len(shape)}D; lesionview measures 3D volumes")
    return geometry_from_transform(shape, scale=layer.scale, translate=layer.translate,
                                   affine=layer.affine.affine_matrix)


def layer_to_volume(layer) -> Volume:
    """The layer's data as a :class:`Volume` in physical space, with its series info if known."""
    info = layer.metadata.get("series_info")
    info = SeriesInfo.model_validate(info) if info else SeriesInfo(series_description=layer.name)
    problems = tuple(layer.metadata.get("problems", ()))
    return Volume(np.asarray(layer.data), layer_geometry(layer), info=info,
                  slice_axis=int(layer.metadata.get("slice_axis", 0)), problems=problems)
