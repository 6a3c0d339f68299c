"""Vertebral levels: names, the disc-plane level model, and the sources it is built from.

See :mod:`lesionview.levels.model` for how a point gets its level and
:mod:`lesionview.levels.sources` for every input convention and where it is documented
(landmark files: :mod:`lesionview.levels.landmark_files`).
Levels here are vertebral levels, not spinal cord segments.

The names below are imported on first use (lazy_loader, as scikit-image does): the level model
needs scipy, and ``lesionview --help`` or ``lesionview info`` must not pay for it when they only
need :mod:`lesionview.levels.names` or :mod:`lesionview.levels.segments`.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "detect": ["detect_kind", "read_levels"],
    "landmark_files": ["read_landmarks", "write_landmarks"],
    "model": ["LabelledCord", "Landmark", "LevelModel"],
    "names": ["ACCEPTED_FORMS", "LEVEL_NAMES", "disc_name", "index_of", "name_of", "span_label"],
})
