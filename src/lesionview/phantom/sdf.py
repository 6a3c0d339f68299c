"""Signed distances (mm, negative inside) of the simple shapes both phantoms are built from, and
the partial-volume ramp that turns a distance into an occupancy."""

from __future__ import annotations

import numpy as np


def ramp(d, edge: float):
    """Occupancy at signed distance ``d``: 1 inside, 0 outside, linear over ``edge`` mm at the surface."""
    return np.clip(0.5 - d / edge, 0.0, 1.0)


def ellipse(u, v, ru, rv):
    """Approximate signed distance to an ellipse (exact on the curve, good near it)."""
    k0 = np.sqrt((u / ru) ** 2 + (v / rv) ** 2)
    k1 = np.sqrt((u / ru**2) ** 2 + (v / rv**2) ** 2)
    return k0 * (k0 - 1) / np.maximum(k1, 1e-6)


def box(qs, qa, qx, r=0.0):
    """Signed distance to a box rounded by ``r``, given |offset| - half size along each axis."""
    qs, qa, qx = qs + r, qa + r, qx + r
    outside = np.sqrt(np.maximum(qs, 0) ** 2 + np.maximum(qa, 0) ** 2 + np.maximum(qx, 0) ** 2)
    return outside + np.minimum(np.maximum(np.maximum(qs, qa), qx), 0) - r


def span(v, lo, hi):
    """|offset| - half size of an interval [lo, hi]."""
    return np.abs(v - 0.5 * (lo + hi)) - 0.5 * (hi - lo)
