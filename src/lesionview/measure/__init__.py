"""The measurement engine: lesion and edema numbers from masks, in world millimetres."""

from .models import Edema, Lesion, LevelSpan, Multiplicity, MultiplicityClass, StudyMeasurements
from .study import measure

__all__ = [
           "Edema",
           "Lesion",
           "LevelSpan",
           "Multiplicity",
           "MultiplicityClass",
           "StudyMeasurements",
           "measure",
]
