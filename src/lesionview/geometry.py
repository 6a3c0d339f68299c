"""Where a voxel array sits in the patient.

Convention
----------
The core works in **DICOM patient coordinates (LPS)**: +x towards the patient's Left,
+y towards Posterior, +z towards Superior (head), in millimetres. NIfTI files are RAS
(+x Right, +y Anterior); they are converted at the edge (``lesionview.io.nifti``) by flipping
the first two world axes, and nowhere else.

A :class:`Geometry` describes the array **in NumPy axis order**: ``spacing[a]`` is the voxel
size along array axis ``a`` and ``direction[:, a]`` the unit LPS vector along which that axis
increases. So ``world = origin + direction @ (spacing * index)`` with ``index`` in the same
order as ``array[index]``: nothing ever needs to reverse axes as SimpleITK users do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Letter for the direction each LPS axis increases towards, and its opposite.
_POSITIVE = "LPS"
_NEGATIVE = "RAI"
_OPPOSITE = dict(zip(_POSITIVE + _NEGATIVE, _NEGATIVE + _POSITIVE))

#: Unit LPS vector towards the patient's head.
SUPERIOR = np.array([0.0, 0.0, 1.0])
SUPERIOR.flags.writeable = False

#: Beyond this tilt from the nearest cardinal plane a slice is called "oblique" (degrees).
OBLIQUE_DEGREES = 10.0

_PLANE_OF_NORMAL = {0: "sagittal", 1: "coronal", 2: "axial"}


def _as_tuple(values, n: int, name: str, dtype=float) -> tuple:
    arr = np.asarray(values, dtype=dtype).reshape(-1)
    if arr.size != n:
        raise ValueError(f"{name} needs {n} values, got {arr.size}: {values!r}")
    return tuple(dtype(v) for v in arr)


@dataclass(frozen=True)
class Geometry:
    """Shape, voxel spacing, origin and direction of a 3D array in LPS millimetres.

    Parameters
    ----------
    shape : tuple of 3 int
        Array shape, NumPy order.
    spacing : tuple of 3 float
        Voxel size in mm along each array axis (centre-to-centre distance).
    origin : tuple of 3 float
        LPS position (mm) of the centre of voxel ``(0, 0, 0)``.
    direction : 3x3 array-like
        Column ``a`` is the LPS unit vector of array axis ``a``. Must be orthonormal.

    Examples
    --------
    >>> g = Geometry((2, 3, 4), spacing=(3.0, 0.5, 0.5))
    >>> g.index_to_world([1, 2, 2]).tolist()
    [3.0, 1.0, 1.0]
    >>> g.orientation
    'LPS'
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[tuple[float, float, float], ...] = ((1, 0, 0), (0, 1, 0), (0, 0, 1))

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "shape", _as_tuple(self.shape, 3, "shape", int))
        set_(self, "spacing", _as_tuple(self.spacing, 3, "spacing"))
        set_(self, "origin", _as_tuple(self.origin, 3, "origin"))
        d = np.asarray(self.direction, dtype=float)
        if d.shape != (3, 3):
            raise ValueError(f"direction must be 3x3, got shape {d.shape}")
        if min(self.spacing) <= 0 or not np.all(np.isfinite(self.spacing)):
            raise ValueError(f"spacing must be positive and finite, got {self.spacing}")
        if min(self.shape) < 1:
            raise ValueError(f"shape must be positive, got {self.shape}")
        if not np.allclose(d.T @ d, np.eye(3), atol=1e-4):
            raise ValueError(f"direction must be orthonormal, got\n{d}")
        set_(self, "direction", tuple(tuple(float(v) for v in row) for row in d))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_affine(cls, affine, shape) -> Geometry:
        """Build from a 4x4 index->LPS affine (NumPy axis order)."""
        a = np.asarray(affine, dtype=float)
        if a.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {a.shape}")
        m = a[:3, :3]
        spacing = np.linalg.norm(m, axis=0)
        if np.any(spacing <= 0):
            raise ValueError(f"affine has a zero-length axis:\n{a}")
        direction = m / spacing
        # Nearly orthogonal (e.g. float32 round-off in headers): snap to the closest rotation.
        u, _, vt = np.linalg.svd(direction)
        return cls(tuple(shape), tuple(spacing), tuple(a[:3, 3]), u @ vt)

    # ------------------------------------------------------------------ matrices
    @cached_property
    def direction_matrix(self) -> np.ndarray:
        return np.array(self.direction)

    @cached_property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping a homogeneous NumPy index to LPS mm."""
        a = np.eye(4)
        a[:3, :3] = self.direction_matrix * np.array(self.spacing)
        a[:3, 3] = self.origin
        a.flags.writeable = False
        return a

    @property
    def ras_affine(self) -> np.ndarray:
        """The same mapping into RAS (what NIfTI stores)."""
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ self.affine

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel in mm^3."""
        return float(np.prod(self.spacing))

    @property
    def extent_mm(self) -> tuple[float, float, float]:
        """Size of the field of view along each array axis (voxel edge to edge), mm."""
        return tuple(float(n * s) for n, s in zip(self.shape, self.spacing))

    # ------------------------------------------------------------------ mapping
    def index_to_world(self, index) -> np.ndarray:
        """Map index coordinates (..., 3), possibly fractional, to LPS mm (..., 3)."""
        idx = np.asarray(index, dtype=float)
        return idx @ self.affine[:3, :3].T + self.affine[:3, 3]

    def world_to_index(self, world) -> np.ndarray:
        """Map LPS mm (..., 3) to fractional index coordinates (..., 3)."""
        w = np.asarray(world, dtype=float) - self.affine[:3, 3]
        inv = (self.direction_matrix / np.array(self.spacing)).T  # inverse of D*S for orthonormal D
        return w @ inv.T

    def contains(self, world, *, margin: float = 0.5) -> np.ndarray:
        """True where LPS points fall inside the array (within ``margin`` voxels of its edge)."""
        idx = self.world_to_index(world)
        upper = np.array(self.shape) - 1 + margin
        return np.all((idx >= -margin) & (idx <= upper), axis=-1)

    # ------------------------------------------------------------------ orientation
    @property
    def orientation(self) -> str:
        """Letters telling towards which patient side each array axis increases (e.g. "PSR")."""
        return "".join(_axis_letter(self.direction_matrix[:, a]) for a in range(3))

    def plane(self, slice_axis: int = 0) -> str:
        """Name of the plane of the slices stacked along ``slice_axis``.

        "sagittal", "coronal" or "axial" when the slice normal is within
        :data:`OBLIQUE_DEGREES` of a patient axis, else "oblique".
        """
        normal = self.direction_matrix[:, slice_axis]
        if self.tilt_degrees(slice_axis) > OBLIQUE_DEGREES:
            return "oblique"
        return _PLANE_OF_NORMAL[int(np.argmax(np.abs(normal)))]

    def tilt_degrees(self, slice_axis: int = 0) -> float:
        """Angle between the slice normal and the nearest patient axis, degrees."""
        normal = self.direction_matrix[:, slice_axis]
        return float(np.degrees(np.arccos(np.clip(np.max(np.abs(normal)), -1, 1))))

    # ------------------------------------------------------------------ comparison
    def same_space(self, other: Geometry, *, atol_mm: float = 1e-3, atol_dir: float = 1e-4) -> bool:
        """True if both describe the same voxel grid (shape, and every voxel centre within tolerance).

        Origins and spacings are compared in mm, directions as unit vectors, so the answer
        does not depend on the field-of-view size beyond the corner test.
        """
        if self.shape != other.shape:
            return False
        if not np.allclose(self.direction_matrix, other.direction_matrix, atol=atol_dir):
            return False
        corners = np.array(np.meshgrid(*[[0, n - 1] for n in self.shape], indexing="ij"))
        corners = corners.reshape(3, -1).T
        return bool(np.all(np.abs(self.index_to_world(corners) - other.index_to_world(corners)) <= atol_mm))

    def describe(self) -> str:
        """One line for error messages: shape, spacing, origin, orientation."""
        sp = "x".join(f"{s:g}" for s in self.spacing)
        org = ", ".join(f"{o:.2f}" for o in self.origin)
        return f"shape {self.shape}, spacing {sp} mm, origin ({org}) mm, orientation {self.orientation}"

    # ------------------------------------------------------------------ transforms
    def with_shape(self, shape) -> Geometry:
        return Geometry(shape, self.spacing, self.origin, self.direction)

    def cropped(self, slices: tuple[slice, slice, slice]) -> Geometry:
        """Geometry of ``array[slices]`` (unit-step slices, as from ``scipy.ndimage.find_objects``)."""
        starts, shape = [], []
        for sl, n in zip(slices, self.shape):
            start, stop, step = sl.indices(n)
            if step != 1:
                raise ValueError(f"cropping needs unit-step slices, got {sl}")
            starts.append(start)
            shape.append(max(stop - start, 0))
        return Geometry(tuple(shape), self.spacing, tuple(self.index_to_world(starts)), self.direction)

    def reorientation(self, target: str = "LPS") -> tuple[tuple[int, int, int], tuple[bool, bool, bool]]:
        """Axis permutation and flips that bring this grid closest to ``target`` orientation.

        Returns ``(order, flip)`` such that ``np.transpose(array, order)`` followed by flipping the
        axes where ``flip`` is true gives an array oriented as ``target`` (as near as an oblique
        grid allows). See :func:`reorient`.
        """
        target = _check_code(target)
        d = np.abs(self.direction_matrix)
        order, used = [], set()
        for letter in target:
            world_axis = _POSITIVE.index(letter) if letter in _POSITIVE else _NEGATIVE.index(letter)
            # The array axis most aligned with this world axis, each used once (greedy on |cos|).
            candidates = sorted(range(3), key=lambda a: -d[world_axis, a])
            axis = next(a for a in candidates if a not in used)
            used.add(axis)
            order.append(axis)
        flip = []
        for out_axis, axis in enumerate(order):
            flip.append(_axis_letter(self.direction_matrix[:, axis]) != target[out_axis])
        return tuple(order), tuple(flip)

    def grid_map(self, target: Geometry, *, atol_mm: float = 1e-3) -> GridMap | None:
        """How this grid's voxels fall on ``target``'s voxels without interpolation, or None.

        Every voxel centre of this grid must coincide (within ``atol_mm``, checked at the corners,
        where an affine error is largest) with a voxel centre of ``target``, at the same spacing:
        the two grids differ only by the order and sense of their axes and, possibly, by whole
        voxels of field of view. Hand-written because highdicom's ``Volume.match_geometry`` also
        accepts integer spacing ratios (subsampling) and crops without saying so, and SimpleITK
        resamples.

        Examples
        --------
        >>> rip = Geometry((2, 3, 4), direction=[[-1, 0, 0], [0, 0, 1], [0, -1, 0]])
        >>> _, pir = reorient(np.zeros(rip.shape), rip, "PIR")   # the same voxels, stored otherwise
        >>> m = pir.grid_map(rip)
        >>> m.describe(), m.same_grid
        ('PIR -> RIP', True)
        """
        to_target = np.linalg.inv(target.affine) @ self.affine
        m, b = to_target[:3, :3].copy(), to_target[:3, 3]
        for a in range(3):
            if self.shape[a] == 1:  # one voxel thick (a single SEG frame): its spacing places no centre
                m[:, a] = target.direction_matrix.T @ self.direction_matrix[:, a]
        r, start = np.rint(m), np.rint(b)
        signed_permutation = (np.all(np.abs(r).sum(axis=0) == 1) and np.all(np.abs(r).sum(axis=1) == 1)
                              and np.all(np.abs(r) <= 1))
        if not signed_permutation or not np.allclose(m, r, atol=1e-3):
            return None  # another spacing, or axes that are not parallel
        corners = np.array(np.meshgrid(*[[0, n - 1] for n in self.shape], indexing="ij")).reshape(3, -1).T
        moved = target.index_to_world(corners @ r.T + start) - self.index_to_world(corners)
        if np.max(np.abs(moved)) > atol_mm:
            return None
        order = tuple(int(np.flatnonzero(r[j])[0]) for j in range(3))
        flip = tuple(bool(r[j, order[j]] < 0) for j in range(3))
        # Target index of voxel 0 of the permuted and flipped array (its first voxel was the last).
        first = tuple(int(start[j] - (self.shape[order[j]] - 1 if flip[j] else 0)) for j in range(3))
        return GridMap(order, flip, first, self, target)


@dataclass(frozen=True)
class GridMap:
    """Where the voxels of ``source`` lie on ``target``'s voxel grid (see :meth:`Geometry.grid_map`).

    ``np.transpose(array, order)``, then flipping the axes where ``flip`` is true, stores a
    source array in the target's axis order; its voxel 0 is target voxel ``start``.
    """

    order: tuple[int, int, int]
    flip: tuple[bool, bool, bool]
    start: tuple[int, int, int]
    source: Geometry
    target: Geometry

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of the source array once permuted."""
        return tuple(self.source.shape[a] for a in self.order)

    @property
    def same_grid(self) -> bool:
        """True when source and target are the same voxels, only stored in another order."""
        return self.start == (0, 0, 0) and self.shape == self.target.shape

    def describe(self) -> str:
        """"PIR -> RIP": the storage orientations of source and target."""
        return f"{self.source.orientation} -> {self.target.orientation}"

    def apply(self, array: np.ndarray, *, fill=0) -> np.ndarray:
        """``array`` (on ``source``) on the target grid: voxels moved, never interpolated.

        Target voxels the source does not cover get ``fill``. Raises ``ValueError`` when source
        voxels that differ from ``fill`` fall outside the target (they would be lost).
        """
        if array.shape != self.source.shape:
            raise ValueError(f"array shape {array.shape} does not match the source grid {self.source.shape}")
        moved = np.transpose(array, self.order)
        moved = np.flip(moved, [a for a in range(3) if self.flip[a]]) if any(self.flip) else moved
        if self.same_grid:
            return np.ascontiguousarray(moved)
        inside = tuple(slice(max(-s, 0), min(t - s, n)) for s, n, t in zip(self.start, moved.shape, self.target.shape))
        kept = moved[inside] if all(sl.start < sl.stop for sl in inside) else moved[:0, :0, :0]
        if np.count_nonzero(kept != fill) != np.count_nonzero(moved != fill):
            raise ValueError("voxels of the array fall outside the target grid")
        out = np.full(self.target.shape, fill, dtype=array.dtype)
        out[tuple(slice(sl.start + s, sl.stop + s) for sl, s in zip(inside, self.start))] = kept
        return out


def _axis_letter(vec: np.ndarray) -> str:
    k = int(np.argmax(np.abs(vec)))
    return _POSITIVE[k] if vec[k] > 0 else _NEGATIVE[k]


def _check_code(code: str) -> str:
    code = code.upper()
    axes = {c if c in _POSITIVE else _OPPOSITE[c] for c in code if c in _OPPOSITE}
    if len(code) != 3 or len(axes) != 3:
        raise ValueError(f"orientation code must name each patient axis once (e.g. 'LPS', 'RAS', 'PSR'), got {code!r}")
    return code


def reorient(array: np.ndarray, geometry: Geometry, target: str = "LPS") -> tuple[np.ndarray, Geometry]:
    """Permute and flip ``array`` so its axes run as ``target`` says, without resampling.

    Voxel values and their world positions are unchanged: only the storage order changes,
    and the returned geometry describes the new order. Oblique grids keep their tilt (the
    nearest orientation is chosen). Returns a view where NumPy allows.

    Examples
    --------
    >>> import numpy as np
    >>> g = Geometry((2, 3, 4), direction=np.diag([-1.0, -1.0, 1.0]))   # RAS storage
    >>> a, g2 = reorient(np.zeros(g.shape), g, "LPS")
    >>> g2.orientation, a.shape
    ('LPS', (2, 3, 4))
    """
    if array.shape[:3] != geometry.shape:
        raise ValueError(f"array shape {array.shape} does not match geometry shape {geometry.shape}")
    order, flip = geometry.reorientation(target)
    out = np.transpose(array, order + tuple(range(3, array.ndim)))
    d = geometry.direction_matrix[:, order].copy()
    spacing = np.array(geometry.spacing)[list(order)]
    shape = np.array(geometry.shape)[list(order)]
    origin = np.array(geometry.origin, dtype=float)
    for axis, f in enumerate(flip):
        if f:
            out = np.flip(out, axis=axis)
            # New voxel 0 is the old last voxel along this axis.
            origin = origin + d[:, axis] * spacing[axis] * (shape[axis] - 1)
            d[:, axis] = -d[:, axis]
    return out, Geometry(tuple(shape), tuple(spacing), tuple(origin), d)
