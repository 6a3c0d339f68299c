"""The measurement engine on the twin and solitary phantoms, against their analytic truth.

The images come through the real loaders (DICOM series for twin, NIfTI for solitary); the masks,
landmarks and truth are the ones `scripts/make_phantom.py` writes into sample_data/.
"""

import json
from pathlib import Path

import pytest

from lesionview.io import load_volume
from lesionview.levels import LevelModel
from lesionview.measure import MultiplicityClass, measure

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

#: Tolerances (mm) against the analytic shapes, on 0.5 x 0.5 x 3 mm sagittal voxels.
MAX_DIAMETER_TOL = 0.6      # calibrated diameter bias is within +-0.3 mm on ellipsoids, plus spread
CRANIOCAUDAL_TOL = 1.0      # two 0.5 mm rows plus partial volume at the ends
VOLUME_REL_TOL = 0.25       # of the analytic volume, or ...
VOLUME_ABS_VOXELS = 8       # ... this many voxels: the 3 mm lesion is only ~20 voxels of 0.75 mm^3


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
    return _case("twin", "dicom/05_SAG_T1_TSE_C")


@pytest.fixture(scope="module")
def solitary():
    return _case("solitary", "t1c.nii.gz")


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
        # Sagittal 3 mm slices lie in the axial plane: the result says so, and is within it.
        assert les.axial_uncertainty_mm == pytest.approx(3.0)
        assert les.axial_long_mm == pytest.approx(true["axial_long_diameter_mm"], abs=les.axial_uncertainty_mm)
        assert les.axial_short_mm == pytest.approx(true["axial_perpendicular_diameter_mm"],
                                                   abs=les.axial_uncertainty_mm)
        assert les.enhancement_ratio > 1.5   # enhancing on T1 post-contrast
        assert 0 < les.cord_occupancy < 1
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
