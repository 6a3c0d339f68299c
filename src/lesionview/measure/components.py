"""From a mask to lesions: connected components of a binary mask, or the labels as painted."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import GeometryMismatchError, InputError
from ..geometry import Geometry
from ..volume import Volume

#: Neighbourhoods by their usual names: faces, faces+edges, faces+edges+corners.
CONNECTIVITY = {6: 1, 18: 2, 26: 3}


def structure(connectivity: int) -> np.ndarray:
    """scipy structuring element for 6-, 18- or 26-connectivity."""
    if connectivity not in CONNECTIVITY:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity}")
    return ndimage.generate_binary_structure(3, CONNECTIVITY[connectivity])


def label_regions(mask: np.ndarray, *, connectivity: int = 26, kind: str = "auto",
                  name: str = "mask", source: str | None = None) -> tuple[np.ndarray, str]:
    """Number the regions of ``mask``: returns ``(labels, kind_used)``.

    Parameters
    ----------
    mask : ndarray
        Binary (0/1 or bool): each connected component is one region, numbered in array scan
        order (``scipy.ndimage.label``; the measurement renumbers them superior to inferior).
        Label image: each non-zero value is one region, kept as painted even when in pieces.
    connectivity : {6, 18, 26}
        Neighbourhood for components of a binary mask (recorded in the output).
    kind : {"auto", "binary", "labels"}
        "auto" treats a mask with one non-zero value (0/1, 0/255) as binary and a mask with
        several as labels.
    """
    arr = check_mask(mask, name=name, source=source)
    # Only the box of the non-zero voxels is read element by element: boolean indexing and
    # labelling walk C index order, across memory on the Fortran-ordered arrays nibabel loads.
    box = nonzero_box([arr])
    inside = arr[box] if box is not None else arr[:0]
    values = np.unique(inside[inside != 0])
    _refuse_images(arr, values, name=name, source=source)
    if kind == "auto":
        # One non-zero value is a binary mask whatever the value (many tools save 0/255).
        kind = "binary" if values.size <= 1 else "labels"
    if kind == "binary":
        if values.size > 1:
            shown = ", ".join(f"{v:g}" for v in values[:6])
            raise InputError(f"{name} was given as binary but holds the values {shown}.", path=source,
                             hint="Use one value for lesion voxels (e.g. 0/1), or read it as a label image "
                                  "(mask_kind='labels'; CLI --mask-kind labels).")
        labels = np.zeros(arr.shape, np.int32)
        if box is not None:     # scan order within the box is the whole array's scan order
            labels[box] = ndimage.label(inside != 0, structure=structure(connectivity))[0]
        return labels, "binary"
    if kind != "labels":
        raise ValueError(f"kind must be 'auto', 'binary' or 'labels', got {kind!r}")
    # Keep every id as painted: int64 holds any whole number a label file can carry.
    return arr.astype(np.int64, copy=False), "labels"


#: More distinct labels than this is no lesion mask (an image given by mistake would take hours).
MAX_LABELS = 1000
#: A label image covering this much of its grid with many values is an image, not a mask.
IMAGE_LIKE_FRACTION, IMAGE_LIKE_VALUES = 0.25, 32


def _refuse_images(arr: np.ndarray, values: np.ndarray, *, name: str, source: str | None) -> None:
    image_like = values.size > IMAGE_LIKE_VALUES and np.count_nonzero(arr) > IMAGE_LIKE_FRACTION * arr.size
    if values.size > MAX_LABELS or image_like:
        raise InputError(f"{name} holds {values.size} different values over "
                         f"{np.count_nonzero(arr) / arr.size:.0%} of its voxels: it looks like an image, "
                         "not a mask.", path=source,
                         hint="Give the mask (0 background, 1 or one label per lesion), not the MR image.")


def check_mask(mask, *, name: str = "mask", source: str | None = None) -> np.ndarray:
    """The mask as an array, refused with a reason when it cannot be a mask (NaN, fractions, negatives)."""
    arr = np.asarray(mask)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{name} contains NaN or infinite values.", path=source,
                             hint="Masks hold whole numbers: 0 background, 1 (or a label) inside.")
        if np.any(arr != np.round(arr)):
            raise InputError(f"{name} has fractional values (e.g. {arr[arr != np.round(arr)][0]:g}); "
                             "it looks like an image, not a mask.", path=source,
                             hint="Pass a binary or label mask, or threshold it first.")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} has data type {arr.dtype}, not numbers.", path=source)
    if arr.dtype.kind in "if" and np.any(arr < 0):   # (bool, unsigned: no pass over the volume)
        raise InputError(f"{name} has negative values.", path=source,
                         hint="Masks hold 0 for background and positive labels.")
    return arr


def bounding_boxes(labels: np.ndarray, *, pad: int = 1) -> dict[int, tuple[slice, slice, slice]]:
    """Each label's bounding box, grown by ``pad`` voxels (clipped to the array)."""
    # find_objects walks the array in C index order, which strides across memory on the
    # Fortran-ordered arrays nibabel loads: it is given the axes in memory order instead.
    order = memory_order(labels)
    boxes = {}
    for k, sl in enumerate(ndimage.find_objects(labels.transpose(order)), start=1):
        if sl is None:
            continue
        box = [slice(0)] * labels.ndim
        for s, axis in zip(sl, order):
            box[axis] = slice(max(s.start - pad, 0), min(s.stop + pad, labels.shape[axis]))
        boxes[k] = tuple(box)
    return boxes


def nonzero_box(masks, *, pad: int = 0) -> tuple[slice, ...] | None:
    """Smallest box holding every non-zero voxel of ``masks`` (arrays of one shape; None entries
    are skipped), grown by ``pad`` voxels and clipped to the array; None when all are empty.

    Whatever the arrays' memory layout (C, or Fortran as nibabel loads NIfTI), each is read twice
    at memory speed: reduced over its outermost axis in memory to a plane (contiguous rows OR'ed
    together), then over its two inner axes (``scipy.ndimage.find_objects`` walks C index order
    and takes 20-100x longer on a 512 x 512 x 64 Fortran-ordered mask).
    """
    present = [m for m in masks if m is not None]
    if not present:
        return None
    hits = [np.zeros(n, bool) for n in present[0].shape]
    for m in present:
        outer = int(memory_order(m)[0])
        inner = tuple(a for a in range(m.ndim) if a != outer)
        plane = np.any(m, axis=outer)
        hits[outer] |= np.any(m, axis=inner)
        for k, axis in enumerate(inner):
            hits[axis] |= np.any(plane, axis=tuple(j for j in range(plane.ndim) if j != k))
    if not hits[0].any():
        return None
    return tuple(slice(max(int(idx[0]) - pad, 0), min(int(idx[-1]) + 1 + pad, len(h)))
                 for h in hits for idx in [np.flatnonzero(h)])


def nonzero_indices(mask: np.ndarray) -> np.ndarray:
    """Indices (n, ndim) of the non-zero voxels of ``mask``, in C index order as ``np.argwhere``.

    Only their box is searched (:func:`nonzero_box`): ``np.argwhere`` walks C index order,
    across memory on a Fortran-ordered array (75 ms for a 512 x 512 x 64 cord mask, 2 ms so).
    """
    box = nonzero_box([mask])
    if box is None:
        return np.zeros((0, mask.ndim), np.intp)
    return np.argwhere(mask[box]) + np.array([s.start for s in box])


def memory_order(array: np.ndarray) -> np.ndarray:
    """The array's axes from the largest stride to the smallest (C order: 0, 1, 2; Fortran: 2, 1, 0)."""
    return np.argsort([-abs(s) for s in array.strides], kind="stable")


def compact_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber labels 1..n (int32) so per-label tables stay small whatever ids were painted;
    returns ``(compact, ids)`` with ``ids[k - 1]`` the original id of compact label ``k``."""
    ids = np.unique(labels)
    ids = ids[ids != 0]
    if ids.size == 0 or (ids[-1] == ids.size and labels.dtype == np.int32):
        return labels, ids
    compact = np.zeros(labels.shape, np.int32)
    inside = labels != 0
    compact[inside] = np.searchsorted(ids, labels[inside]) + 1
    return compact, ids


def array_on_grid(mask, geometry: Geometry | None, *, what: str, caller: str) -> tuple[np.ndarray, Geometry]:
    """The array of ``mask`` (a Volume, or an array with ``geometry``) and the grid it lies on;
    a Volume whose grid disagrees with ``geometry``, or an array of another shape, is refused
    naming ``what`` it is and the ``caller`` that needs it."""
    if isinstance(mask, Volume):
        if geometry is not None and not geometry.same_space(mask.geometry):
            raise GeometryMismatchError(f"the {what} and the geometry given disagree: "
                                        f"mask {mask.geometry.describe()}; given {geometry.describe()}.")
        return mask.array, mask.geometry
    if geometry is None:
        raise ValueError(f"{caller} needs geometry= when the {what} is a bare array")
    array = np.asarray(mask)
    if array.shape != geometry.shape:
        raise GeometryMismatchError(f"{what} shape {array.shape} does not match {geometry.describe()}")
    return array, geometry
