"""segment_cord on thick slices: partial-volume chords, and refusals rather than a tube (issue 11).

Synthetic sagittal stacks (3 mm left-right slices, 0.5 mm pixels) with an analytic cord: the
truth is the voxels whose centre lies inside it, as in the phantoms.
"""

from __future__ import annotations

import numpy as np
import pytest

from lesionview.geometry import Geometry
from lesionview.segment import dice
from lesionview.segment.cord import segment_cord

CLICKS = [[0.0, 0.0, 15.0], [0.0, 0.5, 0.0], [0.0, 0.0, -15.0]]


def _sagittal(slice_mm: float = 3.0, x0: float = 0.0):
    n = round(27.0 / slice_mm) | 1
    g = Geometry((n, 80, 60), spacing=(slice_mm, 0.5, 0.5),
                 origin=(x0 + slice_mm * (n - 1) / 2, -15.0, 20.0),
                 direction=((-1, 0, 0), (0, 0, 1), (0, -1, 0)))   # columns: R, I, P
    world = g.index_to_world(np.argwhere(np.ones(g.shape, bool))).reshape(*g.shape, 3)
    return g, world


def _box_profile(world, g, inside, sub: int = 6) -> np.ndarray:
    """Fraction of each voxel's slice (box profile across the slice) for which ``inside`` holds."""
    offsets = ((np.arange(sub) + 0.5) / sub - 0.5) * g.spacing[0]
    normal = g.direction_matrix[:, 0]
    return np.mean([inside(world + o * normal) for o in offsets], axis=0)


@pytest.mark.parametrize("slice_mm, x0, floor", [
    (3.0, 0.0, 0.88),
    (3.0, 1.5, 0.88),
    # 4 mm slices: the outer slice's centre lies 0.7 mm inside the cord's edge, its voxels are
    # two-thirds cord and one third CSF and sit right at the halfway threshold.
    (4.0, 0.7, 0.72),
])
def test_thin_elliptic_cord_on_thick_sagittal_slices(slice_mm, x0, floor):
    # A thoracic-sized cord (semi-axes 3 mm AP, 4 mm LR) in a 1.5 mm CSF ring, then bone: the
    # outer slices blend cord, CSF and bone, and the old star model filled the tube.
    g, world = _sagittal(slice_mm, x0)

    def cord(p):
        return (p[..., 0] / 4.0) ** 2 + (p[..., 1] / 3.0) ** 2 <= 1.0

    def sac(p):
        return (p[..., 0] / 6.5) ** 2 + ((p[..., 1] + 0.4) / 4.5) ** 2 <= 1.0

    f_cord, f_sac = _box_profile(world, g, cord), _box_profile(world, g, sac)
    image = 440.0 * f_cord + 1450.0 * (f_sac - f_cord) + 60.0 * (1 - f_sac)
    image += np.random.default_rng(3).normal(0.0, 25.0, g.shape)
    truth = cord(world) & (np.abs(world[..., 2]) <= 15.0)     # between the first and last click
    seg = segment_cord(image, g, CLICKS)
    assert seg.ok, seg.reason
    assert seg.details["model"] == "chords per slice"
    assert dice(seg.mask, truth) >= floor
    assert 20.0 <= seg.details["median_area_mm2"] <= 55.0        # true section 38 mm^2


@pytest.mark.parametrize("make, words", [
    # No fluid at all around the clicks: nothing tells the cord's outline.
    (lambda r: np.full(r.shape, 400.0), "no CSF is seen"),
    # A dark region wider than any cord (the clicks in a vertebral body, say): it fills the tube.
    (lambda r: np.where(r < 7.5, 400.0, 1400.0), "could not be told from the fluid"),
    # ... or wider than the tube: no fluid closes it.
    (lambda r: np.where(r < 9.5, 400.0, 1400.0), "no cord could be outlined"),
])
def test_hopeless_inputs_are_refused_with_a_reason_not_a_tube(make, words):
    g, world = _sagittal()
    r = np.hypot(world[..., 0], world[..., 1])
    image = make(r) + np.random.default_rng(0).normal(0.0, 20.0, g.shape)
    seg = segment_cord(image, g, CLICKS)
    assert not seg.mask.any()
    assert words in seg.reason and "click" in seg.reason
