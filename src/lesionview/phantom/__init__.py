"""A realistic cervical-spine MRI phantom with intramedullary lesions and cord edema.

The anatomy is analytic in LPS millimetres (:mod:`.spine`, :mod:`.anatomy`, :mod:`.cases`), so the
same patient can be rendered on any grid (:func:`render`); the ground truth (:func:`case_truth`,
:class:`VertebralLevels`) comes from the shapes themselves, not from voxels.

Examples
--------
>>> from lesionview.phantom import CASES, VertebralLevels
>>> sorted(CASES)
['solitary', 'twin']
>>> VertebralLevels.phantom().level_of(CASES["twin"].lesions[1].centre)
'C6'
"""

from .cases import CASES, Case, Edema, Lesion, get_case
from .levels import VertebralLevels
from .renderer import (
    CONTRASTS,
    PhantomMaps,
    axial_geometry,
    lesion_fractions,
    render,
    render_maps,
    sagittal_geometry,
    series_info,
)
from .sample import expected_files, missing_files, sample_path, write_case
from .truth import case_truth, landmarks, surface_gap


def levels() -> VertebralLevels:
    """The phantom's vertebral levels (C1 to T2) as ordered boundary planes."""
    return VertebralLevels.phantom()


# (not the function `timeline`: its name is the submodule's)
_TIMELINE = ("Pose", "TimelinePoint", "timeline_path", "timeline_studies", "timeline_truth", "write_timeline")


def __getattr__(name: str):
    # The timeline is imported on first use, so that `python -m lesionview.phantom.timeline` (make sample)
    # does not find its module already imported by the package.
    if name in _TIMELINE:
        from . import timeline as module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CASES", "CONTRASTS", "Case", "Edema", "Lesion", "PhantomMaps", "Pose", "TimelinePoint", "VertebralLevels",
           "axial_geometry", "case_truth", "expected_files", "get_case", "landmarks", "lesion_fractions", "levels",
           "missing_files", "render", "render_maps", "sagittal_geometry", "sample_path",
           "series_info", "surface_gap", "timeline_path", "timeline_studies", "timeline_truth", "write_case",
           "write_timeline"]
