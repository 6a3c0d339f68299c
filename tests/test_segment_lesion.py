"""grow_lesion and propose_lesions: the phantom's enhancing lesions, real anatomy, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mask_checks import assert_same_voxels
from scipy import ndimage

from lesionview.geometry import Geometry, reorient
from lesionview.io import load_volume
from lesionview.segment import dice
from lesionview.segment._stats import dilate_mm
from lesionview.segment.lesion import check_lesion, grow_lesion, propose_lesions

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def seeds_in(mask: np.ndarray, n: int = 5, rng_seed: int = 0) -> np.ndarray:
    """The centre voxel and ``n`` random voxels of ``mask`` eroded by one voxel (in-slice)."""
    eroded = ndimage.binary_erosion(mask)
    pts = np.argwhere(eroded if eroded.any() else mask)
    rng = np.random.default_rng(rng_seed)
    pick = pts[rng.choice(len(pts), min(n, len(pts)), replace=False)]
    centre = np.rint(ndimage.center_of_mass(mask)).astype(int)
    if not mask[tuple(centre)]:
        centre = pts[0]
    return np.vstack([centre, pick])


@pytest.fixture(scope="module", params=["twin", "solitary"])
def case(request):
    folder = SAMPLE / request.param
    if not (folder / "t1c.nii.gz").exists():
        from lesionview.phantom import sample_path
        folder = sample_path(request.param)
    t1c = load_volume(folder / "t1c.nii.gz")
    g = t1c.geometry
    lesion = load_volume(folder / "lesion.nii.gz").array
    cord = load_volume(folder / "cord.nii.gz").array != 0
    return {"name": request.param, "t1c": t1c, "geometry": g, "lesion": lesion, "cord": cord,
            "cord_1mm": dilate_mm(cord, g.spacing, 1.0)}


@pytest.mark.parametrize("with_cord", [True, False], ids=["cord", "no-cord"])
def test_each_lesion_from_several_seeds(case, with_cord):
    g, lesion = case["geometry"], case["lesion"]
    cord = case["cord_1mm"] if with_cord else None
    for label in np.unique(lesion[lesion > 0]):
        truth = lesion == label
        for k, seed in enumerate(seeds_in(truth, rng_seed=int(label))):
            seg = grow_lesion(case["t1c"], g, g.index_to_world(seed), cord_region=cord)
            assert seg.ok, seg.reason
            d = dice(seg.mask, truth)
            assert d >= 0.85, f"{case['name']} lesion {label} seed {k} {seed.tolist()}: Dice {d:.3f}"
            # Only the clicked lesion, in one piece.
            assert not np.any(seg.mask & (lesion > 0) & ~truth)
            assert ndimage.label(seg.mask)[1] == 1
            assert seg.details["threshold"] > seg.details["normal_median"]


def test_twin_lesions_come_out_separate(case):
    if case["name"] != "twin":
        pytest.skip("the twin case")
    g, lesion = case["geometry"], case["lesion"]
    masks = []
    for label in (1, 2):
        seed = seeds_in(lesion == label, n=0)[0]
        masks.append(grow_lesion(case["t1c"], g, g.index_to_world(seed), cord_region=case["cord_1mm"]).mask)
    assert not np.any(masks[0] & masks[1])
    both = masks[0] | masks[1]
    assert ndimage.label(both, ndimage.generate_binary_structure(3, 3))[1] == 2


def test_proposals_find_the_lesions_and_nothing_else(case):
    g, lesion = case["geometry"], case["lesion"]
    seg = propose_lesions(case["t1c"], g, case["cord_1mm"])
    labels = np.unique(lesion[lesion > 0])
    cands = seg.details["candidates"]
    assert seg.mask.dtype.kind == "i"
    assert len(cands) == len(labels), cands
    # Numbered superior to inferior, as the truth labels are.
    for cand, label in zip(cands, labels):
        assert dice(seg.mask == cand["id"], lesion == label) >= 0.85
        assert cand["volume_mm3"] >= seg.details["min_volume_mm3"]
        assert cand["peak_enhancement_ratio"] > cand["median_enhancement_ratio"] > 1.5
        centroid = g.index_to_world(np.argwhere(lesion == label).mean(axis=0))
        assert np.linalg.norm(np.subtract(cand["centroid_lps_mm"], centroid)) < 1.0


def test_proposals_need_a_cord_region(case):
    seg = propose_lesions(case["t1c"], case["geometry"], None)
    assert not seg.mask.any() and "cord region" in seg.reason


def test_same_mask_in_world_space_whatever_the_storage_order(case):
    g, lesion = case["geometry"], case["lesion"]
    seed_world = g.index_to_world(seeds_in(lesion == lesion.max(), n=0)[0])
    for cord_region in (case["cord_1mm"], None):
        ref = grow_lesion(case["t1c"].array, g, seed_world, cord_region=cord_region)
        for target in ("LPS", "SAR"):
            img, g2 = reorient(case["t1c"].array, g, target)
            cord = None if cord_region is None else reorient(cord_region, g, target)[0]
            seg = grow_lesion(img, g2, seed_world, cord_region=cord)
            back, g3 = reorient(seg.mask, g2, g.orientation)
            assert g3.same_space(g)
            assert_same_voxels(back, ref.mask, what=target)


def test_a_lesion_longer_than_the_first_crop_is_grown_whole():
    g = Geometry((20, 200, 20), spacing=(1.0, 1.0, 1.0))
    img = np.full(g.shape, 100.0) + np.random.default_rng(1).normal(0, 3, g.shape)
    img[8:12, 20:180, 8:12] = 500.0  # 160 mm long, the first crop reaches 30 mm
    seg = grow_lesion(img, g, g.index_to_world([10, 100, 10]))
    assert seg.mask.sum() == 4 * 160 * 4 and seg.details["crop_mm"] > 60


# ----------------------------------------------------------------------------- real anatomy
def test_bright_t2_lesion_on_real_anatomy(shared_data):
    folder = shared_data / "sct_t2"
    img = load_volume(folder / "t2_fake_lesion.nii.gz")
    truth = load_volume(folder / "t2_fake_lesion_lesion_seg.nii.gz").array != 0
    cord = load_volume(folder / "t2_fake_lesion_sc_seg.nii.gz").array != 0
    g = img.geometry
    # The inserted lesion has sharp edges and a heterogeneous inside (1100-2500 against ~600 cord)
    # and its mask is drawn wider than its bright part (a third of its voxels are at normal cord
    # intensity): the half-maximum default finds the bright core (Dice ~0.75); a higher
    # sensitivity (threshold a quarter of the way up from normal cord) takes the whole lesion.
    for seed in seeds_in(truth, rng_seed=3):
        for cord_region in (cord, None):
            seg = grow_lesion(img, g, g.index_to_world(seed), cord_region=cord_region, sensitivity=0.75)
            assert dice(seg.mask, truth) >= 0.8, seed
        default = grow_lesion(img, g, g.index_to_world(seed), cord_region=cord)
        assert default.ok and np.all(truth[default.mask] | ndimage.binary_dilation(truth)[default.mask])


# ----------------------------------------------------------------------------- subtraction
def _pre_post_pair():
    """A cord (300) with fat-bright tissue (900, before and after contrast) and an enhancing
    lesion (300 before, 900 after) on a 1 mm grid, noise 10."""
    g = Geometry((40, 40, 60), spacing=(1.0, 1.0, 1.0), origin=(-20.0, -20.0, -30.0))
    rng = np.random.default_rng(5)
    zz, yy, xx = np.indices(g.shape)
    cord = (zz - 20) ** 2 + (yy - 20) ** 2 <= 64
    pre = np.where(cord, 300.0, 100.0)
    fat = cord & ((zz - 20) ** 2 + (yy - 20) ** 2 + (xx - 15) ** 2 <= 9)
    lesion = cord & ((zz - 20) ** 2 + (yy - 20) ** 2 + (xx - 42) ** 2 <= 12)
    pre[fat] = 900.0
    post = pre.copy()
    post[lesion] = 900.0
    pre += rng.normal(0, 10, g.shape)
    post += rng.normal(0, 10, g.shape)
    return g, pre, post, cord, fat, lesion


def test_subtraction_keeps_what_enhances_and_refuses_what_was_bright_before():
    g, pre, post, cord, fat, lesion = _pre_post_pair()
    seg = grow_lesion(post, g, g.index_to_world([20, 20, 42]), cord_region=cord, pre=pre)
    assert seg.ok and seg.details["subtraction"]
    assert dice(seg.mask, lesion) >= 0.85
    fat_click = g.index_to_world([20, 20, 15])
    assert grow_lesion(post, g, fat_click, cord_region=cord).mask[fat].all()  # bright, so grown...
    refused = grow_lesion(post, g, fat_click, cord_region=cord, pre=pre)  # ...but it did not enhance
    assert not refused.mask.any() and "not on enhancing tissue" in refused.reason


# ----------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small():
    g = Geometry((20, 30, 30), spacing=(1.0, 0.5, 0.5), origin=(0.0, 0.0, 0.0))
    img = np.full(g.shape, 100.0)
    img[8:12, 12:18, 12:18] = 400.0
    cord = np.zeros(g.shape, bool)
    cord[5:15, 8:22, 8:22] = True
    return g, img, cord


def test_seed_outside_the_image(small):
    g, img, _ = small
    seg = grow_lesion(img, g, (500.0, 0.0, 0.0))
    assert not seg.mask.any() and "outside the image" in seg.reason


def test_seed_outside_the_cord_region(small):
    g, img, cord = small
    seg = grow_lesion(img, g, g.index_to_world([1, 1, 1]), cord_region=cord)
    assert not seg.mask.any() and "outside the cord region" in seg.reason


def test_constant_image(small):
    g, _, cord = small
    seg = grow_lesion(np.full(g.shape, 7.0), g, g.index_to_world([10, 15, 15]), cord_region=cord)
    assert not seg.mask.any() and "no contrast" in seg.reason
    assert "no contrast" in propose_lesions(np.full(g.shape, 7.0), g, cord).reason


def test_nan_voxels_are_ignored_and_a_nan_seed_is_refused(small):
    g, img, cord = small
    holed = img.copy()
    holed[:, :, :4] = np.nan
    seg = grow_lesion(holed, g, g.index_to_world([10, 15, 15]), cord_region=cord)
    assert seg.ok and seg.mask.sum() == 4 * 6 * 6
    holed[10, 15, 15] = np.nan
    seg = grow_lesion(holed, g, g.index_to_world([10, 15, 15]), cord_region=cord)
    assert not seg.mask.any() and "NaN" in seg.reason
    props = propose_lesions(holed, g, cord, min_volume_mm3=1.0)
    assert len(props.details["candidates"]) == 1


def test_seed_on_normal_tissue(small):
    g, img, cord = small
    noisy = img + np.random.default_rng(0).normal(0, 5, g.shape)
    seg = grow_lesion(noisy, g, g.index_to_world([6, 9, 9]), cord_region=cord)
    assert not seg.mask.any() and "not on enhancing tissue" in seg.reason


def test_seed_on_the_rim_snaps_to_the_lesion(small):
    g, img, cord = small
    blurred = ndimage.gaussian_filter(img, 1.0)
    seg = grow_lesion(blurred, g, g.index_to_world([10, 11, 15]), cord_region=cord)  # just outside
    assert seg.ok and seg.details["seed_snapped"]


def test_wrong_arguments_raise_clearly(small):
    g, img, cord = small
    with pytest.raises(ValueError, match="sensitivity"):
        grow_lesion(img, g, (0, 0, 0), sensitivity=1.5)
    with pytest.raises(ValueError, match="shape"):
        grow_lesion(img[:-1], g, (0, 0, 0))
    with pytest.raises(ValueError, match="cord_region"):
        grow_lesion(img, g, (0, 0, 0), cord_region=cord[:, :-1])


def test_sensitivity_moves_the_threshold(small):
    g, img, cord = small
    blurred = ndimage.gaussian_filter(img, 1.0)
    seed = g.index_to_world([10, 15, 15])
    sizes = [grow_lesion(blurred, g, seed, cord_region=cord, sensitivity=s).mask.sum() for s in (0.2, 0.5, 0.8)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_two_lobes_joined_above_the_threshold_are_split_at_the_valley():
    # Two lesions 3 mm apart whose blurred gap stays above a very permissive threshold.
    g = Geometry((20, 20, 60), spacing=(1.0, 1.0, 1.0))
    img = np.full(g.shape, 100.0)
    img[8:12, 8:12, 20:28] = 900.0
    img[8:12, 8:12, 31:35] = 600.0
    img = ndimage.gaussian_filter(img, 1.2) + np.random.default_rng(2).normal(0, 3, g.shape)
    seg = grow_lesion(img, g, g.index_to_world([10, 10, 32]), sensitivity=0.95)
    z = np.argwhere(seg.mask)[:, 2]
    assert seg.details["split_from_neighbour"]
    assert z.min() >= 28 and z.max() <= 38


# ----------------------------------------------------------------------------- misclicks
def misclicks(case) -> dict[str, np.ndarray]:
    """Where a hurried click lands instead of a lesion (LPS mm): the C6 vertebral body centre
    (landmarks.csv) and the CSF behind the cord at the largest lesion's centre (truth.json),
    1.5 mm past the cord's back surface."""
    import json

    from lesionview.levels import read_landmarks

    folder = SAMPLE / case["name"]
    names, positions = read_landmarks(folder / "landmarks.csv")
    truth = json.loads((folder / "truth.json").read_text())
    centre = np.array(max(truth["lesions"], key=lambda les: les["volume_mm3"])["centre_lps_mm"])
    g, cord = case["geometry"], case["cord"]
    y = centre[1]
    while cord[tuple(np.round(g.world_to_index([[centre[0], y, centre[2]]])[0]).astype(int))]:
        y += 0.25                                            # +y is posterior in LPS
    return {"vertebral body": np.asarray(positions[list(names).index("C6")]),
            "CSF": np.array([centre[0], y + 1.5, centre[2]])}


@pytest.mark.parametrize("where", ["vertebral body", "CSF"])
def test_a_misclick_without_a_cord_is_refused(case, where):
    g = case["geometry"]
    seed = misclicks(case)[where]
    seg = grow_lesion(case["t1c"], g, seed)
    assert not seg.mask.any() and seg.details["refused"]
    assert "not an intramedullary lesion" in seg.reason and "segment the cord first" in seg.reason
    # What was refused: far larger or wider than any cord (issue 10 grew thousands of mm^3).
    assert seg.details["volume_mm3"] > 500
    assert seg.details["width_mm"][0] > 16 or seg.details["section_mm2"] > 100
    anyway = grow_lesion(case["t1c"], g, seed, check=False)      # the API can still have it
    assert anyway.mask.sum() * g.voxel_volume == pytest.approx(seg.details["volume_mm3"])
    assert not np.any(anyway.mask & case["cord"])


@pytest.mark.parametrize("where", ["vertebral body", "CSF"])
def test_a_misclick_with_a_cord_is_refused(case, where):
    seg = grow_lesion(case["t1c"], case["geometry"], misclicks(case)[where], cord_region=case["cord"])
    assert not seg.mask.any() and "outside the cord region" in seg.reason


def test_check_lesion_wants_most_of_the_region_inside_the_cord(case):
    g, lesion, cord = case["geometry"], case["lesion"] > 0, case["cord"]
    assert check_lesion(lesion, g, cord_region=cord) == ("", check_lesion(lesion, g, cord_region=cord)[1])
    assert check_lesion(lesion, g, cord_region=cord)[1]["inside_cord"] == 1.0
    # Moved 10 mm forward (-y): into the vertebral bodies, out of the cord.
    shifted = np.roll(lesion, -round(10.0 / 0.5), axis=2)
    problem, numbers = check_lesion(shifted, g, cord_region=cord)
    assert numbers["inside_cord"] < 0.5 and problem.startswith(f"only {numbers['inside_cord']:.0%}")
    assert check_lesion(shifted, g, cord_region=np.zeros_like(cord))[0] == ""  # an empty cord: size only


def test_check_lesion_lets_a_lesion_fill_the_cord_over_many_levels(case):
    """A holocord lesion without a cord mask: as wide as the cord, 100 mm long, still plausible;
    the same region 3 mm wider all round is not."""
    g, cord = case["geometry"], case["cord"]
    z = g.index_to_world(np.argwhere(cord))[:, 2]
    keep = np.zeros_like(cord)
    idx = np.argwhere(cord)
    sel = (z > -60.0) & (z < 40.0)
    keep[tuple(idx[sel].T)] = True
    problem, numbers = check_lesion(keep, g)
    assert problem == "", numbers
    assert numbers["length_mm"] > 95 and numbers["width_mm"][0] < 16
    wider = dilate_mm(keep, g.spacing, 3.0)
    assert "mm²" in check_lesion(wider, g)[0] or "wider than any" in check_lesion(wider, g)[0]


def test_check_lesion_is_the_same_whatever_the_storage_order(case):
    g = case["geometry"]
    seg = grow_lesion(case["t1c"], g, misclicks(case)["vertebral body"], check=False)
    problem, numbers = check_lesion(seg.mask, g)
    for target in ("LPS", "SAR"):
        mask, g2 = reorient(seg.mask, g, target)
        p2, n2 = check_lesion(mask, g2)
        assert p2 == problem
        assert n2["width_mm"] == pytest.approx(numbers["width_mm"])
        assert n2["section_mm2"] == pytest.approx(numbers["section_mm2"])


def test_the_sct_lesion_passes_the_check(shared_data):
    folder = shared_data / "sct_t2"
    img = load_volume(folder / "t2_fake_lesion.nii.gz")
    truth = load_volume(folder / "t2_fake_lesion_lesion_seg.nii.gz").array != 0
    cord = load_volume(folder / "t2_fake_lesion_sc_seg.nii.gz").array != 0
    assert check_lesion(truth, img.geometry)[0] == ""
    assert check_lesion(truth, img.geometry, cord_region=cord)[0] == ""


def test_a_pole_slice_is_kept_only_when_the_lesion_fills_it_at_half_maximum():
    """3 mm slices along z: the lesion fills slice 3 at 60 % and slice 8 at 35 %. A raised
    sensitivity grows in-plane rims, but a thick pole slice is kept only at half maximum."""
    g = Geometry((24, 24, 12), spacing=(0.5, 0.5, 3.0))
    img = np.full(g.shape, 100.0)
    img[8:16, 8:16, 4:8] = 500.0
    img[8:16, 8:16, 3] = 100.0 + 0.60 * 400.0
    img[8:16, 8:16, 8] = 100.0 + 0.35 * 400.0
    for sensitivity in (0.5, 0.75, 0.9):
        seg = grow_lesion(img, g, g.index_to_world([12, 12, 5]), sensitivity=sensitivity)
        slices = np.flatnonzero(seg.mask.any(axis=(0, 1))).tolist()
        assert slices == [3, 4, 5, 6, 7], (sensitivity, slices)
        assert seg.details["pole_slices_removed"] == (0 if sensitivity == 0.5 else 1)
    # The same image on 0.5 mm isotropic voxels has no thick slices: the sensitivity decides.
    fine = Geometry(g.shape, spacing=(0.5, 0.5, 0.5))
    seg = grow_lesion(img, fine, fine.index_to_world([12, 12, 5]), sensitivity=0.75)
    assert np.flatnonzero(seg.mask.any(axis=(0, 1))).tolist() == [3, 4, 5, 6, 7, 8]


def test_a_rim_enhancing_lesion_is_grown_with_its_core_and_both_caps():
    """2 mm slices along z: a bright ring (1 mm thick) around a core no brighter than cord on
    slices 4-7, closed by a small bright cap on slices 3 and 8 that lies over the core only. The
    lesion is the rim, its core and both caps (what a radiologist outlines)."""
    g = Geometry((30, 30, 12), spacing=(0.5, 0.5, 2.0))
    yy, xx = np.indices(g.shape[:2]) * 0.5 - 7.25
    r = np.hypot(yy, xx)
    img = np.full(g.shape, 300.0) + np.random.default_rng(2).normal(0, 8, g.shape)
    cord = np.ones(g.shape, bool)
    lesion = np.zeros(g.shape, bool)
    for z in (4, 5, 6, 7):
        img[..., z][(r <= 3.0) & (r > 2.0)] = 1000.0
        img[..., z][r <= 2.0] = 320.0
        lesion[..., z] = r <= 3.0
    for z in (3, 8):
        img[..., z][r <= 1.5] = 900.0
        lesion[..., z] = r <= 1.5
    ring_voxel = np.argwhere(lesion[..., 5] & (img[..., 5] > 900))[0]
    seg = grow_lesion(img, g, g.index_to_world([*ring_voxel, 5]), cord_region=cord)
    assert seg.ok, seg.reason
    assert np.flatnonzero(seg.mask.any(axis=(0, 1))).tolist() == [3, 4, 5, 6, 7, 8]
    assert dice(seg.mask, lesion) >= 0.95
