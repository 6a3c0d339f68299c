"""Lengths along the cord measured across thick slices: their uncertainty, and pole slices.

The analytic twin phantom is rendered afresh on axial 3 mm, sagittal 3 mm and oblique grids
(masks by voxel centre inside the lesion), and each length along the cord is held to the
analytic truth within the uncertainty the result states: the grid step along the cord, which is
the slice thickness on axial slices and about the pixel on sagittal ones. Whether a report shows
it depends on the slices lying across the cord (:mod:`lesionview.measure.thick`), not on that step.
"""

import csv
import io
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from phantom_grids import SAGITTAL, grid, rotation, twin_axial
from scipy.spatial.distance import cdist

from lesionview.geometry import Geometry
from lesionview.io import read_nifti
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.measure.sections import boundary_points, voxel_extent_along
from lesionview.measure.thick import THICK_SLICE_MM, shown_uncertainty
from lesionview.phantom import axial_geometry, case_truth, render, render_maps, sagittal_geometry
from lesionview.phantom.cases import CASES, Case, Lesion
from lesionview.report.cells import length_cell, levels_cell
from lesionview.report.html import render_html
from lesionview.report.tabular import CSV_COLUMNS, csv_rows
from lesionview.segment import dice
from lesionview.segment._stats import dilate_mm
from lesionview.segment.lesion import grow_lesion
from lesionview.volume import Volume

ROOT = Path(__file__).resolve().parents[1]
TRUTH = json.loads((ROOT / "sample_data" / "twin" / "truth.json").read_text())
LANDMARKS = ROOT / "sample_data" / "twin" / "landmarks.csv"

#: name -> (grid, are the slices thick across the cord)
GRIDS = {
    "axial 3 mm": (lambda: twin_axial()[0], True),
    "axial 3 mm, 15 deg oblique": (lambda: grid(rotation([1, 0, 0], 15), (0.5, 0.5, 3.0)), True),
    "sagittal 3 mm (the sample's grid)": (sagittal_geometry, False),
    "sagittal 3 mm, 20 deg oblique": (lambda: grid(rotation([0, 0, 1], 20) @ SAGITTAL, (3.0, 0.5, 0.5)), False),
}


@cache
def _measured(name: str):
    """(grid, lesion labels, result) of the twin on grid ``name``, rendered and measured once per
    module. On the sample's grid the committed sample masks are read: they are that rendering,
    and reading them takes milliseconds where rendering takes 20 s."""
    g = GRIDS[name][0]()
    if name.startswith("sagittal 3 mm (the sample"):
        lesion, edema, cord = (read_nifti(ROOT / "sample_data" / "twin" / f"{n}.nii.gz").array
                               for n in ("lesion", "edema", "cord"))
    else:
        maps = twin_axial()[1] if name == "axial 3 mm" else render_maps("twin", g)
        lesion, edema, cord = maps.lesion_labels, maps.edema, maps.cord
    result = measure(Volume(lesion, g), edema=Volume(edema, g), cord=Volume(cord, g),
                     levels=LevelModel.from_file(LANDMARKS))
    return g, lesion, result


@pytest.fixture(scope="module", params=list(GRIDS))
def measured(request):
    g, _, result = _measured(request.param)
    return request.param, g, GRIDS[request.param][1], result


def test_lengths_along_the_cord_are_within_their_uncertainty_of_the_truth(measured):
    name, _, thick, result = measured
    for les, truth in zip(result.lesions, TRUTH["lesions"]):
        unc = les.craniocaudal_uncertainty_mm
        if thick:
            assert 2.9 <= unc <= 3.3, name          # the slice thickness, projected on the cord
            assert les.thick_slices_mm == 3.0, name
        else:
            assert unc < 1.0, name                  # fine along the cord: ~ the pixel
            assert les.thick_slices_mm is None, name
        assert les.craniocaudal_along_cord_mm == pytest.approx(truth["craniocaudal_length_mm"], abs=unc), name
        assert les.craniocaudal_mm == pytest.approx(truth["z_extent_mm"], abs=unc + 0.1), name
    pair = result.multiplicity.pairs[0]
    assert pair.gap_mm == pytest.approx(TRUTH["gap_between_lesion_surfaces_mm"],
                                        abs=pair.gap_craniocaudal_uncertainty_mm + 0.1), name


def test_thick_slices_across_the_cord_are_warned_and_shown(measured):
    name, _, thick, result = measured
    warned = [w for w in result.warnings if "thick across the cord" in w]
    assert bool(warned) == thick, (name, result.warnings)
    # The gap always carries its ±; only across thick slices is it the slice thickness.
    gap_pm = float(re.search(r"gap \d+\.\d ± (\d+\.\d) mm", result.summary).group(1))
    shown = "possibly reaching" in result.summary or gap_pm >= THICK_SLICE_MM
    assert shown == thick, (name, result.summary)
    # The level range a lesion may reach holds its own levels and the true ones; it is only
    # recorded where it is shown (thick slices across the cord).
    order = [f"C{k}" for k in range(1, 8)] + ["T1", "T2"]
    for les, truth in zip(result.lesions, TRUTH["lesions"]):
        span = les.levels
        assert (span.possible_first is not None) == thick, (name, span)
        reach = (order.index(span.possible_first or span.first), order.index(span.possible_last or span.last))
        assert reach[0] <= order.index(span.first) <= order.index(span.last) <= reach[1], name
        if thick:
            true = [order.index(v) for v in truth["levels"].split("-")]
            assert reach[0] <= min(true) and max(true) <= reach[1], (name, truth["levels"], span)
    rows = [r for r in csv_rows(result) if r["kind"] != "pair"]
    assert all(r["craniocaudal_uncertainty_mm"] != "" for r in rows)
    assert [r["levels_possible"] for r in rows] == [
        (x.levels.possible_label or "") if thick else "" for x in [*result.lesions, *result.edema]]
    at = CSV_COLUMNS.index("craniocaudal_uncertainty_mm")
    assert CSV_COLUMNS[at:at + 3] == ["craniocaudal_uncertainty_mm", "levels_possible", "thick_slices_mm"]
    html = render_html(result)
    assert ("thick slices across the cord" in html) == thick, name


def test_the_same_anatomy_stored_axial_and_sagittal_agrees_within_the_stated_uncertainties():
    axial = _measured("axial 3 mm")[2]
    sagittal = _measured("sagittal 3 mm (the sample's grid)")[2]
    for a, s in zip(axial.lesions, sagittal.lesions, strict=True):
        tolerance = a.craniocaudal_uncertainty_mm + s.craniocaudal_uncertainty_mm
        assert abs(a.craniocaudal_along_cord_mm - s.craniocaudal_along_cord_mm) <= tolerance


def test_the_uncertainty_is_the_grid_step_along_the_cord_not_an_index():
    """A straight 'cord' along z: 3 mm axial slices give 3 mm, the same voxels stored as sagittal
    slices of 3 mm (left-right) give the in-plane pixel along the cord."""
    mask = np.zeros((10, 10, 10), np.uint8)
    mask[4:6, 4:6, 3:7] = 1
    axial = measure(mask, geometry=Geometry(mask.shape, spacing=(0.5, 0.5, 3.0)))
    sagittal = measure(mask, geometry=Geometry(mask.shape, spacing=(3.0, 0.5, 0.5)))
    assert axial.lesions[0].craniocaudal_uncertainty_mm == pytest.approx(3.0)
    assert sagittal.lesions[0].craniocaudal_uncertainty_mm == pytest.approx(0.5)
    assert any("across the cord" in w for w in axial.warnings)
    assert not any("across the cord" in w for w in sagittal.warnings)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(csv_rows(axial) + csv_rows(sagittal))
    (a_row, s_row) = csv.DictReader(io.StringIO(buffer.getvalue()))
    assert (a_row["craniocaudal_uncertainty_mm"], a_row["thick_slices_mm"], a_row["levels_possible"]) == (
        "3.0", "3.0", "")                                # no levels given: no range
    assert (s_row["craniocaudal_uncertainty_mm"], s_row["thick_slices_mm"]) == ("0.5", "")


# ------------------------------------------------------------------------- thick across the cord
def _tilted_scene(slice_mm: float, tilt_deg: float):
    """A straight cord along z (radius 4 mm) holding two lesions 8 mm apart along it, on axial
    slices tilted ``tilt_deg`` off the cord: (grid, lesion labels, cord mask)."""
    g = axial_geometry(slice_mm, tilt_deg, lo=(-8.0, -8.0, -30.0), hi=(8.0, 8.0, 30.0))
    x, y, z = np.moveaxis(g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3), -1, 0)
    labels = np.zeros(g.shape, np.uint8)
    labels[(x / 2.5) ** 2 + (y / 2.5) ** 2 + ((z - 8.0) / 5.0) ** 2 <= 1] = 1     # z 3..13
    labels[(x / 2.0) ** 2 + (y / 2.0) ** 2 + ((z + 8.0) / 3.0) ** 2 <= 1] = 2     # z -11..-5
    return g, labels, (x**2 + y**2 <= 16.0).astype(np.uint8)


def test_axial_slices_tilted_20_degrees_off_the_cord_still_show_the_uncertainty():
    """3 mm slices at 20 degrees to the cord: the step along it is 2.99 mm, under 3, but the
    slices lie across the cord and every report shows the ± (a step threshold showed nothing)."""
    g, labels, cord = _tilted_scene(3.0, 20.0)
    result = measure(Volume(labels, g), cord=Volume(cord, g))
    step = voxel_extent_along(g, [0.0, 0.0, 1.0])
    assert step == pytest.approx(3 * np.cos(np.radians(20)) + 0.5 * np.sin(np.radians(20)))
    assert step < 3.0
    for les in result.lesions:
        assert les.thick_slices_mm == 3.0
        assert les.craniocaudal_uncertainty_mm == pytest.approx(step, abs=0.02)
        assert shown_uncertainty(les) == les.craniocaudal_uncertainty_mm
        assert length_cell(les) == f"{les.craniocaudal_mm:.1f} ± {les.craniocaudal_uncertainty_mm:.1f}"
        assert levels_cell(les, unknown="—") == "—"
    pair = result.multiplicity.pairs[0]
    assert pair.gap_thick_slices_mm == 3.0      # the closest-pair line crosses the slices too
    assert f"gap {pair.gap_mm:.1f} ± {pair.gap_craniocaudal_uncertainty_mm:.1f} mm" in result.summary
    # Both lesions, and their pair (whose gap line crosses the slices).
    assert [(r["kind"], r["thick_slices_mm"]) for r in csv_rows(result)] == [
        ("lesion", 3.0), ("lesion", 3.0), ("pair", 3.0)]
    assert "thick slices across the cord" in render_html(result)


def test_the_warning_gives_the_slice_thickness_and_the_step_along_the_cord():
    """4 mm slices at 40 degrees to the cord: 4.0 mm thick, lengths uncertain by ±3.4 mm."""
    g, labels, cord = _tilted_scene(4.0, 40.0)
    result = measure(Volume(labels, g), cord=Volume(cord, g))
    step = 4 * np.cos(np.radians(40)) + 0.5 * np.sin(np.radians(40))     # 3.39 mm along the cord
    for les in result.lesions:
        assert les.thick_slices_mm == 4.0
        assert les.craniocaudal_uncertainty_mm == pytest.approx(step, abs=0.05)   # the tangent of a voxel cord
        assert length_cell(les).endswith(" ± 3.4")
    # The gap is known to one voxel along the line joining the closest boundary voxels, which is
    # not quite the cord axis on this grid: the warning gives the largest of them.
    worst = max([les.craniocaudal_uncertainty_mm for les in result.lesions]
                + [p.gap_craniocaudal_uncertainty_mm for p in result.multiplicity.pairs])
    assert step <= worst <= 4.0 + 0.5
    assert (f"slices 4.0 mm thick across the cord: lengths along the cord, gaps and level extents are "
            f"uncertain by up to ±{worst:.1f} mm") in result.warnings


def test_sagittal_gap_uncertainty_is_the_voxel_along_the_closest_pair_line():
    """On sagittal 3 mm slices the gap is measured along the line joining the closest boundary
    voxels of the two lesions; its ± is one voxel box along that line, not along the cord."""
    g, lesion, result = _measured("sagittal 3 mm (the sample's grid)")
    a, b = (boundary_points(lesion == k, g) for k in (1, 2))
    d = cdist(a, b)
    i, j = np.unravel_index(np.argmin(d), d.shape)
    line = (b[j] - a[i]) / d[i, j]
    pair = result.multiplicity.pairs[0]
    assert pair.gap_craniocaudal_uncertainty_mm == pytest.approx(voxel_extent_along(g, line), abs=1e-3)
    assert pair.gap_craniocaudal_uncertainty_mm <= pair.gap_uncertainty_mm   # one voxel's longest side
    # The twin's lesions lie one above the other: that line runs in the slice plane, fine.
    assert pair.gap_thick_slices_mm is None and shown_uncertainty(pair) is None
    assert f"gap {pair.gap_mm:.1f} ± {pair.gap_craniocaudal_uncertainty_mm:.1f} mm" in result.summary
    assert pair.gap_craniocaudal_uncertainty_mm < 1.0


def test_a_gap_across_sagittal_slices_carries_the_slice_thickness():
    """Two lesions side by side, left and right of each other, on 3 mm sagittal slices: the gap
    runs across the slices (± 3.0 shown), while their lengths along the cord stay fine (± 0.5, not
    shown), as on the cord axis."""
    g = Geometry((12, 40, 40), spacing=(3.0, 0.5, 0.5), direction=SAGITTAL)
    labels = np.zeros(g.shape, np.uint8)
    labels[2:4, 15:25, 16:24] = 1
    labels[6:8, 16:24, 16:24] = 2          # 9 mm centre to centre: 6 mm between the boxes
    result = measure(labels, geometry=g, mask_kind="labels")
    pair = result.multiplicity.pairs[0]
    assert pair.gap_mm == pytest.approx(6.0)
    assert pair.gap_craniocaudal_uncertainty_mm == pytest.approx(3.0)
    assert pair.gap_thick_slices_mm == 3.0 and shown_uncertainty(pair) == pytest.approx(3.0)
    for les in result.lesions:
        assert les.craniocaudal_uncertainty_mm == pytest.approx(0.5) and shown_uncertainty(les) is None
    assert "gap 6.0 ± 3.0 mm" in result.summary


def test_edema_over_2_levels_that_may_reach_3_is_possibly_longitudinally_extensive():
    """Edema over C4-C5 whose lower end lies within one 3 mm slice of C5/C6: measured 2 levels,
    not longitudinally extensive, but it may be; the summary, the warnings and the HTML say so."""
    g = axial_geometry(3.0, lo=(-8.0, -8.0, -43.5), hi=(8.0, 8.0, 43.5))     # slice centres at z = 1.5 + 3k
    x, y, z = np.moveaxis(g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3), -1, 0)
    r2 = x**2 + y**2
    edema = (r2 <= 6) & (z >= -20) & (z <= 17)                                # centres -19.5 .. 16.5
    lesion = (r2 <= 2) & (np.abs(z - 1.5) <= 1)
    levels = LevelModel.from_landmarks(["C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7"],
                                       [[0, 0, 38.0], [0, 0, 20.0], [0, 0, 0.0], [0, 0, -20.0], [0, 0, -38.0]])
    result = measure(Volume(lesion.astype(np.uint8), g), edema=Volume(edema.astype(np.uint8), g),
                     cord=Volume((r2 <= 16).astype(np.uint8), g), levels=levels)
    (ed,) = result.edema
    assert (ed.levels.label, ed.levels.possible_label, ed.longitudinally_extensive) == ("C4-C5", "C4-C6", False)
    assert ("T2 cord edema at vertebral levels C4-C5 (2 levels; possibly reaching C6, so possibly "
            "longitudinally extensive; estimated cord segments ") in result.summary
    assert ("edema 1: spans 2 levels (C4-C5) but may reach C4-C6 within ±3.0 mm along the cord: possibly "
            "longitudinally extensive") in result.warnings
    assert "no (possibly: it may reach C4-C6)" in render_html(result)


# ----------------------------------------------------------------------------- pole slices
def _pole_case(s0: float) -> Case:
    """A 12 mm lesion (semi-axis 6 mm along the cord) with a 3 mm twin 9 mm below its surface."""
    big = Lesion(s=s0, a=-0.3, x=0.3, semi_axes=(6.0, 2.5, 3.0))
    small = Lesion(s=s0 + 6 + 9 + 1.5, a=-0.8, x=0.6, semi_axes=(1.5, 1.25, 1.35))
    base = CASES["twin"]   # the name keys the anatomy (edema) and the noise: the twin's
    return Case(name="twin", title="12 mm lesion and a 3 mm twin", lesions=(big, small), edema=base.edema,
                multiplicity="adjacent pair", patient_name=base.patient_name, patient_id=base.patient_id)


@pytest.mark.parametrize("sensitivity", [0.5, 0.75])
def test_a_12_mm_lesion_on_3_mm_axial_slices_does_not_gain_a_pole_slice(sensitivity):
    """At s = 96.5 mm its lower pole fills a 3 mm slice by less than half: before issue 11 a raised
    sensitivity took that slice whole (15 mm, not 12)."""
    case = _pole_case(96.5)
    g = axial_geometry(3.0, lo=(-15.0, -25.0, -60.0), hi=(15.0, 15.0, 40.0))
    maps = render_maps(case, g)
    t1c = render(case, g, "T1C")
    cord = dilate_mm(maps.cord != 0, g.spacing, 1.0)
    truth = maps.lesion_labels == 1
    seed = np.rint(np.argwhere(truth).mean(axis=0)).astype(int)
    seg = grow_lesion(t1c, g, g.index_to_world(seed), cord_region=cord, sensitivity=sensitivity)
    assert seg.ok, seg.reason
    assert dice(seg.mask, truth) >= 0.85
    result = measure(Volume(seg.mask.astype(np.uint8), g), cord=Volume(maps.cord, g))
    les = result.lesions[0]
    true_length = case_truth(case)["lesions"][0]["craniocaudal_length_mm"]
    assert les.craniocaudal_mm == pytest.approx(12.0)
    assert les.craniocaudal_along_cord_mm == pytest.approx(true_length, abs=les.craniocaudal_uncertainty_mm)
