"""Cross-sections and extents of voxel regions in world space: cord occupancy, lengths, gaps.

Voxels are boxes, not points: an extent along a direction ``u`` adds the box's own extent along
``u`` (``voxel_extent_along``), so a lesion one 3 mm slice thick is 3 mm long, not 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..geometry import Geometry
from .components import nonzero_indices

#: Cord voxels farther than this from the lesion's axis are not in its cross-section (mm):
#: a plane perpendicular to a curved cord may cut it again far away.
SECTION_RADIUS_MM = 15.0


def voxel_extent_along(geometry: Geometry, u):
    """Length of one voxel box projected on the unit vector ``u`` (mm); for unit vectors as rows
    of an (N, 3) array, the N lengths."""
    u = np.asarray(u, float)
    extents = np.abs(u @ geometry.direction_matrix) @ np.asarray(geometry.spacing, float)
    return float(extents) if u.ndim == 1 else extents


def world_points(mask: np.ndarray, geometry: Geometry) -> np.ndarray:
    """World LPS coordinates (N, 3) of the centres of the voxels set in ``mask``."""
    return geometry.index_to_world(nonzero_indices(mask))


def boundary_points(mask: np.ndarray, geometry: Geometry) -> np.ndarray:
    """World coordinates of the voxels of ``mask`` that touch the outside (6-neighbourhood)."""
    inner = ndimage.binary_erosion(mask, border_value=0)
    return world_points(mask & ~inner, geometry)


def extent_along(points: np.ndarray, u, geometry: Geometry) -> float:
    """Extent of voxel boxes centred at ``points`` along the unit vector ``u`` (mm)."""
    if len(points) == 0:
        return 0.0
    t = points @ np.asarray(u, float)
    return float(t.max() - t.min() + voxel_extent_along(geometry, u))


def cord_occupancy(lesion_points: np.ndarray, cord_points: np.ndarray, geometry: Geometry, axis) -> float:
    """Largest fraction of the cord's cross-section taken by the lesion.

    Cross-sections are slabs perpendicular to ``axis`` (the cord's direction at the lesion), one
    projected voxel thick, so every voxel falls in one slab whatever the storage orientation.
    In each slab the fraction is lesion voxels / cord voxels (``cord_points`` must include the
    lesion); the largest fraction is returned.
    """
    axis = np.asarray(axis, float)
    if len(lesion_points) == 0 or len(cord_points) == 0:
        return 0.0
    centre = lesion_points.mean(axis=0)
    # Keep only the cord near the lesion: the part this cross-section means.
    rel = cord_points - centre
    radial = rel - np.outer(rel @ axis, axis)
    near = np.einsum("ij,ij->i", radial, radial) <= SECTION_RADIUS_MM**2
    cord_t = cord_points[near] @ axis
    lesion_t = lesion_points @ axis
    width = voxel_extent_along(geometry, axis)
    # Bin edges half a voxel off the voxel centres: on an axis-aligned grid the centres sit
    # exactly on multiples of the width, where round-off would scatter them between two bins.
    lo = lesion_t.min() - 1.5 * width
    cord_t = cord_t[(cord_t >= lo) & (cord_t <= lesion_t.max() + width)]
    n_bins = int(np.floor((lesion_t.max() + width - lo) / width)) + 1
    cord_counts = np.bincount(((cord_t - lo) // width).astype(int), minlength=n_bins)
    lesion_counts = np.bincount(((lesion_t - lo) // width).astype(int), minlength=n_bins)
    valid = cord_counts > 0
    if not np.any(valid):
        return 0.0
    return float(min(1.0, np.max(lesion_counts[valid] / cord_counts[valid])))


@dataclass(frozen=True)
class Gap:
    """The smallest edge-to-edge distance between two voxel regions (see :func:`closest_gap`)."""

    gap_mm: float
    uncertainty_mm: float      # one voxel's longest side
    extent_mm: float           # one voxel box along ``direction``: the gap's own uncertainty
    direction: np.ndarray      # unit LPS vector joining the closest boundary voxel centres


def closest_gap(a_boundary: np.ndarray, b_boundary: np.ndarray, geometry: Geometry) -> Gap:
    """Smallest edge-to-edge distance between two voxel regions, and how well it is known.

    The closest pair of boundary-voxel centres is found with a k-d tree; the gap between the two
    voxel boxes along the line joining them is that distance less one voxel extent along it.
    Each surface is known only to within its voxel along that line, so ``extent_mm`` (one voxel
    box projected on the line: about 3 mm when it crosses 3 mm slices, the pixel when it runs
    in-plane) is the gap's uncertainty; ``uncertainty_mm`` bounds it whatever the direction (one
    voxel's longest side). Touching regions: the direction is superior-inferior, nominal.
    """
    if len(a_boundary) == 0 or len(b_boundary) == 0:
        return Gap(float("nan"), float("nan"), float("nan"), np.array([0.0, 0.0, 1.0]))
    dist, idx = cKDTree(a_boundary).query(b_boundary, k=1)
    j = int(np.argmin(dist))
    d = float(dist[j])
    uncertainty = float(max(geometry.spacing))
    if d == 0:
        return Gap(0.0, uncertainty, uncertainty, np.array([0.0, 0.0, 1.0]))
    u = (b_boundary[j] - a_boundary[idx[j]]) / d
    extent = voxel_extent_along(geometry, u)
    return Gap(max(d - extent, 0.0), uncertainty, extent, u)


def surface_gap(a_boundary: np.ndarray, b_boundary: np.ndarray, geometry: Geometry) -> tuple[float, float]:
    """(gap, uncertainty) in mm of :func:`closest_gap`: the uncertainty is one voxel's longest
    side (3 mm with 3 mm slices), whichever direction the closest pair runs in."""
    gap = closest_gap(a_boundary, b_boundary, geometry)
    return gap.gap_mm, gap.uncertainty_mm
