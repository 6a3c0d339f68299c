"""Vertebral levels: names, disc planes on a curved cord, landmark files, SCT / VerSe / TotalSegmentator."""

import json

import numpy as np
import pytest

from lesionview.cord import Centerline
from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.io.nifti import read_nifti
from lesionview.levels import LevelModel, disc_name, index_of, name_of, span_label
from lesionview.volume import Volume

PSR = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


# ---------------------------------------------------------------------------- names
def test_level_names_and_indices():
    assert [name_of(i) for i in (1, 7, 8, 19, 20, 24, 25)] == ["C1", "C7", "T1", "T12", "L1", "L5", "S1"]
    assert index_of("t1") == 8 and index_of("L1") == 20
    assert [disc_name(k) for k in (0, 1, 4, 7, 19, 24)] == ["C0/C1", "C1/C2", "C4/C5", "C7/T1", "T12/L1", "L5/S1"]
    assert span_label("C5", "C6") == "C5-C6" and span_label("C5", "C5") == "C5" and span_label(None, None) == "unknown"


def test_unknown_landmark_names_are_listed():
    with pytest.raises(InputError) as err:
        LevelModel.from_landmarks(["C5", "C9", "C4/C6", "disc"], np.zeros((4, 3)))
    msg = str(err.value)
    assert "'C9'" in msg and "'C4/C6'" in msg and "'disc'" in msg and "'C5'" not in msg
    assert "C4/C5" in msg          # the accepted forms are spelled out


def test_landmark_errors():
    with pytest.raises(InputError, match="at least two"):
        LevelModel.from_landmarks(["C4/C5"], [[0, 0, 0]])
    with pytest.raises(InputError, match="more than once"):
        LevelModel.from_landmarks(["C4/C5", "C4-C5"], [[0, 0, 0], [0, 0, -1]])
    with pytest.raises(InputError, match="order"):      # C5 above C4: names swapped
        LevelModel.from_landmarks(["C3", "C4", "C5"], [[0, 0, 0], [0, 0, -30], [0, 0, -15]])
    with pytest.raises(InputError, match="upwards"):    # RAS given as LPS would not do this, a flipped z would
        LevelModel.from_landmarks(["C3", "C5"], [[0, 0, 0], [0, 0, 30]])


# ---------------------------------------------------------------------------- plane model
def test_body_centres_put_discs_midway_and_extend_half_a_vertebra():
    m = LevelModel.from_landmarks(["C3", "C4", "C5"], [[0, 0, 0], [0, 0, -15], [0, 0, -30]])
    assert m.disc_names == ["C2/C3", "C3/C4", "C4/C5", "C5/C6"]
    np.testing.assert_allclose(m.disc_points[:, 2], [7.5, -7.5, -22.5, -37.5])
    z = np.array([8.0, 7.0, -7.0, -8.0, -37.0, -38.0])
    assert m.level_names_of(np.c_[np.zeros((6, 2)), z]) == ["", "C3", "C3", "C4", "C5", ""]


def test_discs_only_extend_one_vertebral_height():
    m = LevelModel.from_landmarks(["C2/C3", "C3/C4"], [[0, 0, 0], [0, 0, -15]])
    z = np.array([16.0, 14.0, 1.0, -1.0, -16.0, -29.0, -31.0])
    assert m.level_names_of(np.c_[np.zeros((7, 2)), z]) == ["", "C2", "C2", "C3", "C4", "C4", ""]
    # A point exactly on a disc plane belongs to the level above.
    assert m.level_names_of([[0, 0, 0]]) == ["C2"]


def _curved_cord(radius=70.0, phi0=-0.6, phi1=0.6):
    """Circular-arc cord in the sagittal plane, centre of curvature at (0, R, 0) (posterior).

    c(phi) = (0, R - R cos(phi), -R sin(phi)); arc length s = R (phi - phi0); the tangent
    (0, sin, -cos) points inferior; the normal (0, cos, sin) points to the centre of curvature.
    """
    def point(phi):
        phi = np.atleast_1d(phi)
        return np.stack([np.zeros_like(phi), radius - radius * np.cos(phi), -radius * np.sin(phi)], axis=1)

    def normal(phi):
        phi = np.atleast_1d(phi)
        return np.stack([np.zeros_like(phi), np.cos(phi), np.sin(phi)], axis=1)
    centerline = Centerline(point(np.linspace(phi0, phi1, 400)), source="arc")
    return point, normal, centerline


def test_curved_cord_needs_planes_perpendicular_to_the_cord():
    radius = 70.0
    point, normal, centerline = _curved_cord(radius)
    # Discs C2/C3 ... C6/C7 every 16 mm of cord; SCT-style landmarks on the disc's posterior
    # tip, i.e. 9 mm anterior of the cord centre, along the cord's normal.
    ks = np.arange(2, 7)
    phis = -0.55 + (ks - 2) * 16.0 / radius
    tips = point(phis) - 9.0 * normal(phis)
    names = [disc_name(k) for k in ks]
    # Cord points 2 mm below each disc, measured along the cord: they are in level k + 1.
    probes = point(phis + 2.0 / radius)
    expected = ks + 1
    naive = np.array([ks[0] + np.sum(p[2] < tips[:, 2]) for p in probes])   # compare z only
    assert np.any(naive != expected), "the synthetic curve must defeat a plain z comparison"
    with_cl = LevelModel.from_landmarks(names, tips, centerline=centerline)
    np.testing.assert_array_equal(with_cl.level_of(probes), expected)
    # The same with discs given on the cord and probes 2 mm above each disc.
    np.testing.assert_array_equal(with_cl.level_of(point(phis - 2.0 / radius)), ks)
    # Without a centerline, the line joining neighbouring discs is used: on this arc it is
    # parallel to the cord at each interior disc, so it gets them right too.
    without = LevelModel.from_landmarks(names, tips)
    np.testing.assert_array_equal(without.level_of(probes[1:-1]), expected[1:-1])
    # Attaching a centerline later gives the same model as building with it.
    np.testing.assert_allclose(without.with_centerline(centerline).disc_normals, with_cl.disc_normals)


def test_fractions_span_and_check_inside():
    g = Geometry((10, 10, 40), spacing=(1, 1, 1), origin=(-5, -5, -30))
    m = LevelModel.from_landmarks(["C4/C5", "C5/C6", "C6/C7"], [[0, 0, 0], [0, 0, -10], [0, 0, -20]])
    mask = np.zeros(g.shape, bool)
    mask[4:6, 4:6, 25:36] = True       # z = -5 .. 5: C4 (z >= 0, the disc plane goes up) and C5
    fr = m.level_fractions(mask, g)
    assert list(fr) == ["C4", "C5"]
    assert fr["C4"] == pytest.approx(6 / 11) and fr["C5"] == pytest.approx(5 / 11)
    assert m.span(mask, g) == ("C4", "C5", 2)
    assert m.span_label(mask, g) == "C4-C5" and m.levels_of_mask(mask, g) == ["C4", "C5"]
    assert m.span(np.zeros(g.shape), g) == (None, None, 0)
    m.check_inside(g)
    far = LevelModel.from_landmarks(["C4/C5", "C5/C6"], [[0, 0, 0], [0, 80, -10]])
    with pytest.raises(InputError, match=r"C5/C6 at \(0.0, 80.0, -10.0\)"):
        far.check_inside(g)


# ---------------------------------------------------------------------------- files
@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_landmark_file_round_trip(tmp_path, suffix):
    names = ["C2/C3", "C4", "C5/C6"]
    pos = np.array([[1.25, -3.5, 20.0], [1.0, -2.0, 1.125], [0.5, 1.0, -14.0]])
    m = LevelModel.from_landmarks(names, pos)
    path = m.save_landmarks(tmp_path / f"marks{suffix}")
    back = LevelModel.from_file(path)
    assert back.landmark_names == names
    np.testing.assert_array_equal(back.landmark_positions, pos)
    probes = np.random.default_rng(0).uniform([-10, -10, -40], [10, 10, 40], size=(200, 3))
    np.testing.assert_array_equal(back.level_of(probes), m.level_of(probes))
    # Written in RAS, read back as the same LPS points.
    ras = m.save_landmarks(tmp_path / f"ras{suffix}", space="RAS")
    np.testing.assert_allclose(LevelModel.from_file(ras).landmark_positions, pos)


def test_csv_space_comment_and_column(tmp_path):
    p = tmp_path / "clicks.csv"
    p.write_text("# exported from Slicer; space: RAS\nname,x,y,z,space\nC3,10,20,0,\nC4,10,20,-15,LPS\n")
    m = LevelModel.from_file(p)
    np.testing.assert_allclose(m.landmark_positions, [[-10, -20, 0], [10, 20, -15]])


def test_file_with_unknown_names_names_the_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"landmarks": [{"name": "C4/C5", "position": [0, 0, 0]},
                                           {"name": "C8", "x": 0, "y": 0, "z": -10}]}))
    with pytest.raises(InputError) as err:
        LevelModel.from_file(p)
    assert "'C8'" in str(err.value) and str(p) in str(err.value)
    q = tmp_path / "bad.csv"
    q.write_text("label,x,y,z\nC4,0,0,0\n")
    with pytest.raises(InputError, match="name"):
        LevelModel.from_file(q)


# ---------------------------------------------------------------------------- SCT
def test_sct_disc_label_values():
    g = Geometry((5, 5, 60))
    a = np.zeros(g.shape, np.int16)
    a[2, 2, 55], a[2, 2, 40], a[2, 2, 25], a[2, 2, 58] = 1, 2, 3, 50     # 50 = PMJ: ignored
    m = LevelModel.from_sct_disc_labels(Volume(a, g))
    assert m.landmark_names == ["C0/C1", "C1/C2", "C2/C3"]
    assert m.level_names_of([[2, 2, 50], [2, 2, 30], [2, 2, 20]]) == ["C1", "C2", "C3"]
    a[2, 2, 10] = 60
    with pytest.raises(InputError, match="60"):
        LevelModel.from_sct_disc_labels(Volume(a, g))


@pytest.fixture(scope="module")
def sct(shared_data):
    t2 = shared_data / "sct_t2"
    return {"labeled": read_nifti(t2 / "t2_seg-manual_labeled.nii.gz"),
            "labels": read_nifti(t2 / "labels.nii.gz")}


def test_sct_labelled_cord_is_reproduced_exactly(sct):
    vol = sct["labeled"]
    m = LevelModel.from_sct_labeled_cord(vol)
    a = np.rint(vol.array).astype(int)
    idx = np.argwhere(a > 0)
    np.testing.assert_array_equal(m.level_of(vol.geometry.index_to_world(idx)), a[tuple(idx.T)])
    assert m.disc_names == ["C1/C2", "C2/C3", "C3/C4", "C4/C5", "C5/C6"]     # C2..C5 labelled
    assert m.level_fractions(a == 3, vol.geometry) == {"C3": 1.0}
    # The planes alone (for points off the labelled voxels) agree with SCT on >= 99% of its
    # voxels; the rest is the C4/C5 boundary, which the file draws obliquely across two slices.
    planes = LevelModel(m.landmarks, centerline=m.centerline)
    agree = planes.level_of(vol.geometry.index_to_world(idx)) == a[tuple(idx.T)]
    assert agree.mean() > 0.99
    assert set(a[tuple(idx[~agree].T)]) <= {4, 5}


def test_sct_levels_do_not_depend_on_storage_order(sct):
    psr = sct["labeled"]
    assert psr.geometry.orientation == "PSR"
    lps = psr.reoriented("LPS")
    a, b = LevelModel.from_sct_labeled_cord(psr), LevelModel.from_sct_labeled_cord(lps)
    np.testing.assert_allclose(a.disc_points, b.disc_points, atol=0.02)
    idx = np.argwhere(psr.array > 0)
    world = psr.geometry.index_to_world(idx)
    np.testing.assert_array_equal(a.level_of(world), b.level_of(world))
    # Points anywhere in the field of view (mostly off the labelled voxels: plane model).
    g = psr.geometry
    probes = g.index_to_world(np.random.default_rng(1).uniform(0, np.array(g.shape) - 1, size=(5000, 3)))
    np.testing.assert_array_equal(a.level_of(probes), b.level_of(probes))
    # And the level fractions of a mask stored either way.
    mask = psr.array > 0
    lps_mask = lps.array > 0
    assert a.level_fractions(mask, g) == pytest.approx(b.level_fractions(lps_mask, lps.geometry))


def test_sct_test_labels_against_the_labelled_cord(sct):
    """labels.nii.gz (values 3 and 5, single voxels in the cord) against t2_seg-manual_labeled.

    Read with SCT's disc convention (value n = disc between vertebrae n-1 and n) they would be
    C2/C3 and C4/C5, but they do not sit at the labelled cord's C2/C3 and C4/C5 boundaries:
    they lie mid-level in its C2 and C4, 8.5 and 5.4 mm from those boundaries along the cord
    (and in the image they sit mid-body, not on a disc).
    Read with SCT's vertebral-level point convention (value n at the middle of vertebra n; SCT's
    own tests pass this file as ``sct_register_to_template -l``) they give disc planes that
    coincide within a millimetre with the labelled cord's boundaries, one number higher: the
    two files agree on the geometry and differ by one in numbering. This test pins that, so
    nobody "fixes" one file to match the other by accident.
    """
    discs = LevelModel.from_sct_disc_labels(sct["labels"])
    assert discs.landmark_names == ["C2/C3", "C4/C5"]
    g = sct["labels"].geometry
    np.testing.assert_allclose(discs.landmark_positions,
                               g.index_to_world(np.array([[31, 44, 26], [32, 9, 26]])))
    cord = LevelModel.from_sct_labeled_cord(sct["labeled"])
    cl = cord.centerline
    assert cord.level_names_of(discs.landmark_positions) == ["C2", "C4"]
    assert cord.disc_names[1::2] == ["C2/C3", "C4/C5"]
    gap = cl.arclength_of(cord.disc_points[1::2]) - cl.arclength_of(discs.landmark_positions)
    np.testing.assert_allclose(gap, [8.5, 5.4], atol=1.0)

    bodies = LevelModel.from_sct_body_labels(sct["labels"]).with_centerline(cl)
    assert bodies.landmark_names == ["C3", "C5"]
    assert bodies.disc_names[1:3] == ["C3/C4", "C4/C5"] and cord.disc_names[1:3] == ["C2/C3", "C3/C4"]
    np.testing.assert_allclose(cl.arclength_of(bodies.disc_points[1:3]),
                               cl.arclength_of(cord.disc_points[1:3]), atol=1.0)


# ---------------------------------------------------------------------------- vertebra masks
def _stacked_vertebrae(values, *, height=16, gap=4, with_posterior_elements=True):
    """Blocks stacked from superior to inferior in an LPS grid (1 mm), one label per block.

    Each block has a posterior 'spinous process' hanging 6 mm into the next level, as real
    cervical vertebrae do, so a naive extent-based boundary would be wrong.
    """
    n = len(values)
    nz = n * (height + gap) + gap
    g = Geometry((30, 40, nz), spacing=(1, 1, 1), origin=(-15, -20, -nz + 1.0))
    a = np.zeros(g.shape, np.int16)
    discs = []
    for i, v in enumerate(values):
        top = nz - 1 - gap - i * (height + gap)          # array index of the block's top slice
        a[5:25, 5:22, top - height + 1: top + 1] = v     # body + arch, anterior (y small)
        if with_posterior_elements:
            a[13:17, 22:36, top - height - 5: top - 3] = v
        if i < n - 1:
            discs.append(g.index_to_world([0, 0, top - height - gap / 2 + 0.5])[2])
    return g, a, np.array(discs)


def test_verse_masks_give_discs_between_vertebrae():
    g, a, disc_z = _stacked_vertebrae([3, 4, 5, 6])          # C3..C6
    m = LevelModel.from_verse(Volume(a, g))
    assert m.landmark_names == ["C3/C4", "C4/C5", "C5/C6"]
    np.testing.assert_allclose(m.landmark_positions[:, 2], disc_z, atol=1.0)
    # Every body voxel gets its own level (bodies are y < 22 in this phantom).
    body = a.copy()
    body[:, 22:, :] = 0
    idx = np.argwhere(body > 0)
    np.testing.assert_array_equal(m.level_of(g.index_to_world(idx)), body[tuple(idx.T)])
    assert m.modelled_levels == ["C3", "C4", "C5", "C6"]


def test_verse_transitional_vertebrae_are_refused():
    g, a, _ = _stacked_vertebrae([23, 24, 25])                # L4, L5, L6
    with pytest.raises(InputError, match="L6"):
        LevelModel.from_verse(Volume(a, g))


def test_totalsegmentator_class_map():
    g, a, _disc_z = _stacked_vertebrae([3, 4, 5, 6])
    # 'total' task: vertebrae_C3 = 48 ... vertebrae_C6 = 45 (map_to_binary.py).
    ts = np.where(a > 0, 51 - a, 0).astype(np.int16)
    ts[0, 0, 0] = 79                                           # spinal_cord: not a vertebra
    m = LevelModel.from_totalsegmentator(Volume(ts, g))
    verse = LevelModel.from_verse(Volume(a, g))
    assert m.landmark_names == verse.landmark_names
    np.testing.assert_allclose(m.landmark_positions, verse.landmark_positions)
    # Thoracolumbar junction: T12 = 32, L1 = 31, and S1 = 26 below L5 = 27.
    g2, a2, _ = _stacked_vertebrae([32, 31])
    # (A pair of vertebrae has one disc, so their centroids anchor the model too.)
    tl = LevelModel.from_totalsegmentator(Volume(a2, g2))
    assert tl.landmark_names == ["T12/L1", "T12", "L1"]
    assert tl.level_names_of(tl.landmark_positions[1:]) == ["T12", "L1"]
    g3, a3, _ = _stacked_vertebrae([27, 26])
    assert LevelModel.from_totalsegmentator(Volume(a3, g3)).landmark_names[0] == "L5/S1"
    # vertebrae_mr task: 2 = L5 ... 25 = C1.
    g4, a4, _ = _stacked_vertebrae([25, 24])
    assert LevelModel.from_totalsegmentator(Volume(a4, g4), task="vertebrae_mr").landmark_names[0] == "C1/C2"
    with pytest.raises(InputError, match="no vertebrae"):
        LevelModel.from_totalsegmentator(Volume(np.where(a > 0, 79, 0).astype(np.int16), g))
