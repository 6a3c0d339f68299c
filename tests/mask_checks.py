"""Comparing masks computed twice, where exact equality is not promised by construction."""

from __future__ import annotations

import numpy as np


def assert_same_voxels(a: np.ndarray, b: np.ndarray, *, fraction: float = 1e-3, what: str = "") -> None:
    """``a`` and ``b`` mark the same voxels, but for at most ``fraction`` of their union (>= 1).

    Two runs of one tool on differently stored copies of the same data (LPS vs PSR arrays)
    filter, sum and multiply in another order; the last bits of those results then differ, and
    a voxel sitting exactly at a threshold can flip, on some CPUs and not others. A real storage
    dependence moves whole surfaces (hundreds of voxels), which this still catches.
    """
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    assert a.shape == b.shape, (a.shape, b.shape)
    union = int(np.count_nonzero(a | b))
    differ = int(np.count_nonzero(a ^ b))
    allowed = max(1, int(fraction * union))
    assert union > 0, f"{what}: both masks are empty"
    assert differ <= allowed, f"{what}: {differ} of {union} voxels differ (at most {allowed} allowed)"
