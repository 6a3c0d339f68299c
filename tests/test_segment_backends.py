"""Segmentation back ends: prompts, discovery through entry points, the classical wrapper.

Third-party back ends come from a toy package installed in ``tmp_path`` with a real
``*.dist-info/entry_points.txt`` (tests/backend_helpers.py), so the discovery tested is the one a
site's model package goes through. Oracle for "classical": the tools themselves, called directly.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
from backend_helpers import install_toy_backends

from lesionview.cord import centerline_from_mask
from lesionview.errors import InputError
from lesionview.geometry import Geometry, reorient
from lesionview.io import load_volume
from lesionview.phantom import sample_path
from lesionview.segment import (
    Box,
    Point,
    Scribble,
    Segmentation,
    SegmentationBackend,
    available_backends,
    backends,
    get_backend,
    grow_edema,
    grow_lesion,
    segment_cord,
    segment_with,
)
from lesionview.segment.backends import BackendError, check_prompts
from lesionview.volume import Volume


@pytest.fixture
def toys(tmp_path, monkeypatch):
    return install_toy_backends(tmp_path, monkeypatch)


@pytest.fixture
def blob():
    """A 4 mm bright cube in a 20 mm grid of 1 mm voxels, and its centre."""
    g = Geometry((20, 20, 20), spacing=(1.0, 1.0, 1.0), origin=(-10.0, -10.0, -10.0))
    image = np.full(g.shape, 100.0)
    image[8:12, 8:12, 8:12] = 300.0
    return g, image, g.index_to_world([9.5, 9.5, 9.5])


# ---------------------------------------------------------------------------------- listing
def test_classical_is_always_there_and_first():
    found = available_backends()
    assert next(iter(found)) == "classical"
    info = found["classical"]
    assert info.available and not info.reason
    assert info.targets == {"lesion", "edema", "cord"}
    assert isinstance(get_backend("classical"), SegmentationBackend)


def test_installed_backends_are_listed_broken_ones_with_the_reason(toys):
    found = available_backends()
    assert next(iter(found)) == "classical"
    sphere = found["toysphere"]
    assert sphere.available and sphere.targets == {"lesion"}
    assert sphere.description == "threshold in a 3 mm sphere (tests)"
    assert "lesionview-toy-backends 0.1" in sphere.source
    # Missing weights: the back end says so itself; nothing is fetched.
    weights = found["toyweights"]
    assert not weights.available and "weights not found in /nonexistent/toy-model" in weights.reason
    # An import error and an object that is not a back end: listed, not raised.
    assert not found["toybroken"].available
    assert "ModuleNotFoundError" in found["toybroken"].reason
    assert "lesionview_toy_missing_module" in found["toybroken"].reason
    assert not found["toynumber"].available and "not a SegmentationBackend" in found["toynumber"].reason
    assert found["toycrash"].available   # fails only when it runs
    # A factory (its problem() asked of the instance): available until first used.
    assert found["toylazy"].available and found["toylazy"].targets == {"lesion", "edema", "cord"}
    # The built-in keeps its name; the other one is listed apart, unavailable.
    assert found["classical"].source == "lesionview"
    taken = found["classical (lesionview_toy_backends:SphereBackend (lesionview-toy-backends 0.1))"]
    assert not taken.available and taken.reason.startswith("the name 'classical' is taken by lesionview")
    # A model is made once per session (its weights loaded once).
    assert get_backend("toysphere") is get_backend("toysphere")

    with pytest.raises(InputError, match="'toybroken' cannot run: ModuleNotFoundError"):
        get_backend("toybroken")
    with pytest.raises(InputError, match="weights not found"):
        segment_with("toyweights", {"t1c": np.zeros((4, 4, 4))}, Geometry((4, 4, 4)), Point((1, 1, 1)), "lesion")
    with pytest.raises(InputError, match="no segmentation back end is called 'nnunet'; installed: classical, "):
        get_backend("nnunet")


def test_listing_makes_no_backend_and_asks_only_cheap_problems(toys):
    """The Segment widget lists on the GUI thread: no model is made, no instance problem() asked."""
    found = available_backends()
    assert toys.MADE == []
    assert sorted(set(toys.ASKED)) == ["BigBackend", "CrashingBackend", "SphereBackend", "WeightsBackend"]
    assert "LazyBackend" not in toys.ASKED and found["toylazy"].available


def test_a_backend_is_looked_up_by_its_name_once_and_kept(toys, blob, monkeypatch):
    g, image, centre = blob
    lookups = []

    def counted(**select):
        lookups.append(select)
        return entry_points(**select)

    entry_points = backends.entry_points
    monkeypatch.setattr(backends, "entry_points", counted)
    for _ in range(3):
        assert segment_with("toysphere", {"t1c": image}, g, Point(centre), "lesion").ok
    # One look-up, of that name only (the other entry points are not loaded), one back end made.
    assert lookups == [{"group": backends.ENTRY_POINT_GROUP, "name": "toysphere"}]
    assert toys.MADE == ["SphereBackend"] and get_backend("toysphere") is get_backend("toysphere")
    assert toys.ASKED.count("SphereBackend") == 6   # before it is made, then at each use: it is cheap
    segment_with("classical", {"t1c": image}, g, Point(centre), "lesion")
    assert len(lookups) == 1


def test_a_backend_that_cannot_be_made_is_listed_unavailable_once_tried(toys, monkeypatch):
    tries = []

    def explode(self):
        tries.append(1)
        raise OSError("no GPU")

    monkeypatch.setattr(toys.SphereBackend, "__init__", explode)
    assert available_backends()["toysphere"].available and not tries   # not made to be listed
    for _ in range(2):
        with pytest.raises(InputError, match="'toysphere' cannot run: OSError: no GPU"):
            get_backend("toysphere")
    assert len(tries) == 1   # not retried in the session
    info = available_backends()["toysphere"]
    assert not info.available and info.reason == "OSError: no GPU"
    assert available_backends()["classical"].available


def test_an_instance_problem_is_asked_when_the_backend_is_first_used(toys, blob):
    g, image, centre = blob
    with pytest.raises(InputError, match="'toylazy' cannot run: weights not found in /nonexistent/lazy-model"):
        segment_with("toylazy", {"t1c": image}, g, Point(centre), "lesion")
    assert toys.MADE == ["LazyBackend"] and not toys.CALLS
    info = available_backends()["toylazy"]
    assert not info.available and info.reason == "weights not found in /nonexistent/lazy-model"
    assert info.targets == {"lesion"}   # known now that it is made
    # A class-level problem refuses before anything is made.
    with pytest.raises(InputError, match="'toyweights' cannot run: weights not found"):
        get_backend("toyweights")
    assert toys.MADE == ["LazyBackend"]


# ---------------------------------------------------------------------------------- running one
def test_a_third_party_backend_gets_checked_prompts(toys, blob):
    g, image, centre = blob
    seg = segment_with("toysphere", {"t1c": image}, g, [Point(centre)], "lesion", sensitivity=0.7)
    assert seg.ok and seg.details["backend"] == "toysphere"
    assert np.array_equal(seg.mask, image > 200)
    prompts, target, images, masks, options = toys.CALLS[-1]
    assert prompts == (Point(tuple(centre)),) and target == "lesion"
    assert images == ["t1c"] and masks == []
    assert options["sensitivity"] == 0.7
    with pytest.raises(InputError, match="'toysphere' does not segment cords; it does lesion"):
        segment_with("toysphere", {"t2": image}, g, Point(centre), "cord")


def test_check_lesion_refuses_what_any_backend_draws(toys, blob):
    """A region that cannot be an intramedullary lesion is refused whoever drew it."""
    g, image, centre = blob
    seg = segment_with("toybig", {"t1c": image}, g, Point(centre), "lesion")
    assert not np.any(seg.mask) and seg.details["refused"] and "across" in seg.reason
    drawn = segment_with("toybig", {"t1c": image}, g, Point(centre), "lesion", check=False)
    assert drawn.volume_mm3 > 1000


def test_a_failing_or_wrong_backend_raises_a_lesionview_error(toys, blob):
    g, image, centre = blob
    with pytest.raises(BackendError, match="'toycrash' failed: RuntimeError: CUDA out of memory"):
        segment_with("toycrash", {"t1c": image}, g, Point(centre), "lesion")

    class WrongGrid(SegmentationBackend):
        def segment(self, images, geometry, prompts, target, *, masks, **options):
            return Segmentation(np.zeros((3, 3, 3), bool), Geometry((3, 3, 3)))

    with pytest.raises(BackendError, match=r"'WrongGrid' answered a mask on another grid \(shape \(3, 3, 3\)"):
        segment_with(WrongGrid(), {"t1c": image}, g, Point(centre), "lesion")

    class NoAnswer(WrongGrid):
        def segment(self, images, geometry, prompts, target, *, masks, **options):
            return np.ones(geometry.shape, bool)

    with pytest.raises(BackendError, match="'NoAnswer' answered a ndarray, not a Segmentation"):
        segment_with(NoAnswer(), {"t1c": image}, g, Point(centre), "lesion")


def test_a_probability_map_is_refused_labels_are_kept(blob):
    g, image, centre = blob

    class Answers(SegmentationBackend):
        def __init__(self, mask):
            self.mask = mask

        def segment(self, images, geometry, prompts, target, *, masks, **options):
            return Segmentation(self.mask, geometry)

    cube = image > 200
    for dtype in (np.float32, np.float64):
        with pytest.raises(BackendError, match=f"'Answers' answered a {np.dtype(dtype)} mask, not bool or integer "
                                               "labels: a back end thresholds its probabilities itself"):
            segment_with(Answers(cube * dtype(0.9)), {"t1c": image}, g, Point(centre), "lesion")
    for mask in (cube, cube.astype(np.uint8), cube.astype(np.int32) * 3):
        seg = segment_with(Answers(mask), {"t1c": image}, g, Point(centre), "lesion")
        assert seg.volume_mm3 == 64 and seg.mask.dtype == mask.dtype


# ---------------------------------------------------------------------------------- prompts
def test_prompts_check_themselves():
    assert Point([1, 2, 3]).position_lps == (1.0, 2.0, 3.0)
    assert Scribble(np.zeros((2, 3)), positive=False).points == ((0.0, 0.0, 0.0),) * 2
    with pytest.raises(InputError, match=r"must be 3 numbers \(LPS mm\), got shape \(2,\)"):
        Point((1.0, 2.0))
    with pytest.raises(InputError, match="finite"):
        Point((np.nan, 0, 0))
    with pytest.raises(InputError, match="3 numbers"):
        Point("here")
    with pytest.raises(InputError, match="two corners coincide"):
        Box((1, 1, 1), (1, 1, 1))
    with pytest.raises(InputError, match=r"\(N, 3\) array of LPS mm with N >= 1, got shape \(4, 2\)"):
        Scribble(np.zeros((4, 2)))
    with pytest.raises(InputError, match="got shape"):
        Scribble([])
    with pytest.raises(FrozenInstanceError):
        Point((0, 0, 0)).positive = False


def test_a_box_follows_the_image_grid_whatever_the_storage():
    """A rectangle dragged on a slice of an oblique image: the same voxels in any storage order
    (axial, flipped, permuted), and not those of the LPS-aligned box between its corners."""
    c, s = np.cos(np.radians(25)), np.sin(np.radians(25))
    tilt = np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    axial = Geometry((12, 16, 20), spacing=(3.0, 0.8, 0.6), origin=(-20.0, 15.0, 40.0), direction=tilt)
    ids = np.arange(np.prod(axial.shape)).reshape(axial.shape)   # each voxel's identity
    # Dragged on slice 5 from (row 3.2, column 4.7) to (row 11.6, column 15.1): rows 4-11, columns 5-15.
    box = Box(axial.index_to_world([5, 3.2, 4.7]), axial.index_to_world([5, 11.6, 15.1]))
    drawn = set(ids[5, 4:12, 5:16].ravel())
    assert box.slices(axial) == (slice(5, 6), slice(4, 12), slice(5, 16))
    flipped = axial.orientation.translate(str.maketrans("LRPAIS", "RLAPSI"))
    for code in (axial.orientation, flipped, axial.orientation[::-1], flipped[1:] + flipped[0]):
        stored, grid = reorient(ids, axial, code)
        assert set(stored[box.slices(grid)].ravel()) == drawn, code
    # The LPS-aligned box between the corners would miss a third of the rectangle.
    low, high = np.minimum(*box.points), np.maximum(*box.points)
    world = axial.index_to_world(np.argwhere(np.ones(axial.shape, bool)))
    lps_box = set(ids.ravel()[np.all((world >= low) & (world <= high), axis=1)])
    assert len(drawn - lps_box) > len(drawn) / 3
    # A box thinner than a voxel between two slices takes the nearer one; corners at the edge stay on the grid.
    assert Box(axial.index_to_world([2.2, 0, 0]), axial.index_to_world([2.4, 3, 4])).slices(axial)[0] == slice(2, 3)
    assert Box(axial.index_to_world([-0.5, -0.5, -0.5]),
               axial.index_to_world([11.5, 15.5, 19.5])).slices(axial) == tuple(slice(0, n) for n in axial.shape)


def test_prompts_outside_the_image_are_refused():
    g = Geometry((10, 10, 10))
    assert check_prompts(Box((0, 0, 0), (9, 9, 0)), g) == (Box((0, 0, 0), (9, 9, 0)),)
    with pytest.raises(InputError, match=r"^the point at \(2.0, 3.0, 40.0\) mm lies outside the image"):
        check_prompts([Point((2, 3, 40))], g)
    with pytest.raises(InputError, match=r"box #2 at \(0.0, 0.0, -5.0\) mm lies outside"):
        check_prompts([Point((1, 1, 1)), Box((0, 0, -5), (5, 5, 5))], g)
    with pytest.raises(InputError, match="prompt #1 is a tuple, not a Point, Box or Scribble"):
        check_prompts([(1, 1, 1)], g)


def test_bad_inputs_say_what_is_wrong(blob):
    g, image, centre = blob
    run = segment_with
    with pytest.raises(InputError, match="target must be one of lesion, edema, cord; got 'tumour'"):
        run("classical", {"t1c": image}, g, Point(centre), "tumour")
    with pytest.raises(InputError, match="geometry must be a lesionview Geometry"):
        run("classical", {"t1c": image}, None, Point(centre), "lesion")
    with pytest.raises(InputError, match=r"the 't1c' image has shape \(5, 5, 5\)"):
        run("classical", {"t1c": np.zeros((5, 5, 5))}, g, Point(centre), "lesion")
    with pytest.raises(InputError, match=r"the 'cord' mask has shape \(5, 5, 5\)"):
        run("classical", {"t1c": image}, g, Point(centre), "lesion", masks={"cord": np.ones((5, 5, 5))})
    other = Volume(image, Geometry(g.shape, origin=(50.0, 0.0, 0.0)))
    with pytest.raises(InputError, match="'t1c' image is on another grid"):
        run("classical", {"t1c": other}, g, Point(centre), "lesion")
    with pytest.raises(InputError, match="no image was given"):
        run("classical", {}, g, Point(centre), "lesion")
    with pytest.raises(InputError, match="needs the 't1c' image; given: \\['t2'\\]"):
        run("classical", {"t2": image}, g, Point(centre), "lesion")
    with pytest.raises(InputError, match="positive points and scribbles only"):
        run("classical", {"t1c": image}, g, [Point(centre), Point(centre, positive=False)], "lesion")
    with pytest.raises(InputError, match="lesion tool needs one point; got 2 points"):
        run("classical", {"t1c": image}, g, [Point(centre), Point(centre)], "lesion")
    with pytest.raises(InputError, match="lesion tool needs one point, not a scribble; got a scribble"):
        run("classical", {"t1c": image}, g, Scribble([centre]), "lesion")
    with pytest.raises(InputError, match="lesion tool needs one point; got no prompt"):
        run("classical", {"t1c": image}, g, [], "lesion")
    with pytest.raises(InputError, match="edema tool grows from the lesions or one point, not a scribble; "
                                         "got a point and a scribble"):
        run("classical", {"t2": image}, g, [Point(centre), Scribble([centre])], "edema")
    for bad in (2, "high", None):
        with pytest.raises(InputError, match="sensitivity must be a number between 0 and 1"):
            run("classical", {"t1c": image}, g, Point(centre), "lesion", sensitivity=bad)
    # Wrong containers: said in words, never a raw TypeError or ValueError.
    mapping = r'images must be a mapping of role -> image, e\.g\. \{"t1c": array\}; got '
    for bad, kind in ((image, "a bare array"), (Volume(image, g), "a Volume"), (None, "None"), ([image], "a list")):
        with pytest.raises(InputError, match=mapping + kind):
            run("classical", bad, g, Point(centre), "lesion")
    with pytest.raises(InputError, match=r'masks must be a mapping of role -> mask, e\.g\. \{"cord": array\}; got a list'):
        run("classical", {"t1c": image}, g, Point(centre), "lesion", masks=[np.ones(g.shape)])
    for bad, kind in ((None, "None"), (centre, "a bare array"), ("here", "a str"), (3, "an int")):
        with pytest.raises(InputError, match=f"prompts must be a Point, Box or Scribble or a sequence of them; "
                                             f"got {kind}. Wrap positions"):
            run("classical", {"t1c": image}, g, bad, "lesion")
    with pytest.raises(InputError, match="the 't1c' image is not an array"):
        run("classical", {"t1c": [[1, 2], [3]]}, g, Point(centre), "lesion")
    # A Volume brings its own grid.
    assert run("classical", {"t1c": Volume(image, g)}, None, Point(centre), "lesion").volume_mm3 == 64


# ---------------------------------------------------------------------------------- classical
def test_classical_gives_the_tools_own_masks():
    """On the twin phantom: lesions (with and without the cord), the cord from clicks and edema
    from the lesions, through the back end and through the tools directly, voxel for voxel."""
    folder = sample_path("twin")
    t1c, t2 = load_volume(folder / "t1c.nii.gz"), load_volume(folder / "t2.nii.gz")
    g = t1c.geometry
    cord = load_volume(folder / "cord.nii.gz").array > 0
    lesions = load_volume(folder / "lesion.nii.gz").array > 0
    centres = [lesion["centre_lps_mm"] for lesion in json.loads((folder / "truth.json").read_text())["lesions"]]
    images = {"t1c": t1c, "t2": t2}
    pairs = []
    for centre in centres:
        for masks in ({}, {"cord": cord}):
            pairs.append((segment_with("classical", images, g, Point(centre), "lesion", masks=masks, sensitivity=0.6),
                          grow_lesion(t1c, g, centre, cord_region=masks.get("cord"), sensitivity=0.6)))
    line = centerline_from_mask(cord, g)
    clicks = line.point_at(np.linspace(0.15, 0.9, 5) * line.length_mm)
    pairs.append((segment_with("classical", images, g, [Point(c) for c in clicks], "cord"),
                  segment_cord(t2, g, clicks)))
    pairs.append((segment_with("classical", images, g, Scribble(clicks), "cord"), segment_cord(t2, g, clicks)))
    pairs.append((segment_with("classical", images, g, [], "edema", masks={"cord": cord, "lesions": lesions}),
                  grow_edema(t2, g, lesion_mask=lesions, cord_region=cord)))
    pairs.append((segment_with("classical", images, g, Point(centres[0]), "edema", masks={"cord": cord}),
                  grow_edema(t2, g, seed_world_mm=centres[0], cord_region=cord)))
    for through, direct in pairs:
        assert np.any(direct.mask)
        assert np.array_equal(through.mask, direct.mask)
        assert through.reason == direct.reason
        assert through.details == {**direct.details, "backend": "classical"}
