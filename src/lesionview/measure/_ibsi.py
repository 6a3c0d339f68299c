"""IBSI maximum 3D diameter (feature L0JK), exact and equal to pyradiomics ``Maximum3DDiameter``."""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry
from ._hull import centre_candidates, crop_mask, diameter_pairs

#: Half-voxel steps to the six face neighbours, in index units.
_OCTAHEDRON = np.concatenate([np.eye(3), -np.eye(3)]) * 0.5


def max_diameter_ibsi(mask: np.ndarray, geometry: Geometry) -> float:
    """Maximum 3D diameter as IBSI (feature L0JK) and pyradiomics ``Maximum3DDiameter`` define it.

    Definition: the largest Euclidean distance (mm) between two vertices of the marching-cubes
    mesh of the mask. For a binary mask those vertices are the midpoints of the edges joining the
    centre of a lesion voxel to the centre of a face-adjacent (6-connected) voxel outside the
    lesion, voxels beyond the array counting as outside (pyradiomics pads the mask by one voxel).
    A single voxel therefore measures its longest edge, not 0.

    Computed exactly, without comparing all vertex pairs: candidates for the convex hull of the
    lesion voxel centres are grown by the six half-voxel steps, which gives mesh vertices
    including every vertex of the mesh's hull, and the largest distance between them is found by
    a pruned, vectorised search. Equal to pyradiomics to floating-point rounding; only the
    spacing matters.

    Examples
    --------
    >>> g = Geometry((3, 3, 3), spacing=(3.0, 0.5, 0.5))
    >>> m = np.zeros(g.shape, bool); m[1, 1, 1] = True
    >>> max_diameter_ibsi(m, g)
    3.0
    """
    mask = crop_mask(mask, geometry)
    return diameter_pairs(mesh_vertex_candidates(mask) * np.array(geometry.spacing))[0]


def mesh_vertex_candidates(mask: np.ndarray) -> np.ndarray:
    """Marching-cubes mesh vertices of a cropped ``mask`` (index units, (n, 3)) that include every
    vertex of the mesh's convex hull.

    The mesh vertices' hull is the voxel centres' hull grown by the octahedron of half-voxel
    steps: every mesh vertex is c + o (c a lesion centre, o a half step to an outside
    neighbour), and each vertex c + o of the grown hull is a mesh vertex, because the neighbour
    beyond a centre that is extreme in some direction lies further out, hence outside.
    The hull candidates (a superset of its vertices, hardly larger on lesions) are grown as
    they are: diameter_pairs prunes them by distance, cheaper than a hull (Qhull) at this stage.
    """
    cand = centre_candidates(mask).astype(int)
    grown = cand[:, None, :] + _OCTAHEDRON[None]                   # (n, 6, 3)
    # Keep only half steps towards an outside neighbour: mesh vertices, so nothing beyond the
    # mesh is measured; the others cannot be vertices of the grown hull.
    neighbour = cand[:, None, :] + np.rint(2 * _OCTAHEDRON[None]).astype(int)
    inside = np.all((neighbour >= 0) & (neighbour < mask.shape), axis=-1)
    inside[inside] = mask[tuple(neighbour[inside].T)]
    return grown[~inside]
