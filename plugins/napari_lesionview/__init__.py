"""napari front end of lesionview."""
