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


__all__ = ["CASES", "CONTRASTS", "Case", "Edema", "Lesion", "PhantomMaps", "VertebralLevels",
           "axial_geometry", "case_truth", "expected_files", "get_case", "landmarks", "lesion_fractions", "levels",
           "missing_files", "render", "render_maps", "sagittal_geometry", "sample_path",
           "series_info", "surface_gap", "write_case"]
