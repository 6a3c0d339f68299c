"""Level boundaries from vertebra masks (VerSe, SPINEPS, TotalSegmentator) sit at the disc's posterior tip.

The masks come from :mod:`lesionview.phantom.vertebrae`: the phantom family's lordotic cervical and
kyphotic thoracic spines with vertebral bodies, tilted discs, uncinate and posterior elements, where
the posterior tip of every disc is known analytically (``VertebraPhantom.posterior_tip``) and the
level boundary at the cord is the arc length ``disc_s`` of that tip.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from lesionview.cord import centerline_from_mask
from lesionview.errors import InputError
from lesionview.levels import LevelModel
from lesionview.levels.names import name_of
from lesionview.measure import measure
from lesionview.phantom.vertebrae import VertebraPhantom
from lesionview.volume import Volume

#: Cervical C2..T1 (lordosis) and thoracic T3..T8 (kyphosis): region level numbers of the family spine.
REGIONS = {"cervical": (0, 6), "thoracic": (2, 7)}
READERS = {"verse": LevelModel.from_verse, "spineps": LevelModel.from_spineps,
           "totalsegmentator": LevelModel.from_totalsegmentator}
TIP_MM = 1.0          # a disc landmark lies this close to the disc's posterior tip
LESION_OFFSET = 1.8   # blob centres this far above / below a level boundary along the cord (mm) ...
LESION_RADIUS = 0.9   # ... so a blob stays 0.9 mm clear of the boundary


@cache
def phantom(region: str) -> VertebraPhantom:
    return VertebraPhantom(region, REGIONS[region])


@cache
def mask(region: str, convention: str, plane: str = "axial", order: str = "LPS", spacing: float = 1.0,
         slice_mm: float | None = None) -> Volume:
    ph = phantom(region)
    return ph.mask(ph.geometry(plane=plane, order=order, spacing=spacing, slice_mm=slice_mm), convention)


@cache
def model(region: str, convention: str, plane: str = "axial", order: str = "LPS") -> LevelModel:
    return READERS[convention](mask(region, convention, plane, order))


def discs(m: LevelModel):
    return [mk for mk in m.landmarks if mk.kind == "disc"]


def test_the_phantom_tells_posterior_tip_from_disc_centre():
    """The disc centre is on another plane than the posterior tip, by more than a lesion's margin:
    a reader that placed boundaries at disc centres would fail the lesion tests below."""
    for region in REGIONS:
        ph = phantom(region)
        depth = ph.depth
        for k in ph.disc_indices:
            shift = math.tan(math.radians(ph.tilt_degrees(k))) * depth / 2   # along the cord, mm
            assert abs(shift) > LESION_OFFSET - LESION_RADIUS + 0.5, (region, k, shift)


@pytest.mark.parametrize("convention", list(READERS))
@pytest.mark.parametrize("region", list(REGIONS))
def test_disc_landmarks_at_the_posterior_tip(region, convention):
    ph = phantom(region)
    m = model(region, convention)
    found = discs(m)
    assert [mk.index for mk in found] == ph.disc_indices
    for mk in found:
        dist = np.linalg.norm(np.array(mk.position) - ph.posterior_tip(mk.index))
        assert dist < TIP_MM, f"{convention} {mk.name}: {dist:.2f} mm from the posterior tip"


@pytest.mark.parametrize(("plane", "spacing", "slice_mm"), [("sagittal", 0.7, 3.0), ("axial", 0.8, 2.0)])
@pytest.mark.parametrize("region", list(REGIONS))
def test_posterior_tip_on_mr_like_grids(region, plane, spacing, slice_mm):
    """Thick sagittal (SPINEPS's T2 input) or axial slices: still within a millimetre."""
    ph = phantom(region)
    for convention in ("verse", "spineps"):
        m = READERS[convention](mask(region, convention, plane, "LPS", spacing, slice_mm))
        for mk in discs(m):
            dist = np.linalg.norm(np.array(mk.position) - ph.posterior_tip(mk.index))
            assert dist < TIP_MM, f"{convention} {plane} {mk.name}: {dist:.2f} mm"


def _check_lesions_next_to_each_disc(region, convention, plane="axial", order="LPS"):
    """Blobs in the cord just above and just below every disc's tip plane, measured with the cord."""
    ph = phantom(region)
    v = mask(region, convention, plane, order)
    g = v.geometry
    centres, expected = [], []
    for k in ph.disc_indices:
        s = ph.disc_s(k)
        centres += [s - LESION_OFFSET, s + LESION_OFFSET]
        expected += [name_of(k), name_of(k + 1)]
    lesions = ph.blobs(g, centres, LESION_RADIUS)
    result = measure(lesions, geometry=g, cord=ph.cord(g).astype(np.uint8),
                     levels=model(region, convention, plane, order), mask_kind="labels")
    assert len(result.lesions) == len(centres)
    for row in result.lesions:
        i = int(np.argmin([np.linalg.norm(np.array(row.centroid_lps_mm) - ph.cord_point(s)) for s in centres]))
        assert (row.levels.first, row.levels.last) == (expected[i], expected[i]), (
            f"{convention} {plane} {order}: blob {LESION_OFFSET} mm {'above' if i % 2 == 0 else 'below'} the tip "
            f"plane of {ph.disc_name(ph.disc_indices[i // 2])} reported {row.levels.first}-{row.levels.last}")


@pytest.mark.parametrize("convention", list(READERS))
@pytest.mark.parametrize("region", list(REGIONS))
def test_lesions_next_to_each_disc_get_their_level(region, convention):
    _check_lesions_next_to_each_disc(region, convention)


@pytest.mark.parametrize(("region", "convention", "plane", "order"),
                         [("cervical", "verse", "sagittal", "RAS"), ("thoracic", "spineps", "sagittal", "LPS"),
                          ("thoracic", "totalsegmentator", "axial", "RAS")])
def test_lesion_levels_whatever_the_storage(region, convention, plane, order):
    _check_lesions_next_to_each_disc(region, convention, plane, order)


@pytest.mark.parametrize("region", list(REGIONS))
def test_storage_order_does_not_change_the_landmarks(region):
    """The same voxel centres stored axial or sagittal, LPS or RAS: the same landmarks."""
    for convention in ("verse", "spineps"):
        ref = model(region, convention)
        for plane, order in (("sagittal", "LPS"), ("axial", "RAS"), ("sagittal", "RAS")):
            other = model(region, convention, plane, order)
            assert other.landmark_names == ref.landmark_names
            np.testing.assert_allclose(other.landmark_positions, ref.landmark_positions, atol=1e-3)


@pytest.mark.parametrize("region", list(REGIONS))
def test_the_three_conventions_agree(region):
    verse, ts, sp = (model(region, c) for c in ("verse", "totalsegmentator", "spineps"))
    assert verse.landmark_names == ts.landmark_names == sp.landmark_names
    # The same bones: identical; SPINEPS reads its disc labels instead of the endplates.
    np.testing.assert_allclose(ts.landmark_positions, verse.landmark_positions, atol=1e-3)
    np.testing.assert_allclose(sp.landmark_positions, verse.landmark_positions, atol=2 * TIP_MM)


def test_a_centerline_given_does_not_move_the_tips():
    ph = phantom("cervical")
    v = mask("cervical", "verse")
    cl = centerline_from_mask(ph.cord(v.geometry), v.geometry)
    with_cl = LevelModel.from_verse(v, centerline=cl)
    np.testing.assert_allclose(with_cl.landmark_positions, model("cervical", "verse").landmark_positions, atol=0.5)


# ---------------------------------------------------------------------------- SPINEPS specifics
def _relabelled(v: Volume, mapping: dict[int, int]) -> Volume:
    a = v.array.copy()
    out = a.copy()
    for old, new in mapping.items():
        out[a == old] = new
    return Volume(out, v.geometry)


def test_spineps_missing_disc_falls_back_to_the_endplates():
    ph = phantom("thoracic")
    v = mask("thoracic", "spineps")
    k = ph.disc_indices[2]
    m = LevelModel.from_spineps(_relabelled(v, {100 + k: 0}))
    mk = next(x for x in discs(m) if x.index == k)
    assert np.linalg.norm(np.array(mk.position) - ph.posterior_tip(k)) < TIP_MM


@pytest.mark.parametrize("region", list(REGIONS))
def test_spineps_disc_labels_alone(region):
    """Discs without vertebrae: the frame comes from the disc itself (its thinnest direction)."""
    ph = phantom(region)
    v = mask(region, "spineps")
    discs_only = np.where((v.array > 100) & (v.array < 200), v.array, 0).astype(np.int16)
    m = LevelModel.from_spineps(Volume(discs_only, v.geometry))
    assert m.landmark_names == [ph.disc_name(k) for k in ph.disc_indices]
    for mk in m.landmarks:
        assert np.linalg.norm(np.array(mk.position) - ph.posterior_tip(mk.index)) < TIP_MM


def test_spineps_sacrum_gives_l5_s1():
    """Relabel the thoracic phantom's T6, T7, T8 as L4, L5 and the sacrum (26): the T7/T8 tip is L5/S1,
    read from disc 124 or, without it, from L5's and the sacrum's endplates."""
    ph = phantom("thoracic")
    v = mask("thoracic", "spineps")
    t6, t7, t8 = 13, 14, 15
    mapping = {t6: 23, t7: 24, t8: 26, 200 + t6: 223, 200 + t7: 224, 200 + t8: 226, 100 + t6: 123, 100 + t7: 124}
    keep = {t6, t7, t8, *(200 + x for x in (t6, t7, t8)), 100 + t6, 100 + t7}
    a = np.where(np.isin(v.array, list(keep)), v.array, 0).astype(np.int16)
    lumbar = _relabelled(Volume(a, v.geometry), mapping)
    tip = ph.posterior_tip(t7)                                        # the phantom's T7/T8 disc
    for vol in (lumbar, _relabelled(lumbar, {124: 0})):
        m = LevelModel.from_spineps(vol)
        assert m.landmark_names[:2] == ["L4/L5", "L5/S1"]
        assert np.linalg.norm(np.array(m.landmarks[1].position) - tip) < TIP_MM


@pytest.mark.parametrize(("value", "name"), [(28, "T13"), (25, "L6"), (125, "L6"), (228, "T13")])
def test_spineps_transitional_vertebrae_are_refused(value, name):
    v = mask("thoracic", "spineps")
    a = v.array.copy()
    a[v.array == 15] = value                  # T8 (or its disc / endplates) becomes transitional
    with pytest.raises(InputError, match=name) as err:
        LevelModel.from_spineps(Volume(a, v.geometry))
    assert "ambiguous" in str(err.value)


def test_spineps_subregion_mask_is_refused():
    v = mask("thoracic", "spineps")
    a = v.array.copy()
    a[v.array == 15] = 60                     # TPTBox Location.Spinal_Cord: a subregion label
    with pytest.raises(InputError, match="instance mask"):
        LevelModel.from_spineps(Volume(a, v.geometry))


def test_spineps_ignores_coccyx_lower_sacrum_and_ribs():
    v = mask("thoracic", "spineps")
    a = v.array.copy()
    a[0, 0, :3] = (27, 29, 45)
    assert LevelModel.from_spineps(Volume(a, v.geometry)).landmark_names == model("thoracic", "spineps").landmark_names


# ---------------------------------------------------------------------------- cut by the field of view
#: Vertebrae kept in the field of view: the lowest (cut below) or the highest (cut above) keeps this
#: many mm (head-foot) of its label; the scan stops there, so the array ends there for every label.
KEPT_MM = (4, 7, 10, 13, 16)
CUT_GRIDS = {"sagittal 0.7 x 0.7 x 3 mm": ("sagittal", 0.7, 3.0), "axial 0.8 x 0.8 x 2 mm": ("axial", 0.8, 2.0)}
CUT_REGIONS = {"cervical": (0, 6), "thoracic": (0, 5)}      # C2..T1 and T1..T6
CLEAR_MM = 2.0       # a point this far from every true boundary must get its true level (or none)
CONVENTIONS_CUT = ("verse", "spineps", "totalsegmentator")


def _fov(v: Volume, label: int, kept_mm: float, side: str) -> tuple[slice, slice, slice]:
    """The box of a scan whose field of view stops ``kept_mm`` (head-foot) into vertebra ``label`` of
    VerSe mask ``v``: below it (``side`` "bottom") or above it ("top"). The array is cropped, as a
    scan's would be, along the grid axis closest to head-foot."""
    g = v.geometry
    col = int(np.argmax(np.abs(np.asarray(g.direction_matrix)[2])))
    z = g.index_to_world(np.argwhere(v.array == label))[:, 2]
    line = np.zeros((g.shape[col], 3))
    line[:, col] = np.arange(g.shape[col])
    zi = g.index_to_world(line)[:, 2]
    keep = zi >= z.max() - kept_mm if side == "bottom" else zi <= z.min() + kept_mm
    i = np.flatnonzero(keep)
    return tuple(slice(int(i.min()), int(i.max()) + 1) if k == col else slice(None) for k in range(3))


@cache
def cut_case(region: str, grid: str, side: str, kept_mm: float):
    """(phantom, cropped masks by convention, the VerSe value of the cut vertebra)."""
    ph = VertebraPhantom(region, CUT_REGIONS[region])
    plane, spacing, slice_mm = CUT_GRIDS[grid]
    g = ph.geometry(plane=plane, spacing=spacing, slice_mm=slice_mm)
    first, last = ph.levels
    label = ph.spine.level_indices[last if side == "bottom" else first]
    box = _fov(ph.mask(g, "verse"), label, kept_mm, side)
    cut = {c: Volume(ph.mask(g, c).array[box], g.cropped(box)) for c in CONVENTIONS_CUT}
    return ph, cut, label


def _wrong_levels(ph: VertebraPhantom, m: LevelModel, v: Volume) -> list[str]:
    """Points along the cord in the field of view, >= CLEAR_MM from every true boundary, whose
    level is not the true one (no level at all is not wrong: the model does not reach there)."""
    g = v.geometry
    m = m.with_centerline(centerline_from_mask(ph.cord(g), g))
    b = [ph.disc_s(k) for k in ph.disc_indices]
    first, last = ph.levels
    lo, hi = ph.spine.boundaries[first], ph.spine.boundaries[last + 1]
    s = np.arange(lo, hi, 0.5)
    s = s[np.min(np.abs(s[:, None] - np.array(b)[None, :]), axis=1) >= CLEAR_MM]
    pts = np.array([ph.cord_point(x) for x in s])
    idx = np.rint(g.world_to_index(pts))
    inside = np.all((idx >= 0) & (idx < np.array(g.shape)), axis=1)
    s, pts = s[inside], pts[inside]
    truth = [name_of(ph.spine.level_indices[first] + int(np.sum(x > np.array(b)))) for x in s]
    got = m.level_names_of(pts)
    return [f"s={x:.1f}: {gv} (truly {t})" for x, gv, t in zip(s, got, truth) if gv and gv != t]


@pytest.mark.parametrize("kept_mm", KEPT_MM)
@pytest.mark.parametrize("side", ["bottom", "top"])
@pytest.mark.parametrize("grid", list(CUT_GRIDS))
@pytest.mark.parametrize("region", list(CUT_REGIONS))
def test_a_vertebra_cut_by_the_field_of_view_moves_no_boundary(region, grid, side, kept_mm):
    ph, cut, label = cut_case(region, grid, side, kept_mm)
    for convention in CONVENTIONS_CUT:
        v = cut[convention]
        m = READERS[convention](v)
        assert not _wrong_levels(ph, m, v), (convention, _wrong_levels(ph, m, v)[:5])
        # Every disc kept is at its tip; every disc of the phantom not kept is warned about.
        kept = {mk.index for mk in discs(m)}
        for mk in discs(m):
            dist = np.linalg.norm(np.array(mk.position) - ph.posterior_tip(mk.index))
            assert dist < TIP_MM, f"{convention} {mk.name}: {dist:.2f} mm from the posterior tip"
        # The disc next to the cut vertebra is the only one that may go, and only with a warning.
        edge = label - 1 if side == "bottom" else label
        assert kept >= set(ph.disc_indices) - {edge}, (convention, sorted(kept))
        if edge not in kept:
            assert any(ph.disc_name(edge) in w and "dropped" in w for w in m.warnings), m.warnings
        assert any(name_of(label) in w and "cut" in w for w in m.warnings), m.warnings
        # The cut vertebra's body never anchors the model.
        assert all(not (mk.kind == "body" and mk.index == label) for mk in m.landmarks)


def test_a_vertebra_zeroed_short_is_partial_too():
    """The reviewer's case: the lowest thoracic vertebra keeps 13 mm, the rest of its label zeroed
    (no array border): it is much shorter than its neighbour, so it is treated as cut."""
    ph = VertebraPhantom("thoracic", CUT_REGIONS["thoracic"])
    g = ph.geometry(plane="sagittal", spacing=0.7, slice_mm=3.0)
    v = ph.mask(g, "verse")
    label = ph.spine.level_indices[ph.levels[1]]
    a = v.array.copy()
    z = g.index_to_world(np.argwhere(a == label))[:, 2]
    idx = np.argwhere(a == label)
    a[tuple(idx[z < z.max() - 13].T)] = 0
    cut = Volume(a, g)
    m = LevelModel.from_verse(cut)
    assert not _wrong_levels(ph, m, cut)
    assert any(name_of(label) in w for w in m.warnings)


def test_a_tip_off_the_mid_sagittal_plane_is_dropped_with_a_warning():
    """A vertebra's label moved 8 mm to the left (a mislabelled neighbour, a scoliotic step the
    mask got wrong): the discs it gives are refused, not used."""
    from lesionview.levels.sources import _implausible_tips

    ph = phantom("cervical")
    m = model("cervical", "verse")
    tips = {mk.index: np.array(mk.position) for mk in discs(m)}
    frames = {k: (tips[k], np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])) for k in tips}
    k = ph.disc_indices[2]
    tips[k] = tips[k] + np.array([8.0, 0.0, 0.0])
    frames[ph.disc_indices[4]] = (tips[ph.disc_indices[4]],
                                  np.array([[0.0, 0.7071, -0.7071], [0.0, 0.7071, 0.7071], [1.0, 0.0, 0.0]]))
    bad = _implausible_tips(tips, frames)
    assert set(bad) == {k, ph.disc_indices[4]}
    assert "mid-sagittal" in bad[k] and "degrees" in bad[ph.disc_indices[4]]


def test_the_reader_warnings_reach_the_measurements_and_the_cli(tmp_path):
    """A disc dropped beside a cut vertebra is said in the result's warnings and on the terminal."""
    import subprocess
    import sys

    from lesionview.io import write_nifti
    from lesionview.measure import measure

    ph, cut, label = cut_case("cervical", "sagittal 0.7 x 0.7 x 3 mm", "bottom", 4)
    v = cut["verse"]
    model = LevelModel.from_verse(v)
    assert model.warnings
    cord = ph.cord(v.geometry).astype(np.uint8)
    lesion = ph.blobs(v.geometry, [ph.disc_s(ph.disc_indices[0]) - 3.0]).astype(np.uint8)
    result = measure(Volume(lesion, v.geometry), cord=Volume(cord, v.geometry), levels=model)
    assert [w for w in result.warnings if w.startswith("levels: ")] == [f"levels: {w}" for w in model.warnings]
    for name, array in (("lesion", lesion), ("cord", cord), ("verse", v.array)):
        write_nifti(array, tmp_path / f"{name}.nii.gz", geometry=v.geometry)
    res = subprocess.run([sys.executable, "-m", "lesionview", "measure", tmp_path / "lesion.nii.gz", "--cord",
                          tmp_path / "cord.nii.gz", "--levels", tmp_path / "verse.nii.gz", "--levels-kind", "verse"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "warning: levels: " in res.stdout and name_of(label) in " ".join(res.stdout.split())
