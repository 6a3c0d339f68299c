"""sct_analyze_lesion metrics: against SCT 7.4's own output, analytic phantoms, and storage order."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import need

from lesionview.geometry import Geometry, reorient
from lesionview.levels.model import LevelModel
from lesionview.measure.sct import SctMetrics, sct_metrics

SCT_T2 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sct_t2"
# SCT's "RPI" (axes from right, posterior, inferior) is lesionview's "LAS" (axes towards L, A, S).
LAS = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))
ORIENTATIONS = ["PSR", "LPS", "RAS", "SRA", "IRP", "LAS"]


@pytest.fixture(scope="module")
def sct_t2():
    need(SCT_T2.is_dir(), f"{SCT_T2} not found (the SCT oracle data lives beside the repository)")
    from lesionview.io.nifti import read_nifti

    vols = {k: read_nifti(SCT_T2 / f"t2_fake_lesion{s}.nii.gz") for k, s in
            (("lesion", "_lesion_seg"), ("cord", "_sc_seg"), ("image", ""))}
    oracle = json.loads((SCT_T2 / "oracle_sct_analyze_lesion.json").read_text())
    return vols, oracle["lesions"][0]


def _run(vols, orientation=None, *, rpi=False, **kw) -> SctMetrics:
    """SCT's metrics of the fake lesion stored as read, or in ``orientation``; with ``rpi``, its
    sagittal slices numbered in SCT's RPI grid (our LAS) rather than along the stored axis."""
    arrays = {k: v.array for k, v in vols.items()}
    g = vols["lesion"].geometry
    if orientation:
        arrays = {k: reorient(a, vols["lesion"].geometry, orientation)[0] for k, a in arrays.items()}
        g = reorient(vols["lesion"].array, g, orientation)[1]
    m = sct_metrics((arrays["lesion"] > 0).astype(int), g, cord=arrays["cord"], image=arrays["image"], **kw)[1]
    return _numbered_rpi(m, g) if rpi else m


def _numbered_rpi(m: SctMetrics, g: Geometry) -> SctMetrics:
    """``m`` with its slice numbers counted right to left (SCT's RPI), whatever way ``g`` stores them."""
    order, flip = g.reorientation("LAS")
    if not flip[0] or m.sct_midsagittal_slice is None:
        return m
    last = g.shape[order[0]] - 1
    return m.model_copy(update={
        "sct_midsagittal_slice": last - m.sct_midsagittal_slice,
        "sct_bridges_per_slice": m.sct_bridges_per_slice and [
            b.model_copy(update={"sagittal_slice": last - b.sagittal_slice}) for b in m.sct_bridges_per_slice]})


ORACLE_KEYS = {
    "sct_volume_mm3": "volume [mm3]",
    "sct_length_mm": "length [mm]",
    "sct_width_mm": "width [mm]",
    "sct_max_equivalent_diameter_mm": "max_equivalent_diameter [mm]",
    "sct_max_axial_damage_ratio": "max_axial_damage_ratio []",
    "sct_midsagittal_length_mm": "length_interpolated_midsagittal_slice [mm]",
    "sct_midsagittal_width_mm": "width_interpolated_midsagittal_slice [mm]",
    "sct_dorsal_bridge_mm": "interpolated_dorsal_bridge_width [mm]",
    "sct_ventral_bridge_mm": "interpolated_ventral_bridge_width [mm]",
    "sct_total_bridge_mm": "interpolated_total_bridge_width [mm]",
    "sct_dorsal_bridge_ratio_pct": "dorsal_bridge_ratio [%]",
    "sct_ventral_bridge_ratio_pct": "ventral_bridge_ratio [%]",
    "sct_mean_intensity": "mean_t2_fake_lesion",
    "sct_std_intensity": "std_t2_fake_lesion",
}


def _close(ours, theirs, *, mm=True):
    assert ours == pytest.approx(theirs, rel=0.01), (ours, theirs)
    if mm:
        assert abs(ours - theirs) <= 0.1, (ours, theirs)


def test_matches_sct_on_its_fake_lesion(sct_t2):
    vols, oracle = sct_t2
    m = _run(vols)
    for ours, theirs in ORACLE_KEYS.items():
        _close(getattr(m, ours), oracle[theirs], mm=ours.endswith("_mm"))
    # SCT >= 7 numbers sagittal slices (and, since PR #4969, the midsagittal slice) along the input's own
    # axis, as lesionview does: here AIL, right-left running from the left (the oracle's note says otherwise).
    assert vols["lesion"].geometry.reorientation("LAS")[1][0]  # stored left to right: the numbering matters
    assert m.sct_midsagittal_slice == pytest.approx(oracle["interpolated_midsagittal_slice"], abs=0.01)
    per_slice = {b.sagittal_slice: b for b in m.sct_bridges_per_slice}
    assert sorted(per_slice) == list(range(12, 17))
    for n in range(12, 17):
        b = per_slice[n]
        for part in ("dorsal", "ventral", "total"):
            _close(getattr(b, f"{part}_mm"), oracle[f"slice_{n}_{part}_bridge_width [mm]"])
        # Slice numbers grow towards the patient's right here, lateral offsets towards the left.
        assert b.lateral_offset_mm == pytest.approx((m.sct_midsagittal_slice - b.sagittal_slice) * 0.8, abs=1e-3)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_sct_fake_lesion_does_not_depend_on_storage(sct_t2, orientation):
    vols, _ = sct_t2
    _same(_run(vols, orientation, rpi=True), _run(vols, rpi=True))


def _same(a: SctMetrics, b: SctMetrics) -> None:
    da, db = a.model_dump(), b.model_dump()
    bridges_a, bridges_b = da.pop("sct_bridges_per_slice"), db.pop("sct_bridges_per_slice")
    assert da.keys() == db.keys()
    for k in da:
        if isinstance(da[k], float):
            assert da[k] == pytest.approx(db[k], rel=1e-9, abs=1e-9), k
        else:
            assert da[k] == db[k], k
    assert (bridges_a is None) == (bridges_b is None)
    for x, y in zip(bridges_a or [], bridges_b or []):
        assert x == pytest.approx(y)


# ---------------------------------------------------------------------------------- phantoms
def _stored(arrays: dict, spacing, orientation="PSR"):
    """Arrays built on an LAS grid (SCT's RPI), handed over stored in another orientation."""
    g = Geometry(next(iter(arrays.values())).shape, spacing=spacing, origin=(3.0, -7.0, 11.0),
                 direction=np.array(LAS).T)
    out = {k: reorient(a, g, orientation)[0] for k, a in arrays.items()}
    return out, reorient(next(iter(arrays.values())), g, orientation)[1]


def _cord(shape, spacing, radius_mm, centre, slope=(0.0, 0.0), z_range=None):
    """Disc of ``radius_mm`` per axial slice, centred at ``centre`` (index) + ``slope`` * z (index/slice)."""
    x, y, z = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    cx, cy = centre[0] + slope[0] * z, centre[1] + slope[1] * z
    cord = ((x - cx) * spacing[0]) ** 2 + ((y - cy) * spacing[1]) ** 2 <= radius_mm**2
    if z_range is not None:
        cord &= (z >= z_range[0]) & (z < z_range[1])
    return cord


def _metrics(lesion, cord, spacing, orientation="PSR", **kw) -> dict[int, SctMetrics]:
    """Metrics of masks built on SCT's RPI grid and stored in ``orientation``, their slices numbered
    back on the grid they were built on."""
    arrays, g = _stored({"lesion": lesion.astype(np.int32), "cord": cord}, spacing, orientation)
    return {k: _numbered_rpi(m, g) for k, m in sct_metrics(arrays["lesion"], g, cord=arrays["cord"], **kw).items()}


SPACING = (0.5, 0.4, 2.0)   # anisotropic: R-L 0.5, A-P 0.4, S-I 2 mm
SHAPE = (21, 31, 20)


def _box(x, y, z, shape=SHAPE):
    m = np.zeros(shape, bool)
    m[x[0]:x[1] + 1, y[0]:y[1] + 1, z[0]:z[1] + 1] = True
    return m


def test_box_in_a_straight_cylinder_has_the_analytic_values():
    cord = _cord(SHAPE, SPACING, 4.0, (10, 15))              # centre x = 10: the midsagittal slice
    lesion = _box((8, 12), (13, 17), (6, 9))                  # 5 x 5 voxels, 4 slices
    m = _metrics(lesion, cord, SPACING)[1]
    assert m.sct_volume_mm3 == pytest.approx(5 * 5 * 4 * 0.5 * 0.4 * 2.0)
    assert m.sct_length_mm == pytest.approx(4 * 2.0)
    assert m.sct_width_mm == pytest.approx(5 * 0.4)
    assert m.sct_max_equivalent_diameter_mm == pytest.approx(2 * math.sqrt(25 * 0.5 * 0.4 / math.pi))
    assert m.sct_max_axial_damage_ratio == pytest.approx(25 / cord[:, :, 7].sum())
    assert m.sct_midsagittal_slice == pytest.approx(10.0)
    assert m.sct_midsagittal_length_mm == pytest.approx(4 * 2.0)
    assert m.sct_midsagittal_width_mm == pytest.approx(5 * 0.4)
    # Bridges: cord A-P edge minus lesion A-P edge (cord radius 4 mm = 10 voxels of 0.4: y 5..25).
    def ys(x):
        return np.flatnonzero(cord[x, :, 7])

    assert m.sct_dorsal_bridge_mm == pytest.approx((13 - ys(10)[0]) * 0.4) == pytest.approx(8 * 0.4)
    assert m.sct_ventral_bridge_mm == pytest.approx((ys(10)[-1] - 17) * 0.4) == pytest.approx(8 * 0.4)
    assert m.sct_total_bridge_mm == pytest.approx(16 * 0.4)
    assert m.sct_dorsal_bridge_ratio_pct == pytest.approx(50.0)
    assert [b.sagittal_slice for b in m.sct_bridges_per_slice] == [8, 9, 10, 11, 12]
    for b in m.sct_bridges_per_slice:
        assert b.dorsal_mm == pytest.approx((13 - ys(b.sagittal_slice)[0]) * 0.4)
        assert b.ventral_mm == pytest.approx((ys(b.sagittal_slice)[-1] - 17) * 0.4)
        assert b.lateral_offset_mm == pytest.approx((b.sagittal_slice - 10) * 0.5)
    assert m.sct_notes == []


def test_interpolated_midsagittal_slice_weights_partial_voxels():
    cord = _cord(SHAPE, SPACING, 4.0, (10.5, 15))             # midsagittal 10.5: slices 10 and 11, half each
    lesion = _box((10, 10), (12, 15), (5, 7))                  # only on slice 10
    lesion |= _box((11, 11), (12, 13), (5, 5))                 # slice 11 on one axial slice only
    m = _metrics(lesion, cord, SPACING)[1]
    assert m.sct_midsagittal_slice == pytest.approx(10.5)
    # Length: per axial slice, the mean of the non-zero interpolated values (0.5 or 1) x 2 mm.
    assert m.sct_midsagittal_length_mm == pytest.approx((0.75 + 0.5 + 0.5) * 2.0)
    # Width: per axial slice, the sum of the interpolated values x 0.4 mm; largest on slice 5.
    assert m.sct_midsagittal_width_mm == pytest.approx((4 * 0.5 + 2 * 0.5) * 0.4)
    # Bridges: slice 5 has both slices (interpolated); slices 6-7 only slice 10 (SCT 7.4 uses it alone).
    first = {x: np.flatnonzero(cord[x, :, 5])[0] for x in (10, 11)}
    last = {x: np.flatnonzero(cord[x, :, 5])[-1] for x in (10, 11)}
    dorsal5 = 0.5 * (12 - first[10]) + 0.5 * (12 - first[11])
    assert m.sct_dorsal_bridge_mm == pytest.approx(min(dorsal5, 12 - first[10]) * 0.4)
    ventral5 = 0.5 * (last[10] - 15) + 0.5 * (last[11] - 13)
    assert m.sct_ventral_bridge_mm == pytest.approx(min(ventral5, last[10] - 15) * 0.4)
    assert any("only one of the two sagittal slices" in n for n in m.sct_notes)


@pytest.mark.parametrize("orientation", ["PSR", "RAS", "LPS"])
def test_oblique_cord_corrects_by_the_centerline_angle(orientation):
    # The cord centre moves 1 voxel anterior (0.4 mm) and 1 voxel left (0.5 mm) per 2 mm slice.
    shape = (60, 60, 30)
    cord = _cord(shape, SPACING, 3.0, (10, 10), slope=(1.0, 1.0))
    lesion = np.zeros(shape, bool)
    for z in range(10, 16):                                   # 6 slices, 3 voxels A-P, following the cord
        lesion[9 + z:12 + z, 9 + z:12 + z, z] = True
    m = _metrics(lesion, cord, SPACING, orientation)[1]
    cos_3d = 2.0 / math.sqrt(0.5**2 + 0.4**2 + 2.0**2)
    cos_sag = 2.0 / math.sqrt(0.4**2 + 2.0**2)
    assert m.sct_length_mm == pytest.approx(6 * 2.0 / cos_3d, rel=1e-6)
    assert m.sct_width_mm == pytest.approx(3 * 0.4 * cos_sag, rel=1e-6)
    assert m.sct_max_equivalent_diameter_mm == pytest.approx(2 * math.sqrt(9 * 0.5 * 0.4 * cos_3d / math.pi), rel=1e-6)
    assert m.sct_midsagittal_length_mm is not None and m.sct_midsagittal_length_mm > 0


def test_one_voxel_wide_lesions_have_the_right_length():
    """SCT #3633: a 4-voxel line gave -0.93 mm (expected 4 mm) and an equivalent diameter of -0.0."""
    cord = _cord(SHAPE, SPACING, 4.0, (10, 15))
    along_si = _box((10, 10), (15, 15), (4, 7))              # one voxel wide, 4 slices long
    along_ap = _box((10, 10), (12, 15), (12, 12))             # one slice thick, 4 voxels A-P
    ms = _metrics(along_si + 2 * along_ap, cord, SPACING)
    si, ap = ms[1], ms[2]
    assert si.sct_length_mm == pytest.approx(4 * 2.0)
    assert si.sct_width_mm == pytest.approx(0.4)
    assert si.sct_max_equivalent_diameter_mm == pytest.approx(2 * math.sqrt(0.5 * 0.4 / math.pi))
    assert ap.sct_length_mm == pytest.approx(2.0)
    assert ap.sct_width_mm == pytest.approx(4 * 0.4)


def test_lesion_off_the_midsagittal_slice_reports_zero_width_and_the_cord_diameter():
    cord = _cord(SHAPE, SPACING, 4.0, (10, 15))
    lesion = _box((15, 16), (14, 16), (6, 8))                 # lateral: slices 15-16, midsagittal is 10
    m = _metrics(lesion, cord, SPACING)[1]
    assert m.sct_midsagittal_width_mm == 0.0 and m.sct_midsagittal_length_mm == 0.0
    diameter = cord[10, :, 7].sum() * 0.4
    assert m.sct_total_bridge_mm == pytest.approx(diameter)
    assert m.sct_dorsal_bridge_mm == pytest.approx(diameter / 2) == pytest.approx(m.sct_ventral_bridge_mm)
    assert all(math.isfinite(v) for v in m.model_dump().values() if isinstance(v, float))
    assert any("neither sagittal slice" in n for n in m.sct_notes)


def test_lesion_partly_or_wholly_outside_the_cord_does_not_crash():
    """SCT #5065 / #5313: objects outside the cord mask. Bridges use the lesion inside the cord only."""
    cord = _cord(SHAPE, SPACING, 4.0, (10, 15))
    partly = _box((9, 11), (20, 28), (6, 8))                  # runs out of the cord anteriorly
    outside = _box((0, 1), (0, 2), (14, 15))                  # wholly outside the cord
    m = _metrics(partly + 2 * outside, cord, SPACING)
    assert m[1].sct_ventral_bridge_mm == 0.0
    assert m[1].sct_dorsal_bridge_mm == pytest.approx((20 - np.flatnonzero(cord[10, :, 7])[0]) * 0.4)
    assert m[1].sct_width_mm == pytest.approx(9 * 0.4)          # width is measured on the whole lesion, as SCT
    assert any(n.startswith(f"{(partly & ~cord).sum()} of {partly.sum()} lesion voxels lie outside") for n in m[1].sct_notes)
    assert m[2].sct_length_mm == pytest.approx(2 * 2.0)
    assert m[2].sct_dorsal_bridge_mm is None and m[2].sct_bridges_per_slice is None
    assert any("No lesion voxel inside the cord" in n for n in m[2].sct_notes)


def test_empty_cord_slices_and_volume_edges():
    cord = _cord(SHAPE, SPACING, 4.0, (10, 15), z_range=(0, 8))    # the cord stops at slice 8
    lesion = _box((9, 11), (14, 16), (6, 12))                  # slices 6-12; 8-12 have no cord
    edge = _box((0, 0), (0, 1), (0, 1))                         # in the volume's corner
    m = _metrics(lesion + 2 * edge, cord, SPACING)
    assert m[1].sct_length_mm == pytest.approx(7 * 2.0)        # straight cord: angle 0 held beyond its end
    assert m[1].sct_max_axial_damage_ratio == pytest.approx(9 / cord[:, :, 7].sum())
    assert any("have no cord" in n for n in m[1].sct_notes)
    assert m[2].sct_volume_mm3 == pytest.approx(4 * 0.4)
    # As SCT, the lesion's whole area over the cord's, even for a lesion outside the cord.
    assert m[2].sct_max_axial_damage_ratio == pytest.approx(2 / cord[:, :, 0].sum())
    # The largest lesion's centre (slice 9) has cord on slices 7 only of 7..11 -> midsagittal from it.
    assert m[1].sct_midsagittal_slice == pytest.approx(10.0)


def test_midsagittal_slice_falls_back_when_no_cord_surrounds_the_largest_lesion():
    cord = _cord(SHAPE, SPACING, 4.0, (10, 15), z_range=(0, 5))
    lesion = _box((9, 11), (14, 16), (12, 14))
    m = _metrics(lesion, cord, SPACING)[1]
    assert m.sct_midsagittal_slice == pytest.approx(10.0)
    assert m.sct_max_axial_damage_ratio is None
    assert any("5 nearest cord slices" in n for n in m.sct_notes)
    empty = _metrics(lesion, np.zeros_like(cord), SPACING)[1]     # no cord at all: no crash, no angle
    assert empty.sct_length_mm == pytest.approx(3 * 2.0)
    assert empty.sct_midsagittal_slice is None and empty.sct_max_axial_damage_ratio is None
    assert any("cord mask is empty" in n for n in empty.sct_notes)


def test_without_cord_only_volume_intensity_and_levels():
    lesion = _box((9, 11), (14, 16), (4, 7))                   # 9 voxels per slice, world z = 11 + 2 * index
    image = np.where(lesion, np.arange(lesion.size).reshape(SHAPE) % 7, 0).astype(float)
    arrays, g = _stored({"lesion": lesion.astype(np.int32), "image": image}, SPACING, "RAS")
    levels = LevelModel.from_landmarks(["C4/C5", "C5/C6", "C6/C7"], [[0, 0, 30], [0, 0, 20], [0, 0, 10]])
    m = sct_metrics(arrays["lesion"], g, cord=None, image=arrays["image"], levels=levels)[1]
    assert m.sct_volume_mm3 == pytest.approx(36 * 0.4)
    values = image[lesion]
    assert m.sct_mean_intensity == pytest.approx(values[values != 0].mean())
    assert m.sct_std_intensity == pytest.approx(values[values != 0].std())
    # Slice 4 (z 19 mm) is below the C5/C6 disc at 20 mm (C6); slices 5-7 (21-25 mm) are C5.
    assert m.sct_level_percent == pytest.approx({"C5": 75.0, "C6": 25.0})
    for name in ("sct_length_mm", "sct_width_mm", "sct_midsagittal_slice", "sct_bridges_per_slice"):
        assert getattr(m, name) is None


def test_phantom_does_not_depend_on_storage():
    cord = _cord((40, 40, 24), SPACING, 3.0, (10.3, 12), slope=(0.5, 0.7))
    lesion = np.zeros(cord.shape, bool)
    for z in range(8, 14):
        lesion[9 + z // 2:12 + z // 2, 10 + int(0.7 * z):13 + int(0.7 * z), z] = True
    lesion &= cord
    ref = _metrics(lesion, cord, SPACING, "LAS")[1]
    assert ref.sct_bridges_per_slice
    for orientation in ORIENTATIONS:
        _same(_metrics(lesion, cord, SPACING, orientation)[1], ref)


def test_all_lesions_share_the_largest_lesions_midsagittal_slice():
    cord = _cord((21, 31, 40), SPACING, 4.0, (10, 15), slope=(0.1, 0.0))
    small = _box((10, 10), (15, 15), (30, 30), (21, 31, 40))
    large = _box((10, 13), (14, 16), (5, 8), (21, 31, 40))
    m = _metrics(small + 2 * large, cord, SPACING)
    assert m[1].sct_midsagittal_slice == m[2].sct_midsagittal_slice
    # The large lesion's centre rounds to slice 6: the cord's centre on slices 4-8 is near 10 + 0.1 * 6.
    assert m[2].sct_midsagittal_slice == pytest.approx(10.6, abs=0.1)


def test_labels_must_be_non_negative_integers():
    with pytest.raises(ValueError, match="non-negative integers"):
        sct_metrics(np.full((3, 3, 3), 0.5), Geometry((3, 3, 3)), cord=None)
    assert sct_metrics(np.zeros((3, 3, 3), np.uint8), Geometry((3, 3, 3)), cord=None) == {}
