"""Thick slices across the cord: when lengths along it, gaps and level extents carry a ±.

A mask knows an edge only to within the voxel it falls in. Across slices of 3 mm or more that is
a number a reader must see: a lesion on one 3 mm axial slice may be 1 mm or 5 mm long, and its
end may lie in the next vertebral level. Whether a study is in that case is a property of the
grid and of the cord's direction, not of a projected number: a grid is *thick across the cord*
at a region when its largest voxel spacing is :data:`THICK_SLICE_MM` or more and that array axis
lies within :data:`MAX_ANGLE_DEGREES` of the cord axis there (axial slices on a tilted cord
still are; sagittal slices are not). :func:`slice_thickness_across` decides it once, in
:func:`~lesionview.measure.measure`, which stores the answer on the result
(``Lesion.thick_slices_mm``, ``Edema.thick_slices_mm``, ``LesionPair.gap_thick_slices_mm``); every
report reads it through :func:`shown_uncertainty`, never from geometry.

The ± shown is the measured uncertainty itself: one voxel box projected on the cord axis
(``craniocaudal_uncertainty_mm``; 2.99 mm for 3 mm slices at 20 degrees to the cord) or on the
line joining the two closest boundary voxels of a pair (``gap_craniocaudal_uncertainty_mm``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..geometry import Geometry
from ..levels.names import index_of, name_of
from .models import Edema, Lesion, LesionPair, LevelSpan

#: Slices this thick (mm) or more make an uncertainty worth showing.
THICK_SLICE_MM = 3.0
#: The thick array axis counts as lying across the cord within this angle of the cord axis.
MAX_ANGLE_DEGREES = 45.0

__all__ = ["MAX_ANGLE_DEGREES", "THICK_SLICE_MM", "plus_minus", "possible_extra_levels", "possible_level_count",
           "shown_uncertainty", "slice_thickness_across"]


def slice_thickness_across(geometry: Geometry, direction) -> float | None:
    """The slice thickness (mm) when slices of :data:`THICK_SLICE_MM` or more lie across
    ``direction`` (a world LPS vector: the cord axis, or the line a gap is measured along), else None.

    "Across" means the array axis of the largest spacing lies within :data:`MAX_ANGLE_DEGREES`
    of ``direction`` (either sense).

    Examples
    --------
    >>> g = Geometry((4, 4, 4), spacing=(0.5, 0.5, 3.0))          # axial slices along z
    >>> tilted = [0.0, np.sin(np.radians(20)), np.cos(np.radians(20))]
    >>> slice_thickness_across(g, tilted), slice_thickness_across(g, [1.0, 0.0, 0.0])
    (3.0, None)
    """
    u = np.asarray(direction, float)
    norm = float(np.linalg.norm(u))
    if norm == 0:
        return None
    spacing = np.asarray(geometry.spacing, float)
    a = int(np.argmax(spacing))
    if spacing[a] < THICK_SLICE_MM:
        return None
    cosine = abs(float(geometry.direction_matrix[:, a] @ u)) / norm
    return float(spacing[a]) if cosine >= np.cos(np.radians(MAX_ANGLE_DEGREES)) - 1e-9 else None


def shown_uncertainty(item: Lesion | Edema | LesionPair) -> float | None:
    """The ± a report shows (mm): a lesion's or an edema's craniocaudal uncertainty (its lengths
    along the cord and its level extent), a pair's gap uncertainty, when thick slices lie across
    them (as :func:`measure` recorded); None otherwise (the uncertainty is below what a reader
    cares about).

    Examples
    --------
    >>> from lesionview.measure.models import LesionPair
    >>> pair = LesionPair(a=1, b=2, gap_mm=3.0, gap_uncertainty_mm=3.0, gap_craniocaudal_uncertainty_mm=2.99,
    ...                   gap_thick_slices_mm=3.0, same_edema=True, adjacent=True)
    >>> shown_uncertainty(pair)
    2.99
    """
    if isinstance(item, LesionPair):
        return item.gap_craniocaudal_uncertainty_mm if item.gap_thick_slices_mm else None
    return item.craniocaudal_uncertainty_mm if item.thick_slices_mm else None


def plus_minus(uncertainty_mm: float | None) -> str:
    """``" ± 3.0"`` after a number whose shown uncertainty is ``uncertainty_mm``, else ``""``
    (pass :func:`shown_uncertainty`, or ``axial_uncertainty_mm``, which is set only across thick
    slices).

    Examples
    --------
    >>> plus_minus(3.02), plus_minus(None)
    (' ± 3.0', '')
    """
    return "" if uncertainty_mm is None else f" ± {uncertainty_mm:.1f}"


def possible_extra_levels(span: LevelSpan | None) -> list[str]:
    """The levels beyond ``span.first``-``span.last`` that the region may reach within its
    craniocaudal uncertainty, superior first: ``["C4", "C6-C7"]``; ``[]`` when there are none.

    Examples
    --------
    >>> possible_extra_levels(LevelSpan(first="C5", last="C6", count=2, possible_first="C4", possible_last="C6"))
    ['C4']
    """
    if span is None or span.possible_label is None:
        return []
    first, last = span.possible_first or span.first, span.possible_last or span.last
    try:
        top, bottom = index_of(span.first), index_of(span.last)
    except InputError:  # not a standard vertebra name: name the whole range it may span
        return [span.possible_label]
    extra = []
    if first != span.first:
        extra.append(first if index_of(first) == top - 1 else f"{first}-{name_of(top - 1)}")
    if last != span.last:
        extra.append(last if index_of(last) == bottom + 1 else f"{name_of(bottom + 1)}-{last}")
    return extra


def possible_level_count(span: LevelSpan | None) -> int | None:
    """How many levels the region may span within its craniocaudal uncertainty (None when no
    wider range is recorded or the names are not standard).

    Examples
    --------
    >>> possible_level_count(LevelSpan(first="C4", last="C5", count=2, possible_first="C4", possible_last="C6"))
    3
    """
    if span is None or span.possible_label is None:
        return None
    try:
        return index_of(span.possible_last or span.last) - index_of(span.possible_first or span.first) + 1
    except InputError:
        return None
