"""Triangle meshes of mask regions (lesions, cord) in LPS millimetres, for a 3D view.

Marching cubes (:func:`skimage.measure.marching_cubes`) runs on each region's box in *index*
space; the vertices are then mapped through the grid's affine, so oblique and anisotropic grids
give surfaces in their true place and shape, and every mesh of a study shares one frame (LPS).

A mask is a staircase of voxels. Meshed as it is, every voxel step shows: a sphere of radius
10 mm gets 8 % too much area on 1 mm voxels. A Gaussian of half a voxel along each axis before
the 0.5 iso-surface takes the steps off and keeps the volume: on 1 mm or 0.5 mm voxels a 10 mm
sphere's area then comes within 5 % and its volume within 1 %, and no vertex is more than a
voxel from the mask's boundary. On 3 mm sagittal slices the 3 mm steps between slices stay
(area +15 %): the mesh shows the mask, it does not invent the shape between slices. A region
too small to survive the smoothing (one or two voxels) is meshed as it is, so no region ever
loses its surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.measure import marching_cubes

from ..geometry import Geometry
from ..volume import Volume
from .components import array_on_grid, bounding_boxes, label_regions

#: Gaussian smoothing (standard deviation, in voxels along each axis) before the iso-surface.
SMOOTHING_VOXELS = 0.5
_LEVEL = 0.5


@dataclass(frozen=True, eq=False)
class Surface:
    """The closed surface of one region of a mask.

    Attributes
    ----------
    label : int
        The region: its value in a label image, or its component number (array scan order, as
        :func:`~lesionview.measure.components.label_regions` numbers them) in a binary mask.
    value : int
        The mask value of the region's voxels (the colour it has in a labels display).
    vertices : ndarray, shape (N, 3)
        LPS positions, mm.
    faces : ndarray, shape (M, 3)
        Vertex indices of each triangle, counter-clockwise seen from outside (normals outward).
    """

    label: int
    value: int
    vertices: np.ndarray
    faces: np.ndarray

    @property
    def area_mm2(self) -> float:
        """Area of the surface, mm²."""
        a, b, c = (self.vertices[self.faces[:, i]] for i in range(3))
        return float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2)

    @property
    def volume_mm3(self) -> float:
        """Volume enclosed by the surface, mm³ (divergence theorem; positive for outward faces)."""
        a, b, c = (self.vertices[self.faces[:, i]] for i in range(3))
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6)


def region_surfaces(mask: Volume | np.ndarray, *, geometry: Geometry | None = None,
                    kind: str = "auto", connectivity: int = 26,
                    smoothing: float = SMOOTHING_VOXELS) -> list[Surface]:
    """The surface of every region of a mask, in LPS mm, in label order.

    Parameters
    ----------
    mask : Volume or ndarray
        Binary mask (each connected component is a region) or label image (each value is one).
    geometry : Geometry, optional
        Required when ``mask`` is a bare array.
    kind : {"auto", "binary", "labels"}
        How to read the mask, as :func:`~lesionview.measure.components.label_regions` does
        (and :func:`~lesionview.measure.measure`, so lesions are the ones the table lists).
    connectivity : {6, 18, 26}
        Neighbourhood of the components of a binary mask.
    smoothing : float
        Standard deviation of the Gaussian applied before the iso-surface, in voxels along
        each array axis; 0 meshes the voxels as they are.

    Returns
    -------
    list of Surface

    Examples
    --------
    A box of 6 x 6 x 6 voxels of 2 x 1 x 1 mm: its surface lies in LPS mm half a voxel beyond
    the outer voxels' centres (x from 6 to 16 mm), its corners rounded off by the smoothing.

    >>> m = np.zeros((12, 12, 12), np.uint8); m[3:9, 3:9, 3:9] = 1
    >>> [s] = region_surfaces(m, geometry=Geometry(m.shape, spacing=(2.0, 1.0, 1.0)))
    >>> s.label, float(s.vertices[:, 0].min()), float(s.vertices[:, 0].max())
    (1, 5.0, 17.0)
    >>> round(s.volume_mm3 / (12 * 6 * 6), 2)
    0.93
    """
    array, geometry = array_on_grid(mask, geometry, what="mask", caller="region_surfaces()")
    source = mask.info.source if isinstance(mask, Volume) else None
    labels, _ = label_regions(array, connectivity=connectivity, kind=kind, name="mask",
                              source=source or None)
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0 voxels, got {smoothing}")
    pad = 2 + int(np.ceil(3 * smoothing))
    surfaces = []
    # A region may touch the array's edge: boxes are clipped there, then padded with background
    # so that every surface is closed.
    for label, box in bounding_boxes(labels, pad=0).items():
        region = np.pad(labels[box] == label, pad)
        start = np.array([s.start for s in box]) - pad
        vertices, faces = _mesh(region, smoothing)
        world = geometry.index_to_world(vertices + start)
        # marching_cubes winds faces clockwise seen from outside in index space; a mirroring
        # grid (negative determinant) turns them round in LPS.
        if np.linalg.det(geometry.affine[:3, :3]) > 0:
            faces = faces[:, ::-1]
        value = int(array[box][labels[box] == label].flat[0])
        surfaces.append(Surface(int(label), value, world, np.ascontiguousarray(faces, dtype=np.int64)))
    return surfaces


def combined(surfaces: list[Surface]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One mesh of several surfaces: ``(vertices, faces, label of each vertex)``.

    Examples
    --------
    >>> tri = Surface(1, 1, np.eye(3), np.array([[0, 1, 2]]))
    >>> v, f, lab = combined([tri, Surface(2, 2, np.eye(3) + 5, np.array([[0, 1, 2]]))])
    >>> f.tolist(), lab.tolist()
    ([[0, 1, 2], [3, 4, 5]], [1, 1, 1, 2, 2, 2])
    """
    if not surfaces:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    offsets = np.cumsum([0] + [len(s.vertices) for s in surfaces[:-1]])
    vertices = np.concatenate([s.vertices for s in surfaces])
    faces = np.concatenate([s.faces + o for s, o in zip(surfaces, offsets)])
    labels = np.concatenate([np.full(len(s.vertices), s.label, np.int64) for s in surfaces])
    return vertices, faces, labels


def _mesh(region: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    field = region.astype(np.float32)
    if smoothing > 0:
        smooth = ndimage.gaussian_filter(field, smoothing)
        if smooth.max() > _LEVEL:  # else the region is too small to smooth: mesh its voxels
            field = smooth
    vertices, faces, _, _ = marching_cubes(field, _LEVEL)
    return vertices.astype(float), faces
