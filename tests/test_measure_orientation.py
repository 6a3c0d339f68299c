"""The same twin anatomy stored axial, coronal, sagittal and oblique: the same answers.

The phantom is analytic, so it is rendered afresh on each grid (masks by partial volume), and
every grid's numbers are held to the analytic truth with tolerances set by that grid's voxels.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from phantom_grids import AXIAL, CORONAL, SAGITTAL, grid, rotation

from lesionview.geometry import Geometry
from lesionview.levels import LevelModel
from lesionview.measure import MultiplicityClass, measure
from lesionview.measure.sections import voxel_extent_along
from lesionview.phantom import render_maps
from lesionview.volume import Volume

TRUTH = json.loads((Path(__file__).resolve().parents[1] / "sample_data" / "twin" / "truth.json").read_text())
LANDMARKS = Path(__file__).resolve().parents[1] / "sample_data" / "twin" / "landmarks.csv"


GRIDS = {
    "axial 0.5x0.5x3": (AXIAL, (0.5, 0.5, 3.0)),
    "axial 1 mm": (AXIAL, (1.0, 1.0, 1.0)),
    "coronal 0.5x3x0.5": (CORONAL, (0.5, 3.0, 0.5)),
    "sagittal 20 deg oblique": (rotation([0, 0, 1], 20) @ SAGITTAL, (3.0, 0.5, 0.5)),
    "axial 15 deg oblique": (rotation([1, 0, 0], 15) @ AXIAL, (0.5, 0.5, 3.0)),
}


def _in_plane_voxel(g: Geometry) -> float:
    """Largest extent of one voxel box along a direction of the axial plane (mm)."""
    angles = np.radians(np.arange(0, 180, 2))
    return max(voxel_extent_along(g, [np.cos(a), np.sin(a), 0.0]) for a in angles)


@pytest.fixture(scope="module", params=list(GRIDS))
def measured(request):
    direction, spacing = GRIDS[request.param]
    g = grid(direction, spacing)
    maps = render_maps("twin", g)
    result = measure(Volume(maps.lesion_labels, g), edema=Volume(maps.edema, g), cord=Volume(maps.cord, g),
                     levels=LevelModel.from_file(LANDMARKS))
    return request.param, g, result


def test_levels_multiplicity_and_edema_on_every_grid(measured):
    name, _, result = measured
    assert [les.levels.label for les in result.lesions] == ["C5", "C6"], name
    assert result.multiplicity.kind is MultiplicityClass.ADJACENT_PAIR, name
    # Oblique thick slices may cut a fleck off the thin end of the edema: the main region counts.
    ed = max(result.edema, key=lambda e: e.volume_mm3)
    assert ed.levels.label == "C1-C7" and ed.longitudinally_extensive, name
    assert sum(e.volume_mm3 for e in result.edema if e is not ed) < 0.01 * ed.volume_mm3, name


def test_diameters_and_gap_within_the_grid_s_tolerance(measured):
    name, g, result = measured
    for les, true in zip(result.lesions, TRUTH["lesions"]):
        voxel = max(g.spacing)  # a binary mask knows each surface to within a voxel
        np.testing.assert_allclose(les.centroid_lps_mm, true["centre_lps_mm"], atol=voxel / 2, err_msg=name)
        assert les.max_diameter_mm == pytest.approx(true["max_diameter_mm"], abs=voxel + 0.3), name
        # A mask knows each surface to within a voxel: one voxel box projected into the axial
        # plane (its worst direction), or the thick-slice uncertainty the result states.
        tolerance = les.axial_uncertainty_mm or _in_plane_voxel(g)
        assert les.axial_long_mm == pytest.approx(true["axial_long_diameter_mm"], abs=tolerance), name
        assert les.axial_short_mm == pytest.approx(true["axial_perpendicular_diameter_mm"], abs=tolerance), name
    (pair,) = result.multiplicity.pairs
    assert pair.gap_uncertainty_mm == max(g.spacing)
    assert pair.gap_mm == pytest.approx(TRUTH["gap_between_lesion_surfaces_mm"], abs=pair.gap_uncertainty_mm)


def test_axial_thin_grid_gives_tight_axial_diameters():
    """Where the axial plane holds only fine pixels (axial 1 mm grid), axial numbers are exact to
    sub-millimetre and carry no thick-slice uncertainty."""
    g = grid(AXIAL, (1.0, 1.0, 1.0))
    maps = render_maps("twin", g)
    result = measure(Volume(maps.lesion_labels, g))
    large = result.lesions[1]
    assert large.axial_uncertainty_mm is None
    assert large.axial_long_mm == pytest.approx(TRUTH["lesions"][1]["axial_long_diameter_mm"], abs=0.6)
