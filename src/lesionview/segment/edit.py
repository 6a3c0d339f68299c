"""Editing helpers for masks and label images: each returns a new array and never touches its input.

They work on binary masks and on label images alike (a label image is edited label by label, so
one lesion's edit never spills into its neighbour). Sizes are in mm and mm^3, not voxels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import Geometry
from ..measure.components import bounding_boxes, structure


def _labels_of(mask: np.ndarray) -> list[int]:
    values = np.unique(mask)
    return [int(v) for v in values if v != 0]


def _per_label(mask: np.ndarray, edit, *, pad: int = 1) -> np.ndarray:
    """Apply ``edit(binary) -> binary`` to each label inside its (padded) box; returns a new array.

    Later labels do not overwrite voxels an earlier label holds, so edits never swap labels.
    """
    out = np.zeros_like(mask)
    binary = mask.dtype == bool
    source = mask.astype(np.uint8) if binary else mask
    for k, box in bounding_boxes(source.astype(np.int64, copy=False), pad=pad).items():
        edited = edit(source[box] == k)
        region = out[box]
        region[edited & (region == 0)] = True if binary else k
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill the enclosed holes of each label (3D: a hole is background not connected to the outside).

    Examples
    --------
    >>> m = np.ones((5, 5, 5), np.uint8); m[2, 2, 2] = 0
    >>> int(fill_holes(m)[2, 2, 2])
    1
    """
    return _per_label(mask, ndimage.binary_fill_holes, pad=1)


def remove_islands(mask: np.ndarray, geometry: Geometry, *, min_volume_mm3: float,
                   connectivity: int = 26) -> np.ndarray:
    """Drop the connected pieces of each label smaller than ``min_volume_mm3``."""
    min_voxels = min_volume_mm3 / geometry.voxel_volume
    st = structure(connectivity)

    def keep_big(binary: np.ndarray) -> np.ndarray:
        pieces, n = ndimage.label(binary, structure=st)
        if n == 0:
            return binary
        sizes = np.bincount(pieces.ravel())
        big = sizes >= min_voxels
        big[0] = False
        return big[pieces]

    return _per_label(mask, keep_big, pad=0)


def split_label(labels: np.ndarray, label: int, *, connectivity: int = 26) -> np.ndarray:
    """Give each connected piece of ``label`` its own id: the largest keeps ``label``, the others
    get new ids above the current maximum, largest first."""
    pieces, n = ndimage.label(labels == label, structure=structure(connectivity))
    out = labels.copy()
    if n <= 1:
        return out
    sizes = np.bincount(pieces.ravel())[1:]
    order = np.argsort(-sizes, kind="stable") + 1  # piece ids, largest first
    next_id = int(labels.max()) + 1
    for rank, piece in enumerate(order[1:]):
        out[pieces == piece] = next_id + rank
    return out


def merge_labels(labels: np.ndarray, ids, *, into: int | None = None) -> np.ndarray:
    """Relabel every id in ``ids`` as ``into`` (default: the smallest of them)."""
    ids = [int(i) for i in ids]
    if not ids:
        return labels.copy()
    target = min(ids) if into is None else int(into)
    out = labels.copy()
    out[np.isin(labels, ids)] = target
    return out


def smooth_mask(mask: np.ndarray, geometry: Geometry, *, sigma_mm: float = 0.5) -> np.ndarray:
    """Smooth each label's outline: Gaussian blur with ``sigma_mm`` in physical units (so thick
    slices are blurred less, in voxels, than fine in-plane pixels), then threshold at one half."""
    sigma = [sigma_mm / s for s in geometry.spacing]
    pad = int(np.ceil(3 * max(sigma))) + 1
    return _per_label(mask, lambda b: ndimage.gaussian_filter(b.astype(np.float32), sigma) >= 0.5, pad=pad)
