"""Tissue fractions of the neck at any LPS point: the phantom's anatomy as functions of position.

Each structure is a signed distance (mm, negative inside) in spine coordinates, turned into an
occupancy with a 0.7 mm linear ramp, and tissues are painted in anatomical order (later ones
cover earlier ones) so the fractions at a point always sum to 1. Nothing here knows about voxels:
:mod:`lesionview.phantom.renderer` integrates these functions over any grid.
"""

from __future__ import annotations

import numpy as np

from . import spine
from .cases import Edema
from .sdf import box, ellipse, ramp, span

#: Tissue classes, in painting order. "lesion" is painted by the renderer on top of these.
TISSUES = ("air", "soft", "muscle", "fat", "ligament", "airway", "epidural", "annulus", "nucleus",
           "cortex", "marrow", "brain", "csf", "cord", "edema")

_EDGE = 0.7  # width of the partial-volume ramp at a tissue boundary, mm

# Profiles along s (mm below the foramen magnum).
_S = np.array([-60, -40, -5, 10, 40, 70, 95, 115, 140, 200.0])
_CORD_AP = np.array([6.5, 6.0, 4.6, 4.0, 3.8, 3.6, 3.5, 3.4, 3.1, 3.0])  # semi-axes
_CORD_LR = np.array([9.5, 9.0, 6.5, 5.6, 5.4, 6.2, 6.6, 6.2, 4.8, 4.5])
_SAC_AP = np.array([9.5, 9.0, 8.0, 7.5, 6.8, 6.3, 6.0, 6.0, 6.0, 6.0])
_SAC_LR = np.array([14.0, 13.0, 12.0, 11.0, 10.5, 10.5, 10.5, 10.0, 9.0, 8.5])
_SKIN_POST = np.array([-100, -96, -90, -84, -74, -70, -69, -70, -75, -85.0])
_SKIN_ANT = np.array([100, 95, 90, 82, 75, 70, 70, 72, 85, 110.0])
_NECK_LR = np.array([80, 75, 65, 60, 55, 55, 58, 62, 110, 150.0])
_PREVERTEBRAL = np.array([6, 6, 6, 5, 4, 5, 12, 14, 14, 14.0])
SAC_CENTRE = -0.6  # the thecal sac sits slightly posterior to the cord


def cord_semi_axes(s) -> tuple[np.ndarray, np.ndarray]:
    """Antero-posterior and left-right semi-axes of the cord at ``s`` (mm)."""
    return np.interp(s, _S, _CORD_AP), np.interp(s, _S, _CORD_LR)


def _ramp(d):
    return ramp(d, _EDGE)


def _capsule(s, a, s0, a0, s1, a1, r, r0=None):
    """Distance to a segment in the (s, a) plane minus a radius (``r0`` at the start, tapering to ``r``)."""
    ds, da = s1 - s0, a1 - a0
    h = np.clip(((s - s0) * ds + (a - a0) * da) / (ds * ds + da * da), 0, 1)
    radius = r if r0 is None else r0 + (r - r0) * h
    return np.hypot(s - s0 - h * ds, a - a0 - h * da) - radius


# Per-vertebra parameters (arrays indexed by vertebra) for vectorised neighbour look-ups.
_V = spine.VERTEBRAE
_TOP = np.array([v.top for v in _V])
_BOT = np.array([v.bottom for v in _V])
_MID = 0.5 * (_TOP + _BOT)
_DEPTH = np.array([v.depth for v in _V])
_HW = np.array([v.half_width for v in _V])
_CANAL_BACK = SAC_CENTRE - np.interp(_MID, _S, _SAC_AP)  # posterior wall of the sac at each body
_SP_LEN = np.array([v.spinous_length for v in _V])
_SP_ANG = np.radians([v.spinous_angle for v in _V])
_SP_R = np.array([5.0 if v.name == "C2" else (4.0 if v.name.startswith("T") else 3.5) for v in _V])
_SP_HW = np.array([6.0 if v.name == "C2" else 3.5 for v in _V])


# The occipital squama: an arc in the sagittal plane from the opisthion (posterior rim of the
# foramen magnum, s = -1, a = -12) curving back and up around the posterior fossa.
_OCCIPUT_CENTRE = (-40.0, -25.0)
_OCCIPUT_RADIUS = float(np.hypot(-1 - _OCCIPUT_CENTRE[0], -12 - _OCCIPUT_CENTRE[1]))


def _occiput_radius(s, a):
    """Signed distance to the occipital arc's circle (negative inside the posterior fossa)."""
    return np.hypot(s - _OCCIPUT_CENTRE[0], a - _OCCIPUT_CENTRE[1]) - _OCCIPUT_RADIUS


def _bone_sdf(s, a, x):
    """Signed distance to the union of all bones (vertebrae, atlas, dens, clivus, occiput)."""
    ax = np.abs(x)
    k = np.clip(np.searchsorted(_MID, s), 0, len(_V) - 1)
    d = np.full(s.shape, np.inf, dtype=s.dtype)
    for off in (-2, -1, 0):  # long caudally tilted spinous processes reach two levels down
        i = np.clip(k + off, 0, len(_V) - 1)
        top, bot, mid, dep, hw, cb = _TOP[i], _BOT[i], _MID[i], _DEPTH[i], _HW[i], _CANAL_BACK[i]
        body = box(span(s, top, bot), span(a, spine.BODY_BACK, spine.BODY_BACK + dep), ax - hw, 2.5)
        lamina = box(span(s, mid - 1, bot + 3.5), span(a, cb - 6, cb - 1.8), ax - 13, 1.5)
        pillar = box(span(s, top + 0.5, bot + 3.5), span(a, cb - 7, cb + 6), span(ax, 13, 23), 2.0)
        pedicle = box(span(s, mid - 3.5, mid + 3.5), span(a, cb + 2, spine.BODY_BACK + 1),
                       span(ax, 11.5, 15.5), 1.0)
        s0, a0 = mid + 3, cb - 5
        s1, a1 = s0 + _SP_LEN[i] * np.sin(_SP_ANG[i]), a0 - _SP_LEN[i] * np.cos(_SP_ANG[i])
        spinous = np.maximum(_capsule(s, a, s0, a0, s1, a1, _SP_R[i], _SP_R[i] + 2.0), ax - _SP_HW[i])
        d = np.minimum(d, np.minimum(np.minimum(body, lamina), np.minimum(np.minimum(pillar, pedicle), spinous)))
    dens = box(span(s, 1, 18), span(a, 8, 17), ax - 5, 3.0)
    atlas = np.maximum(np.abs(ellipse(a - 4.5, x, 17.0, 20.0)) - 3.0, np.abs(s - spine.C1_MIDDLE) - 4.5)
    clivus = np.maximum(_capsule(s, a, -4, 12, -36, 42, 5.0, 6.5), ax - 11)
    occiput = np.maximum(np.abs(_occiput_radius(s, a)) - 3.0, np.maximum(a + 12.0, ax - 45))
    return np.minimum(np.minimum(d, dens), np.minimum(atlas, np.minimum(clivus, occiput)))


def _disc_sdf(s, a, x):
    """Signed distances to the discs and to their nuclei."""
    ax = np.abs(x)
    j = np.clip(np.searchsorted(_MID, s) - 1, 0, len(_V) - 2)  # disc between vertebra j and j+1
    top, bot = _BOT[j] - 0.8, _TOP[j + 1] + 0.8
    dep = 0.5 * (_DEPTH[j] + _DEPTH[j + 1])
    hw = 0.5 * (_HW[j] + _HW[j + 1]) - 0.5
    disc = box(span(s, top, bot), span(a, spine.BODY_BACK - 0.4, spine.BODY_BACK + dep + 0.6), ax - hw, 1.5)
    mid = 0.5 * (top + bot)
    half = 0.5 * (bot - top)
    u = np.stack([(s - mid) / (0.75 * half), (a - spine.BODY_BACK - 0.45 * dep) / (0.33 * dep), x / (0.7 * hw)])
    nucleus = (np.sqrt((u * u).sum(0)) - 1) * 0.75 * half
    return disc, nucleus


def tissue_fractions(points: np.ndarray, edema: Edema | None = None) -> dict[str, np.ndarray]:
    """Fraction of each tissue of :data:`TISSUES` at LPS points (..., 3); they sum to 1.

    ``edema`` (from a :class:`~lesionview.phantom.cases.Case`) adds the cord edema; lesions are
    added by the renderer. Also returns ``"cord_occupancy"`` (cord including edema and lesions)
    and ``"edema_occupancy"`` for the ground-truth masks.
    """
    s, a, x = spine.spine_coordinates(points)
    frac: dict[str, np.ndarray] = {"air": np.ones_like(s)}

    def paint(name, alpha):
        for k, f in frac.items():
            frac[k] = f * (1 - alpha)
        frac[name] = frac.get(name, 0) + alpha

    post, ant = np.interp(s, _S, _SKIN_POST), np.interp(s, _S, _SKIN_ANT)
    neck = ellipse(a - 0.5 * (post + ant), x, 0.5 * (ant - post), np.interp(s, _S, _NECK_LR))
    paint("soft", _ramp(neck))
    sac_ap, sac_lr = np.interp(s, _S, _SAC_AP), np.interp(s, _S, _SAC_LR)
    canal_back = SAC_CENTRE - sac_ap
    k = np.clip(np.searchsorted(_MID, s), 0, len(_V) - 1)
    front = spine.BODY_BACK + _DEPTH[k]
    prevertebral = np.interp(s, _S, _PREVERTEBRAL)
    paint("muscle", _ramp(neck + 4) * np.maximum(_ramp(a - canal_back + 2),
                                                  _ramp(np.abs(a - front - prevertebral / 2) - prevertebral / 2)))
    # Posterior intermuscular fat planes and the subcutaneous fat.
    for depth in (16.0, 27.0):
        paint("fat", _ramp(neck + 4) * _ramp(np.abs(a - post - depth) - 0.9) * (a < canal_back - 12))
    paint("fat", _ramp(neck) - _ramp(neck + 7))
    # Nuchal ligament: a thin dark midline band under the subcutaneous fat, occiput to C7.
    paint("ligament", _ramp(np.abs(x) - 1.5) * _ramp(np.abs(a - post - 12) - 1.2) * _ramp(span(s, -25, 128)))
    airway = ellipse(a - front - prevertebral - 8, x, 8.0, 10.0)
    paint("airway", _ramp(np.maximum(airway, -8 - s)))
    paint("epidural", _ramp(ellipse(a - SAC_CENTRE, x, sac_ap + 1.8, sac_lr + 3.0)))
    paint("ligament", _ramp(box(span(s, 12, 200), span(a, spine.BODY_BACK - 1.0, spine.BODY_BACK), np.abs(x) - 6)))
    disc, nucleus = _disc_sdf(s, a, x)
    paint("annulus", _ramp(disc))
    paint("nucleus", _ramp(nucleus))
    bone = _bone_sdf(s, a, x)
    paint("cortex", _ramp(bone))
    paint("marrow", _ramp(bone + 0.8))
    # Posterior fossa: inside the occipital arc, behind the brainstem; the cerebellum fills it.
    fossa = np.maximum(np.maximum(_occiput_radius(s, a) + 3.0, a - canal_back), np.abs(x) - 44)
    paint("csf", _ramp(fossa))
    cisterna = np.sqrt((s + 7) ** 2 + (a - canal_back + 9) ** 2 + (x / 1.5) ** 2) - 7.0  # cisterna magna
    paint("brain", _ramp(np.maximum(fossa + 2.0, -cisterna)))
    paint("csf", _ramp(ellipse(a - SAC_CENTRE, x, sac_ap, sac_lr)))
    cord_ap, cord_lr = cord_semi_axes(s)
    cord = ellipse(a, x, cord_ap, cord_lr)
    cord_occ = _ramp(cord)
    paint("cord", cord_occ)
    edema_occ = np.zeros_like(s)
    if edema is not None:
        k = edema.scale(s)
        rho = np.sqrt((a / cord_ap) ** 2 + (x / cord_lr) ** 2)
        d = np.maximum((rho - k) * np.minimum(cord_ap, cord_lr), np.maximum(edema.top - s, s - edema.bottom))
        edema_occ = np.minimum(_ramp(d), cord_occ)  # never outside the cord
        paint("edema", edema_occ)
    frac.setdefault("edema", np.zeros_like(s))
    frac["cord_occupancy"] = cord_occ
    frac["edema_occupancy"] = edema_occ
    return frac
