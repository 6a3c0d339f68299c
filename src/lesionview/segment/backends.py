"""Segmentation back ends: one small interface for the classical tools and for installed models.

A back end takes images on one grid, prompts in LPS mm (points, boxes, scribbles, each positive
or negative) and a target (``"lesion"``, ``"edema"`` or ``"cord"``), and returns a
:class:`~lesionview.segment.result.Segmentation` on that grid. ``"classical"`` wraps
:func:`~lesionview.segment.lesion.grow_lesion`, :func:`~lesionview.segment.edema.grow_edema` and
:func:`~lesionview.segment.cord.segment_cord` unchanged; a site adds others (a deep-learning
model such as nnInteractive or an SCT model) by installing a package that names its back end in
the entry point group :data:`ENTRY_POINT_GROUP`.

lesionview never downloads anything: a back end that needs weights finds them on the machine
(a path in its own settings or an environment variable) and, when they are missing, says so
through :meth:`SegmentationBackend.problem`. A back end that cannot be imported or is not a
back end is listed as unavailable with the reason, and lesionview carries on without it.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

import numpy as np

from ..errors import InputError, LesionviewError
from ..geometry import Geometry
from .cord import segment_cord
from .edema import grow_edema
from .lesion import check_lesion, grow_lesion
from .result import Segmentation

#: Entry point group a package names its back end in (pyproject.toml:
#: ``[project.entry-points."lesionview.segmentation_backends"]`` ``mymodel = "pkg.mod:MyBackend"``).
ENTRY_POINT_GROUP = "lesionview.segmentation_backends"
#: What a back end can be asked to segment.
TARGETS = ("lesion", "edema", "cord")
CLASSICAL = "classical"


class BackendError(LesionviewError):
    """A segmentation back end failed or answered something that is not a Segmentation on the grid."""


# ---------------------------------------------------------------------------------- prompts
def _xyz(value, what: str) -> tuple[float, float, float]:
    try:
        xyz = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be 3 numbers (LPS mm), got {value!r}.") from None
    if xyz.shape != (3,):
        raise InputError(f"{what} must be 3 numbers (LPS mm), got shape {xyz.shape}.")
    if not np.all(np.isfinite(xyz)):
        raise InputError(f"{what} must be finite numbers (LPS mm), got {tuple(xyz)}.")
    return tuple(float(v) for v in xyz)


@dataclass(frozen=True)
class Point:
    """A click at ``position_lps`` (LPS mm): on the target (``positive``) or not on it."""

    position_lps: tuple[float, float, float]
    positive: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "position_lps", _xyz(self.position_lps, "a point prompt's position"))
        object.__setattr__(self, "positive", bool(self.positive))

    @property
    def points(self) -> np.ndarray:
        return np.array([self.position_lps])


@dataclass(frozen=True)
class Box:
    """A box drawn between two opposite corners (LPS mm), aligned to the image grid.

    A rectangle dragged on a slice runs along the slice's rows and columns, which on an oblique
    image are not LPS axes. So a box is not the LPS-aligned box between its corners: the corners
    are converted to index coordinates of the image's geometry and the box is the index-space
    box between them (:meth:`slices`). It covers the same voxels whichever way the image is
    stored (axial, flipped, permuted) and on any tilt. Flat boxes (drawn on one slice) are fine.

    Examples
    --------
    >>> g = Geometry((10, 10, 10))
    >>> Box((4, 2.2, 3), (4, 6.8, 7)).slices(g)
    (slice(4, 5, None), slice(3, 7, None), slice(3, 8, None))
    """

    corner_a: tuple[float, float, float]
    corner_b: tuple[float, float, float]
    positive: bool = True

    def __post_init__(self) -> None:
        a = _xyz(self.corner_a, "a box prompt's corner_a")
        b = _xyz(self.corner_b, "a box prompt's corner_b")
        if a == b:
            raise InputError(f"a box prompt's two corners coincide at {a}; "
                             "drag from one corner to the opposite one.")
        object.__setattr__(self, "corner_a", a)
        object.__setattr__(self, "corner_b", b)
        object.__setattr__(self, "positive", bool(self.positive))

    @property
    def points(self) -> np.ndarray:
        return np.array([self.corner_a, self.corner_b])

    def slices(self, geometry: Geometry) -> tuple[slice, slice, slice]:
        """The voxels of ``geometry``'s grid in the box, as array slices (``mask[box.slices(g)] = True``).

        Along each array axis: the voxels whose centres lie between the corners' index
        coordinates; where no centre does (the box is thinner than a voxel there, as one drawn
        on a slice), the one nearest the box. Clipped to the grid.
        """
        a, b = geometry.world_to_index(self.points)
        low, high = np.minimum(a, b), np.maximum(a, b)
        shape = np.array(geometry.shape)
        start = np.ceil(low - 1e-6).astype(int)    # (tolerance: corners at voxel centres up to round-off)
        stop = np.floor(high + 1e-6).astype(int) + 1
        nearest = np.clip(np.rint((low + high) / 2).astype(int), 0, shape - 1)
        thin = stop <= start
        start = np.clip(np.where(thin, nearest, start), 0, shape)
        stop = np.clip(np.where(thin, nearest + 1, stop), 0, shape)
        return tuple(slice(int(i), int(j)) for i, j in zip(start, stop))


@dataclass(frozen=True)
class Scribble:
    """A stroke through ``points`` ((N, 3) LPS mm, N >= 1), on the target (``positive``) or not."""

    points: tuple[tuple[float, float, float], ...]
    positive: bool = True

    def __post_init__(self) -> None:
        try:
            pts = np.asarray(self.points, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"a scribble's points must be an (N, 3) array of LPS mm, "
                             f"got {self.points!r}.") from None
        if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
            raise InputError(f"a scribble's points must be an (N, 3) array of LPS mm with N >= 1, "
                             f"got shape {pts.shape}.")
        object.__setattr__(self, "points", tuple(_xyz(p, "a scribble point") for p in pts))
        object.__setattr__(self, "positive", bool(self.positive))


Prompt = Point | Box | Scribble


def _kind(value) -> str:
    """What ``value`` is, for a message: "None", "a bare array", "a list"."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return "a bare array"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def check_prompts(prompts, geometry: Geometry) -> tuple[Prompt, ...]:
    """``prompts`` as a tuple, each a :class:`Point`, :class:`Box` or :class:`Scribble` inside the image.

    A position counts as inside up to half a voxel beyond the outer voxel centres (as
    :meth:`Geometry.contains`). Raises :class:`~lesionview.errors.InputError` saying which prompt is wrong.

    Examples
    --------
    >>> g = Geometry((10, 10, 10))
    >>> check_prompts([Point((2, 3, 4)), Box((0, 0, 0), (5, 5, 0))], g)[0]
    Point(position_lps=(2.0, 3.0, 4.0), positive=True)
    >>> check_prompts([Point((2, 3, 40))], g)
    Traceback (most recent call last):
    ...
    lesionview.errors.InputError: the point at (2.0, 3.0, 40.0) mm lies outside the image ...
    """
    if isinstance(prompts, (Point, Box, Scribble)):
        prompts = (prompts,)
    elif prompts is None or isinstance(prompts, (str, bytes, Mapping, np.ndarray)) \
            or not isinstance(prompts, Iterable):
        raise InputError(f"prompts must be a Point, Box or Scribble or a sequence of them; got {_kind(prompts)}.",
                         hint="Wrap positions (LPS mm), e.g. Point((x, y, z)) or [Point(a), Point(b)] "
                              "(lesionview.segment.backends).")
    prompts = tuple(prompts)
    for i, prompt in enumerate(prompts, 1):
        if not isinstance(prompt, (Point, Box, Scribble)):
            raise InputError(f"prompt #{i} is a {type(prompt).__name__}, not a Point, Box or Scribble "
                             "(lesionview.segment.backends).")
        pts = np.asarray(prompt.points, dtype=float)
        outside = ~geometry.contains(pts, margin=0.5)
        if np.any(outside):
            kind = type(prompt).__name__.lower()
            which = f"the {kind}" if len(prompts) == 1 else f"{kind} #{i}"
            where = ", ".join(f"({', '.join(f'{v:.1f}' for v in p)})" for p in pts[outside])
            raise InputError(f"{which} at {where} mm lies outside the image ({geometry.describe()}).",
                             hint="Click inside the image.")
    return prompts


# ---------------------------------------------------------------------------------- the interface
class SegmentationBackend(ABC):
    """What a segmentation back end provides. Subclass it, and name the class in the entry point
    group :data:`ENTRY_POINT_GROUP` of your package (the entry point's name is the back end's name).

    lesionview never downloads weights or installs anything for a back end. One that needs
    weights or a GPU must find them locally (its own setting or environment variable) and report
    what is missing from :meth:`problem`; :meth:`segment` then returns
    ``Segmentation.empty(geometry, reason)`` rather than fetching anything.

    Listing the back ends (:func:`available_backends`, the Segment widget when it opens) imports
    the module the entry point names, reads :attr:`description` and :attr:`targets` from the
    class and calls :meth:`problem` if it is a classmethod or staticmethod; it never makes a back
    end. So keep the module's imports light (import PyTorch and load the model in ``__init__`` or
    :meth:`segment`). The back end is made (``YourClass()``, no arguments) the first time it is
    used and kept for the session.

    Attributes
    ----------
    description : str
        One line for lists and tooltips ("nnInteractive 1.0, weights in /opt/models/...").
    targets : frozenset of str
        Which of :data:`TARGETS` it segments.
    """

    description: str = ""
    targets: frozenset[str] = frozenset(TARGETS)

    @classmethod
    def problem(cls) -> str:
        """Why the back end cannot run here ("" when it can): missing weights, package, GPU.

        Called whenever back ends are listed and before each use: it must be cheap (look for
        files, do not import a framework or load a model). Keep it a classmethod (or
        staticmethod) so that lists can tell without making the back end; an instance method
        is accepted too, but is then first asked when the back end is used, and until then the
        back end is listed as available.
        """
        return ""

    @abstractmethod
    def segment(self, images: Mapping[str, np.ndarray], geometry: Geometry, prompts: tuple[Prompt, ...],
                target: str, *, masks: Mapping[str, np.ndarray], **options) -> Segmentation:
        """Segment ``target`` from ``prompts``.

        Parameters
        ----------
        images : mapping of role -> ndarray
            On ``geometry``'s grid, by role: ``"t1c"`` (T1 after contrast), ``"t2"``, ``"pre"``
            (T1 before contrast), others as a back end documents. Not to be modified.
        geometry : Geometry
            The grid (LPS mm) of every image and mask.
        prompts : tuple of Point, Box, Scribble
            Checked: inside the image, in LPS mm (``geometry.world_to_index`` gives voxels, a
            box's voxels are :meth:`Box.slices`: boxes follow the image grid, not LPS).
        target : {"lesion", "edema", "cord"}
            One of :attr:`targets`.
        masks : mapping of role -> ndarray of bool
            What is already segmented on the grid: ``"cord"``, ``"lesions"`` (when there).
        **options
            Tool settings such as ``sensitivity`` (0-1); ignore the ones you do not know.

        Returns
        -------
        Segmentation
            Mask on ``geometry``, bool (or integer labels; a probability map is refused:
            threshold it here); an empty one with ``reason`` when it cannot answer.
        """


class ClassicalBackend(SegmentationBackend):
    """lesionview's own tools: :func:`grow_lesion` (one positive point), :func:`grow_edema` (the
    lesions mask or one positive point, and the cord mask), :func:`segment_cord` (positive
    points or scribbles along the cord). Options: ``sensitivity`` (lesion, edema), ``check`` (lesion)."""

    description = "lesionview's region growing and centerline tools (no model, no weights)"

    def segment(self, images, geometry, prompts, target, *, masks, **options) -> Segmentation:
        if any(not p.positive for p in prompts) or any(isinstance(p, Box) for p in prompts):
            raise InputError("the classical back end takes positive points and scribbles only, "
                             "no negative prompts or boxes.")
        points = [xyz for p in prompts for xyz in np.reshape(p.points, (-1, 3))]
        sensitivity = float(options.get("sensitivity", 0.5))
        if target == "cord":
            return segment_cord(_needed(images, "t2", target), geometry, points)
        scribbled = any(isinstance(p, Scribble) for p in prompts)
        if target == "lesion":
            if len(prompts) != 1 or scribbled:
                raise InputError(f"the classical lesion tool needs one point{', not a scribble' if scribbled else ''}; "
                                 f"got {_told(prompts)}.", hint="Click once per lesion.")
            return grow_lesion(_needed(images, "t1c", target), geometry, points[0],
                               cord_region=masks.get("cord"), sensitivity=sensitivity,
                               pre=images.get("pre"), check=bool(options.get("check", True)))
        if len(prompts) > 1 or scribbled:
            raise InputError("the classical edema tool grows from the lesions or one point"
                             f"{', not a scribble' if scribbled else ''}; got {_told(prompts)}.")
        return grow_edema(_needed(images, "t2", target), geometry, lesion_mask=masks.get("lesions"),
                          seed_world_mm=points[0] if points else None, cord_region=masks.get("cord"),
                          sensitivity=sensitivity)


def _told(prompts) -> str:
    """The prompts in words: "a scribble", "2 points", "a point and a scribble"."""
    counts = Counter(type(p).__name__.lower() for p in prompts)
    return " and ".join(f"{n} {kind}s" if n > 1 else f"a {kind}" for kind, n in counts.items()) or "no prompt"


def _needed(images: Mapping, role: str, target: str) -> np.ndarray:
    if role not in images:
        raise InputError(f"the classical {target} tool needs the {role!r} image; "
                         f"given: {sorted(images) or 'none'}.")
    return images[role]


# ---------------------------------------------------------------------------------- discovery
@dataclass(frozen=True)
class BackendInfo:
    """A back end as listed: usable (``available``) or not, and why (``reason``)."""

    name: str
    available: bool
    reason: str = ""
    description: str = ""
    targets: frozenset[str] = frozenset()
    source: str = "lesionview"


_CLASSICAL = ClassicalBackend()
#: Installed back ends made this session, by name (a model is loaded once), or why one could not be
#: made (not retried: a constructor that failed once, after perhaps loading for a while, fails again).
_MADE: dict[str, SegmentationBackend | str] = {}


def _installed(**select) -> list[EntryPoint]:
    """The entry points of the group (``name=`` selects one name), lesionview's own left out."""
    return [ep for ep in entry_points(group=ENTRY_POINT_GROUP, **select)
            if not (ep.value.startswith("lesionview.") and ep.value.endswith(":ClassicalBackend"))]


def _source(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{ep.value} ({getattr(dist, 'name', '?')} {getattr(dist, 'version', '?')})" if dist else ep.value


def _targets(value) -> frozenset[str]:
    targets = frozenset(value)
    if not targets or not targets <= set(TARGETS):
        raise TypeError(f"its targets {sorted(targets)} are not among {list(TARGETS)}")
    return targets


def _asked(backend) -> str:
    """``backend.problem()`` as text; a problem() that fails is the problem."""
    try:
        return str(backend.problem() or "")
    except Exception as exc:  # noqa: BLE001 - a broken plug-in is listed, never fatal
        return f"its problem() failed: {type(exc).__name__}: {exc}"


def _cheaply(obj) -> str:
    """``problem()`` of what an entry point names, when it can be asked without making a back end."""
    kind = obj if isinstance(obj, type) else type(obj)
    cheap = isinstance(inspect.getattr_static(kind, "problem", None), (classmethod, staticmethod))
    return _asked(obj) if cheap else ""


def _look(name: str, ep: EntryPoint) -> tuple[BackendInfo, object]:
    """How the back end ``ep`` names is listed, without making it; and the object the entry point
    names (None when it cannot be used)."""
    source = _source(ep)
    made = _MADE.get(name)
    if isinstance(made, str):
        return BackendInfo(name, False, made, source=source), None
    try:
        obj = made if made is not None else ep.load()
        if isinstance(obj, type) and not issubclass(obj, SegmentationBackend) \
                or not isinstance(obj, SegmentationBackend) and not callable(obj):
            raise TypeError(f"{obj!r} is not a SegmentationBackend")
        if isinstance(obj, type) and inspect.isabstract(obj):
            raise TypeError(f"{obj.__name__} does not implement {', '.join(sorted(obj.__abstractmethods__))}()")
        if isinstance(obj, (type, SegmentationBackend)):
            targets = _targets(obj.targets)
            description = obj.description if isinstance(obj.description, str) else ""
        else:   # a function making one: what it makes is known once it is made
            targets, description = frozenset(TARGETS), ""
        reason = _asked(obj) if made is not None else _cheaply(obj)
    except Exception as exc:  # noqa: BLE001 - a broken plug-in is listed, never fatal
        return BackendInfo(name, False, f"{type(exc).__name__}: {exc}", source=source), None
    return BackendInfo(name, not reason, reason, description, targets, source), obj


def _make(obj) -> SegmentationBackend | str:
    """The back end an entry point names (a subclass made with no arguments, an instance, or a
    function returning one), or why it could not be made."""
    try:
        made = obj if isinstance(obj, SegmentationBackend) else obj()
        if not isinstance(made, SegmentationBackend):
            raise TypeError(f"{getattr(obj, '__name__', obj)!r} gave {_kind(made)}, "
                            "not a lesionview SegmentationBackend")
        _targets(made.targets)
    except Exception as exc:  # noqa: BLE001 - a broken plug-in is refused, never fatal
        return f"{type(exc).__name__}: {exc}"
    return made


def available_backends() -> dict[str, BackendInfo]:
    """Every back end lesionview knows, ``"classical"`` first: installed ones come from the entry
    point group :data:`ENTRY_POINT_GROUP`; those that cannot run are listed with the reason.

    Cheap enough for a GUI thread: no back end is made. Each entry point's module is imported,
    ``description`` and ``targets`` are read from the class and ``problem()`` is asked only if it
    is a classmethod or staticmethod (or of a back end already made this session). One whose
    ``problem()`` needs an instance, or a function making one, is listed as available until it
    is first used (:func:`get_backend`), and with the reason afterwards if it cannot run.

    Examples
    --------
    >>> available_backends()["classical"].available
    True
    """
    found = {CLASSICAL: BackendInfo(CLASSICAL, True, "", _CLASSICAL.description, frozenset(TARGETS))}
    for ep in _installed():
        if ep.name in found:
            if ep.value != found[ep.name].source.split(" ")[0]:   # not the same one seen twice
                source = _source(ep)
                other = f"{ep.name} ({source})"
                found[other] = BackendInfo(other, False, f"the name {ep.name!r} is taken by {found[ep.name].source}",
                                           source=source)
            continue
        found[ep.name] = _look(ep.name, ep)[0]
    return found


def get_backend(name: str) -> SegmentationBackend:
    """The back end called ``name``, made on first use and kept for the session;
    :class:`~lesionview.errors.InputError` saying why when it is not installed or cannot run.

    Only that name's entry point is looked up (once); its ``problem()`` is asked on every call.
    """
    if name == CLASSICAL:
        return _CLASSICAL
    made = _MADE.get(name)
    if made is None:
        ep = next(iter(_installed(name=name)), None)
        if ep is None:
            installed = dict.fromkeys([CLASSICAL, *(e.name for e in _installed())])
            raise InputError(f"no segmentation back end is called {name!r}; installed: {', '.join(installed)}.",
                             hint=f"Install the package that provides it (entry point group {ENTRY_POINT_GROUP}).")
        info, obj = _look(name, ep)
        if obj is None or not info.available:
            raise InputError(f"the segmentation back end {name!r} cannot run: {info.reason}")
        made = _MADE[name] = _make(obj)
    reason = made if isinstance(made, str) else _asked(made)
    if reason:
        raise InputError(f"the segmentation back end {name!r} cannot run: {reason}")
    return made


# ---------------------------------------------------------------------------------- running one
def _roles(given, what: str, example: str) -> dict:
    """``given`` as a dict of role -> image or mask; InputError when it is not a mapping."""
    if not isinstance(given, Mapping):
        raise InputError(f"{what}s must be a mapping of role -> {what}, e.g. {example}; got {_kind(given)}.",
                         hint="Name each array by its role (lesionview.segment.backends.segment_with).")
    return dict(given)


def _arrays(given: dict, geometry: Geometry, what: str, *, mask: bool) -> dict[str, np.ndarray]:
    out = {}
    for role, value in given.items():
        if value is None:
            continue
        own = getattr(value, "geometry", None)
        if isinstance(own, Geometry) and not own.same_space(geometry):
            raise InputError(f"the {role!r} {what} is on another grid ({own.describe()}) than "
                             f"{geometry.describe()}; resample it first (lesionview.resample).")
        try:
            arr = np.asarray(getattr(value, "array", value))
        except (TypeError, ValueError) as exc:
            raise InputError(f"the {role!r} {what} is not an array: {exc}") from None
        if arr.shape != geometry.shape:
            raise InputError(f"the {role!r} {what} has shape {arr.shape}, the grid is {geometry.describe()}.")
        if arr.dtype.kind not in "biuf":
            raise InputError(f"the {role!r} {what} holds {arr.dtype}, not numbers.")
        out[str(role)] = np.nan_to_num(arr) != 0 if mask and arr.dtype != bool else arr
    return out


def segment_with(backend: str | SegmentationBackend, images, geometry: Geometry | None, prompts, target: str,
                 *, masks=None, check: bool = True, **options) -> Segmentation:
    """Run a back end on checked inputs; check its answer.

    Parameters
    ----------
    backend : str or SegmentationBackend
        A name from :func:`available_backends` (``"classical"``) or a back end object.
    images : mapping of role -> ndarray or Volume
        ``{"t1c": ...}`` for lesions, ``{"t2": ...}`` for edema and cord (``"pre"``: T1 before
        contrast), on one grid.
    geometry : Geometry or None
        That grid (None: the images' own, when they are Volumes).
    prompts : Point, Box, Scribble or a sequence of them
        LPS mm, inside the image.
    target : {"lesion", "edema", "cord"}
    masks : mapping of role -> ndarray or Volume, optional
        What is segmented already: ``"cord"``, ``"lesions"``.
    check : bool
        For lesions: refuse a region that cannot be an intramedullary lesion
        (:func:`~lesionview.segment.lesion.check_lesion`), whichever back end drew it.
    **options
        Passed to the back end (``sensitivity=`` for the classical one).

    Returns
    -------
    Segmentation
        The back end's answer, ``details["backend"]`` naming it.

    Raises
    ------
    InputError
        Inputs that cannot be used (not a mapping of images, prompts outside the image, an
        unknown back end or one that cannot run here), said in words.
    BackendError
        The back end failed or answered something else than a bool or integer mask on the grid.

    Examples
    --------
    >>> g = Geometry((20, 20, 20))
    >>> img = np.full(g.shape, 100.0); img[8:12, 8:12, 8:12] = 300.0
    >>> seg = segment_with("classical", {"t1c": img}, g, Point(g.index_to_world([9, 9, 9])), "lesion")
    >>> int(seg.mask.sum()), seg.details["backend"]
    (64, 'classical')
    """
    if target not in TARGETS:
        raise InputError(f"target must be one of {', '.join(TARGETS)}; got {target!r}.")
    name = backend if isinstance(backend, str) else type(backend).__name__
    backend = get_backend(backend) if isinstance(backend, str) else backend
    if not isinstance(backend, SegmentationBackend):
        raise InputError(f"{name!r} is not a lesionview SegmentationBackend.")
    if target not in backend.targets:
        raise InputError(f"the back end {name!r} does not segment {target}s; "
                         f"it does {', '.join(sorted(backend.targets))}.")
    images = _roles(images, "image", '{"t1c": array}')
    masks = {} if masks is None else _roles(masks, "mask", '{"cord": array}')
    if geometry is None:
        own = [getattr(v, "geometry", None) for v in images.values()]
        geometry = next((g for g in own if isinstance(g, Geometry)), None)
    if not isinstance(geometry, Geometry):
        raise InputError(f"geometry must be a lesionview Geometry, got {type(geometry).__name__}.")
    arrays = _arrays(images, geometry, "image", mask=False)
    if not arrays:
        raise InputError("no image was given to segment.")
    known = _arrays(masks, geometry, "mask", mask=True)
    prompts = check_prompts(prompts, geometry)
    sensitivity = options.get("sensitivity", 0.5)
    if not isinstance(sensitivity, (int, float, np.number)) or not 0.0 <= float(sensitivity) <= 1.0:
        raise InputError(f"sensitivity must be a number between 0 and 1, got {sensitivity!r}.")
    try:
        seg = backend.segment(arrays, geometry, prompts, target, masks=known, check=check, **options)
    except LesionviewError:
        raise
    except Exception as exc:
        raise BackendError(f"the segmentation back end {name!r} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(seg, Segmentation):
        raise BackendError(f"the segmentation back end {name!r} answered a {type(seg).__name__}, "
                           "not a Segmentation.")
    if not seg.geometry.same_space(geometry) or seg.mask.shape != geometry.shape:
        raise BackendError(f"the segmentation back end {name!r} answered a mask on another grid "
                           f"({seg.geometry.describe()}) than the image's ({geometry.describe()}).")
    if np.asarray(seg.mask).dtype.kind not in "biu":
        # A probability map written as labels would be all "lesion" wherever it is above 0.
        raise BackendError(f"the segmentation back end {name!r} answered a {np.asarray(seg.mask).dtype} mask, "
                           "not bool or integer labels: a back end thresholds its probabilities itself.")
    details = {**seg.details, "backend": name}
    # (grow_lesion checks its own regions: not again)
    if check and target == "lesion" and not isinstance(backend, ClassicalBackend) and not seg.reason \
            and np.any(seg.mask):
        problem, numbers = check_lesion(seg.mask != 0, geometry, cord_region=known.get("cord"))
        if problem:
            return Segmentation.empty(geometry, problem, **{**details, **numbers, "refused": True})
    return Segmentation(seg.mask, geometry, seg.reason, details)


__all__ = ["CLASSICAL", "ENTRY_POINT_GROUP", "TARGETS", "BackendError", "BackendInfo", "Box",
           "ClassicalBackend", "Point", "Prompt", "Scribble", "SegmentationBackend", "available_backends",
           "check_prompts", "get_backend", "segment_with"]
