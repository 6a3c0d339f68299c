"""region_surfaces(): meshes of mask regions in LPS mm, checked against the analytic sphere."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.measure import mesh_surface_area

from lesionview.errors import GeometryMismatchError
from lesionview.geometry import Geometry, reorient
from lesionview.measure.surfaces import combined, region_surfaces
from lesionview.volume import Volume

R = 10.0
CENTRE = np.array([12.0, -30.0, 45.0])


def _rotation(degrees: float, axis) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    t = np.radians(degrees)
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def _sphere(spacing, direction=None, radius=R, centre=CENTRE):
    """A ball of ``radius`` mm at ``centre`` (LPS) on a grid of ``spacing`` and ``direction``."""
    spacing = np.asarray(spacing, float)
    shape = (np.ceil(2 * radius / spacing) + 7).astype(int)
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    # Put the grid's centre voxel off the ball's centre by a fraction of a voxel: no symmetry luck.
    origin = centre - direction @ (spacing * ((shape - 1) / 2 + 0.3))
    g = Geometry(tuple(shape), tuple(spacing), tuple(origin), direction)
    world = g.index_to_world(np.indices(shape).reshape(3, -1).T)
    mask = (np.linalg.norm(world - centre, axis=1) <= radius).reshape(shape).astype(np.uint8)
    return mask, g


def _boundary_distance_voxels(surface, mask, geometry) -> np.ndarray:
    """Each vertex's distance, in voxels, to the nearest boundary voxel of the mask."""
    boundary = mask.astype(bool) & ~ndimage.binary_erosion(mask.astype(bool), border_value=0)
    tree = cKDTree(np.argwhere(boundary))
    return tree.query(geometry.world_to_index(surface.vertices))[0]


def _edges_shared_twice(faces: np.ndarray) -> bool:
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool(np.all(counts == 2))


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.5, 0.5, 0.5)])
def test_sphere_area_and_volume_match_the_analytic_ones(spacing):
    mask, g = _sphere(spacing)
    [s] = region_surfaces(mask, geometry=g)
    assert s.area_mm2 == pytest.approx(4 * np.pi * R**2, rel=0.05)
    assert s.volume_mm3 == pytest.approx(4 / 3 * np.pi * R**3, rel=0.01)
    # skimage's own area of the same mesh: the peer oracle for ours.
    assert s.area_mm2 == pytest.approx(mesh_surface_area(s.vertices, s.faces), rel=1e-9)
    radii = np.linalg.norm(s.vertices - CENTRE, axis=1)
    assert np.all(np.abs(radii - R) < max(spacing))


def test_unsmoothed_mesh_is_the_voxel_staircase():
    mask, g = _sphere((1.0, 1.0, 1.0))
    [raw] = region_surfaces(mask, geometry=g, smoothing=0)
    [smooth] = region_surfaces(mask, geometry=g)
    # The staircase has more area than the sphere; smoothing takes most of it off.
    assert raw.area_mm2 > 1.06 * 4 * np.pi * R**2 > smooth.area_mm2
    assert raw.volume_mm3 == pytest.approx(4 / 3 * np.pi * R**3, rel=0.01)


@pytest.mark.parametrize("direction", [np.eye(3), _rotation(25, (1, 2, 0.5)),
                                       np.diag([1.0, -1.0, 1.0]) @ _rotation(40, (0, 1, 1))],
                         ids=["lps", "oblique", "mirrored"])
def test_sagittal_grids_place_the_surface_in_lps_with_outward_faces(direction):
    spacing = (3.0, 0.5, 0.5)   # a sagittal spine series
    mask, g = _sphere(spacing, direction)
    [s] = region_surfaces(mask, geometry=g)
    assert s.volume_mm3 == pytest.approx(4 / 3 * np.pi * R**3, rel=0.03)
    assert s.vertices.mean(axis=0) == pytest.approx(CENTRE, abs=0.5)
    assert np.all(_boundary_distance_voxels(s, mask, g) <= 1.0)
    # Outward normals: each face's normal points away from the centre.
    a, b, c = (s.vertices[s.faces[:, i]] for i in range(3))
    normals = np.cross(b - a, c - a)
    assert np.mean(np.einsum("ij,ij->i", normals, (a + b + c) / 3 - CENTRE) > 0) > 0.99
    assert _edges_shared_twice(s.faces)


def test_storage_order_does_not_change_the_surface():
    mask, g = _sphere((3.0, 0.5, 0.5))
    [lps] = region_surfaces(Volume(mask, g))
    array, g2 = reorient(mask, g, "PIR")
    [other] = region_surfaces(Volume(array, g2))
    # The same mesh up to float32 round-off of the smoothing (a micrometre at most).
    assert other.volume_mm3 == pytest.approx(lps.volume_mm3, rel=1e-5)
    assert other.area_mm2 == pytest.approx(lps.area_mm2, rel=1e-5)
    assert len(other.faces) == len(lps.faces)
    assert np.max(cKDTree(lps.vertices).query(other.vertices)[0]) < 1e-3


def test_each_lesion_gets_its_own_surface_labels_and_binary():
    g = Geometry((30, 30, 60), spacing=(1.0, 1.0, 1.0))
    labels = np.zeros(g.shape, np.uint8)
    labels[10:16, 10:16, 5:12] = 3
    labels[10:16, 10:16, 30:40] = 7
    found = region_surfaces(labels, geometry=g)
    assert [(s.label, s.value) for s in found] == [(3, 3), (7, 7)]
    assert found[0].vertices[:, 2].max() < 13 and found[1].vertices[:, 2].min() > 29
    binary = region_surfaces((labels > 0).astype(np.uint8), geometry=g)
    assert [(s.label, s.value) for s in binary] == [(1, 1), (2, 1)]
    v, f, lab = combined(found)
    assert len(v) == sum(len(s.vertices) for s in found) and f.max() == len(v) - 1
    assert set(lab.tolist()) == {3, 7}


def test_tiny_regions_and_edges_still_get_closed_surfaces():
    g = Geometry((8, 8, 8), spacing=(1.0, 1.0, 1.0))
    mask = np.zeros(g.shape, np.uint8)
    mask[4, 4, 4] = 1             # one voxel: too small to survive the smoothing
    mask[0:3, 0:3, 0:8] = 2       # touches three faces of the array
    single, edge = region_surfaces(mask, geometry=g)
    assert single.volume_mm3 > 0 and _edges_shared_twice(single.faces)
    assert edge.volume_mm3 == pytest.approx(3 * 3 * 8, rel=0.2)
    assert _edges_shared_twice(edge.faces)
    assert region_surfaces(np.zeros((4, 4, 4), np.uint8), geometry=Geometry((4, 4, 4))) == []


def test_bad_calls_say_what_is_wrong():
    with pytest.raises(ValueError, match="geometry="):
        region_surfaces(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(GeometryMismatchError):
        region_surfaces(np.zeros((4, 4, 4), np.uint8), geometry=Geometry((4, 4, 5)))
    with pytest.raises(ValueError, match="smoothing"):
        region_surfaces(np.ones((4, 4, 4), np.uint8), geometry=Geometry((4, 4, 4)), smoothing=-1)
