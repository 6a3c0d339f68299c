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
from lesionview.geometry import Geometry
from lesionview.io import load_volume
from lesionview.phantom import sample_path
from lesionview.segment import (
    Box,
    Point,
    Scribble,
    Segmentation,
    SegmentationBackend,
    available_backends,
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


def test_a_backend_class_whose_constructor_fails_is_listed_unavailable(toys, monkeypatch):
    def explode(self):
        raise OSError("no GPU")

    monkeypatch.setattr(toys.SphereBackend, "__init__", explode)
    info = available_backends()["toysphere"]
    assert not info.available and info.reason == "OSError: no GPU"
    assert available_backends()["classical"].available


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
    with pytest.raises(InputError, match="grows from one point; got 2"):
        run("classical", {"t1c": image}, g, [Point(centre), Point(centre)], "lesion")
    for bad in (2, "high", None):
        with pytest.raises(InputError, match="sensitivity must be a number between 0 and 1"):
            run("classical", {"t1c": image}, g, Point(centre), "lesion", sensitivity=bad)
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
