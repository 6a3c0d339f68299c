"""Grids over the analytic phantom for the tests: storage directions, rotations, the twin on them.

The phantom is analytic, so the same patient can be rendered afresh on any grid; these are the
grids several test modules share (axial, sagittal and coronal storage, oblique ones, and the twin
on 3 mm axial slices), so each is built in one place. Axial grids of any slice thickness and tilt
come from :func:`lesionview.phantom.axial_geometry`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lesionview.geometry import Geometry
from lesionview.phantom import axial_geometry, render_maps
from lesionview.phantom.renderer import AXIAL_FOV_MM, PhantomMaps

# Columns of a direction matrix are the LPS directions of the array axes.
AXIAL = np.eye(3)                                                   # slices along z
SAGITTAL = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float).T    # slices along x
CORONAL = np.array([[0, 1, 0], [1, 0, 0], [0, 0, -1]], float).T     # slices along y


def rotation(axis, degrees: float) -> np.ndarray:
    """Rotation matrix of ``degrees`` about ``axis`` (Rodrigues)."""
    a = np.radians(degrees)
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * kx @ kx


def grid(direction, spacing, lo=AXIAL_FOV_MM[0], hi=AXIAL_FOV_MM[1]) -> Geometry:
    """A grid with array axes along the columns of ``direction`` covering the box ``lo``-``hi``
    (LPS mm; default x -20..20, y -30..20, z -110..90: C1 to T2 with the sample's landmarks)."""
    direction = np.asarray(direction, float)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T
    local = corners @ direction  # coordinates along each array axis
    start = local.min(axis=0)
    shape = np.ceil((local.max(axis=0) - start) / spacing).astype(int) + 1
    return Geometry(tuple(int(n) for n in shape), tuple(float(s) for s in spacing), tuple(direction @ start),
                    direction)


@lru_cache(maxsize=4)
def twin_axial(slice_mm: float = 3.0, tilt_deg: float = 0.0) -> tuple[Geometry, PhantomMaps]:
    """The twin phantom rendered on :func:`~lesionview.phantom.axial_geometry` (cached: rendering
    takes seconds and several modules use the 3 mm grid). The maps are shared: do not modify them."""
    g = axial_geometry(slice_mm, tilt_deg)
    return g, render_maps("twin", g)
