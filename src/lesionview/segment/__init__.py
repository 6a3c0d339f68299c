"""Semi-automatic segmentation: cord from clicks, enhancing lesions from a seed, T2 edema, editing.

Plain functions: arrays (or Volumes) and a geometry in, a :class:`Segmentation` out; the napari
widgets, the CLI and scripts share them. Nothing here mutates its inputs.
"""

from .cord import cord_region, import_cord_mask, segment_cord
from .edema import grow_edema
from .edit import fill_holes, merge_labels, remove_islands, smooth_mask, split_label
from .lesion import grow_lesion, propose_lesions
from .result import Segmentation, dice

__all__ = [
           "Segmentation",
           "cord_region",
           "dice",
           "fill_holes",
           "grow_edema",
           "grow_lesion",
           "import_cord_mask",
           "merge_labels",
           "propose_lesions",
           "remove_islands",
           "segment_cord",
           "smooth_mask",
           "split_label",
]
