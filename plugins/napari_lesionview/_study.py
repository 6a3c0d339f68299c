"""Which layer plays which part in a study: the contract every widget shares.

A layer's part is stored in ``layer.metadata["lesionview_role"]``, so it survives renaming and
is found again after an autosave is reloaded:

========  =====================================================  ===========
role      what it is                                             layer type
========  =====================================================  ===========
t1c       T1 post-contrast image (lesion tools, enhancement)     Image
t2        T2-weighted image (cord and edema tools)               Image
lesions   enhancing lesions, one label per lesion                Labels
edema     T2 cord edema                                          Labels
cord      spinal cord                                            Labels
levels    vertebral landmarks, names in ``features["name"]``     Points
========  =====================================================  ===========

The annotation layers share the grid of the image they were made on (``make_annotation_layers``),
so every core call gets masks and images on one voxel grid.
"""

from __future__ import annotations

import numpy as np

ROLE_KEY = "lesionview_role"
IMAGE_ROLES = ("t1c", "t2")
LABEL_ROLES = ("lesions", "edema", "cord")
POINTS_ROLE = "levels"
ROLES = IMAGE_ROLES + LABEL_ROLES + (POINTS_ROLE,)

#: Series roles (lesionview.series.Role values) that pre-fill the image roles.
SERIES_ROLE_FOR = {"t1c": "T1+C", "t2": "T2"}


def unproxied(viewer):
    """The viewer itself when napari hands a dock widget its ``PublicOnlyProxy``.

    The proxy hides napari's private API. Two things here have no public hook in napari 0.9 and
    need the real objects: the close guard parents a QObject to the Qt main window, and the live
    table follows undo/redo through the layers' history. Everything else uses public API.
    """
    return getattr(viewer, "__wrapped__", viewer)


def role_of(layer) -> str | None:
    return layer.metadata.get(ROLE_KEY)


def find_layer(viewer, role: str):
    """The layer playing ``role`` in the viewer, or None."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    return next((layer for layer in viewer.layers if role_of(layer) == role), None)


def set_role(viewer, layer, role: str) -> None:
    """Give ``layer`` the ``role``, taking it from any other layer that had it."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    for other in viewer.layers:
        if other is not layer and role_of(other) == role:
            other.metadata.pop(ROLE_KEY, None)
    layer.metadata[ROLE_KEY] = role


def guess_image_layer(viewer, role: str):
    """The image layer whose series role guess matches ``role`` ("t1c" or "t2"), or None."""
    wanted = SERIES_ROLE_FOR[role]
    for layer in viewer.layers:
        info = layer.metadata.get("series_info") or {}
        if info.get("role") == wanted and np.ndim(layer.data) == 3:
            return layer
    return None


def transform_kwargs(layer) -> dict:
    """scale / translate / affine of ``layer``, to put a new layer on exactly its grid."""
    return {"scale": layer.scale, "translate": layer.translate, "affine": layer.affine,
            "units": layer.units, "axis_labels": layer.axis_labels}


def study_from_layers(viewer, *, notes: list[str] | None = None):
    """The :class:`lesionview.study.Study` the viewer's role layers make (call on the GUI thread).

    Masks are copied (painting goes on while a worker measures them); images are shared. The
    ``t1c`` layer is the T1 post-contrast image whatever its name says. Levels that cannot be read
    from the ``levels`` layer are left out, and why is appended to ``notes``. Provenance records
    the lesions, edema, cord and T1+C layers' sources, as the measurements always have.
    """
    from dataclasses import replace

    from lesionview.errors import LesionviewError
    from lesionview.measure.models import InputRecord
    from lesionview.series import Role
    from lesionview.study import ROLE_KEYS, Study

    from ._layers import layer_to_volume
    from ._widgets.levels import levels_from_layer

    volumes, records = {}, []
    for role in ("lesions", "edema", "cord", "t1c", "t2"):
        layer = find_layer(viewer, role)
        if layer is None:
            continue
        vol = layer_to_volume(layer)
        if role in LABEL_ROLES:
            vol = vol.like(np.array(vol.array, copy=True))
        elif role == "t1c":
            vol = replace(vol, info=vol.info.with_role(Role.T1_POST, "the study's T1+C layer"))
        volumes[role] = vol
        if role != "t2":
            records.append(InputRecord(role=role, path=layer.metadata.get("source") or None))
    levels = None
    points = find_layer(viewer, POINTS_ROLE)
    if points is not None:
        try:
            levels = levels_from_layer(points)
        except LesionviewError as exc:
            if notes is not None:
                notes.append(f"levels ignored: {exc.message}")
    info = next((volumes[r].info for r in IMAGE_ROLES if r in volumes), None)
    ids = {} if info is None else {"patient_id": info.patient_id, "study_uid": info.study_uid,
                                   "study_date": info.study_date}
    images = {ROLE_KEYS[Role.T1_POST] if r == "t1c" else r: volumes[r] for r in IMAGE_ROLES if r in volumes}
    return Study(images=images, lesions=volumes.get("lesions"), edema=volumes.get("edema"),
                 cord=volumes.get("cord"), levels=levels, inputs=tuple(records), **ids)
