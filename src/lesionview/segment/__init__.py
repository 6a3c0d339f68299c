"""Semi-automatic segmentation: cord from clicks, enhancing lesions from a seed, T2 edema, editing.

Plain functions: arrays (or Volumes) and a geometry in, a :class:`Segmentation` out; the napari
widgets, the CLI and scripts share them. Nothing here mutates its inputs. The same tools, and
any installed model, are reachable through one interface: :func:`segment_with` a back end from
:func:`available_backends` (:mod:`lesionview.segment.backends`).
"""

from .backends import (
    Box,
    Point,
    Scribble,
    SegmentationBackend,
    available_backends,
    get_backend,
    segment_with,
)
from .cord import cord_region, import_cord_mask, segment_cord
from .edema import grow_edema
from .edit import fill_holes, merge_labels, remove_islands, smooth_mask, split_label
from .lesion import grow_lesion, propose_lesions
from .result import Segmentation, dice

__all__ = [
    "Box",
    "Point",
    "Scribble",
    "Segmentation",
    "SegmentationBackend",
    "available_backends",
    "cord_region",
    "dice",
    "fill_holes",
    "get_backend",
    "grow_edema",
    "grow_lesion",
    "import_cord_mask",
    "merge_labels",
    "propose_lesions",
    "remove_islands",
    "segment_cord",
    "segment_with",
    "smooth_mask",
    "split_label",
]
