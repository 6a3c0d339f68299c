"""measure()'s orchestration (lesionview.measure.study) against hand-computed truth on small grids.

Checks what a caller reads in the result and that docs/measurements.md defines: measurability at
10 mm, level span, outside fraction and its warning, possible levels across thick slices, disc
planes perpendicular to the study's cord, which edema region surrounds a lesion (touching, inside
a closed shell, not inside an open cup) and its length / volume ratios, cord occupancy with edema,
the intramedullary threshold, the enhancement ratio's normal-cord reference, the centerline
plausibility check, input provenance records, and SCT's sagittal slice numbers after cropping.
No shared data, no GUI; every grid is a few thousand voxels.
"""

from __future__ import annotations

import numpy as np
import pytest

from lesionview.cord import Centerline
from lesionview.errors import GeometryMismatchError
from lesionview.geometry import Geometry, reorient
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.measure.models import InputRecord
from lesionview.measure.sct import sct_metrics
from lesionview.volume import Volume


def _levels(names, z):
    """Discs on the z axis (LPS: +z superior), no centerline of their own."""
    return LevelModel.from_landmarks(names, [[0.0, 0.0, float(v)] for v in z])


# ----------------------------------------------------------------------------- measurable (RECIST 10 mm)
def test_measurable_from_ten_millimetres_on_both_sides():
    g = Geometry((40, 40, 40), spacing=(0.5, 0.5, 0.5), origin=(-10, -10, -10))
    world = g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3)
    for radius, expected in ((5.25, True), (4.75, False)):   # balls 10.5 mm and 9.5 mm across
        m = (np.linalg.norm(world - [0.1, 0.2, 0.3], axis=-1) <= radius).astype(np.uint8)
        les = measure(m, geometry=g).lesions[0]
        assert les.max_diameter_mm == pytest.approx(2 * radius, abs=0.25)   # calibrated: within a half voxel
        assert les.measurable is expected


# ----------------------------------------------------------------------------- levels
def test_level_span_outside_fraction_and_level_warnings():
    g = Geometry((6, 6, 50), spacing=(1.0, 1.0, 1.0), origin=(-3, -3, -20.5))   # z centres -20.5..28.5
    # Two discs: C4 above the upper one and C6 below the lower one, each as tall as C5 (15 mm);
    # beyond them lie no level given.
    levels = _levels(["C4/C5", "C5/C6"], [0.0, -15.0])
    m = np.zeros(g.shape, np.uint8)
    m[3, 3, 24:41] = 1                # centres z 3.5..19.5: 17 voxels, the 5 above z = 15 outside the levels
    r = measure(m, geometry=g, levels=levels)
    span = r.lesions[0].levels
    assert (span.first, span.last, span.count) == ("C4", "C4", 1)
    # Fractions are reported to 4 decimals (docs/measurements.md, "Reported precision").
    assert span.outside_fraction == pytest.approx(round(5 / 17, 4), abs=1e-9)
    assert span.fractions["C4"] == pytest.approx(round(12 / 17, 4), abs=1e-9)
    assert "lesion 1: 29% of its volume lies outside the vertebral levels given" in "\n".join(r.warnings)
    assert r.parameters.level_source == "landmarks"
    assert not any("no vertebral levels given" in w for w in r.warnings)

    inside = np.zeros(g.shape, np.uint8)
    inside[3, 3, 8:12] = 1            # z -12.5..-9.5, all in C5
    r = measure(inside, geometry=g, levels=levels)
    assert r.lesions[0].levels.outside_fraction == 0
    assert not any("outside the vertebral levels" in w for w in r.warnings)

    r = measure(inside, geometry=g)
    assert r.lesions[0].levels is None and r.parameters.level_source is None
    assert any("no vertebral levels given" in w for w in r.warnings)


def test_disc_planes_follow_the_given_centerline():
    """Landmarks on a vertical line, cord tilted 30 degrees towards posterior: a lesion 8 mm
    posterior and 2 mm below disc C5/C6 lies above that disc's plane perpendicular to the cord."""
    g = Geometry((40, 40, 80), spacing=(0.5, 0.5, 0.5), origin=(-10, -2, -20))
    levels = _levels(["C4/C5", "C5/C6", "C6/C7"], [15.0, 0.0, -15.0])
    t = np.radians(30)
    axis = np.array([0.0, np.sin(t), np.cos(t)])    # superior and posterior (+y)
    cl = Centerline.from_points([30 * axis, np.zeros(3), -30 * axis])
    world = g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3)
    centre = np.array([0.0, 8.0, -2.0])
    m = (np.linalg.norm(world - centre, axis=-1) <= 1.0).astype(np.uint8)
    # Independent check of the geometry: the lesion is above the tilted plane, below the horizontal one.
    assert (world[m > 0] @ axis).max() > 0 and (world[m > 0] @ axis).min() > 0
    assert world[m > 0][:, 2].max() < 0
    r = measure(m, geometry=g, levels=levels, centerline=cl)
    assert r.parameters.axis == "cord centerline"
    assert r.lesions[0].levels.label == "C5"
    plain = measure(m, geometry=g, levels=levels)      # no centerline: horizontal disc planes
    assert plain.lesions[0].levels.label == "C6"


def _thick_grid():
    # 3 mm axial slices, centres z = -31, -28, ..., 17.
    return Geometry((20, 20, 17), spacing=(0.5, 0.5, 3.0), origin=(-5, -5, -31))


def test_possible_levels_across_thick_slices():
    """Single-slice lesions 1 mm below disc C4/C5 (z 0) and 2 mm above C5/C6 (z -15): both in C5,
    and one 3 mm step along the cord takes them into C4 and C6 respectively."""
    g = _thick_grid()
    levels = _levels(["C3/C4", "C4/C5", "C5/C6", "C6/C7"], [15.0, 0.0, -15.0, -30.0])
    m = np.zeros(g.shape, np.uint8)
    m[8:12, 8:12, 10] = 1   # z = -1
    m[8:12, 8:12, 6] = 1    # z = -13
    r = measure(m, geometry=g, levels=levels)
    a, b = r.lesions
    assert a.thick_slices_mm == pytest.approx(3.0) and a.craniocaudal_uncertainty_mm == pytest.approx(3.0)
    assert (a.levels.first, a.levels.last, a.levels.possible_first, a.levels.possible_last) == ("C5", "C5", "C4", "C5")
    assert (b.levels.first, b.levels.last, b.levels.possible_first, b.levels.possible_last) == ("C5", "C5", "C5", "C6")


def test_a_solitary_lesion_on_thick_slices_is_warned():
    g = _thick_grid()
    m = np.zeros(g.shape, np.uint8)
    m[8:12, 8:12, 6:9] = 1
    r = measure(m, geometry=g)
    assert len(r.lesions) == 1 and not r.multiplicity.pairs
    assert any(w.startswith("slices 3.0 mm thick across the cord") and "±3.0 mm" in w for w in r.warnings)


# ----------------------------------------------------------------------------- edema
def test_edema_touching_a_lesion_and_its_ratios():
    s = 0.35
    g = Geometry((30, 30, 30), spacing=(s, s, s), origin=(3.0, -4.0, 7.0))   # off the origin
    les = np.zeros(g.shape, np.uint8)
    les[10:14, 10:14, 10:14] = 1                 # 64 voxels, 1.4 mm tall
    ed = np.zeros(g.shape, np.uint8)
    ed[14:17, 10:15, 8:18] = 1                   # 150 voxels beside it (touching its +i face), 3.5 mm tall
    r = measure(les, geometry=g, edema=ed)
    assert r.lesions[0].edema_id == 1
    e = r.edema[0]
    assert e.lesion_ids == [1]
    assert e.voxel_count == 150
    assert e.volume_mm3 == pytest.approx(150 * s**3, abs=1e-4)
    assert e.craniocaudal_mm == pytest.approx(10 * s, abs=1e-4)
    assert e.length_ratio == pytest.approx(10 / 4, abs=1e-3)
    assert e.volume_ratio == pytest.approx(150 / 64, abs=1e-3)


def _shell(g, lo, hi, open_face: bool):
    """Edema: the one-voxel-thick faces of box [lo, hi) in index space, the -k face left open on request."""
    ed = np.zeros(g.shape, np.uint8)
    sl = tuple(slice(a, b) for a, b in zip(lo, hi))
    ed[sl] = 1
    inner = tuple(slice(a + 1, b - 1) for a, b in zip(lo, hi))
    ed[inner] = 0
    if open_face:
        ed[lo[0] + 1:hi[0] - 1, lo[1] + 1:hi[1] - 1, lo[2]] = 0
    return ed


def test_lesion_inside_closed_edema_shell_belongs_to_it_but_not_inside_an_open_cup():
    g = Geometry((24, 24, 24), spacing=(0.5, 0.5, 0.8), origin=(-6, 2, -9))
    les = np.zeros(g.shape, np.uint8)
    les[10:13, 10:13, 10:13] = 1                 # two voxels of clearance to the shell on every side
    for open_face, expected in ((False, 1), (True, None)):
        ed = _shell(g, (7, 7, 7), (16, 16, 16), open_face)
        r = measure(les, geometry=g, edema=ed)
        assert r.lesions[0].edema_id == expected
        assert r.edema[0].lesion_ids == ([] if expected is None else [1])


# ----------------------------------------------------------------------------- cord
def _cord_case():
    g = Geometry((20, 20, 40), spacing=(0.5, 0.5, 0.5), origin=(-5, -5, -10))
    cord = np.zeros(g.shape, np.uint8)
    cord[5:15, 5:15, :] = 1                      # 10 x 10 voxel section, the whole height
    les = np.zeros(g.shape, np.uint8)
    les[8:12, 8:12, 18:22] = 1                   # 4 x 4 voxel section
    return g, cord, les


@pytest.mark.parametrize("lo, hi, section", [(6, 14, 100), (3, 17, 196)])
def test_cord_occupancy_with_edema_inside_or_beyond_the_cord(lo, hi, section):
    """Slabs perpendicular to the (straight) cord: 16 lesion voxels per slab, of the 10 x 10 cord
    section, or of the 14 x 14 edema around it when the edema swells beyond a tight cord mask
    (occupancy is taken on cord, lesion and edema together)."""
    g, cord, les = _cord_case()
    ed = np.zeros(g.shape, np.uint8)
    ed[lo:hi, lo:hi, 12:28] = 1
    ed[les > 0] = 0
    r = measure(les, geometry=g, cord=cord, edema=ed)
    assert r.lesions[0].cord_occupancy == pytest.approx(16 / section, abs=1e-3)
    assert measure(les, geometry=g, cord=cord).lesions[0].cord_occupancy == pytest.approx(16 / 100, abs=1e-3)


def test_lesion_is_intramedullary_from_half_in_the_cord():
    g, cord, _ = _cord_case()
    for inside, measured in ((3, True), (2, True), (1, False)):   # 3 / 4, exactly half, 1 / 4 in the cord
        les = np.zeros(g.shape, np.uint8)
        les[15 - inside:19 - inside, 8:12, 18:22] = 1
        r = measure(les, geometry=g, cord=cord)
        assert (r.lesions[0].cord_occupancy is not None) is measured
        assert any("lies in the cord mask" in w for w in r.warnings) is not measured


def test_enhancement_ratio_uses_normal_cord_only():
    g, cord, les = _cord_case()
    image = np.where(les > 0, 300.0, np.where(cord > 0, 100.0, 20.0)).astype(np.float32)
    r = measure(les, geometry=g, cord=cord, image=image)
    assert r.lesions[0].enhancement_ratio == pytest.approx(3.0, abs=1e-3)
    masked = image.copy()
    masked[(cord > 0) & (les == 0)] = np.nan       # a tool masked the normal cord: no reference
    r = measure(les, geometry=g, cord=cord, image=masked)
    assert r.lesions[0].enhancement_ratio is None
    negative = np.where(les > 0, 300.0, -100.0).astype(np.float32)   # e.g. a subtraction image
    r = measure(les, geometry=g, cord=cord, image=negative)
    assert r.lesions[0].enhancement_ratio is None


# ----------------------------------------------------------------------------- centerline
def test_centerline_is_used_when_long_and_upright_and_refused_with_its_true_tilt():
    g = Geometry((10, 10, 40), spacing=(0.5, 0.5, 0.5), origin=(-2.5, -2.5, -10))
    m = np.zeros(g.shape, np.uint8)
    m[4:6, 4:6, 10:20] = 1                        # 10 centres 0.5 mm apart along z: 5 mm
    cl = Centerline.from_points([[0, 0, 20], [0, 0, 0], [0, 0, -20]])
    r = measure(m, geometry=g, centerline=cl)
    assert r.parameters.axis == "cord centerline"
    assert r.lesions[0].craniocaudal_along_cord_mm == pytest.approx(5.0, abs=0.01)
    assert not any("too short or tilted" in w for w in r.warnings)
    short = Centerline(np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 0.0]]))   # upright but 0.5 mm long
    r = measure(m, geometry=g, centerline=short)
    assert r.parameters.axis == "superior-inferior"
    assert any("(0 mm long, 0 degrees from superior-inferior)" in w and "too short or tilted" in w
               for w in r.warnings)


# ----------------------------------------------------------------------------- inputs
def test_inputs_records_say_what_was_done_to_each_input():
    g = Geometry((12, 14, 16), spacing=(0.5, 0.6, 0.7), origin=(1, 2, 3))
    les = np.zeros(g.shape, np.uint8)
    les[4:8, 5:9, 6:10] = 1
    ed = np.zeros(g.shape, np.uint8)
    ed[3:9, 4:10, 5:11] = 1
    # Same grid: nothing to record.
    r = measure(Volume(les, g), image=Volume(les.astype(np.float32), g), edema=Volume(ed, g))
    assert r.inputs == []
    # The edema stored in another axis order: its own record (as read from a JSON) says so, no
    # other, whatever the order of the records (the cord's comes before it here).
    e_arr, e_geom = reorient(ed, g, "RAS")
    records = [InputRecord.model_validate_json(f'{{"role": "{role}", "path": "{role}.nii"}}')
               for role in ("lesions", "cord", "edema")]
    r = measure(Volume(les, g), edema=Volume(np.ascontiguousarray(e_arr), e_geom), cord=Volume(ed, g),
                inputs=records)
    assert [(rec.role, rec.path) for rec in r.inputs] == [("lesions", "lesions.nii"), ("cord", "cord.nii"),
                                                          ("edema", "edema.nii")]
    assert r.inputs[0].reoriented is None and r.inputs[1].reoriented is None
    assert r.inputs[2].reoriented.startswith("RAS -> ") and r.inputs[2].original_grid
    assert r.edema[0].voxel_count == ed.sum()
    # A bare array of another shape, smaller or larger, is refused.
    for other in (ed[:-1], np.pad(ed, ((0, 1), (0, 0), (0, 0)))):
        with pytest.raises(GeometryMismatchError, match="edema mask has shape"):
            measure(les, geometry=g, edema=other)


def test_masks_on_another_grid_are_resampled_nearest_neighbour():
    fine = Geometry((24, 24, 24), spacing=(0.5, 0.5, 0.5), origin=(-6, -6, -6))
    coarse = Geometry((12, 12, 12), spacing=(1.0, 1.0, 1.0), origin=(-5.75, -5.75, -5.75))
    les = np.zeros(fine.shape, np.uint8)
    les[10:14, 10:14, 10:14] = 1
    box = np.zeros(coarse.shape, np.uint8)
    box[2:10, 2:10, 0:12] = 1                     # an 8 x 8 mm column, the whole height
    r = measure(Volume(les, fine), edema=Volume(box, coarse), cord=Volume(box, coarse), resample=True)
    rec = {x.role: x for x in r.inputs}
    assert rec["edema"].resampled == "nearest neighbour" and rec["cord"].resampled == "nearest neighbour"
    # Nearest neighbour keeps the column's 8 x 8 mm section: 16 x 16 fine voxels per slice.
    assert r.edema[0].voxel_count == 16 * 16 * 24


def test_label_image_of_whole_lesions_has_no_pieces_warning():
    g = Geometry((10, 10, 30))
    m = np.zeros(g.shape, np.uint8)
    m[2:5, 2:5, 3:7] = 3
    m[2:5, 2:5, 20:24] = 8
    r = measure(m, geometry=g, mask_kind="labels")
    assert [les.id for les in r.lesions] == [8, 3]
    assert not any("separate pieces" in w for w in r.warnings)


def test_three_lesions_give_the_three_pairs_once():
    g = Geometry((10, 10, 60))
    m = np.zeros(g.shape, np.uint8)
    for z in (5, 25, 45):
        m[3:6, 3:6, z:z + 3] = 1
    r = measure(m, geometry=g)
    pairs = sorted((p.a, p.b) for p in r.multiplicity.pairs)
    assert pairs == [(1, 2), (1, 3), (2, 3)]
    gaps = {(p.a, p.b): p.gap_mm for p in r.multiplicity.pairs}
    assert gaps[(1, 2)] == pytest.approx(17.0, abs=1.0) and gaps[(1, 3)] == pytest.approx(37.0, abs=1.0)


# ----------------------------------------------------------------------------- SCT after cropping
def test_sct_sagittal_slices_are_numbered_on_the_whole_grid():
    """measure() works on the masks' box; SCT's slice numbers must still count from the whole grid's
    first sagittal slice, as sct_metrics on the uncropped grid gives them."""
    g = Geometry((40, 24, 20), spacing=(0.5, 0.5, 2.0), origin=(-10, -6, -20))
    cord = np.zeros(g.shape, np.uint8)
    cord[24:34, 6:16, :] = 1                      # cord far from the first sagittal slices
    les = np.zeros(g.shape, np.uint8)
    les[27:31, 9:13, 8:11] = 1
    r = measure(les, geometry=g, cord=cord)
    got = r.lesions[0].sct
    whole = sct_metrics(les.astype(np.int32), g, cord=cord, whole_slices=g.shape[2])[1]
    assert whole.sct_bridges_per_slice and got.sct_bridges_per_slice
    assert got.sct_midsagittal_slice == pytest.approx(whole.sct_midsagittal_slice, abs=1e-6)
    assert [b.sagittal_slice for b in got.sct_bridges_per_slice] == \
        [b.sagittal_slice for b in whole.sct_bridges_per_slice]


def test_a_lesion_inside_another_ones_bounding_box_is_measured_apart():
    """An L-shaped lesion (a column and a foot, 1 mm voxels) and a small one in a corner of its
    bounding box: each is measured on its own voxels, whether the scan meets the L first (the small
    one in the corner it turns around, 1 mm from the column) or the small one (in the open corner,
    2 mm from the column)."""
    g = Geometry((8, 8, 20), spacing=(1.0, 1.0, 1.0))
    for column, foot, small in (((slice(1, 3), slice(2, 16)), (slice(1, 7), slice(2, 4)), (slice(4, 6), slice(6, 8))),
                                ((slice(5, 7), slice(2, 16)), (slice(1, 7), slice(14, 16)), (slice(1, 3), slice(2, 4)))):
        m = np.zeros(g.shape, np.uint8)
        for x, z in (column, foot, small):
            m[x, 1:3, z] = 1
        lesions = measure(m, geometry=g).lesions
        assert sorted(les.voxel_count for les in lesions) == [8, 4 * 14 + 4 * 2 * 2]
        assert sorted(les.volume_mm3 for les in lesions) == pytest.approx([8.0, 72.0])
