"""A DICOM SEG opened in napari: one Labels layer per role (cord, edema, lesions), ready to measure.

The segments of each role are found as the CLI finds them (:func:`lesionview.io.seg.read_seg`:
SNOMED type codes, then label words), so lesionview's own SEG, or one from 3D Slicer or OHIF,
opens as the annotation layers the panel works on. A SEG stores only the frames its segments
touch; when the series it references is open in the viewer, its layers are placed on that
series' voxel grid (whole voxels moved, nothing interpolated), so they can be measured with it.
Segments that say no role open one layer each, with no role, for the user to assign.
"""

from __future__ import annotations

import warnings

from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.io.seg import list_segments, read_seg

from ._display import label_colormap
from ._layers import volume_to_layer_data
from ._study import ROLE_KEY

# (read_seg role, panel role), drawn bottom to top as the panel stacks annotation layers.
_ROLES = (("cord", "cord"), ("edema", "edema"), ("lesion", "lesions"))


def seg_layer_data(path, viewer=None) -> list[tuple]:
    """Layer tuples for the SEG at ``path``: its cord, edema and lesion segments as role layers,
    on the grid of the referenced series when ``viewer`` shows it; else every segment apart."""
    reference = _referenced_grid(path, viewer)
    layers, used = [], set()
    for role, panel_role in _ROLES:
        try:
            mask = read_seg(path, role=role, reference=reference)
        except InputError:
            continue  # no segment of this role (or one that could be two): left for the fallback
        if any(s.number in used or role not in s.roles() for s in mask.segments):
            continue  # a lone segment taken whatever it says: only the role it names gets it
        used.update(s.number for s in mask.segments)
        layers.append(_labels(mask, panel_role))
    for segment in list_segments(path):
        if segment.number not in used:
            layers.append(_labels(read_seg(path, segments=[segment.number], reference=reference), None))
    return layers


def _labels(mask, role: str | None) -> tuple:
    data, kwargs, kind = volume_to_layer_data(mask.volume, as_labels=True)
    described = ", ".join(s.label for s in mask.segments)
    kwargs["name"] = f"{role or 'segment'}: {described} (SEG)"
    kwargs["metadata"]["seg_segments"] = list(mask.descriptions())
    if role is not None:
        kwargs["metadata"][ROLE_KEY] = role
        kwargs["colormap"] = label_colormap(role)
        kwargs["opacity"] = 0.7 if role == "lesions" else 0.5
    return data, kwargs, kind


def _referenced_grid(path, viewer) -> Geometry | None:
    """The source grid of an open image layer whose series the SEG references, or None."""
    if viewer is None:
        return None
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    uids = {str(item.get("SeriesInstanceUID", "")) for item in ds.get("ReferencedSeriesSequence", [])}
    uids.discard("")
    for layer in viewer.layers:
        info = layer.metadata.get("series_info") or {}
        if info.get("series_uid") in uids and layer.metadata.get("source_geometry") is not None:
            return layer.metadata["source_geometry"]
    return None
