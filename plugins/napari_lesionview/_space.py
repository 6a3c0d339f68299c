"""Where lesionview volumes sit in napari's world, and back.

Design decision
---------------
Results never depend on storage orientation, and neither should what the user sees. Every
volume is therefore *reoriented* (permuted and flipped, never resampled:
:func:`lesionview.geometry.reorient`) to one fixed display orientation shared by every layer
of every study, :data:`DISPLAY_ORIENTATION` = ``"LIP"``:

* array axis 0 increases towards the patient's Left (napari's slider),
* array axis 1 increases towards Inferior (screen rows, drawn downward: Superior at the top),
* array axis 2 increases towards Posterior (screen columns: Anterior on the left).

napari's default 2D view (slider over axis 0, axes 1 and 2 as rows and columns) is then the
radiological sagittal view a spine reader expects, whatever the file stored (a NIfTI in PSR,
a DICOM sagittal, an axial stack...). A native sagittal DICOM series (rows towards
Posterior, columns towards Inferior) is already LIP, so it is displayed as stored.

napari's world frame is a signed permutation of DICOM patient coordinates (LPS, mm)::

    napari_world = (x, -z, y)        # (towards Left, towards Inferior, towards Posterior)

:func:`lps_to_napari` and :func:`napari_to_lps` convert points. The mapping is a proper
rotation (determinant +1), so napari's 3D view shows the patient as is, never mirrored.

Each layer gets ``scale`` = voxel spacing (mm, in displayed axis order), ``translate`` = the
reoriented origin and, for an oblique grid only, ``affine`` = the residual rotation (no
scaling, no translation) between its axes and the display axes::

    world = affine @ (translate + scale * index)

so every voxel lands at its true LPS position (:func:`layer_transform`), and layers from
different series of one study overlay in physical space. napari shows an oblique layer in 2D
without its out-of-plane tilt (it warns "Non-orthogonal slicing"); 3D is exact.
"""

from __future__ import annotations

import numpy as np

from lesionview.geometry import Geometry

#: Orientation letters (direction each array axis increases towards) of every displayed layer.
DISPLAY_ORIENTATION = "LIP"

#: napari dimension labels matching :data:`DISPLAY_ORIENTATION` (from -> to along each axis).
AXIS_LABELS = ("R→L", "S→I", "A→P")
UNITS = ("mm", "mm", "mm")

# napari_world = _LPS_TO_NAPARI @ lps. Rows: +x (Left), -z (Inferior), +y (Posterior).
_LPS_TO_NAPARI = np.array([[1.0, 0.0, 0.0],
                           [0.0, 0.0, -1.0],
                           [0.0, 1.0, 0.0]])
_LPS_TO_NAPARI.flags.writeable = False

# Rotations closer to identity than this are float32 round-off of header directions, not
# obliquity: snapping them moves no voxel by more than 0.1 um per metre from the isocentre,
# and spares napari's "Non-orthogonal slicing" path.
_SNAP = 1e-7


def lps_to_napari(points) -> np.ndarray:
    """Map LPS mm points (..., 3) to napari world coordinates (..., 3).

    Examples
    --------
    >>> lps_to_napari([10.0, 20.0, 30.0]).tolist()
    [10.0, -30.0, 20.0]
    """
    return np.asarray(points, dtype=float) @ _LPS_TO_NAPARI.T


def napari_to_lps(points) -> np.ndarray:
    """Map napari world coordinates (..., 3) to LPS mm (..., 3); inverse of :func:`lps_to_napari`.

    Examples
    --------
    >>> napari_to_lps([10.0, -30.0, 20.0]).tolist()
    [10.0, 20.0, 30.0]
    """
    return np.asarray(points, dtype=float) @ _LPS_TO_NAPARI


def layer_transform(geometry: Geometry) -> dict:
    """napari layer keywords (``scale``, ``translate``, ``affine``) placing ``geometry``.

    ``geometry`` should already be in :data:`DISPLAY_ORIENTATION` (only then is the residual
    rotation small); any orthonormal grid is placed correctly regardless.
    """
    rotation = _LPS_TO_NAPARI @ geometry.direction_matrix
    if np.max(np.abs(rotation - np.eye(3))) <= _SNAP:
        rotation = np.eye(3)
    translate = rotation.T @ lps_to_napari(geometry.origin)
    affine = np.eye(4)
    affine[:3, :3] = rotation
    return {"scale": tuple(float(s) for s in geometry.spacing),
            "translate": tuple(float(t) for t in translate),
            "affine": affine}


def geometry_from_transform(shape, *, scale, translate, affine=None) -> Geometry:
    """The LPS :class:`Geometry` of a 3D napari layer from its transforms.

    Inverse of :func:`layer_transform`.

    Works for any layer placed with scale, translate and a rotation-only affine, e.g. a
    Labels layer the user created over an image layer.
    """
    rotation = np.eye(3) if affine is None else np.asarray(affine, dtype=float)[:3, :3]
    if affine is not None and np.any(np.abs(np.asarray(affine, dtype=float)[:3, 3]) > 0):
        raise ValueError("layer affine has a translation; lesionview layers keep it in `translate`")
    direction = _LPS_TO_NAPARI.T @ rotation
    origin = napari_to_lps(rotation @ np.asarray(translate, dtype=float))
    return Geometry(tuple(shape), tuple(scale), tuple(origin), direction)
