"""Bring a later study into an earlier study's frame of reference, and say how well that worked.

Two studies of one patient are acquired in different positions and frames of reference, so their
LPS coordinates cannot be compared directly. Each interval (earlier, later) is aligned with the
spine itself:

1. **Initialisation.** When both studies have vertebral levels with at least three landmark names in
   common (discs or body centres), a rigid least-squares fit of the matching landmarks (Kabsch;
   :func:`rigid_fit`); else the translation between the cord masks' centroids; else the image
   centres; then the coarsest registration is started from shifts of up to 40 mm along the spine
   and the best kept: a vertebra-sized error is not something one local optimisation fixes.
2. **Rigid registration** (SimpleITK ``Euler3DTransform``, Mattes mutual information, two
   resolutions) of the spine region: the fixed image (later study) is cropped to the box around
   its cord mask and landmarks plus :data:`SPINE_MARGIN_MM` (the moving one likewise, with
   :data:`MOVING_EXTRA_MM` more), so the shoulders, jaw and skin do not drive the metric.
3. **Residual.** With common level landmarks: RMS distance between each earlier landmark and the
   matching later landmark carried into the earlier frame. Without: RMS distance of the later
   cord centerline, carried over, to the earlier one (this misses a slide along a straight cord).
   The registration is kept when its residual is acceptable; else the landmark fit alone (which is
   least-squares optimal on those landmarks, so its residual is no independent check) is used.
4. **Refusal.** When the best residual exceeds ``max_residual_mm`` (default
   :data:`MAX_RESIDUAL_MM`) lesions are not matched in that interval and the reason is reported.
5. **Fallback.** When no rigid alignment can be made at all (no image role in common or the
   registration raised, and fewer than three common landmarks) but both studies have levels,
   lesions are placed on the 1-D level coordinate along the cord (:func:`level_coordinate`) and
   matched there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..resample import to_sitk

#: Beyond this RMS residual (mm) an interval is not matched: a third of a cervical vertebral height
#: (about 15 mm), and half the 10 mm between the centres of the seed's twin lesions, so that
#: neighbouring lesions cannot be swapped.
MAX_RESIDUAL_MM = 5.0
#: Margin (mm) around the cord / landmarks that defines the spine region registered.
SPINE_MARGIN_MM = 25.0
#: Extra margin (mm) of the moving (earlier) image's crop: what the registration may move.
MOVING_EXTRA_MM = 20.0
#: Image roles tried for registration, best first (T2 shows cord, CSF and vertebrae sharply).
ROLE_ORDER = ("t2", "stir", "t1", "t1c")
#: Weight of the identity rotation in :func:`rigid_fit`, per landmark (mm^2): decides the roll
#: about the spine's long axis when the landmarks are nearly on a line, and nothing otherwise.
ROLL_PRIOR_MM2 = 1.0
#: Without level landmarks, the coarse registration starts from shifts of up to
#: SEARCH_STEPS * SEARCH_STEP_MM along the spine (both ways) and the best is refined.
SEARCH_STEP_MM = 10.0
SEARCH_STEPS = 4


@dataclass(frozen=True)
class Rigid:
    """A rigid map ``x -> R @ x + t`` from the later study's LPS frame to the earlier one's."""

    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points) -> np.ndarray:
        return np.asarray(points, float).reshape(-1, 3) @ self.rotation.T + self.translation

    @property
    def angle_deg(self) -> float:
        return float(np.degrees(np.arccos(np.clip((np.trace(self.rotation) - 1) / 2, -1, 1))))

    def to_sitk(self) -> sitk.Euler3DTransform:
        # SimpleITK resampling maps fixed (later) points to moving (earlier) ones: this very map.
        tr = sitk.Euler3DTransform()
        tr.SetMatrix(tuple(self.rotation.ravel()))
        tr.SetTranslation(tuple(self.translation))
        return tr

    @classmethod
    def from_sitk(cls, transform) -> Rigid:
        tr = sitk.Euler3DTransform(transform) if not isinstance(transform, sitk.Euler3DTransform) else transform
        r = np.array(tr.GetMatrix()).reshape(3, 3)
        c = np.array(tr.GetCenter())
        t = np.array(tr.GetTranslation()) + c - r @ c
        return cls(r, t)


@dataclass(frozen=True)
class AlignResult:
    method: str                     # "rigid registration", "level landmarks", "level coordinate", "none"
    rigid: Rigid | None
    initialisation: str
    residual_mm: float | None
    residual_kind: str
    landmarks_used: int
    accepted: bool
    reason: str


def rigid_fit(moving, fixed, *, prior_mm2: float = ROLL_PRIOR_MM2) -> tuple[Rigid, float]:
    """Least-squares rotation and translation taking ``moving`` points onto ``fixed`` ones.

    Kabsch's SVD solution, written out because SimpleITK's ``LandmarkBasedTransformInitializer``
    leaves the rotation about the line undetermined when the landmarks lie nearly on a line (a
    straight spine): here a small pull towards the identity (``prior_mm2`` per point added to the
    cross-covariance) settles that roll, and changes nothing measurable otherwise.

    Returns
    -------
    (Rigid, rms_mm)
        The map and the RMS distance of the fitted points.

    Examples
    --------
    >>> r, rms = rigid_fit([[0, 0, 0], [0, 0, 10], [5, 0, 0]], [[1, 2, 3], [1, 2, 13], [6, 2, 3]])
    >>> np.round(r.translation, 6).tolist(), round(rms, 6)
    ([1.0, 2.0, 3.0], 0.0)
    """
    p, q = np.asarray(moving, float).reshape(-1, 3), np.asarray(fixed, float).reshape(-1, 3)
    pc, qc = p.mean(axis=0), q.mean(axis=0)
    h = (p - pc).T @ (q - qc) + prior_mm2 * len(p) * np.eye(3)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    rigid = Rigid(r, qc - r @ pc)
    return rigid, _rms(rigid.apply(p) - q)


def common_landmarks(earlier_levels, later_levels) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names present in both level models, and their positions (earlier, later)."""
    if earlier_levels is None or later_levels is None:
        return [], np.zeros((0, 3)), np.zeros((0, 3))
    a = dict(zip(earlier_levels.landmark_names, earlier_levels.landmark_positions))
    b = dict(zip(later_levels.landmark_names, later_levels.landmark_positions))
    names = [n for n in a if n in b]
    return names, np.array([a[n] for n in names]).reshape(-1, 3), np.array([b[n] for n in names]).reshape(-1, 3)


def level_coordinate(levels, points) -> np.ndarray:
    """Continuous position along the spine of each point: level plus fraction.

    Level ``n`` (C1 = 1, C5 = 5, T1 = 8) spans ``n - 0.5`` at the disc plane above it to ``n + 0.5``
    at the disc plane below (the convention of :class:`~lesionview.levels.model.Landmark`); inside a
    level the fraction is the point's signed distance to the disc planes above and below, so it
    follows the tilted discs of the lordotic neck. Beyond the outermost discs the nearest level's
    height is extrapolated.
    """
    p = np.asarray(points, float).reshape(-1, 3)
    k, pts, nrm = levels.disc_indices, levels.disc_points, levels.disc_normals
    if len(k) < 2:
        return np.full(len(p), np.nan)
    d = np.einsum("nkj,kj->nk", p[:, None, :] - pts[None], nrm)      # > 0: inferior to disc k
    below = (d > 0).sum(axis=1)
    j = np.clip(below - 1, 0, len(k) - 2)                             # disc above (or nearest pair)
    rows = np.arange(len(p))
    d_up, d_down = d[rows, j], d[rows, j + 1]
    return k[j] + 0.5 + d_up / (d_up - d_down)


def align_pair(earlier, later, *, max_residual_mm: float = MAX_RESIDUAL_MM, register: bool = True) -> AlignResult:
    """Align ``later`` (a Study) to ``earlier``; see the module docstring for the steps."""
    names, pos_e, pos_l = common_landmarks(earlier.levels, later.levels)
    landmark_fit = rigid_fit(pos_l, pos_e) if len(names) >= 3 else None
    candidates, notes = [], []
    init, initialisation = None, ""
    if landmark_fit is not None:
        init, initialisation = landmark_fit[0], "level landmarks"
    elif earlier.cord is not None and later.cord is not None:
        init, initialisation = _centroid_shift(earlier.cord, later.cord), "cord"

    pair = _image_pair(earlier, later) if register else None
    if pair is not None:
        try:
            reg = _register(*pair, init=init, later_cord=later.cord, later_landmarks=pos_l,
                            earlier_cord=earlier.cord, earlier_landmarks=pos_e,
                            from_landmarks=landmark_fit is not None)
            candidates.append(("rigid registration", reg))
        except RuntimeError as exc:              # ITK reports divergence and empty overlap this way
            notes.append(f"registration failed ({str(exc).strip().splitlines()[-1][:120]})")
    elif register:
        notes.append("no image role in common to register")
    if landmark_fit is not None:
        candidates.append(("level landmarks", landmark_fit[0]))

    if candidates:
        scored = [(method, rigid, *_residual(rigid, earlier, later, pos_e, pos_l)) for method, rigid in candidates]
        # The registration first (its landmark residual is an independent check: the landmarks only
        # started it); the landmark fit, optimal on those very landmarks, only when it is poor.
        good = [s for s in scored if s[2] is None or s[2] <= max_residual_mm]
        method, rigid, residual, kind = good[0] if good else min(scored, key=lambda s: s[2])
        if good and method != scored[0][0]:
            notes.append(f"registration residual {scored[0][2]:.1f} mm: used the landmark fit")
        if residual is not None and residual > max_residual_mm:
            return AlignResult(method, rigid, initialisation, residual, kind, len(names), False,
                               f"alignment residual {residual:.1f} mm ({kind}) exceeds {max_residual_mm:g} mm: "
                               "lesions not matched in this interval"
                               + ("; the level landmarks disagree (mislabelled levels, or another patient?)"
                                  if kind == "level landmarks" else "") + ".")
        reason = "; ".join(notes + ([] if residual is not None else ["no landmarks or cord to check the residual"]))
        return AlignResult(method, rigid, initialisation, residual, kind, len(names), True, reason)

    if earlier.levels is not None and later.levels is not None:
        return AlignResult("level coordinate", None, "", None, "", len(names), True,
                           "; ".join(notes + ["no rigid alignment: matched along the cord by level coordinate"]))
    return AlignResult("none", None, initialisation, None, "", len(names), False,
                       "; ".join(notes + ["no rigid alignment and no levels in both studies: lesions not matched"]))


# ---------------------------------------------------------------------------- helpers
def _rms(diff) -> float:
    diff = np.asarray(diff, float).reshape(-1, 3)
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=1)))) if len(diff) else 0.0


def _centroid(volume) -> np.ndarray:
    idx = np.argwhere(np.asarray(volume.array) != 0)
    return volume.geometry.index_to_world(idx.mean(axis=0)) if len(idx) else None


def _centroid_shift(earlier_cord, later_cord) -> Rigid | None:
    a, b = _centroid(earlier_cord), _centroid(later_cord)
    # Only a translation: the rotations of repositioning are a few degrees, which the registration
    # recovers, whereas principal axes of a cord cut by two fields of view are not reliable.
    return None if a is None or b is None else Rigid(np.eye(3), a - b)


def _image_pair(earlier, later):
    for role in ROLE_ORDER + tuple(sorted(set(earlier.images) & set(later.images))):
        if role in earlier.images and role in later.images:
            return earlier.images[role], later.images[role]
    return None


def _spine_box(volume, later_cord, later_landmarks, *, extra_mm: float = 0.0) -> tuple[slice, ...]:
    """Index box of the spine region (cord and landmarks of the same study) in ``volume``'s grid."""
    g = volume.geometry
    pts = []
    if later_cord is not None and np.any(later_cord.array):
        idx = np.argwhere(later_cord.array)
        lo, hi = idx.min(axis=0), idx.max(axis=0)
        corners = np.array(np.meshgrid(*zip(lo, hi), indexing="ij")).reshape(3, -1).T
        pts.append(later_cord.geometry.index_to_world(corners))
    if len(later_landmarks):
        pts.append(later_landmarks)
    if not pts:
        return tuple(slice(0, n) for n in g.shape)
    idx = g.world_to_index(np.concatenate(pts))
    margin = (SPINE_MARGIN_MM + extra_mm) / np.array(g.spacing)
    lo = np.clip(np.floor(idx.min(axis=0) - margin), 0, None).astype(int)
    hi = np.minimum(np.ceil(idx.max(axis=0) + margin).astype(int) + 1, g.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))


def _register(earlier_image, later_image, *, init: Rigid | None, later_cord, later_landmarks,
              earlier_cord, earlier_landmarks, from_landmarks: bool) -> Rigid:
    box = _spine_box(later_image, later_cord, later_landmarks)
    fixed_arr = np.asarray(later_image.array, np.float32)[box]
    fixed = to_sitk(fixed_arr, later_image.geometry.cropped(box))
    # The moving image too, around its own spine with a wider margin (the patient moved): smoothing
    # the whole field of view at each resolution would be most of the time.
    mbox = _spine_box(earlier_image, earlier_cord, earlier_landmarks, extra_mm=MOVING_EXTRA_MM)
    moving = to_sitk(np.asarray(earlier_image.array[mbox], np.float32), earlier_image.geometry.cropped(mbox))
    tr = sitk.Euler3DTransform()
    centre = later_image.geometry.cropped(box).index_to_world((np.array(fixed_arr.shape) - 1) / 2)
    tr.SetCenter(tuple(centre))
    if init is None:
        init = Rigid(np.eye(3), np.asarray(moving.TransformContinuousIndexToPhysicalPoint(
            [(n - 1) / 2 for n in moving.GetSize()])) - centre)
    tr.SetMatrix(tuple(init.rotation.ravel()))
    tr.SetTranslation(tuple(init.apply(centre)[0] - centre))
    if not from_landmarks:
        # Without levels the start may be a vertebra or two off along the spine (the cord centroids
        # move with the fields of view), where one local optimisation would stay: start it from
        # several shifts along the spine at the coarsest resolution and keep the best.
        best = None
        start = (tr.GetParameters(), tr.GetFixedParameters())
        for dz in np.arange(-SEARCH_STEPS, SEARCH_STEPS + 1) * SEARCH_STEP_MM:
            trial = sitk.Euler3DTransform()
            trial.SetFixedParameters(start[1])
            trial.SetParameters(start[0][:5] + (start[0][5] + float(dz),))
            coarse = _gradient_descent(iterations=40)
            coarse.SetShrinkFactorsPerLevel([4])
            coarse.SetSmoothingSigmasPerLevel([2.0])
            coarse.SetInitialTransform(trial, inPlace=True)
            value = coarse.Execute(fixed, moving) and coarse.GetMetricValue()
            if best is None or value < best[0]:
                best = (value, trial.GetParameters())
        tr.SetParameters(best[1])
    reg = _gradient_descent(iterations=80)
    reg.SetShrinkFactorsPerLevel([4, 2])
    reg.SetSmoothingSigmasPerLevel([2.0, 1.0])
    reg.SetInitialTransform(tr, inPlace=True)
    reg.Execute(fixed, moving)
    return Rigid.from_sitk(tr)


def _gradient_descent(iterations: int) -> sitk.ImageRegistrationMethod:
    reg = sitk.ImageRegistrationMethod()
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=0.01, numberOfIterations=iterations,
                                                 relaxationFactor=0.6, gradientMagnitudeTolerance=1e-6)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.15, seed=13)     # fixed seed: the same answer every run
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    return reg


def _residual(rigid: Rigid, earlier, later, pos_e, pos_l) -> tuple[float | None, str]:
    if len(pos_e) >= 2:
        return _rms(rigid.apply(pos_l) - pos_e), "level landmarks"
    a, b = _centerline(earlier), _centerline(later)
    if a is None or b is None:
        return None, ""
    moved = rigid.apply(b.points)
    dist, nearest = a._tree.query(moved)
    # Points past either end of the earlier centerline (other field of view) say nothing.
    inner = (nearest > 0) & (nearest < len(a.points) - 1)
    return (_rms(np.c_[dist[inner], np.zeros((inner.sum(), 2))]) if inner.any() else None), "cord centerline"


def _centerline(study):
    if study.centerline is not None:
        return study.centerline
    if study.cord is None or not np.any(study.cord.array):
        return None
    from ..cord import centerline_from_mask

    try:
        return centerline_from_mask(study.cord.array, study.cord.geometry)
    except (ValueError, RuntimeError):
        return None
