"""Semi-automatic segmentation: cord from clicks, enhancing lesions from a seed, T2 edema, editing.

Plain functions: arrays (or Volumes) and a geometry in, a :class:`Segmentation` out; the napari
widgets, the CLI and scripts share them. Nothing here mutates its inputs.
"""

from .result import Segmentation

__all__ = ["Segmentation"]
