"""measure()'s edges: what each input changes in the result, and what it must leave alone.

Complements tests/test_measure_study_contract.py with the cases mutation testing of
lesionview.measure.study found unchecked: images scaled to [0, 1],
the image's role and the warnings it brings, levels beyond the model's ends across thick slices,
a centerline (which points inferior) across thick slices, and the decimals values are reported to.
Small grids, hand-computed truth, no shared data, no GUI.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_measure_study_contract import _cord_case, _levels, _shell, _thick_grid

from lesionview.cord import Centerline
from lesionview.geometry import Geometry, reorient
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.series import Role, SeriesInfo
from lesionview.volume import Volume


# ----------------------------------------------------------------------------- cord occupancy
# ----------------------------------------------------------------------------- enhancement ratio
def test_enhancement_ratio_on_an_image_scaled_to_unit_range():
    """Many tools save float images in [0, 1]: normal cord at 0.3 is a valid reference."""
    g, cord, les = _cord_case()
    image = np.where(les > 0, 0.9, np.where(cord > 0, 0.3, 0.05)).astype(np.float32)
    r = measure(les, geometry=g, cord=cord, image=image)
    assert r.lesions[0].enhancement_ratio == pytest.approx(3.0, abs=1e-3)


def test_no_enhancement_warning_without_an_image():
    g, cord, les = _cord_case()
    text = "no cord mask: the enhancement ratio"
    assert not any(text in w for w in measure(les, geometry=g).warnings)
    assert not any(text in w for w in measure(les, geometry=g, cord=cord).warnings)
    r = measure(les, geometry=g, image=les.astype(np.float32))
    assert any(text in w for w in r.warnings)
    assert r.lesions[0].enhancement_ratio is None


# ----------------------------------------------------------------------------- the image's role
@pytest.mark.parametrize("role, signs_read, warning", [
    (Role.T1_POST, True, None),
    (Role.OTHER, True, "contrast is not known"),
    (Role.T2, False, "the image is T2, not T1 post-contrast"),
    (Role.T1, False, "the image is T1, not T1 post-contrast"),
])
def test_signs_and_warnings_follow_the_image_role(role, signs_read, warning):
    g, cord, les = _cord_case()
    image = np.where(les > 0, 300.0, np.where(cord > 0, 100.0, 20.0)).astype(np.float32)
    r = measure(les, geometry=g, cord=cord, image=Volume(image, g, info=SeriesInfo(role=role)))
    assert (r.lesions[0].signs is not None) is signs_read
    assert r.parameters.image_role == role.value
    role_warnings = [w for w in r.warnings if "contrast is not known" in w or "not T1 post-contrast" in w]
    if warning is None:
        assert role_warnings == []
    else:
        assert len(role_warnings) == 1 and warning in role_warnings[0]


def test_a_bare_image_array_is_of_unknown_contrast():
    g, cord, les = _cord_case()
    image = np.where(les > 0, 300.0, np.where(cord > 0, 100.0, 20.0)).astype(np.float32)
    r = measure(les, geometry=g, cord=cord, image=image)
    assert r.parameters.image_role == "other"
    assert sum("contrast is not known" in w for w in r.warnings) == 1


# ----------------------------------------------------------------------------- levels across thick slices
def test_possible_levels_stop_at_the_ends_of_the_level_model():
    """A lesion in the topmost level, whose upper end may lie beyond the levels given, may reach no
    level above it: possible_first is its own level, not a level that does not exist."""
    g = _thick_grid()
    # Discs C5/C6 at z 5 and C6/C7 at z -10: C5 runs up to z 20 (as tall as C6), nothing beyond.
    levels = _levels(["C5/C6", "C6/C7"], [5.0, -10.0])
    m = np.zeros(g.shape, np.uint8)
    m[8:12, 8:12, 16] = 1    # z = 17: in C5, 3 mm below its upper end
    r = measure(m, geometry=g, levels=levels)
    span = r.lesions[0].levels
    assert (span.first, span.last, span.possible_first, span.possible_last) == ("C5", "C5", "C5", "C5")
    assert span.outside_fraction == 0


def test_possible_levels_across_thick_slices_with_a_centerline():
    """As without one, when a centerline (whose tangent points inferior) sets the cord axis: a
    single-slice lesion 2 mm above disc C5/C6 may reach C6 one 3 mm step down the cord."""
    g = _thick_grid()
    levels = _levels(["C3/C4", "C4/C5", "C5/C6", "C6/C7"], [15.0, 0.0, -15.0, -30.0])
    cl = Centerline.from_points([[0, 0, 20], [0, 0, 0], [0, 0, -35]])
    m = np.zeros(g.shape, np.uint8)
    m[8:12, 8:12, 10] = 1   # z = -1
    m[8:12, 8:12, 6] = 1    # z = -13
    r = measure(m, geometry=g, levels=levels, centerline=cl)
    assert r.parameters.axis == "cord centerline"
    a, b = r.lesions
    assert (a.levels.possible_first, a.levels.possible_last) == ("C4", "C5")
    assert (b.levels.possible_first, b.levels.possible_last) == ("C5", "C6")


def test_edema_possible_levels_only_across_thick_slices():
    levels = _levels(["C3/C4", "C4/C5", "C5/C6", "C6/C7"], [15.0, 0.0, -15.0, -30.0])
    fine = Geometry((20, 20, 100), spacing=(0.5, 0.5, 0.5), origin=(-5, -5, -31))
    les = np.zeros(fine.shape, np.uint8)
    les[8:12, 8:12, 50:54] = 1
    ed = np.zeros(fine.shape, np.uint8)
    ed[6:14, 6:14, 30:80] = 1               # z -16..8.5: C6 to C4
    ed[les > 0] = 0
    e = measure(les, geometry=fine, edema=ed, levels=levels).edema[0]
    assert (e.levels.first, e.levels.last) == ("C4", "C6")
    assert e.levels.possible_first is None and e.levels.possible_last is None
    assert e.thick_slices_mm is None

    g = _thick_grid()
    les = np.zeros(g.shape, np.uint8)
    les[8:12, 8:12, 8] = 1                  # z = -7
    ed = np.zeros(g.shape, np.uint8)
    ed[6:14, 6:14, 6:11] = 1                # z -13..-1: all in C5, within one step of C4 and C6
    ed[les > 0] = 0
    e = measure(les, geometry=g, edema=ed, levels=levels).edema[0]
    assert (e.levels.first, e.levels.last) == ("C5", "C5")
    assert (e.levels.possible_first, e.levels.possible_last) == ("C4", "C6")


def test_possibly_extensive_edema_is_warned_with_its_level_count():
    """Edema within C5 on 3 mm slices, whose ends may reach C4 and C6: possibly longitudinally
    extensive, and the warning says how many levels it spans (one, singular)."""
    levels = _levels(["C3/C4", "C4/C5", "C5/C6", "C6/C7"], [15.0, 0.0, -15.0, -30.0])
    g = _thick_grid()
    les = np.zeros(g.shape, np.uint8)
    les[8:12, 8:12, 8] = 1
    ed = np.zeros(g.shape, np.uint8)
    ed[6:14, 6:14, 6:11] = 1
    ed[les > 0] = 0
    r = measure(les, geometry=g, edema=ed, levels=levels)
    assert r.edema[0].longitudinally_extensive is False
    assert "edema 1: spans 1 level (C5) but may reach C4-C6 within ±3.0 mm along the cord: possibly " \
           "longitudinally extensive" in r.warnings


# ----------------------------------------------------------------------------- image values
def test_non_finite_image_voxels_are_counted_in_a_warning():
    g, cord, les = _cord_case()
    image = np.where(les > 0, 300.0, np.where(cord > 0, 100.0, 20.0)).astype(np.float32)
    image[0, 0, 0] = np.nan                 # outside the masks' box: not counted
    image[9, 9, 19] = np.nan                # in the lesion
    image[6, 6, 5] = np.inf                 # in the cord
    r = measure(les, geometry=g, cord=cord, image=image)
    expected = ("image: 2 voxel(s) near the lesions hold no number (NaN or infinite); the enhancement ratio uses "
                "the other voxels")
    assert [w for w in r.warnings if "hold no number" in w] == [expected]
    assert r.lesions[0].enhancement_ratio == pytest.approx(3.0, abs=1e-3)
    clean = measure(les, geometry=g, cord=cord, image=np.where(np.isfinite(image), image, 100.0))
    assert not any("hold no number" in w for w in clean.warnings)


@pytest.mark.parametrize("cord_given", [True, False])
def test_non_finite_voxels_are_counted_within_two_voxels_of_the_masks(cord_given):
    """"Near the lesions" is the masks' box grown by two voxels (docs/measurements.md): a NaN two
    voxels past the masks counts, one three voxels past does not, and neither does one 20 mm above the
    lesion, with or without a cord mask (without one the flame sign keeps 32 mm of image around the
    lesion, but that is not "near")."""
    g = Geometry((20, 20, 120), spacing=(0.5, 0.5, 0.5))
    les = np.zeros(g.shape, np.uint8)
    les[8:12, 8:12, 50:60] = 1
    cord = np.zeros(g.shape, np.uint8)
    cord[6:14, 6:14, 20:90] = 1
    image = np.where(les > 0, 300.0, np.where(cord > 0, 100.0, 20.0)).astype(np.float32)
    top = 89 if cord_given else 59                 # the masks' last slice
    image[10, 10, top + 2] = np.nan                # two voxels past: counted
    image[10, 10, top + 3] = np.nan                # three voxels past: not counted
    image[10, 10, 59 + 40] = np.inf                # 20 mm above the lesion: not counted
    r = measure(les, geometry=g, cord=cord if cord_given else None, image=image)
    assert [w for w in r.warnings if "hold no number" in w] == [
        ("image: 1 voxel(s) near the lesions hold no number (NaN or infinite); the enhancement ratio uses "
         "the other voxels")]


def test_lesion_beyond_the_cord_mask_counts_in_the_cord_section():
    """A lesion a quarter outside the cord mask (3 of 4 columns in it) widens the section it sits
    in: 16 lesion voxels of 100 + 4 in each slab."""
    g, cord, _ = _cord_case()
    les = np.zeros(g.shape, np.uint8)
    les[12:16, 8:12, 18:22] = 1             # column i = 15 lies outside cord[5:15]
    r = measure(les, geometry=g, cord=cord)
    assert r.lesions[0].cord_occupancy == pytest.approx(16 / 104, abs=1e-4)


# ----------------------------------------------------------------------------- levels and multiplicity
def test_edema_over_four_levels_is_longitudinally_extensive():
    levels = _levels(["C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7"], [30.0, 15.0, 0.0, -15.0, -30.0])
    g = Geometry((12, 12, 150), spacing=(0.5, 0.5, 0.5), origin=(-3, -3, -40))
    les = np.zeros(g.shape, np.uint8)
    les[5:8, 5:8, 78:82] = 1                 # z -1..0.5
    for z0, z1, expected in ((44, 109, 3), (30, 116, 4), (64, 90, 2)):   # z -18..14, -25..17.5, -8..4.5
        ed = np.zeros(g.shape, np.uint8)
        ed[3:10, 3:10, z0:z1] = 1
        ed[les > 0] = 0
        e = measure(les, geometry=g, edema=ed, levels=levels).edema[0]
        assert e.levels.count == expected
        assert e.longitudinally_extensive is (expected >= 3)


def test_pairs_report_their_level_distance():
    """Two lesions 4 mm apart across disc C4/C5 (neighbouring levels) are twins; two in C3 and C6
    are three levels apart, whatever their gap."""
    levels = _levels(["C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7"], [30.0, 15.0, 0.0, -15.0, -30.0])
    g = Geometry((12, 12, 150), spacing=(0.5, 0.5, 0.5), origin=(-3, -3, -40))
    m = np.zeros(g.shape, np.uint8)
    m[5:8, 5:8, 84:88] = 1                   # z 2..3.5: C4
    m[5:8, 5:8, 72:76] = 1                   # z -4..-2.5: C5
    pair = measure(m, geometry=g, levels=levels).multiplicity.pairs[0]
    assert pair.level_distance == 1 and pair.adjacent
    far = np.zeros(g.shape, np.uint8)
    far[5:8, 5:8, 120:124] = 1               # z 20..21.5: C3
    far[5:8, 5:8, 30:34] = 1                 # z -25..-23.5: C6
    r = measure(far, geometry=g, levels=levels, twin_gap_mm=100.0)
    assert r.multiplicity.pairs[0].level_distance == 3
    assert not r.multiplicity.pairs[0].adjacent and r.multiplicity.kind.value == "multiple"


# ----------------------------------------------------------------------------- cord segments
def test_segment_image_outside_fraction_is_warned_for_lesion_and_edema():
    """A segment label image covering z >= 0 only: a lesion half below it is warned about, by its
    own name; segments estimated from the levels carry no such warning."""
    g = Geometry((12, 12, 60), spacing=(0.5, 0.5, 0.5), origin=(-3, -3, -15))
    seg = np.zeros(g.shape, np.int16)
    seg[:, :, 30:45] = 5                     # C5 from z 0
    seg[:, :, 45:] = 4                       # C4 above z 7.5
    les = np.zeros(g.shape, np.uint8)
    les[5:8, 5:8, 26:34] = 1                 # z -2..1.5: half below the labelled segments
    r = measure(les, geometry=g, segments=Volume(seg, g))
    span = r.lesions[0].cord_segments
    assert span.estimated is False and span.outside_fraction == pytest.approx(0.5, abs=1e-4)
    assert "lesion 1: 50% of its volume lies outside the cord segments labelled in the segment image" in r.warnings
    ed = np.zeros(g.shape, np.uint8)
    ed[4:9, 4:9, 22:38] = 1
    ed[les > 0] = 0
    r = measure(les, geometry=g, segments=Volume(seg, g), edema=ed)
    assert any(w.startswith("edema 1: ") and "outside the cord segments labelled" in w for w in r.warnings)

    levels = _levels(["C6/C7", "C7/T1"], [-10.0, -13.0])   # estimated segments end near the levels
    far = np.zeros(g.shape, np.uint8)
    far[5:8, 5:8, 50:54] = 1                  # z 10..11.5: far above every level given
    r = measure(far, geometry=g, levels=levels)
    span = r.lesions[0].cord_segments
    assert span.estimated is True and span.outside_fraction == 1.0
    assert "lesion 1: 100% of its volume lies outside the vertebral levels given" in r.warnings
    assert not any("outside the cord segments labelled" in w for w in r.warnings)


# ----------------------------------------------------------------------------- centerline tilt
@pytest.mark.parametrize("degrees, used", [(44.5, True), (45.5, False)])
def test_centerline_tilt_limit_is_45_degrees(degrees, used):
    g = Geometry((10, 10, 40), spacing=(0.5, 0.5, 0.5), origin=(-2.5, -2.5, -10))
    m = np.zeros(g.shape, np.uint8)
    m[4:6, 4:6, 10:20] = 1
    t = np.radians(degrees)
    axis = np.array([np.sin(t), 0.0, np.cos(t)])
    cl = Centerline.from_points([20 * axis, np.zeros(3), -20 * axis])
    r = measure(m, geometry=g, centerline=cl)
    assert (r.parameters.axis == "cord centerline") is used
    assert any("too short or tilted" in w for w in r.warnings) is not used


# ----------------------------------------------------------------------------- reported decimals
def _decimals(value: float, exact: float, places: int) -> None:
    """``value`` is ``exact`` rounded to ``places`` decimals (docs/measurements.md, "Reported
    precision"): a whole number of 10**-places, and within half of one from the exact value."""
    unit = 10.0 ** -places
    assert abs(value / unit - round(value / unit)) < 1e-6, f"{value} is not given to {places} decimals"
    assert abs(value - exact) <= unit / 2 + 1e-9, f"{value} is not {exact} to {places} decimals"


def test_values_are_reported_to_their_documented_decimals():
    from lesionview.measure import diameters

    sp = (0.3701, 0.4103, 0.53013)                # lengths along z need 5 decimals
    g = Geometry((20, 20, 60), spacing=sp, origin=(-3.7, -4.1, -16.0))
    les = np.zeros(g.shape, np.uint8)
    les[8:11, 8:12, 20:27] = 1                    # 3 x 4 x 7 = 84 voxels
    ed = np.zeros(g.shape, np.uint8)
    ed[6:13, 6:14, 18:29] = 1                     # 7 x 8 x 11, 532 voxels beside the lesion's 84
    ed[les > 0] = 0
    cord = np.zeros(g.shape, np.uint8)
    cord[4:15, 4:16, :] = 1                       # 11 x 12 section
    image = np.where(les > 0, 7.0, np.where(ed > 0, 3.0, np.where(cord > 0, 3.0, 0.0))).astype(np.float32)
    image[4:6, 4:16, :] = 2.0                     # 2 of the cord's 11 rows darker: an uneven reference
    z_disc = -16.0 + 23.5 * sp[2]                 # between slices 23 and 24: 3 of the lesion's 7 above
    levels = _levels(["C4/C5", "C5/C6"], [z_disc + 15.0, z_disc])
    r = measure(les, geometry=g, cord=cord, edema=ed, image=image, levels=levels)
    lesion, edema = r.lesions[0], r.edema[0]
    voxel = sp[0] * sp[1] * sp[2]

    _decimals(lesion.volume_mm3, 84 * voxel, 4)
    _decimals(edema.volume_mm3, 532 * voxel, 4)
    for got, exact in zip(lesion.centroid_lps_mm, g.index_to_world(np.argwhere(les)).mean(axis=0)):
        _decimals(got, exact, 4)
    _decimals(lesion.max_diameter_mm, diameters.max_diameter(les, g), 4)
    axial = diameters.axial_diameters(les, g, axis=(0.0, 0.0, 1.0))
    _decimals(lesion.axial_long_mm, axial.long_mm, 4)
    _decimals(lesion.axial_short_mm, axial.short_mm, 4)
    _decimals(lesion.craniocaudal_mm, diameters.craniocaudal_length(les, g), 4)
    _decimals(edema.craniocaudal_mm, 11 * sp[2], 4)
    assert set(lesion.levels.fractions) == {"C5", "C6"}
    _decimals(lesion.levels.fractions["C5"], 3 / 7, 4)
    _decimals(lesion.levels.fractions["C6"], 4 / 7, 4)
    _decimals(lesion.cord_occupancy, 12 / (11 * 12), 4)
    _decimals(lesion.enhancement_ratio, 7.0 / _normal_mean_of(image, cord, les, ed), 4)
    _decimals(edema.length_ratio, 11 / 7, 3)
    _decimals(edema.volume_ratio, 532 / 84, 3)


def _normal_mean_of(image, cord, les, ed) -> float:
    """Mean of the cord that is neither lesion nor edema (the enhancement ratio's reference)."""
    return float(image[(cord > 0) & (les == 0) & (ed == 0)].mean())


# ----------------------------------------------------------------------------- calls and inputs
def test_options_are_keyword_only():
    g, _, les = _cord_case()
    with pytest.raises(TypeError):
        measure(les, g)


def test_a_complex_image_is_refused_with_what_to_do():
    from lesionview.errors import InputError

    g, cord, les = _cord_case()
    image = np.where(les > 0, 300.0, 100.0).astype(np.complex64)
    with pytest.raises(InputError, match="complex64, not real numbers") as err:
        measure(les, geometry=g, cord=cord, image=image)
    assert "numpy.abs" in str(err.value)


def test_four_lesions_give_all_six_pairs():
    g = Geometry((10, 10, 80))
    m = np.zeros(g.shape, np.uint8)
    for z in (5, 25, 45, 65):
        m[3:6, 3:6, z:z + 3] = 1
    r = measure(m, geometry=g)
    assert sorted((p.a, p.b) for p in r.multiplicity.pairs) == [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]
    assert r.multiplicity.kind.value == "multiple"


def test_image_on_another_grid_is_resampled_linearly():
    """An image on a grid half a voxel off the masks' is resampled linearly when asked: a ramp
    along i stays a ramp (nearest neighbour would give the values of the nearest voxels)."""
    g, cord, les = _cord_case()
    shifted = Geometry(g.shape, spacing=g.spacing, origin=(g.origin[0] + 0.25, g.origin[1], g.origin[2]))
    ramp = np.broadcast_to(np.arange(g.shape[0], dtype=np.float32)[:, None, None] * 10.0 + 100.0, g.shape).copy()
    r = measure(Volume(les, g), cord=Volume(cord, g), image=Volume(ramp, shifted), resample=True)
    rec = {x.role: x for x in r.inputs}
    assert rec["image"].resampled == "linear" and "lesions" not in rec
    # On the masks' grid the ramp reads 100 + 10 * (i - 0.5): lesion rows i 8..11, normal cord rows 5..14.
    lesion_mean = 100 + 10 * (9.5 - 0.5)
    cord_mean = 100 + 10 * (9.5 - 0.5)       # the cord section is symmetric about the lesion's rows
    assert r.lesions[0].enhancement_ratio == pytest.approx(lesion_mean / cord_mean, abs=1e-3)


def test_lesion_mask_on_another_grid_than_the_image_is_measured_on_its_own():
    """A lesion mask half a voxel off the image's grid is measured on its own grid, the image
    resampled onto it; it is not taken for the image's voxels in another axis order."""
    g, cord, les = _cord_case()
    shifted = Geometry(g.shape, spacing=g.spacing, origin=(g.origin[0] + 0.25, g.origin[1], g.origin[2]))
    image = np.where(les > 0, 300.0, np.where(cord > 0, 100.0, 20.0)).astype(np.float32)
    r = measure(Volume(les, shifted), cord=Volume(cord, shifted), image=Volume(image, g), resample=True)
    rec = {x.role: x for x in r.inputs}
    assert "lesions" not in rec and rec["image"].resampled == "linear"
    assert r.lesions[0].voxel_count == 64
    assert r.lesions[0].centroid_lps_mm[0] == pytest.approx(float(shifted.index_to_world([[9.5, 9.5, 19.5]])[0][0]),
                                                           abs=1e-4)


def test_segment_image_warning_only_for_a_part_outside():
    g = Geometry((12, 12, 60), spacing=(0.5, 0.5, 0.5), origin=(-3, -3, -15))
    seg = np.zeros(g.shape, np.int16)
    seg[:, :, 0:30] = 6
    seg[:, :, 30:45] = 5
    seg[:, :, 45:] = 4
    les = np.zeros(g.shape, np.uint8)
    les[5:8, 5:8, 26:34] = 1                 # half in C6, half in C5, none outside
    ed = np.zeros(g.shape, np.uint8)
    ed[4:9, 4:9, 22:38] = 1
    ed[les > 0] = 0
    r = measure(les, geometry=g, segments=Volume(seg, g), edema=ed)
    assert r.lesions[0].cord_segments.outside_fraction == 0
    assert not any("outside the cord segments" in w for w in r.warnings)
    # On a fine grid the edema's segments carry no "possibly reaching" extent, even half a voxel
    # below C4.
    ed[4:9, 4:9, 38:45] = 1                  # up to z 7.0; C4 starts at 7.5
    r = measure(les, geometry=g, segments=Volume(seg, g), edema=ed)
    span = r.edema[0].cord_segments
    assert (span.first, span.last, span.possible_first, span.possible_last) == ("C5", "C6", None, None)


def test_possible_levels_when_both_shifted_ends_leave_the_levels():
    """Levels 1 mm tall (discs 1 mm apart; C4 to C6 cover z -1.5..1.5) on 3 mm slices: one step
    either way leaves every level given, so the possible extent is the region's own."""
    g = _thick_grid()
    levels = _levels(["C4/C5", "C5/C6"], [0.5, -0.5])
    m = np.zeros(g.shape, np.uint8)
    m[8:12, 8:12, 10] = 1                   # z = -1: in C6
    span = measure(m, geometry=g, levels=levels).lesions[0].levels
    assert (span.first, span.possible_first, span.possible_last) == ("C6", "C6", "C6")


@pytest.mark.parametrize("length, used", [(10.5, True), (9.5, False)])
def test_centerline_shorter_than_10_mm_is_not_trusted(length, used):
    g = Geometry((10, 10, 40), spacing=(0.5, 0.5, 0.5), origin=(-2.5, -2.5, -10))
    m = np.zeros(g.shape, np.uint8)
    m[4:6, 4:6, 18:22] = 1
    cl = Centerline(np.array([[0.0, 0.0, length / 2], [0.0, 0.0, -length / 2]]))
    r = measure(m, geometry=g, centerline=cl)
    assert (r.parameters.axis == "cord centerline") is used


def test_a_centerline_that_returns_to_its_start_is_not_trusted():
    g = Geometry((10, 10, 40), spacing=(0.5, 0.5, 0.5), origin=(-2.5, -2.5, -10))
    m = np.zeros(g.shape, np.uint8)
    m[4:6, 4:6, 18:22] = 1
    loop = Centerline(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -15.0], [0.0, 3.0, -15.0], [0.0, 0.0, 0.0]]))
    r = measure(m, geometry=g, centerline=loop)
    assert r.parameters.axis == "superior-inferior"
    assert any("(0 mm long, 90 degrees from superior-inferior)" in w for w in r.warnings)


def test_a_lesion_of_exactly_ten_millimetres_is_measurable():
    """RECIST 1.1: measurable from 10 mm inclusive. Two 5 mm slices make a lesion 10.0 mm long."""
    g = Geometry((5, 5, 8), spacing=(1.0, 1.0, 5.0))
    m = np.zeros(g.shape, np.uint8)
    m[2, 2, 3:5] = 1
    les = measure(m, geometry=g).lesions[0]
    assert les.max_diameter_mm == pytest.approx(10.0, abs=1e-9)
    assert les.measurable is True


def test_one_voxel_lesion_has_its_cord_segment():
    g = Geometry((12, 12, 60), spacing=(0.5, 0.5, 0.5), origin=(-3, -3, -15))
    seg = np.zeros(g.shape, np.int16)
    seg[:, :, 0:30] = 6
    seg[:, :, 30:] = 5
    m = np.zeros(g.shape, np.uint8)
    m[6, 6, 40] = 1
    span = measure(m, geometry=g, segments=Volume(seg, g)).lesions[0].cord_segments
    assert (span.first, span.last, span.count) == ("C5", "C5", 1)


def test_lesion_over_two_levels_counts_two():
    levels = _levels(["C4/C5", "C5/C6"], [10.0, -5.0])
    g = Geometry((12, 12, 60), spacing=(0.5, 0.5, 0.5), origin=(-3, -3, -15))
    m = np.zeros(g.shape, np.uint8)
    m[5:8, 5:8, 16:24] = 1                   # z -7..-3.5: C5 and C6
    span = measure(m, geometry=g, levels=levels).lesions[0].levels
    assert (span.first, span.last, span.count) == ("C5", "C6", 2)


def test_no_enhancement_ratio_against_a_black_cord():
    g, cord, les = _cord_case()
    image = np.where(les > 0, 300.0, 0.0).astype(np.float32)     # normal cord at 0: no reference
    assert measure(les, geometry=g, cord=cord, image=image).lesions[0].enhancement_ratio is None


def test_grid_mismatch_error_names_the_file():
    from lesionview.errors import GeometryMismatchError

    g, _, les = _cord_case()
    shifted = Geometry(g.shape, spacing=g.spacing, origin=(g.origin[0] + 0.25, g.origin[1], g.origin[2]))
    edema = Volume(les.copy(), shifted, info=SeriesInfo(source="/data/case1/edema.nii.gz"))
    with pytest.raises(GeometryMismatchError) as err:
        measure(Volume(les, g), edema=edema)
    assert err.value.path == "/data/case1/edema.nii.gz"
    assert "resample" in str(err.value)


def test_lesion_touching_one_of_hundreds_of_edema_islands_is_linked_both_ways():
    """A noisy T2 threshold can leave hundreds of edema islands; the one the lesion touches (here
    the 421st in reading order) lists the lesion, and the lesion names it."""
    g = Geometry((41, 41, 5))
    ed = np.zeros(g.shape, np.uint8)
    ed[::2, ::2, 2] = 1                        # 441 single-voxel islands, none touching another
    les = np.zeros(g.shape, np.uint8)
    les[0, 0, 3] = 1                           # on top of the island at (0, 0, 2)
    r = measure(les, geometry=g, edema=ed)
    assert len(r.edema) == 441
    linked = [e for e in r.edema if e.lesion_ids]
    assert len(linked) == 1 and linked[0].lesion_ids == [1]
    assert r.lesions[0].edema_id == linked[0].id > 256
    touched = next(e for e in r.edema if e.id == linked[0].id)
    assert touched.voxel_count == 1


@pytest.mark.parametrize("order", ["LPS", "RAS", "SRA"])
def test_lesion_inside_nested_edema_shells_belongs_to_the_inner_one(order):
    """A lesion in the hole of one closed edema shell, itself in the hole of another, touching
    neither: it belongs to the inner (smaller) shell, whatever the storage order."""
    g = Geometry((26, 26, 26), spacing=(0.5, 0.5, 0.8), origin=(-6, 2, -9))
    ed = _shell(g, (1, 1, 1), (25, 25, 25), open_face=False) | _shell(g, (6, 6, 6), (20, 20, 20), open_face=False)
    les = np.zeros(g.shape, np.uint8)
    les[11:15, 11:15, 11:15] = 1
    les_r, g_r = reorient(les, g, order)
    ed_r, _ = reorient(ed, g, order)
    r = measure(Volume(np.ascontiguousarray(les_r), g_r), edema=Volume(np.ascontiguousarray(ed_r), g_r))
    inner = min(r.edema, key=lambda e: e.voxel_count)
    assert len(r.edema) == 2 and inner.voxel_count == int(_shell(g, (6, 6, 6), (20, 20, 20), False).sum())
    assert r.lesions[0].edema_id == inner.id
    assert inner.lesion_ids == [1] and max(r.edema, key=lambda e: e.voxel_count).lesion_ids == []


def test_possible_levels_count_a_bulge_between_the_ends():
    """Across thick slices every edge along the cord is uncertain, not only the ends: a lesion
    narrow at its top and bottom slices but bulging in its middle slice towards where a tilted
    disc plane comes down may reach the level above through the bulge."""
    t = np.radians(30)
    line = np.array([0.0, np.sin(t), np.cos(t)])   # landmarks on a line tilted 30 degrees towards +y
    levels = LevelModel.from_landmarks(["C4/C5", "C5/C6", "C6/C7"], [15 * line, 0 * line, -15 * line])
    g = Geometry((20, 60, 17), spacing=(0.5, 0.5, 3.0), origin=(-5, -12, -31))   # slices z = -31 + 3k
    m = np.zeros(g.shape, np.uint8)
    m[8:12, 14:16, 6:11] = 1       # y -5..-4.5 on slices z -13..-1
    m[8:12, 14:45, 8] = 1          # the middle slice (z -7) reaches y 10
    # Along the landmark line u = y sin t + z cos t: the lesion's centres lie between u = -13.8 and
    # -1.06, all in C6 (disc C5/C6 at u = 0, C6/C7 at -15). One 3 mm step up moves u by 2.6: the
    # bulge to 1.54 (C5), the top slice only to -0.52.
    span = measure(m, geometry=g, levels=levels).lesions[0].levels
    assert (span.first, span.last) == ("C6", "C6")
    assert (span.possible_first, span.possible_last) == ("C5", "C7")


def test_possible_levels_reach_c1():
    """Level indices start at C1: a single-slice lesion 1 mm below disc C1/C2 may reach C1."""
    g = _thick_grid()
    levels = _levels(["C1/C2", "C2/C3"], [0.0, -15.0])
    m = np.zeros(g.shape, np.uint8)
    m[8:12, 8:12, 10] = 1   # z = -1
    span = measure(m, geometry=g, levels=levels).lesions[0].levels
    assert (span.first, span.possible_first, span.possible_last) == ("C2", "C1", "C2")


def test_input_records_carry_the_file_of_a_reoriented_input():
    g, _, les = _cord_case()
    ed = np.zeros(g.shape, np.uint8)
    ed[6:14, 6:14, 12:28] = 1
    e_arr, e_geom = reorient(ed, g, "RAS")
    edema = Volume(np.ascontiguousarray(e_arr), e_geom, info=SeriesInfo(source="/data/case1/edema.nii.gz"))
    r = measure(Volume(les, g), edema=edema)
    (record,) = r.inputs
    assert (record.role, record.path) == ("edema", "/data/case1/edema.nii.gz") and record.reoriented


def test_voxel_spacing_is_reported_to_six_decimals():
    g = Geometry((10, 10, 10), spacing=(0.4123456789, 0.5, 3.3333333333))
    m = np.zeros(g.shape, np.uint8)
    m[3:6, 3:6, 3:6] = 1
    assert measure(m, geometry=g).voxel_spacing_mm == pytest.approx((0.412346, 0.5, 3.333333), abs=1e-9)


def _flame_signs(n_slices: int, lesion: slice, flame: slice):
    """The signs of a 10 mm lesion on a 0.5 mm grid of ``n_slices`` along z, enhancement (250 over
    100) over the ``flame`` slices, measured with a cord mask and without one."""
    g = Geometry((40, 40, n_slices), spacing=(0.5, 0.5, 0.5), origin=(-10, -10, -30))
    les = np.zeros(g.shape, np.uint8)
    les[17:23, 17:23, lesion] = 1
    cord = np.zeros(g.shape, np.uint8)
    cord[12:28, 12:28, :] = 1
    image = np.full(g.shape, 100.0, np.float32)
    image[les > 0] = 400.0
    image[17:23, 17:23, flame] = 250.0
    with_cord = measure(les, geometry=g, image=image, cord=cord).lesions[0].signs
    return with_cord, measure(les, geometry=g, image=image).lesions[0].signs


def test_flame_is_read_the_same_without_a_cord_mask():
    """The flame sign reads the image up to 30 mm beyond a lesion. Without a cord mask the study
    is still cropped near its masks; the crop must keep that image, or a 10 mm flame would read
    as 0.5 mm, "cut by the field of view"."""
    with_cord, without = _flame_signs(120, slice(50, 70), slice(70, 90))   # 10 mm above the lesion
    assert with_cord.flame_superior_mm == pytest.approx(10.0, abs=1.5)
    assert without.flame_superior_mm == pytest.approx(with_cord.flame_superior_mm, abs=0.25)
    assert "field of view" not in (without.judgeable_reason or "")


def test_no_enhancement_ratio_against_a_slightly_negative_cord():
    """A subtraction image can leave normal cord just below zero: no ratio against it."""
    g, cord, les = _cord_case()
    image = np.where(les > 0, 300.0, np.where(cord > 0, -0.5, 0.0)).astype(np.float32)
    assert measure(les, geometry=g, cord=cord, image=image).lesions[0].enhancement_ratio is None


def test_one_voxel_lesion_has_its_level():
    levels = _levels(["C4/C5", "C5/C6"], [10.0, -5.0])
    g = Geometry((12, 12, 60), spacing=(0.5, 0.5, 0.5), origin=(-3, -3, -15))
    m = np.zeros(g.shape, np.uint8)
    m[6, 6, 40] = 1                           # z = 5: C5
    span = measure(m, geometry=g, levels=levels).lesions[0].levels
    assert (span.first, span.last, span.count, span.fractions) == ("C5", "C5", 1, {"C5": 1.0})


@pytest.mark.parametrize("top", [15.0, 1.5], ids=["mid-cord", "at the top of the cord"])
def test_length_along_the_cord_is_reported_to_four_decimals(top):
    """The length along a straight cord, whether the lesion lies midway along the centerline or
    starts 0.37 mm below its upper end (a lesion at C1, where the cord mask begins)."""
    sz = 0.53013
    g = Geometry((10, 10, 40), spacing=(0.5, 0.5, sz), origin=(-2.5, -2.5, -10))
    m = np.zeros(g.shape, np.uint8)
    m[4:6, 4:6, 15:22] = 1                      # 7 slices: 7 x 0.53013 = 3.71091 mm along a straight cord
    cl = Centerline(np.array([[0.0, 0.0, top], [0.0, 0.0, -15.0]]))
    lesion = measure(m, geometry=g, centerline=cl).lesions[0]
    _decimals(lesion.craniocaudal_along_cord_mm, 7 * sz, 4)
    _decimals(lesion.craniocaudal_uncertainty_mm, sz, 4)        # one slice along the cord


@pytest.mark.parametrize("start", [30, 60, 64, 67, 70])
def test_a_flame_towards_the_near_edge_of_the_image_is_read_the_same_without_a_cord_mask(start):
    """A lesion 15-35 mm above the image's lower edge (0.5 mm voxels) with enhancement going on 20 mm
    below it, or down to the edge: without a cord mask the study's crop must keep the image the
    flame window reads on that side too. The flame sign reads up to 30 mm beyond the lesion, so
    these lesions lie as far from the edge as that window and the smoothing's, and a little
    nearer and farther."""
    # 20 mm of enhancement below the lesion, or down to the image's edge
    with_cord, without = _flame_signs(180, slice(start, start + 20), slice(max(start - 40, 0), start))
    assert with_cord.flame_inferior_mm == pytest.approx(min(20.0, start * 0.5), abs=1.5)
    assert without.flame_inferior_mm == pytest.approx(with_cord.flame_inferior_mm, abs=0.25)
    assert "field of view" not in (without.judgeable_reason or "")
