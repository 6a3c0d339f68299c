"""napari front end of lesionview.

Importing this package stays light (no napari, no Qt): napari imports the modules named in
``napari.yaml`` only when a contribution is used.
"""

from ._space import DISPLAY_ORIENTATION, lps_to_napari, napari_to_lps

__all__ = ["DISPLAY_ORIENTATION", "lps_to_napari", "napari_to_lps"]
