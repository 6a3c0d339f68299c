"""Vertebral levels: names, the disc-plane level model, and the sources it is built from.

See :mod:`lesionview.levels.model` for how a point gets its level and
:mod:`lesionview.levels.sources` for every input convention and where it is documented
(landmark files: :mod:`lesionview.levels.landmark_files`).
Levels here are vertebral levels, not spinal cord segments.
"""

from .detect import detect_kind, read_levels
from .landmark_files import read_landmarks, write_landmarks
from .model import LabelledCord, Landmark, LevelModel
from .names import ACCEPTED_FORMS, LEVEL_NAMES, disc_name, index_of, name_of, span_label

__all__ = ["ACCEPTED_FORMS", "LEVEL_NAMES", "LabelledCord", "Landmark", "LevelModel", "detect_kind", "disc_name",
           "index_of", "name_of", "read_landmarks", "read_levels", "span_label", "write_landmarks"]
