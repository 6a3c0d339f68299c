"""Cord from clicks: the tube around a clicked centerline, the cord on T2, imported cord masks.

Oracles: the phantom's analytic cord (sample_data/<case>/cord.nii.gz) and the Spinal Cord
Toolbox's manual cord mask of a real cervical T2 (../shared/data/sct_t2). Clicks are a few points
on the true centerline with a deliberate ~1 mm offset, as a radiologist would place them.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import need
from mask_checks import assert_same_voxels
from scipy.spatial import cKDTree

from lesionview.cord import Centerline, centerline_from_mask
from lesionview.errors import GeometryMismatchError, InputError
from lesionview.geometry import Geometry, reorient
from lesionview.io import load_volume
from lesionview.segment import dice
from lesionview.segment.cord import cord_region, import_cord_mask, segment_cord

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
#: A human click is off the true centre by about a millimetre (not left-right: clicks are
#: placed on one sagittal slice).
CLICK_OFFSETS = np.array([[0.0, 0.8, -0.6], [0.0, -0.7, 0.5], [0.0, 0.5, 0.9], [0.0, -0.9, -0.4],
                          [0.0, 0.6, 0.3]])


@functools.cache
def _phantom(case: str):
    root = SAMPLE / case
    if not (root / "t2.nii.gz").exists() or not (root / "cord.nii.gz").exists():
        pytest.fail(f"{root} is incomplete: run `make sample` (scripts/make_phantom.py) first")
    t2 = load_volume(root / "t2.nii.gz")
    truth = load_volume(root / "cord.nii.gz").array > 0
    centerline = centerline_from_mask(truth, t2.geometry)
    length = centerline.length_mm
    # C1 to T1 or so: below the brainstem, above the lower edge of the field of view.
    clicks = centerline.point_at(np.linspace(0.15 * length, 0.9 * length, 5)) + CLICK_OFFSETS
    return t2, truth, clicks


def _truth_between_clicks(truth: np.ndarray, geometry: Geometry, clicks) -> np.ndarray:
    """The true cord between the first and the last click (the part that was asked for)."""
    idx = np.argwhere(truth)
    curve = Centerline.from_points(clicks)
    s = curve.arclength_of(geometry.index_to_world(idx))
    out = np.zeros_like(truth)
    out[tuple(idx[(s >= 0) & (s <= curve.length_mm)].T)] = True
    return out


@pytest.fixture(scope="module", params=["twin", "solitary"])
def phantom(request):
    return (request.param, *_phantom(request.param))


@pytest.fixture(scope="module")
def sct(shared_data):
    root = shared_data / "sct_t2"
    t2 = load_volume(root / "t2.nii.gz")
    truth = load_volume(root / "t2_seg-manual.nii.gz").array > 0
    line = load_volume(root / "t2_centerline-manual.nii.gz")
    pts = line.geometry.index_to_world(np.argwhere(line.array > 0))
    pts = pts[np.argsort(pts[:, 2])]
    clicks = pts[np.linspace(1, len(pts) - 2, 5).astype(int)] + CLICK_OFFSETS[:, [1, 0, 2]]
    return t2, truth, clicks


# ------------------------------------------------------------------------------ cord_region
def _centred(shape, spacing, axes) -> Geometry:
    """A grid centred on the world origin whose array axes run along ``axes`` (LPS vectors)."""
    d = np.array(axes, dtype=float).T          # columns are the array axes
    origin = -d @ (np.array(spacing) * (np.array(shape) - 1) / 2)
    return Geometry(shape, spacing, origin, d)


def test_cord_region_is_the_tube_around_the_curve():
    # An odd, anisotropic storage: superior, posterior-to-anterior, left-right slices of 3 mm.
    g = _centred((40, 50, 12), (0.7, 0.5, 3.0), [(0, 0, 1), (0, -1, 0), (1, 0, 0)])
    clicks = [[0, 0, 12], [1.5, 2.0, 0], [0, 1.0, -12]]
    seg = cord_region(clicks, g, radius_mm=4.0)
    assert seg.ok and seg.details["radius_mm"] == 4.0
    # Brute force: distance of every voxel centre to a finely resampled curve.
    curve = Centerline.from_points(clicks, spacing_mm=0.02)
    world = g.index_to_world(np.argwhere(np.ones(g.shape, bool)))
    d = cKDTree(curve.points).query(world)[0].reshape(g.shape)
    expected = d <= 4.0
    differ = seg.mask != expected
    assert np.all(np.abs(d[differ] - 4.0) < 0.1), "only voxels on the tube's surface may differ"
    assert expected.sum() > 100


def test_cord_region_does_not_depend_on_storage():
    g = _centred((10, 30, 30), (3.0, 0.5, 0.5), [(-1, 0, 0), (0, 0, -1), (0, 1, 0)])
    clicks = [[0, 0, 5], [0.5, 1, -2], [0, 0.5, -6]]
    ref = cord_region(clicks, g, radius_mm=3).mask
    for code in ("LPS", "RAS", "SPL"):
        _, g2 = reorient(np.zeros(g.shape), g, code)
        back, _ = reorient(cord_region(clicks, g2, radius_mm=3).mask, g2, g.orientation)
        assert_same_voxels(back, ref, what=code)


@pytest.mark.parametrize("clicks, words", [
    ([], "no centerline points"),
    ([[0, 0, 0]], "only one"),
    ([[0, 0, 0], [0, 0, 0]], "coincide"),
    ([[0, 0, 0], [0, 0, 500]], "outside the image"),
])
def test_cord_region_unusable_clicks_give_an_empty_result_with_a_reason(clicks, words):
    g = Geometry((10, 10, 10))
    seg = cord_region(clicks, g)
    assert not seg.mask.any() and words in seg.reason


@pytest.mark.parametrize("kwargs", [{"centerline_points": [[0, 0, 0], [0, 0, np.nan]]},
                                    {"centerline_points": [[0, 0], [1, 1]]},
                                    {"radius_mm": 0.0}])
def test_cord_region_invalid_arguments_are_input_errors(kwargs):
    args = {"centerline_points": [[1, 1, 1], [1, 1, 8]], "geometry": Geometry((10, 10, 10))} | kwargs
    with pytest.raises(InputError):
        cord_region(**args)


# ------------------------------------------------------------------------------ segment_cord
def test_phantom_cord_from_five_clicks(phantom):
    case, t2, truth, clicks = phantom
    image_before = t2.array.copy()
    clicks_before = clicks.copy()
    seg = segment_cord(t2.array, t2.geometry, clicks)
    assert seg.ok, seg.reason
    wanted = _truth_between_clicks(truth, t2.geometry, clicks)
    assert dice(seg.mask, wanted) >= 0.85, case       # measured 0.97 on both cases
    # The whole cord is inside the tube, and the tube inside the clicked span.
    region = cord_region(clicks, t2.geometry, radius_mm=seg.details["search_radius_mm"])
    assert not np.any(seg.mask & ~region.mask)
    for key in ("thresholds", "cord_intensity", "csf_intensity", "median_radius_mm", "threshold"):
        assert key in seg.details
    np.testing.assert_array_equal(t2.array, image_before)
    np.testing.assert_array_equal(clicks, clicks_before)


def test_phantom_cord_keeps_lesions_and_edema_inside(phantom):
    case, t2, truth, clicks = phantom
    lesion = load_volume(SAMPLE / case / "lesion.nii.gz").array > 0
    edema = load_volume(SAMPLE / case / "edema.nii.gz").array > 0
    seg = segment_cord(t2, None, clicks)     # a Volume brings its own geometry
    span = _truth_between_clicks(truth, t2.geometry, clicks)
    assert np.count_nonzero(seg.mask & lesion & span) >= 0.95 * np.count_nonzero(lesion & span)
    assert np.count_nonzero(seg.mask & edema & span) >= 0.95 * np.count_nonzero(edema & span)


def test_edema_nearly_as_bright_as_csf():
    t2, truth, clicks = _phantom("twin")
    edema = load_volume(SAMPLE / "twin" / "edema.nii.gz").array > 0
    image = t2.array.astype(float)
    image[edema] *= 1300.0 / 830.0       # edema at ~90% of the CSF signal (1450)
    seg = segment_cord(image, t2.geometry, clicks)
    assert dice(seg.mask, _truth_between_clicks(truth, t2.geometry, clicks)) >= 0.8   # measured 0.91


def test_same_mask_whatever_the_storage_orientation():
    t2, _, clicks = _phantom("solitary")
    ref = segment_cord(t2.array, t2.geometry, clicks).mask
    for code in ("LPS",):       # every axis permuted or flipped from the stored RIP
        array, g2 = reorient(t2.array, t2.geometry, code)
        back, _ = reorient(segment_cord(array, g2, clicks).mask, g2, t2.geometry.orientation)
        assert dice(back, ref) >= 0.99


def test_real_cervical_t2_against_the_manual_cord_mask(sct):
    t2, truth, clicks = sct
    seg = segment_cord(t2.array, t2.geometry, clicks)
    assert seg.ok, seg.reason
    assert dice(seg.mask, truth) >= 0.8          # measured 0.94


def test_real_t2_with_a_hyperintense_lesion(shared_data):
    root = shared_data / "sct_t2"
    t2 = load_volume(root / "t2_fake_lesion.nii.gz")
    truth = load_volume(root / "t2_fake_lesion_sc_seg.nii.gz").array > 0
    lesion = load_volume(root / "t2_fake_lesion_lesion_seg.nii.gz").array > 0
    curve = centerline_from_mask(truth, t2.geometry)
    clicks = curve.point_at(np.linspace(0.02, 0.98, 5) * curve.length_mm) + CLICK_OFFSETS[:, [1, 0, 2]]
    seg = segment_cord(t2, None, clicks)
    assert dice(seg.mask, truth) >= 0.85                                    # measured 0.92
    assert np.count_nonzero(seg.mask & lesion) >= 0.95 * np.count_nonzero(lesion)   # lesion stays in


def test_runtime_on_a_large_sagittal_grid():
    g = Geometry((20, 512, 512), spacing=(3.0, 0.5, 0.5), origin=(30, -128, 128),
                 direction=((-1, 0, 0), (0, 0, 1), (0, -1, 0)))
    image = np.random.default_rng(0).standard_normal(g.shape, dtype=np.float32) * 30 + 1000
    x = g.index_to_world(np.c_[np.arange(g.shape[0]), np.zeros((g.shape[0], 2))])[:, 0]
    y = g.index_to_world(np.c_[np.zeros((g.shape[2], 2)), np.arange(g.shape[2])])[:, 1]
    cord = np.hypot(x[:, None, None], y[None, None, :]) < 4.0          # a straight 8 mm cord
    image[np.broadcast_to(cord, g.shape)] = 400.0
    clicks = [[0, 0.5, 100], [0, -0.5, 50], [0, 0.5, 0], [0, -0.5, -50], [0, 0.5, -100]]
    start = time.perf_counter()
    seg = segment_cord(image, g, clicks)
    elapsed = time.perf_counter() - start
    assert seg.ok
    assert elapsed < 5.0                          # measured ~0.3 s
    assert seg.details["median_radius_mm"] == pytest.approx(4.0, abs=0.8)


def _small_case():
    # Sagittal storage, RIP: columns of ``direction`` are the array axes.
    g = Geometry((9, 40, 40), spacing=(3.0, 0.5, 0.5), origin=(12, -10, 10),
                 direction=((-1, 0, 0), (0, 0, 1), (0, -1, 0)))
    clicks = [[0, 0, 7], [0, 0, 0], [0, 0, -7]]
    return g, clicks


@pytest.mark.parametrize("make, words", [
    (lambda g: np.full(g.shape, 500.0), "constant"),
    (lambda g: np.where(np.arange(np.prod(g.shape)).reshape(g.shape) % 7 == 0, np.nan, 500.0), "NaN"),
])
def test_unusable_images_give_an_empty_result_with_a_reason(make, words):
    g, clicks = _small_case()
    image = make(g)
    seg = segment_cord(image, g, clicks)
    assert not seg.mask.any() and words in seg.reason


@pytest.mark.parametrize("clicks, words", [([[0, 0, 0]], "only one"),
                                           ([[0, 0, 0], [0, 80, 0]], "outside the image")])
def test_unusable_clicks_give_an_empty_result_with_a_reason(clicks, words):
    g, _ = _small_case()
    seg = segment_cord(np.random.default_rng(1).normal(size=g.shape), g, clicks)
    assert not seg.mask.any() and words in seg.reason


def test_wrong_arguments_are_input_errors():
    g, clicks = _small_case()
    with pytest.raises(InputError):
        segment_cord(np.zeros((3, 3, 3)), g, clicks)
    with pytest.raises(InputError):
        segment_cord(np.zeros(g.shape), g, [[0, 0, np.inf], [0, 0, 1]])


def test_clicks_off_the_cord_never_raise(phantom):
    case, t2, truth, clicks = phantom
    off = clicks + [0.0, 25.0, 0.0]                  # 25 mm posterior: behind the cord, not on it
    seg = segment_cord(t2.array, t2.geometry, off)
    # Truth: no cord voxel lies in the tube the search may look in, so the right answer is no cord.
    tube = cord_region(off, t2.geometry, radius_mm=seg.details["search_radius_mm"]).mask
    assert not np.any(truth & tube), case
    assert seg.mask.shape == t2.geometry.shape and seg.mask.dtype == bool
    assert not seg.ok and np.count_nonzero(seg.mask) == 0, case
    assert "draw or import the cord mask" in seg.reason, seg.reason


# ------------------------------------------------------------------------------ import
def test_import_sct_cord_mask(shared_data):
    root = shared_data / "sct_t2"
    image = load_volume(root / "t2.nii.gz")
    seg = import_cord_mask(root / "t2_seg-manual.nii.gz", image.geometry)
    assert seg.ok and seg.mask.dtype == bool
    assert seg.details["n_voxels"] == np.count_nonzero(load_volume(root / "t2_seg-manual.nii.gz").array)
    # A Volume works too (labelled masks are binarised).
    labelled = load_volume(root / "t2_seg-manual_labeled.nii.gz")
    np.testing.assert_array_equal(import_cord_mask(labelled, image.geometry).mask, labelled.array > 0)


def test_import_refuses_a_mask_on_another_grid(shared_data):
    root = shared_data / "sct_t2"
    image = load_volume(root / "t2.nii.gz")
    other = root / "t2_fake_lesion_sc_seg.nii.gz"
    need(other.exists(), f"{other.name} not in ../shared/data")
    with pytest.raises(GeometryMismatchError) as err:
        import_cord_mask(other, image.geometry)
    assert image.geometry.describe() in str(err.value)
    assert load_volume(other).geometry.describe() in str(err.value)
