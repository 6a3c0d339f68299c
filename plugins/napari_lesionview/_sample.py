"""Sample data (File > Open Sample > lesionview): the phantom cases as a radiologist would open them.

Each case opens its two DICOM series (sagittal T2 and T1 post-contrast, so the series role
guess and the study UID are the real thing), the ground-truth masks as Labels layers and the
vertebral landmarks as a Points layer with their names written beside them. Every layer is
placed through :func:`~napari_lesionview._layers.volume_to_layer_data` and carries its
``lesionview_role`` so the widgets find it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lesionview.io import load, load_volume
from lesionview.levels import read_landmarks
from lesionview.phantom import sample_path

from ._display import label_colormap
from ._layers import volume_to_layer_data
from ._space import AXIS_LABELS, UNITS, lps_to_napari
from ._study import POINTS_ROLE, ROLE_KEY

# (file in the case folder, role, layer name); each drawn in its role's colours (_display)
_MASKS = (("cord.nii.gz", "cord", "cord"),
          ("edema.nii.gz", "edema", "edema"),
          ("lesion.nii.gz", "lesions", "lesions"))
_IMAGE_ROLES = {"T2": "t2", "T1+C": "t1c"}
_DOT_MM = 4.0


def twin() -> list[tuple]:
    """Twin enhancing lesions at C5 and C6 with their T2 edema."""
    return open_case("twin")


def solitary() -> list[tuple]:
    """One enhancing lesion spanning C5-C6 with its T2 edema."""
    return open_case("solitary")


def open_case(case: str) -> list[tuple]:
    """Layer tuples of a phantom case: T2, T1+C, cord, edema, lesions and levels (drawn in that order)."""
    folder = sample_path(case)
    layers = []
    for volume in sorted(load(folder / "dicom"), key=lambda v: v.info.role != "T2"):
        role = _IMAGE_ROLES.get(str(volume.info.role))
        data, kwargs, kind = volume_to_layer_data(volume, as_labels=False)
        kwargs["metadata"][ROLE_KEY] = role
        kwargs["blending"] = "translucent" if role == "t2" else "additive"
        kwargs["visible"] = role == "t1c"   # the lesion tools work on T1+C: show it first
        layers.append((data, kwargs, kind))
    for name, role, layer_name in _MASKS:
        data, kwargs, kind = volume_to_layer_data(load_volume(folder / name), as_labels=True)
        kwargs["metadata"][ROLE_KEY] = role
        kwargs["name"] = layer_name
        kwargs["opacity"] = 0.5 if role != "lesions" else 0.7
        # As the panel colours masks: colour-blind-safe, one colour per lesion id.
        kwargs["colormap"] = label_colormap(role)
        layers.append((data, kwargs, kind))
    names, positions = read_landmarks(folder / "landmarks.csv")
    grid = {k: layers[0][1][k] for k in ("scale", "translate", "affine")}
    layers.append(levels_layer_data(names, positions, source=str(folder / "landmarks.csv"), **grid))
    return layers


def levels_layer_data(names, positions_lps, *, source: str = "", scale=(1.0, 1.0, 1.0),
                      translate=(0.0, 0.0, 0.0), affine=None) -> tuple:
    """A "levels" Points layer tuple: landmarks at their LPS positions, names shown beside them.

    Give it the transforms of the image it annotates (``scale``, ``translate``, rotation-only
    ``affine``): napari's slider then steps slice by slice instead of by 1 mm. The points are
    stored in that layer's data coordinates; ``layer.data_to_world`` gives napari world
    coordinates back, and :func:`~napari_lesionview._space.napari_to_lps` LPS mm.
    """
    world = lps_to_napari(np.asarray(positions_lps, dtype=float).reshape(-1, 3))
    matrix = getattr(affine, "affine_matrix", affine)
    rotation = np.eye(3) if matrix is None else np.asarray(matrix, dtype=float)[:3, :3]
    scale = np.asarray(scale, dtype=float)
    points = (world @ rotation - np.asarray(translate, dtype=float)) / scale
    # Sizes are in data units: keep a 4 mm dot and the name 3 mm beside it on any grid.
    in_plane = float(min(scale[1], scale[2]))
    kwargs = {
        "name": "levels",
        # A string column from the start: an empty list would make a float column, and the
        # first name napari writes into it ("C2") would fail to convert.
        "features": pd.DataFrame({"name": pd.Series([str(n) for n in names], dtype=object)}),
        "text": {"string": "{name}", "color": "#ffe14d", "size": 10, "anchor": "upper_left",
                 "translation": (0.0, -1.0 / scale[1], 3.0 / scale[2])},
        "size": _DOT_MM / in_plane,
        "face_color": "#ffe14d",
        "border_color": "#1a1a1a",
        "symbol": "disc",
        "axis_labels": AXIS_LABELS,
        "units": UNITS,
        "metadata": {ROLE_KEY: POINTS_ROLE, "source": source},
        "scale": tuple(float(v) for v in scale),
        "translate": tuple(float(v) for v in translate),
        "ndim": 3,
    }
    if matrix is not None:
        kwargs["affine"] = np.asarray(matrix, dtype=float)
    return points, kwargs, "points"
