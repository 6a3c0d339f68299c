"""The measurement engine on the twin and solitary phantoms, against their analytic truth.

The images come through the real loaders (DICOM series for twin, NIfTI for solitary); the masks,
landmarks and truth are the ones `scripts/make_phantom.py` writes into sample_data/.
"""

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from lesionview.io import load_volume
from lesionview.levels import LevelModel
from lesionview.measure import MultiplicityClass, measure
from lesionview.measure.diameters import axial_diameters
from lesionview.phantom.anatomy import cord_semi_axes
from lesionview.phantom.cases import get_case

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

#: Tolerances (mm) against the analytic shapes, on 0.5 x 0.5 x 3 mm sagittal voxels.
MAX_DIAMETER_TOL = 0.6      # calibrated diameter bias is within +-0.3 mm on ellipsoids, plus spread
CRANIOCAUDAL_TOL = 1.0      # two 0.5 mm rows plus partial volume at the ends
VOLUME_REL_TOL = 0.25       # of the analytic volume, or ...
VOLUME_ABS_VOXELS = 8       # ... this many voxels: the 3 mm lesion is only ~20 voxels of 0.75 mm^3


IMAGES = {"twin": "dicom/05_SAG_T1_TSE_C", "solitary": "t1c.nii.gz"}


@functools.cache
def _masks(name: str):
    """The phantom's ground-truth masks (voxel centres inside the analytic shapes) and grid."""
    lesion = load_volume(SAMPLE / name / "lesion.nii.gz")
    cord = load_volume(SAMPLE / name / "cord.nii.gz").array != 0
    edema = load_volume(SAMPLE / name / "edema.nii.gz").array != 0
    return lesion.array, cord, edema, lesion.geometry


def _assert_axial_calipers_fit_the_ellipsoid(les, true, case):
    """Each axial caliper against the true ellipsoid's width along that caliper's own direction.

    The lesion's axial section is an ellipse (semi-axes AP and LR of truth.json, along its
    ``axes_lps``); its width along a unit direction e is 2 sqrt((a_AP e.AP)^2 + (a_LR e.LR)^2).
    Each caliper end is known to within half a voxel box along e, so the tolerance is one voxel box
    projected on e: about 3 mm for a caliper across the 3 mm sagittal slices (the lesion's left-right
    edge can lie anywhere in the outermost slice), 0.5 mm for one in the slice plane. The old +-3 mm
    on both diameters of the 2.7 mm lesion let any value from 0 pass; its short caliper, mostly in the
    slice plane, is now held to 1.0 mm (2.26 measured against 2.51); its long one, across the slices,
    stays at +-3 mm, which is all 3 mm slices can tell.
    """
    labels, _cord, _edema, g = _masks(case)
    axial = axial_diameters(labels == les.id, g, axis=true["cord_tangent_lps"])
    # measure() takes the axis from the cord mask's centerline, within a degree of the true tangent:
    # the same calipers to within half a pixel (they agree to 2e-3 mm on the sample).
    assert les.axial_long_mm == pytest.approx(axial.long_mm, abs=0.25)
    assert les.axial_short_mm == pytest.approx(axial.short_mm, abs=0.25)
    ap, lr = (np.asarray(true["axes_lps"][k]) for k in ("anteroposterior", "left_right"))
    semi = true["semi_axes_mm"]
    directions = []
    for ends, measured in ((axial.long_endpoints, axial.long_mm), (axial.short_endpoints, axial.short_mm)):
        e = (ends[1] - ends[0]) / np.linalg.norm(ends[1] - ends[0])
        directions.append(e)
        width = 2 * np.hypot(semi["anteroposterior"] * (e @ ap), semi["left_right"] * (e @ lr))
        box = float(np.abs(g.direction_matrix.T @ e) @ np.array(g.spacing))
        assert measured == pytest.approx(width, abs=box), (case, les.id, e)
        assert abs(e @ np.asarray(true["cord_tangent_lps"])) < 0.02      # in the axial plane
    assert abs(directions[0] @ directions[1]) < 1e-6                       # perpendicular calipers


def _assert_enhancement_ratio(les, case):
    """Mean T1C over the true lesion voxels / mean over the true normal cord (cord that is neither
    lesion nor edema), computed here from the input image and the phantom's truth masks.

    The phantom was rendered with lesion 1050 and cord 370 (T1C) plus partial volume and a bias
    field, so the ratio is below 1050/370 = 2.84 by an amount only the image knows (2.07 for the
    3 mm lesion, about 2.7-2.8 for the others). Their noise-free render gives the same ratios to
    within 0.002 (checked when this test was written; rendering takes 20 s, so it is not redone).
    """
    labels, cord, edema, g = _masks(case)
    volume = load_volume(SAMPLE / case / IMAGES[case])
    assert volume.geometry.describe() == g.describe()          # image and masks share one grid
    image = volume.array.astype(float)
    expected = image[labels == les.id].mean() / image[cord & (labels == 0) & ~edema].mean()
    assert les.enhancement_ratio == pytest.approx(expected, rel=1e-3)      # reported to 4 decimals


def _assert_cord_occupancy(les, true, case):
    """The largest fraction of the cord's cross-section the lesion takes, from the analytic shapes.

    The sagittal grid sees a cross-section only on its slices (x = 18 - 3 k mm): in the plane
    perpendicular to the cord through the lesion centre, the lesion's and the cord's areas are the
    sums of their antero-posterior chords on those slices (the lesion an ellipse of truth.json's
    semi-axes, the cord the phantom's ellipse, lesionview.phantom.anatomy.cord_semi_axes). Each chord
    is counted in 0.5 mm pixels, so is known to +-0.5 mm: that, relative to each sum, is the
    tolerance. The analytic area ratio is not the target: with 3 mm slices a 2.7 mm lesion is seen
    on one slice, which overstates its share (pi 1.25 x 1.35 mm^2 against 3 mm x its chord).
    """
    _labels, _cord, _edema, g = _masks(case)
    lesion = get_case(case).lesions[les.id - 1]
    centre_x = true["centre_lps_mm"][0]
    lr_axis = int(np.argmax(np.abs(g.direction_matrix[0])))        # the array axis across the slices
    idx = np.zeros((g.shape[lr_axis], 3))
    idx[:, lr_axis] = np.arange(g.shape[lr_axis])
    slices = g.index_to_world(idx)[:, 0]
    semi = true["semi_axes_mm"]
    cord_ap, cord_lr = (float(v) for v in cord_semi_axes(lesion.s))

    def chords(half_ap, half_lr, offsets):
        inside = np.clip(1 - (offsets / half_lr) ** 2, 0, None)
        return 2 * half_ap * np.sqrt(inside)

    lesion_chords = chords(semi["anteroposterior"], semi["left_right"], slices - centre_x)
    cord_chords = chords(cord_ap, cord_lr, slices)
    expected = lesion_chords.sum() / cord_chords.sum()
    pixel = min(g.spacing)
    tol = expected * (pixel * np.count_nonzero(lesion_chords) / lesion_chords.sum()
                      + pixel * np.count_nonzero(cord_chords) / cord_chords.sum())
    assert les.cord_occupancy == pytest.approx(expected, abs=tol), (case, les.id, expected)


def _case(name: str, image: str):
    root = SAMPLE / name
    if not (root / "truth.json").exists() or not (root / image).exists():
        pytest.fail(f"{root} is incomplete: run `make sample` (scripts/make_phantom.py) first")
    truth = json.loads((root / "truth.json").read_text())
    result = measure(load_volume(root / "lesion.nii.gz"), image=load_volume(root / image),
                     edema=load_volume(root / "edema.nii.gz"), cord=load_volume(root / "cord.nii.gz"),
                     levels=LevelModel.from_file(root / "landmarks.csv"))
    return truth, result


@pytest.fixture(scope="module")
def twin():
    return _case("twin", IMAGES["twin"])


@pytest.fixture(scope="module")
def solitary():
    return _case("solitary", IMAGES["solitary"])


@pytest.mark.parametrize("case", ["twin", "solitary"])
def test_each_lesion_within_tolerance_of_truth(case, request):
    truth, result = request.getfixturevalue(case)
    assert len(result.lesions) == truth["lesion_count"]
    for les, true in zip(result.lesions, truth["lesions"]):  # both superior to inferior
        assert les.levels.label == true["levels"]
        assert les.max_diameter_mm == pytest.approx(true["max_diameter_mm"], abs=MAX_DIAMETER_TOL)
        assert les.craniocaudal_mm == pytest.approx(true["craniocaudal_length_mm"], abs=CRANIOCAUDAL_TOL)
        voxel = les.volume_mm3 / les.voxel_count
        assert les.volume_mm3 == pytest.approx(
            true["volume_mm3"], abs=max(VOLUME_REL_TOL * true["volume_mm3"], VOLUME_ABS_VOXELS * voxel))
        # Sagittal 3 mm slices lie in the axial plane: the result says so.
        assert les.axial_uncertainty_mm == pytest.approx(truth["voxel_spacing_mm"]["slice"])
        _assert_axial_calipers_fit_the_ellipsoid(les, true, case)
        _assert_enhancement_ratio(les, case)
        _assert_cord_occupancy(les, true, case)
        assert les.measurable == (true["max_diameter_mm"] >= 10)


@pytest.mark.parametrize("case", ["twin", "solitary"])
def test_edema_levels_and_extent(case, request):
    truth, result = request.getfixturevalue(case)
    (ed,) = result.edema
    assert ed.levels.label == truth["edema"]["levels"] == "C1-C7"
    assert ed.levels.count == truth["edema"]["level_count"] == 7
    assert ed.longitudinally_extensive is truth["edema"]["longitudinally_extensive"] is True
    assert ed.craniocaudal_along_cord_mm == pytest.approx(truth["edema"]["length_along_cord_mm"], abs=3.0)
    assert ed.lesion_ids == [les.id for les in result.lesions]


def test_twin_is_an_adjacent_pair_with_the_true_gap(twin):
    truth, result = twin
    assert result.multiplicity.kind is MultiplicityClass.ADJACENT_PAIR
    assert truth["multiplicity"] == result.multiplicity.kind.value
    (pair,) = result.multiplicity.pairs
    assert pair.gap_mm == pytest.approx(truth["gap_between_lesion_surfaces_mm"], abs=1.0)
    assert pair.same_edema and pair.level_distance == 1
    assert result.summary.startswith(
        "Two enhancing intramedullary lesions (adjacent pair) at vertebral levels C5 (maximum diameter 3.")
    assert f" and C6 ({result.lesions[1].max_diameter_mm:.1f} mm); gap {pair.gap_mm:.1f} ± " in result.summary
    assert ("T2 cord edema at vertebral levels C1-C7 (7 levels, longitudinally extensive; estimated cord "
            "segments ") in result.summary


def test_solitary_is_solitary(solitary):
    truth, result = solitary
    assert result.multiplicity.kind is MultiplicityClass.SOLITARY == truth["multiplicity"]
    assert result.summary.startswith("One enhancing intramedullary lesion at vertebral levels C5-C6 (maximum diameter 16.")
