"""Cord centerline: lengths on synthetic tubes, storage-independence, and SCT's manual centerline."""

import numpy as np
import pytest

from lesionview.cord import Centerline, centerline_from_label, centerline_from_mask
from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.io.nifti import read_nifti

# Sagittal storage as SCT's t2 (PSR): axis 0 -> posterior, axis 1 -> superior, axis 2 -> right.
PSR = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _tube_mask(geometry: Geometry, nearest, radius: float) -> np.ndarray:
    """Voxels within ``radius`` of a curve; ``nearest(points) -> (distance, inside_ends)``."""
    idx = np.indices(geometry.shape).reshape(3, -1).T
    dist, inside = nearest(geometry.index_to_world(idx))
    return ((dist <= radius) & inside).reshape(geometry.shape)


def _arc(radius: float, angle: float):
    """Circular arc in the sagittal (y-z) plane, centre (0, radius, 0), from phi=0 (z=0) to phi=angle."""
    def nearest(p):
        rel = p - np.array([0.0, radius, 0.0])
        r_yz = np.hypot(rel[:, 1], rel[:, 2])
        phi = np.arctan2(-rel[:, 2], -rel[:, 1])         # 0 at (0, 0, 0), growing inferiorly
        dist = np.hypot(r_yz - radius, rel[:, 0])
        return dist, (phi >= 0) & (phi <= angle)

    def point(phi):
        return np.stack([np.zeros_like(phi), radius - radius * np.cos(phi), -radius * np.sin(phi)], axis=1)
    return nearest, point


def test_from_points_orders_clicks_and_measures_length():
    clicks = [[0, 0, -10], [0, 0, 30], [0, 0, 10], [0, 0, -30]]   # unordered, straight
    cl = Centerline.from_points(clicks)
    assert cl.points[0, 2] == pytest.approx(30) and cl.points[-1, 2] == pytest.approx(-30)
    assert cl.length_mm == pytest.approx(60.0, abs=1e-6)
    np.testing.assert_allclose(cl.tangent_at([[3.0, 0.0, 0.0]]), [[0, 0, -1]], atol=1e-9)
    # Projection, including beyond the ends (extension of the end segments).
    np.testing.assert_allclose(cl.arclength_of([[5, 5, 0], [0, 0, 40], [0, 0, -35]]), [30, -10, 65], atol=1e-6)
    assert cl.length_between([1, 0, 20], [0, -2, -20]) == pytest.approx(40.0)


def test_from_points_curve_through_clicks_on_an_arc():
    radius, angle = 80.0, 0.8
    _, point = _arc(radius, angle)
    clicks = point(np.linspace(0, angle, 6))
    cl = Centerline.from_points(clicks, smoothing_mm=0.05)
    assert cl.length_mm == pytest.approx(radius * angle, rel=2e-3)
    # Tangent at the middle is the circle's tangent, pointing inferior.
    phi = angle / 2
    expected = np.array([0.0, np.sin(phi), -np.cos(phi)])
    np.testing.assert_allclose(cl.tangent_at(point(np.array([phi])))[0], expected, atol=5e-3)


def test_from_points_needs_two_distinct_points():
    with pytest.raises(InputError):
        Centerline.from_points([[1, 2, 3], [1, 2, 3]])


def test_straight_tube_length():
    g = Geometry((30, 30, 100), spacing=(0.5, 0.5, 0.5), origin=(-7.5, -7.5, -10.0))
    mask = _tube_mask(g, lambda p: (np.hypot(p[:, 0], p[:, 1]), (p[:, 2] >= 0) & (p[:, 2] <= 30)), 3.0)
    cl = centerline_from_mask(mask, g)
    # Voxel centres run from z=0 to z=30: the curve joins the end-slab centroids.
    assert cl.length_mm == pytest.approx(30.0, abs=0.6)
    np.testing.assert_allclose(cl.points[:, :2], 0.0, atol=0.05)
    assert cl.points[0, 2] > cl.points[-1, 2]           # superior first


@pytest.mark.parametrize("storage", ["LPS 0.5 mm", "PSR sagittal, 3 mm thick L-R", "axial 2.5 mm slices"])
def test_curved_tube_length(storage):
    radius, angle = 60.0, np.pi / 3                       # 62.8 mm of cord bent by 60 degrees
    nearest, _point = _arc(radius, angle)
    if storage == "LPS 0.5 mm":
        g = Geometry((24, 90, 130), spacing=(0.5, 0.5, 0.5), origin=(-6, -5, -58))
    elif storage.startswith("PSR"):
        g = Geometry((90, 130, 5), spacing=(0.5, 0.5, 3.0), origin=(6.0, -5.0, -58.0), direction=PSR)
    else:
        g = Geometry((24, 90, 27), spacing=(0.5, 0.5, 2.5), origin=(-6, -5, -58))
    mask = _tube_mask(g, nearest, 3.5)
    assert mask.sum() > 100
    cl = centerline_from_mask(mask, g)
    # The curve joins the centroids of the end slabs, which sit up to half a slab inside the
    # mask's ends: with 2.5 mm slices (slabs) the length may come out a slab short.
    assert cl.length_mm == pytest.approx(radius * angle, abs=max(1.5, max(g.spacing)))
    # Every centerline sample lies on the arc.
    dist, _ = nearest(cl.points)
    assert dist.max() < 0.6


def test_centerline_independent_of_storage_order():
    nearest, _ = _arc(60.0, 1.0)
    g = Geometry((90, 130, 8), spacing=(0.5, 0.5, 2.0), origin=(6.0, -5.0, -58.0), direction=PSR)
    mask = _tube_mask(g, nearest, 3.5)
    from lesionview.geometry import reorient

    arr2, g2 = reorient(mask, g, "LPS")
    a, b = centerline_from_mask(mask, g), centerline_from_mask(arr2, g2)
    np.testing.assert_allclose(a.points, b.points, atol=1e-6)


def test_empty_mask_is_an_input_error():
    g = Geometry((5, 5, 5))
    with pytest.raises(InputError, match="empty"):
        centerline_from_mask(np.zeros(g.shape), g)


def test_sct_manual_centerline_agrees_with_cord_mask(shared_data):
    t2 = shared_data / "sct_t2"
    manual = centerline_from_label(read_nifti(t2 / "t2_centerline-manual.nii.gz"))
    seg = read_nifti(t2 / "t2_seg-manual.nii.gz")
    from_seg = centerline_from_mask(seg.array, seg.geometry)
    # Both span the 55 mm field of view superior-inferior (PSR storage, 1 mm voxels).
    assert manual.points[0, 2] > manual.points[-1, 2]
    assert manual.length_mm == pytest.approx(from_seg.length_mm, abs=2.0)
    assert 50 < manual.length_mm < 60
    # The two curves are within ~1 mm of each other everywhere.
    s = manual.arclength_of(from_seg.points)
    inside = (s >= 0) & (s <= manual.length_mm)
    gap = np.linalg.norm(manual.point_at(s[inside]) - from_seg.points[inside], axis=1)
    assert gap.max() < 1.5
    assert np.median(gap) < 0.5
    # Storage order does not matter: the same mask reoriented to LPS gives the same curve.
    lps = seg.reoriented("LPS")
    # (bins of 1 mm voxels at 1 mm slabs: float round-off of the two affines moves a few
    # voxels between neighbouring slabs; the curve moves by microns)
    np.testing.assert_allclose(centerline_from_mask(lps.array, lps.geometry).points, from_seg.points, atol=0.01)
