"""napari writers: labels to NIfTI in their source geometry, level landmarks to CSV/JSON in LPS mm.

A labels layer is displayed reoriented (see :mod:`napari_lesionview._space`). Saving undoes
that: the mask is written on exactly the voxel grid of the image it was drawn on (same
shape, axis order, spacing, origin and direction as the image file), so any tool that opens
the image and the mask together sees them aligned. The source grid comes from the layer's
``metadata["source_geometry"]``, else from the image layer it shares its grid with.
A ``.dcm`` path writes a DICOM SEG through :func:`lesionview.report.dicom_seg.write_seg`.
"""

from __future__ import annotations

import numpy as np

from lesionview.errors import LesionviewError
from lesionview.geometry import Geometry
from lesionview.io import is_nifti, write_nifti
from lesionview.io.atomic import atomic_path
from lesionview.levels import write_landmarks
from lesionview.volume import Volume

from ._space import DISPLAY_ORIENTATION, geometry_from_transform, napari_to_lps
from ._study import ROLE_KEY

SEG_MESSAGE = "DICOM SEG export comes with the reports module; save as .nii.gz for now."


def write_labels(path: str, data, attributes: dict) -> list[str]:
    """Write a labels layer to NIfTI (``.nii``/``.nii.gz``) on its source image's voxel grid,
    or to DICOM SEG (``.dcm``) referencing the DICOM series it was drawn on."""
    from napari.utils.notifications import show_error, show_info, show_warning

    seg = str(path).lower().endswith(".dcm")
    try:
        array, geometry, how = labels_in_source_space(np.asarray(data), attributes)
        if seg:
            how = _write_seg(path, _mask_dtype(array), geometry, attributes)
        else:
            write_nifti(_mask_dtype(array), path, geometry=geometry)
    except (LesionviewError, ValueError, OSError) as exc:
        show_error(f"Could not save labels {attributes.get('name', '')!r} to {path}: {exc}")
        return []
    except ImportError:   # the reports module's SEG exporter is not there
        show_warning(SEG_MESSAGE)
        return []
    _mark_saved(data)
    show_info(f"Saved {attributes.get('name', 'labels')!r} to {path} ({how}).")
    return [str(path)]


def _write_seg(path, array: np.ndarray, geometry: Geometry, attributes: dict) -> str:
    """DICOM SEG through the reports module, on the DICOM series the mask was drawn on."""
    from lesionview.report.dicom_seg import write_seg

    source, series = _dicom_source(attributes.get("metadata") or {}, geometry)
    if source is None:
        raise ValueError("DICOM SEG needs the DICOM series the mask was drawn on, and this layer "
                         "lies on no DICOM image's grid (NIfTI source?). Save it as .nii.gz instead.")
    role = (attributes.get("metadata") or {}).get(ROLE_KEY)
    key = {"lesions": "lesion", "edema": "edema", "cord": "cord"}.get(role, "lesion")
    write_seg(source, {key: Volume(array, geometry)}, path, series=series)
    return f"DICOM SEG of the {key} on series {series}"


def _dicom_source(metadata: dict, geometry: Geometry):
    """(DICOM path, SeriesInstanceUID) of the layer's own series or of an image on its grid."""
    candidates = [metadata]
    viewer = _current_viewer()
    if viewer is not None:
        # Lesions are drawn on T1+C, edema and cord on T2: reference that series first.
        first = "t1c" if metadata.get(ROLE_KEY) in (None, "lesions") else "t2"
        images = [layer for layer in viewer.layers if layer._type_string == "image"]
        images.sort(key=lambda layer: layer.metadata.get(ROLE_KEY) != first)
        candidates += [layer.metadata for layer in images]
    for md in candidates:
        info = md.get("series_info") or {}
        source, uid, grid = info.get("source"), info.get("series_uid"), md.get("source_geometry")
        if source and uid and not is_nifti(source) and isinstance(grid, Geometry) \
                and grid.same_space(geometry):
            return source, uid
    return None, None


def _current_viewer():
    try:
        from napari import current_viewer
    except ImportError:
        return None
    return current_viewer()


def write_points(path: str, data, attributes: dict) -> list[str]:
    """Write a points layer (vertebral landmarks) with their names, in LPS mm: CSV, JSON or a 3D Slicer
    markups file (``.mrk.json``), by suffix (:func:`lesionview.levels.write_landmarks`)."""
    from napari.utils.notifications import show_error, show_info

    points = np.asarray(data, dtype=float).reshape(-1, np.shape(data)[-1] if np.ndim(data) else 3)
    if points.shape[1] != 3:
        show_error(f"Landmarks must be 3D points; {attributes.get('name')!r} has {points.shape[1]} dimensions.")
        return []
    names = _point_names(attributes, len(points))
    world = _points_to_world(points, attributes)
    try:
        with atomic_path(path) as tmp:
            write_landmarks(tmp, names, napari_to_lps(world))
    except (LesionviewError, ValueError, OSError) as exc:
        show_error(f"Could not save landmarks to {path}: {getattr(exc, 'message', exc)}")
        return []
    _mark_saved(data)
    show_info(f"Saved {len(points)} landmarks to {path} (LPS mm).")
    return [str(path)]


def labels_in_source_space(array: np.ndarray, attributes: dict) -> tuple[np.ndarray, Geometry, str]:
    """The displayed mask put back on its source grid: ``(array, geometry, how)``.

    ``how`` says which grid was used, for the message to the user. Without a known source
    grid the mask is written on the displayed grid, still at its true physical position.
    """
    if array.ndim != 3:
        raise ValueError(f"the layer is {array.ndim}D; NIfTI masks here are 3D")
    shown = geometry_from_transform(array.shape, scale=attributes.get("scale", (1, 1, 1)),
                                    translate=attributes.get("translate", (0, 0, 0)),
                                    affine=attributes.get("affine"))
    metadata = attributes.get("metadata") or {}
    for source in (metadata.get("source_geometry"), _source_from_viewer(shown)):
        if isinstance(source, Geometry) and _displays_as(source, shown):
            return _undo_display(array, source), source, f"grid of {source.describe()}"
    return array, shown, "displayed grid; no source image grid found"


def _displays_as(source: Geometry, shown: Geometry) -> bool:
    """True when ``source`` reoriented for display is the grid ``shown``."""
    order, _flip = source.reorientation(DISPLAY_ORIENTATION)
    if tuple(source.shape[a] for a in order) != tuple(shown.shape):
        return False
    from lesionview.geometry import reorient

    # Reorienting a zero-strided view costs nothing and reuses the one definition of the mapping.
    _, displayed = reorient(np.broadcast_to(np.uint8(0), source.shape), source, DISPLAY_ORIENTATION)
    return displayed.same_space(shown)


def _undo_display(array: np.ndarray, source: Geometry) -> np.ndarray:
    """Inverse of ``reorient(., source, DISPLAY_ORIENTATION)``: exact, never resampled."""
    order, flip = source.reorientation(DISPLAY_ORIENTATION)
    flipped = np.flip(array, axis=[a for a, f in enumerate(flip) if f]) if any(flip) else array
    return np.ascontiguousarray(np.transpose(flipped, np.argsort(order)))


def _source_from_viewer(shown: Geometry):
    """Source grid of an image layer in the current viewer displayed on the same grid, if any."""
    viewer = _current_viewer()
    if viewer is None:
        return None
    for layer in viewer.layers:
        source = layer.metadata.get("source_geometry")
        if isinstance(source, Geometry) and _displays_as(source, shown):
            return source
    return None


def _mask_dtype(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        return array.astype(np.uint8)
    top = int(array.max()) if array.size else 0
    low = int(array.min()) if array.size else 0
    if low >= 0 and top <= 255:
        return array.astype(np.uint8, copy=False)
    if low >= -32768 and top <= 32767:
        return array.astype(np.int16, copy=False)
    return array.astype(np.int32, copy=False)


def _point_names(attributes: dict, n: int) -> list[str]:
    features = attributes.get("features")
    names = None
    if features is not None and "name" in features:
        names = [str(v) for v in list(features["name"])]
    if names is None or len(names) != n:
        names = [f"P{i + 1}" for i in range(n)]
    return names


def _points_to_world(points: np.ndarray, attributes: dict) -> np.ndarray:
    """napari world coordinates of points given in layer data coordinates."""
    scale = np.asarray(attributes.get("scale", (1, 1, 1)), dtype=float)
    translate = np.asarray(attributes.get("translate", (0, 0, 0)), dtype=float)
    affine = attributes.get("affine")
    rotation = np.eye(3) if affine is None else np.asarray(affine, dtype=float)[:3, :3]
    offset = np.zeros(3) if affine is None else np.asarray(affine, dtype=float)[:3, 3]
    return (points * scale + translate) @ rotation.T + offset


def _mark_saved(data) -> None:
    # Written to a file the user chose: no longer "unsaved" for the close question.
    from . import _autosave

    _autosave.mark_saved_data(data)


