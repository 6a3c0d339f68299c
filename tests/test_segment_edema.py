"""grow_edema on the phantom's T2 (edema C1-C7, lesions inside it) and on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mask_checks import assert_same_voxels
from scipy import ndimage

from lesionview.geometry import Geometry, reorient
from lesionview.io import load_volume
from lesionview.phantom.anatomy import cord_semi_axes
from lesionview.phantom.cases import get_case
from lesionview.segment import dice
from lesionview.segment._stats import dilate_mm
from lesionview.segment.edema import grow_edema

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
ROW_MM = 0.5        # the sagittal pixel along the cord (rows run head to feet)
SLICE_MM = 3.0      # sagittal slices: left-right


@pytest.fixture(scope="module", params=["twin", "solitary"])
def case(request):
    folder = SAMPLE / request.param
    if not (folder / "t2.nii.gz").exists():
        from lesionview.phantom import sample_path
        folder = sample_path(request.param)
    t2 = load_volume(folder / "t2.nii.gz")
    g = t2.geometry
    cord = load_volume(folder / "cord.nii.gz").array != 0
    return {"name": request.param, "t2": t2, "geometry": g, "cord": cord,
            "cord_1mm": dilate_mm(cord, g.spacing, 1.0),
            "lesion": load_volume(folder / "lesion.nii.gz").array != 0,
            "edema": load_volume(folder / "edema.nii.gz").array != 0}


def test_truth_edema_includes_the_lesions(case):
    # The convention grow_edema follows: the T2-hyperintense cord, lesions inside it.
    assert np.mean(case["edema"][case["lesion"]]) > 0.95


@pytest.mark.parametrize("cord_key", ["cord", "cord_1mm"])
def test_edema_from_the_lesion(case, cord_key):
    seg = grow_edema(case["t2"], case["geometry"], lesion_mask=case["lesion"], cord_region=case[cord_key])
    assert seg.ok, seg.reason
    assert dice(seg.mask, case["edema"]) >= 0.8
    assert seg.mask[case["lesion"]].all() and seg.details["includes_lesion"]
    # The edema never leaks along the cord past its true ends (truth.json), to one 0.5 mm row.
    z = case["geometry"].index_to_world(np.argwhere(seg.mask))[:, 2]
    top, bottom = _true_ends_z(case["name"])
    assert bottom - ROW_MM <= z.min() and z.max() <= top + ROW_MM, (z.min(), z.max(), bottom, top)



def _true_ends_z(name: str) -> tuple[float, float]:
    """z (mm) of the top and bottom of the true edema, from truth.json."""
    edema = json.loads((SAMPLE / name / "truth.json").read_text())["edema"]
    return edema["top_lps_mm"][2], edema["bottom_lps_mm"][2]


def _thin_tips_mm(name: str) -> tuple[float, float]:
    """Lengths (mm along the cord) at the top and bottom where the true edema is narrower left to
    right than one 3 mm slice, from the phantom's edema profile and cord width: there partial volume
    across the slice dims it, and growing may stop short. z lengths are at most these."""
    edema = get_case(name).edema
    s = np.linspace(edema.top, edema.bottom, 100_001)
    wide = 2 * edema.scale(s) * cord_semi_axes(s)[1] >= SLICE_MM
    return float(s[wide].min() - edema.top), float(edema.bottom - s[wide].max())


@pytest.mark.parametrize("cord_key", [
    "cord",
    pytest.param("cord_1mm", marks=pytest.mark.xfail(strict=True, reason=(
        "found by issue 16: with the cord dilated by 1 mm, growing from the lesions stops 7.1 mm "
        "(twin) and 6.6 mm (solitary) below the true top, where the edema is narrower than a slice only "
        "over the top 6.0 and 5.9 mm; the bottom end is reached"))),
])
def test_edema_from_the_lesion_reaches_both_ends(case, cord_key):
    # The edema spans C1-C7 (118 mm in z). It reaches each true end except where the edema tapers to
    # less than one slice wide, plus one row.
    seg = grow_edema(case["t2"], case["geometry"], lesion_mask=case["lesion"], cord_region=case[cord_key])
    z = case["geometry"].index_to_world(np.argwhere(seg.mask))[:, 2]
    top, bottom = _true_ends_z(case["name"])
    tip_top, tip_bottom = _thin_tips_mm(case["name"])
    assert z.max() >= top - tip_top - ROW_MM, (z.max(), top, tip_top)
    assert z.min() <= bottom + tip_bottom + ROW_MM, (z.min(), bottom, tip_bottom)


def test_edema_from_clicks(case):
    g, edema = case["geometry"], case["edema"]
    pts = np.argwhere(ndimage.binary_erosion(edema) & ~case["lesion"])
    for p in pts[np.random.default_rng(4).choice(len(pts), 4, replace=False)]:
        seg = grow_edema(case["t2"], g, seed_world_mm=g.index_to_world(p), cord_region=case["cord"])
        assert seg.ok, seg.reason
        assert dice(seg.mask, edema) >= 0.8, p


def test_no_edema_without_a_cord_region(case):
    # Edema never leaves the cord, and without its outline the CSF beside it passes for edema
    # (issue 10: 31,000 mm^3 from T2 to T9 against 4,350 at T4-T7): refused, saying what to do.
    g, empty_cord = case["geometry"], np.zeros(case["geometry"].shape, bool)
    for cord in (None, empty_cord):
        for where in ({"lesion_mask": case["lesion"]},
                      {"seed_world_mm": g.index_to_world(np.argwhere(case["lesion"])[0])}):
            seg = grow_edema(case["t2"], g, cord_region=cord, **where)
            assert not seg.mask.any()
            assert "only inside the cord" in seg.reason and "segment the cord first" in seg.reason


def test_same_edema_in_world_space_whatever_the_storage_order(case):
    if case["name"] != "twin":
        pytest.skip("one case is enough")
    g = case["geometry"]
    ref = grow_edema(case["t2"].array, g, lesion_mask=case["lesion"], cord_region=case["cord"])
    img, g2 = reorient(case["t2"].array, g, "LPS")
    seg = grow_edema(img, g2, lesion_mask=reorient(case["lesion"], g, "LPS")[0],
                     cord_region=reorient(case["cord"], g, "LPS")[0])
    back, _ = reorient(seg.mask, g2, g.orientation)
    assert_same_voxels(back, ref.mask, what="edema LPS vs stored")


def test_click_on_normal_cord_finds_no_edema(case):
    g, cord, edema = case["geometry"], case["cord"], case["edema"]
    far = ndimage.distance_transform_edt(~edema, sampling=g.spacing) > 15
    p = np.argwhere(ndimage.binary_erosion(cord, iterations=2) & far)[0]
    seg = grow_edema(case["t2"], g, seed_world_mm=g.index_to_world(p), cord_region=cord)
    assert not seg.mask.any() and "no T2 hyperintensity" in seg.reason


# ----------------------------------------------------------------------------- bad input
def test_bad_input_gives_reasons():
    g = Geometry((10, 20, 20))
    img = np.full(g.shape, 100.0)
    cord = np.zeros(g.shape, bool)
    cord[2:8, 5:15, 5:15] = True
    assert "lesion mask or a click" in grow_edema(img, g, cord_region=cord).reason
    assert "outside the image" in grow_edema(img, g, seed_world_mm=(99, 99, 99), cord_region=cord).reason
    assert "outside the cord" in grow_edema(img, g, seed_world_mm=(0, 0, 0), cord_region=cord).reason
    assert "no contrast" in grow_edema(img, g, seed_world_mm=(5, 10, 10), cord_region=cord).reason
    nan = img.copy()
    nan[:] = np.nan
    assert "no contrast" in grow_edema(nan, g, seed_world_mm=(5, 10, 10), cord_region=cord).reason
    with pytest.raises(ValueError, match="sensitivity"):
        grow_edema(img, g, seed_world_mm=(5, 10, 10), sensitivity=-0.1)
