"""``--levels-kind auto``: label images are recognised from their values and shape, or refused.

The phantoms are spines of realistic size on a 1 mm LPS grid: vertebrae (elliptic body 18 x 15 mm,
16 mm high, arch around the canal, transverse processes 52 mm across, a spinous process hanging
towards the next vertebra) stacked 21 mm apart with 5 mm discs, and a 9 mm cord in the canal.
Expected kinds and level names come from how each phantom is built, not from the detector.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.io import write_nifti
from lesionview.io.nifti import read_nifti
from lesionview.levels import LevelModel, detect_kind, disc_name, read_levels
from lesionview.phantom.vertebrae import VertebraPhantom
from lesionview.volume import Volume

PITCH, BODY, DISC = 21, 16, 5          # mm: vertebra to vertebra, body height, disc height
MARGIN = 12                            # mm of field of view above the first and below the last
STORAGE = ("LPS", "RAS", "PSR", "SAL")


def _grid(n: int) -> tuple[Geometry, np.ndarray]:
    nz = n * PITCH + 2 * MARGIN
    g = Geometry((61, 73, nz), origin=(-30.0, -40.0, -float(nz - 1)))
    world = g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3)
    return g, world


def _body_top(i: int) -> float:
    """LPS z of the top of the i-th vertebra's body (0 = most superior); the grid's top is z = 0."""
    return -MARGIN - i * PITCH + 0.5


def _spine(values, *, discs=False, endplates=False, extra=None, overhang=3) -> Volume:
    """Vertebrae labelled ``values`` from superior to inferior (0 leaves a vertebra out).

    ``discs``: label the disc below vertebra X as 100 + X and ``endplates`` its lowest body
    millimetre as 200 + X (SPINEPS). ``extra``: {value: boolean array} painted last (organs).
    ``overhang``: how far (mm) the spinous process reaches below the body (> 5 touches the next arch).
    """
    g, w = _grid(len(values))
    x, y, z = w[..., 0], w[..., 1], w[..., 2]
    a = np.zeros(g.shape, np.int16)
    for i, v in enumerate(values):
        top = _body_top(i)
        span = (z <= top) & (z > top - BODY)
        body = span & ((x / 9) ** 2 + ((y + 12) / 7.5) ** 2 <= 1)
        arch = span & (np.hypot(x, y - 3) >= 7.5) & (np.hypot(x, y - 3) <= 10.5) & (y >= -5)
        transverse = (np.abs(x) <= 26) & (y >= -6) & (y <= 0) & (np.abs(z - (top - BODY / 2)) <= 4)
        spinous = (np.abs(x) <= 2) & (y >= 10) & (y <= 30) & (z <= top - BODY / 2) & (z > top - BODY - overhang)
        if v:
            a[body | arch | transverse | spinous] = v
            if endplates:
                a[body & (z <= top - BODY + 1)] = 200 + v
            if discs and i < len(values) - 1:
                a[(z <= top - BODY) & (z > top - BODY - DISC) & ((x / 9) ** 2 + ((y + 12) / 7.5) ** 2 <= 1)] = 100 + v
    for v, m in (extra or {}).items():
        a[m] = v
    return Volume(a, g)


def _cord_tube(g: Geometry) -> np.ndarray:
    w = g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3)
    return np.hypot(w[..., 0], w[..., 1] - 3 - 2 * np.sin(w[..., 2] / 40)) <= 4.5


def _labelled_cord(values) -> Volume:
    """An SCT-style labelled cord: level v from the disc above vertebra v to the disc below it."""
    g, w = _grid(len(values))
    z = w[..., 2]
    a = np.zeros(g.shape, np.int16)
    tube = _cord_tube(g)
    for i, v in enumerate(values):
        disc_above = _body_top(i) + DISC / 2
        a[tube & (z <= disc_above) & (z > disc_above - PITCH)] = v
    return Volume(a, g)


def _points(values, *, at_discs: bool, extra=()) -> Volume:
    """Single voxels in the cord: value ``v`` at the i-th disc (below vertebra i) or body centre."""
    g, _ = _grid(len(values) + 1)
    a = np.zeros(g.shape, np.int16)
    for i, v in enumerate(values):
        z = _body_top(i) - (BODY + DISC / 2 if at_discs else BODY / 2)
        a[tuple(np.rint(g.world_to_index([0.0, 3.0, z])).astype(int))] = v
    for v, z in extra:
        a[tuple(np.rint(g.world_to_index([0.0, 3.0, z])).astype(int))] = v
    return Volume(a, g)


def _kinds(volume) -> set[tuple[str, ...]]:
    """The kinds detected, for the volume stored in every orientation (one answer expected)."""
    return {detect_kind(volume.reoriented(o)).kinds for o in STORAGE}


def _discs(first: int, last: int) -> list[str]:
    return [disc_name(k) for k in range(first, last)]


# ---------------------------------------------------------------------------- one test per kind
def test_sct_labelled_cord():
    vol = _labelled_cord([2, 3, 4, 5, 6])
    assert _kinds(vol) == {("sct-labeled",)}
    assert read_levels(vol).disc_names == _discs(1, 7)       # C1/C2 .. C6/C7 (one beyond each end)


@pytest.mark.parametrize("overhang", [3, 8])               # 8: spinous processes touch the next arch
def test_verse_vertebrae(overhang):
    vol = _spine([3, 4, 5, 6, 7], overhang=overhang)          # C3..C7, value increasing downwards
    assert _kinds(vol) == {("verse",)}
    assert read_levels(vol).landmark_names == _discs(3, 7)    # C3/C4 .. C6/C7


def test_totalsegmentator_total():
    # total: vertebrae_C3 = 48 ... vertebrae_C7 = 44 (decreasing downwards), plus spinal_cord (79)
    # and trachea (16), which are not vertebrae.
    g, w = _grid(5)
    trachea = np.hypot(w[..., 0], w[..., 1] + 32) <= 6      # anterior, out of the vertebrae's way
    vol = _spine([48, 47, 46, 45, 44], extra={79: _cord_tube(g), 16: trachea})
    assert {16, 79} <= set(np.unique(vol.array).tolist())
    assert _kinds(vol) == {("totalsegmentator",)}
    assert read_levels(vol).landmark_names == _discs(3, 7)


def test_totalsegmentator_v1():
    # total_v1: L1 = 22 ... L5 = 18, with colon (57): a class above 25 rules out vertebrae_mr,
    # whose 18-22 would be C4-T1 numbered the same way.
    _, w = _grid(5)
    colon = (np.abs(w[..., 0] - 20) <= 6) & (w[..., 1] < -20)
    vol = _spine([22, 21, 20, 19, 18], extra={57: colon})
    assert 57 in vol.array
    assert _kinds(vol) == {("totalsegmentator-v1",)}
    assert read_levels(vol).landmark_names == _discs(20, 24)  # L1/L2 .. L4/L5


def test_totalsegmentator_vertebrae_mr():
    # vertebrae_mr: T10 = 9 ... L5 = 2, and the sacrum (1) below them.
    vol = _spine([9, 8, 7, 6, 5, 4, 3, 2, 1])
    assert _kinds(vol) == {("totalsegmentator-mr",)}
    assert read_levels(vol).landmark_names == _discs(17, 24)  # T10/T11 .. L4/L5


def test_spineps_with_discs_and_endplates():
    vol = _spine([3, 4, 5, 6, 7], discs=True, endplates=True)
    assert {103, 106, 203, 207} <= set(np.unique(vol.array).tolist())
    assert _kinds(vol) == {("spineps",)}
    assert set(_discs(3, 7)) <= set(read_levels(vol).disc_names)


def test_spineps_vertebrae_with_the_sacrum():
    # L3 (22), L4 (23), L5 (24) and the sacrum (26), which VerSe does not label: SPINEPS, whose
    # reader takes the sacrum for S1. Without the sacrum the same vertebrae read as VerSe.
    vol = _spine([22, 23, 24, 26])
    assert _kinds(vol) == {("spineps",)}
    # TotalSegmentator total would call 26 S1 and 22-24 organs; organs do not stack like vertebrae.
    assert "like one more vertebra" in detect_kind(vol).rejected["totalsegmentator"]
    assert read_levels(vol).disc_names[-1] == "L5/S1"


def test_sct_disc_points_with_pontomedullary_junction():
    # Discs C2/C3 .. C5/C6 (values 3..6) and the pontomedullary junction (50) above them:
    # 50 exists only in SCT disc files.
    vol = _points([3, 4, 5, 6], at_discs=True, extra=[(50, -2.0)])
    assert _kinds(vol) == {("sct-discs",)}
    assert read_levels(vol).landmark_names == _discs(2, 6)


def test_sct_body_points_fit_bodies_and_discs():
    # Mid-vertebral points C3..C6: the values and places are also those of a disc file (points
    # one vertebra apart), so both fit and the kind must be given.
    vol = _points([3, 4, 5, 6], at_discs=False)
    assert _kinds(vol) == {("sct-discs", "sct-body")}
    assert read_levels(vol, "sct-body").landmark_names == ["C3", "C4", "C5", "C6"]


# ---------------------------------------------------------------------------- refusals
def _refusal(volume) -> str:
    with pytest.raises(InputError) as err:
        read_levels(volume)
    return str(err.value)


# Each reading from the class maps: VerSe 5 = C5, vertebrae_mr 5 = L2; total 39..35 = T5..T9,
# total_v1 39..35 = C3..C7; total_v1 23..19 = T12..L4, vertebrae_mr 23..19 = C3..C7.
@pytest.mark.parametrize("values, kinds, readings", [
    ([5], ("verse", "totalsegmentator-mr"), ("= C5", "= L2")),
    ([39, 38, 37, 36, 35], ("totalsegmentator", "totalsegmentator-v1"), ("= T5-T9", "= C3-C7")),
    ([23, 22, 21, 20, 19], ("totalsegmentator-v1", "totalsegmentator-mr"), ("= T12-L4", "= C3-C7")),
])
def test_vertebra_masks_that_fit_two_kinds_are_refused(values, kinds, readings):
    vol = _spine(values)
    assert _kinds(vol) == {kinds}
    message = _refusal(vol)
    for kind, reading in zip(kinds, readings):
        assert f"--levels-kind {kind}" in message
        assert f"{kind} (" in message and reading in message.split(f"{kind} (")[1].split(")")[0], message
    assert "not guess" in message


def test_points_that_fit_discs_and_bodies_are_refused():
    message = _refusal(_points([3, 5], at_discs=True))
    assert "--levels-kind sct-discs" in message and "--levels-kind sct-body" in message


@pytest.mark.parametrize("name, volume, words", [
    ("binary cord", lambda: Volume(_cord_tube(_grid(4)[0]).astype(np.uint8), _grid(4)[0]), ["binary", "value 1"]),
    ("vertebrae out of order", lambda: _spine([3, 5, 4, 6]), ["values 3-6", "value 5 lies", "above value 4"]),
    ("unknown classes", lambda: _spine([300, 301]), ["values 300-301", "outside"]),
    ("empty", lambda: _spine([0, 0]), ["no labels"]),
])
def test_images_that_fit_no_kind_are_refused_saying_what_was_seen(name, volume, words):
    message = _refusal(volume())
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("make, kind", [(lambda: _spine([3, 4, 5, 6, 7]), "verse"),
                                        (lambda: _labelled_cord([2, 3, 4, 5, 6]), "sct-labeled")])
def test_an_oblique_grid_gets_the_same_answer(make, kind):
    # The same voxels on a grid tilted 20 degrees about the left-right axis: a tilted spine in LPS.
    vol = make()
    t = np.radians(20)
    tilt = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    g = vol.geometry
    oblique = Volume(vol.array, Geometry(g.shape, g.spacing, g.origin, tilt @ g.direction_matrix))
    assert detect_kind(oblique).kinds == (kind,)


def test_cord_labels_out_of_order_are_not_a_labelled_cord():
    vol = _labelled_cord([2, 4, 3, 5])
    assert "sct-labeled" not in detect_kind(vol).kinds


# ---------------------------------------------------------------------------- realistic vertebrae
# VertebraPhantom's vertebrae touch their neighbours as real segmentations do (facets reaching into
# the next level, uncinate processes, spinous processes), across 50-80 % of a mean section; its
# cord is a 7 x 10 mm (cervical) tube in the canal. Cervical C2..T2; thoracic T1..T7: TotalSegmentator values
# 51 - level, so from T3 (41) down every value is also a total_v1 class (see the refusal below).
VERTEBRA_LEVELS = {"cervical": (0, 8), "thoracic": (0, 6)}
VERTEBRA_READERS = {"verse": LevelModel.from_verse, "spineps": LevelModel.from_spineps,
                    "totalsegmentator": LevelModel.from_totalsegmentator}
GRIDS = {"axial 1 mm": ("axial", 1.0, None), "sagittal 1.5 mm": ("sagittal", 1.5, None),
         "sagittal 0.7 x 0.7 x 3 mm": ("sagittal", 0.7, 3.0), "axial 0.8 x 0.8 x 3 mm": ("axial", 0.8, 3.0)}


def _vertebra_phantom_mask(region, convention, grid="axial 1 mm", order="LPS", levels=None):
    ph = VertebraPhantom(region, levels or VERTEBRA_LEVELS[region])
    plane, spacing, slice_mm = GRIDS[grid]
    return ph, ph.mask(ph.geometry(plane=plane, order=order, spacing=spacing, slice_mm=slice_mm), convention)


@pytest.mark.parametrize("order", ["LPS", "RAS"])
@pytest.mark.parametrize("grid", list(GRIDS))
@pytest.mark.parametrize("region", list(VERTEBRA_LEVELS))
@pytest.mark.parametrize("convention", list(VERTEBRA_READERS))
def test_touching_vertebrae_are_recognised(convention, region, grid, order):
    ph, vol = _vertebra_phantom_mask(region, convention, grid, order)
    assert detect_kind(vol).kinds == (convention,), detect_kind(vol).rejected.get(convention)
    auto, direct = read_levels(vol), VERTEBRA_READERS[convention](vol)
    assert auto.landmark_names == direct.landmark_names
    np.testing.assert_allclose(auto.landmark_positions, direct.landmark_positions, atol=1e-6)
    # The discs the phantom was built with, numbered as in levels.names.
    assert [m.name for m in auto.landmarks if m.kind == "disc"] == [disc_name(k) for k in ph.disc_indices]


@pytest.mark.parametrize("region", list(VERTEBRA_LEVELS))
@pytest.mark.parametrize("convention", list(VERTEBRA_READERS))
def test_every_pair_of_touching_vertebrae_is_recognised(convention, region):
    """Two vertebrae, the shortest chain, at every level of the region (coarse 2 mm grid)."""
    n = len(VertebraPhantom(region).spine.level_indices)
    for first in range(n - 1):
        ph = VertebraPhantom(region, (first, first + 1))
        vol = ph.mask(ph.geometry(spacing=2.0), convention)
        levels = [ph.spine.level_indices[i] for i in ph.levels]
        # total 26-41 alone is also total_v1 (numbered 41 = C1): refused as ambiguous by design.
        both = convention == "totalsegmentator" and max(51 - x for x in levels) <= 41
        expected = ("totalsegmentator", "totalsegmentator-v1") if both else (convention,)
        assert detect_kind(vol).kinds == expected, (region, first, detect_kind(vol).rejected)


def test_thoracic_totalsegmentator_below_t2_fits_total_and_total_v1():
    # T3..T8 are total classes 41..36; total_v1 numbers vertebrae_C1 = 41 .. C6 = 36.
    _, vol = _vertebra_phantom_mask("thoracic", "totalsegmentator", levels=(2, 7))
    message = _refusal(vol)
    assert "totalsegmentator (" in message and "= T3-T8" in message.split("totalsegmentator (")[1]
    assert "= C1-C6" in message.split("totalsegmentator-v1 (")[1]
    assert read_levels(vol, "totalsegmentator").landmark_names == _discs(10, 15)     # T3/T4 .. T7/T8


@pytest.mark.parametrize("grid", ["axial 1 mm", "sagittal 0.7 x 0.7 x 3 mm"])
@pytest.mark.parametrize("region", list(VERTEBRA_LEVELS))
def test_the_phantom_cord_labelled_by_level_is_a_labelled_cord(region, grid):
    """The same spine's cord, labelled SCT-style (level v from disc centre to disc centre): a thin tube
    whose levels meet across the whole cord section, told apart from the vertebrae around it."""
    ph, vertebrae = _vertebra_phantom_mask(region, "verse", grid)
    g = vertebrae.geometry
    s, _, _ = ph.spine.coordinates(g.index_to_world(np.indices(g.shape).reshape(3, -1).T))
    first, last = ph.levels
    b = ph.spine.boundaries
    inside = ph.cord(g).ravel() & (s > b[first]) & (s < b[last + 1])
    levels = np.asarray(ph.spine.level_indices)[ph.spine.level_of_s(s)]
    cord = Volume(np.where(inside, levels, 0).reshape(g.shape).astype(np.int16), g)
    assert detect_kind(cord).kinds == ("sct-labeled",), detect_kind(cord).rejected
    values = [ph.spine.level_indices[i] for i in (first, last)]
    assert read_levels(cord).disc_names == _discs(values[0] - 1, values[1] + 1)
    assert detect_kind(vertebrae).kinds == ("verse",)


# ---------------------------------------------------------------------------- real data
def test_real_sct_files(shared_data):
    t2 = shared_data / "sct_t2"
    labeled = read_nifti(t2 / "t2_seg-manual_labeled.nii.gz")      # PSR on disk
    assert _kinds(labeled) == {("sct-labeled",)}
    direct = LevelModel.from_sct_labeled_cord(labeled)
    assert read_levels(t2 / "t2_seg-manual_labeled.nii.gz").disc_names == direct.disc_names
    # labels.nii.gz: values 3 and 5, single voxels; SCT's own tests pass it as disc and as body labels.
    labels = read_nifti(t2 / "labels.nii.gz")
    assert _kinds(labels) == {("sct-discs", "sct-body")}
    with pytest.raises(InputError) as err:
        read_levels(t2 / "labels.nii.gz")
    assert "labels.nii.gz" in str(err.value) and "--levels-kind sct-discs" in str(err.value)
    # The two readings, by SCT's conventions (value n = disc n-1/n, or the middle of vertebra n).
    assert "C2/C3, C4/C5" in str(err.value) and ": C3, C5" in str(err.value)
    # The binary cord mask is not levels.
    with pytest.raises(InputError, match="binary"):
        read_levels(t2 / "t2_seg-manual.nii.gz")


def test_landmark_suffixes_go_to_the_landmark_reader(tmp_path):
    csv = tmp_path / "discs.csv"
    csv.write_text("name,x,y,z\nC4/C5,0,0,10\nC5/C6,0,0,-10\n")
    assert read_levels(csv).landmark_names == ["C4/C5", "C5/C6"]
    for name in ("points.mrk.json", "points.fcsv"):
        (tmp_path / name).write_text("not landmarks")
        with pytest.raises(InputError) as err:        # read (and refused) as landmarks, not as an image
            read_levels(tmp_path / name)
        assert name in str(err.value)


# ---------------------------------------------------------------------------- the reported bug
def _lesionview() -> list[str]:
    exe = Path(sys.executable).with_name("lesionview")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lesionview"]


def test_cli_reads_a_verse_mask_as_verse_not_as_a_labelled_cord(tmp_path):
    """A VerSe mask given with --levels-kind auto was read as an SCT labelled cord, without a warning
    (users' C6 lesions came out C5; this phantom's C6 lesion came out C7)."""
    vol = _spine([3, 4, 5, 6, 7])
    g = vol.geometry
    w = g.index_to_world(np.indices(g.shape).reshape(3, -1).T).reshape(*g.shape, 3)
    c6_mid = _body_top(3) - BODY / 2                          # 4th vertebra from the top: C6
    lesion = np.hypot(np.hypot(w[..., 0], w[..., 1] - 3), w[..., 2] - c6_mid) <= 3
    paths = {}
    for name, array in (("lesions", lesion), ("cord", _cord_tube(g)), ("verse", vol.array)):
        paths[name] = write_nifti(array.astype(np.int16), tmp_path / f"{name}.nii.gz", geometry=g)
    out = tmp_path / "out"
    res = subprocess.run([*_lesionview(), "measure", paths["lesions"], "--levels", paths["verse"],
                          "--cord", paths["cord"], "--out", out],
                         capture_output=True, text=True, timeout=180, check=False)
    if res.returncode == 2:                                   # a refusal would be acceptable, not C5
        assert "--levels-kind" in res.stderr, res.stderr
        return
    assert res.returncode == 0, res.stderr
    lesions = json.loads((out / "measurements.json").read_text())["lesions"]
    assert [(les["levels"]["first"], les["levels"]["last"]) for les in lesions] == [("C6", "C6")]


# ---------------------------------------------------------------------------- cut by the field of view
def _cut_by_fov(ph: VertebraPhantom, g: Geometry, convention: str, kept_mm: float, side: str) -> Volume:
    """``convention``'s mask of ``ph`` on ``g``, cropped as a scan whose field of view stops ``kept_mm``
    (head-foot) into the lowest vertebra (``side`` "bottom") or the highest ("top")."""
    level = ph.spine.level_indices[ph.levels[1] if side == "bottom" else ph.levels[0]]
    col = int(np.argmax(np.abs(np.asarray(g.direction_matrix)[2])))
    z = g.index_to_world(np.argwhere(ph.mask(g, "verse").array == level))[:, 2]
    line = np.zeros((g.shape[col], 3))
    line[:, col] = np.arange(g.shape[col])
    zi = g.index_to_world(line)[:, 2]
    i = np.flatnonzero(zi >= z.max() - kept_mm if side == "bottom" else zi <= z.min() + kept_mm)
    box = tuple(slice(int(i.min()), int(i.max()) + 1) if k == col else slice(None) for k in range(3))
    return Volume(ph.mask(g, convention).array[box], g.cropped(box))


@pytest.mark.parametrize("kept_mm", [4, 7, 13])
@pytest.mark.parametrize("side", ["bottom", "top"])
@pytest.mark.parametrize("grid", ["sagittal 0.7 x 0.7 x 3 mm", "axial 0.8 x 0.8 x 3 mm"])
@pytest.mark.parametrize("region", ["cervical", "thoracic"])
def test_a_vertebra_cut_by_the_field_of_view_is_still_recognised(region, grid, side, kept_mm):
    """The cut vertebra touches the array's border: too small, and too close to its neighbour's
    centroid, to pass as a whole vertebra, it counts for the order only."""
    ph = VertebraPhantom(region, {"cervical": (0, 6), "thoracic": (0, 5)}[region])
    plane, spacing, slice_mm = GRIDS[grid]
    g = ph.geometry(plane=plane, spacing=spacing, slice_mm=slice_mm)
    for convention in ("verse", "spineps"):
        vol = _cut_by_fov(ph, g, convention, kept_mm, side)
        assert detect_kind(vol).kinds == (convention,), detect_kind(vol).rejected.get(convention)
        assert read_levels(vol).landmark_names == VERTEBRA_READERS[convention](vol).landmark_names


def test_a_short_vertebra_inside_the_array_is_still_judged_by_its_size():
    """Only the array's border excuses a small label: the same 4 mm sliver zeroed inside the array is
    not vertebra-sized, and the mask is refused as before."""
    ph = VertebraPhantom("thoracic", (0, 5))
    g = ph.geometry(plane="sagittal", spacing=0.7, slice_mm=3.0)
    a = ph.mask(g, "verse").array.copy()
    level = ph.spine.level_indices[ph.levels[1]]
    idx = np.argwhere(a == level)
    z = g.index_to_world(idx)[:, 2]
    a[tuple(idx[z < z.max() - 4].T)] = 0
    assert "verse" not in detect_kind(Volume(a, g)).kinds
