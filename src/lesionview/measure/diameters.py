"""Lesion diameters in world millimetres: IBSI maximum 3D diameter, calibrated maximum diameter,
axial (RANO/RECIST bidimensional) diameters and craniocaudal length.

Every function takes one lesion as a boolean ``mask`` (NumPy axis order as described by its
``geometry``) and its :class:`~lesionview.geometry.Geometry`, measures in physical space (so storage
orientation never changes a number), returns mm and raises ValueError when the mask is empty or
does not match the geometry.

Voxels are boxes, one convention for every length here. Let ``b(e) = sum_a spacing[a] |e . d_a|``
be one voxel box projected on a unit direction ``e`` (``d_a`` the world direction of array axis a).

- An **extent** along ``e`` (:func:`craniocaudal_length`; edema lengths, occupancy slabs and gaps
  in :mod:`~lesionview.measure.sections`) is that of the union of the voxel boxes: centre extent
  plus ``b(e)``, half a box beyond the outermost centre at each end.
- A **diameter** (:func:`max_diameter`, :func:`axial_diameters`) estimates the smooth lesion: centre
  extent plus, at each end, the expected gap to the smooth surface when the mask holds enough
  centres to read it (3 or more), else the same half box as an extent. No diameter is less than
  one voxel box along its direction, and the calibrated maximum diameter is never less than the
  extent along any array or world axis (so never less than the craniocaudal length).
- :func:`max_diameter_ibsi` follows IBSI instead (marching-cubes mesh; an oracle and for export).

Bias of the maximum diameters against analytic ellipsoids (mask = voxel centres inside; random
poses and sub-voxel offsets; mean +- SD over 100 poses, mm; ``python -m benchmarks bench_diameter``;
"centres" is the farthest-centres distance, which is SimpleITK's Feret diameter):

==============================  =============  ==============  ==============  ==============
semi-axes (mm)                  voxels (mm)    calibrated      IBSI mesh       centres
==============================  =============  ==============  ==============  ==============
5.5, 4, 3 (11 mm)               0.5x0.5x3      -0.23 +- 0.52   +0.91 +- 0.52   -0.76 +- 0.40
5.5 sphere                      0.5x0.5x3      +0.79 +- 0.34   +2.16 +- 0.28   -0.10 +- 0.05
1.5 sphere (3 mm)               0.5x0.5x3      +0.24 +- 0.21   +0.74 +- 0.35   -0.85 +- 0.73
5.5, 4, 3                       1 iso          +0.06 +- 0.18   +0.31 +- 0.18   -0.52 +- 0.16
5.5, 4, 3                       0.5 iso        -0.01 +- 0.08   +0.22 +- 0.08   -0.20 +- 0.07
5.5 sphere                      0.5 iso        +0.12 +- 0.01   +0.44 +- 0.02   -0.02 +- 0.01
3, 2, 1.5 (6 mm)                1 iso          +0.18 +- 0.30   +0.01 +- 0.28   -0.82 +- 0.26
15, 4, 3 (30 mm, pointed)       1 iso          -0.03 +- 0.33   -0.10 +- 0.29   -0.93 +- 0.28
15, 4, 3 (30 mm, pointed)       0.5x0.5x3      -0.89 +- 0.95   -0.03 +- 0.98   -1.60 +- 0.85
15, 4, 3 along S-I +-15 deg,    sagittal       -1.00 +- 0.85   -0.97 +- 0.82   -1.61 +- 0.82
6 mm wide across 3 mm slices    0.5x0.5x3
==============================  =============  ==============  ==============  ==============

What lies between 3 mm slices cannot be recovered from the mask: a pointed lesion whose long
axis crosses thick slices measures about 1 mm short by every definition. On thick slices a round
lesion's calibrated diameter is held up by its extent across the slices (a whole number of slices).

Axial diameters and craniocaudal length (along the cord axis) of an 11 x 8 x 6 mm ellipsoid, error
vs. the analytic central section and extent (same poses and benchmark):

======================================  ===============  ===============  ===============  ==============
grid                                    long             short            craniocaudal     uncertainty_mm
======================================  ===============  ===============  ===============  ==============
1 mm isotropic                          -0.11 +- 0.23    +0.09 +- 0.23    -0.07 +- 0.41    None
axial 0.5 x 0.5 x 3 (S-I slices)        -0.24 +- 0.25    -0.06 +- 0.21    +0.18 +- 1.25    None
sagittal 0.5 x 0.5 x 3 (L-R slices)     -0.13 +- 0.58    +0.31 +- 0.56    -0.25 +- 0.30    3.0
sagittal, oblique cord axis             +0.09 +- 0.55    +0.48 +- 0.52    +0.77 +- 0.20    3.0
======================================  ===============  ===============  ===============  ==============
"""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry
from ._axial import SUPERIOR, AxialDiameters, axial_diameters
from ._calibrated import TIP_GAP_FACTOR, TIP_POINTS, max_diameter
from ._hull import centre_candidates, crop, unit
from ._ibsi import max_diameter_ibsi
from .sections import extent_along
from .thick import THICK_SLICE_MM

__all__ = [
    "SUPERIOR",
    "THICK_SLICE_MM",
    "TIP_GAP_FACTOR",
    "TIP_POINTS",
    "AxialDiameters",
    "axial_diameters",
    "craniocaudal_length",
    "max_diameter",
    "max_diameter_ibsi",
]


def craniocaudal_length(mask: np.ndarray, geometry: Geometry, axis=None) -> float:
    """Extent of the lesion's voxel boxes along a straight axis (default superior-inferior).

    Definition: ``max(c . n) - min(c . n) + b(n)`` over lesion voxel centres ``c`` and the unit LPS
    axis ``n`` (see the module's box convention). A lesion on one 3 mm axial slice measures 3 mm,
    not 0. (Along a curved cord see the centerline variant in the study.)

    Examples
    --------
    >>> axial_grid = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]      # array axes: S, P, L
    >>> g = Geometry((1, 2, 2), spacing=(3.0, 0.5, 0.5), direction=axial_grid)
    >>> craniocaudal_length(np.ones(g.shape, bool), g)
    3.0
    """
    mask, geometry = crop(mask, geometry)
    # The hull candidates hold the extreme centres along every direction.
    points = geometry.index_to_world(centre_candidates(mask))
    return extent_along(points, unit(SUPERIOR if axis is None else axis, "axis"), geometry)
