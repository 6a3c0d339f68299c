"""How many lesions, and whether two of them form an adjacent ("twin") pair."""

from __future__ import annotations

from itertools import combinations

from ..defaults import TWIN_GAP_MM
from .models import LesionPair, Multiplicity, MultiplicityClass


def level_distance(a: set[int], b: set[int]) -> int | None:
    """0 when two level sets share a level, else the smallest index difference; None if unknown."""
    if not a or not b:
        return None
    if a & b:
        return 0
    return min(abs(x - y) for x in a for y in b)


def classify(lesion_ids: list[int], gaps: dict[tuple[int, int], tuple[float, float]],
             levels: dict[int, set[int]],
             edema_of: dict[int, int | None], *, twin_gap_mm: float = TWIN_GAP_MM,
             gap_lines: dict[tuple[int, int], tuple[float, float | None]] | None = None) -> Multiplicity:
    """Multiplicity class and every pair's gap.

    ``gaps`` maps each pair of ids to (gap, uncertainty) in mm (see ``sections.surface_gap``);
    ``gap_lines`` (optional) to (one voxel box along the line the gap is measured on, the
    thickness of the slices that line crosses or None): the gap's own uncertainty and whether
    reports show it (see ``sections.closest_gap`` and ``thick.slice_thickness_across``).
    Two lesions are *adjacent* when their edge-to-edge gap is at most ``twin_gap_mm`` and they lie
    in the same or neighbouring vertebral levels (the level test is skipped without levels).
    Exactly two lesions that are adjacent make an "adjacent pair" (twin lesions); three or more
    are "multiple" (their adjacent pairs are still listed).
    """
    pairs = []
    for a, b in combinations(lesion_ids, 2):
        dist = level_distance(levels.get(a, set()), levels.get(b, set()))
        gap, uncertainty = gaps[(a, b)]
        along, thick = (gap_lines or {}).get((a, b), (None, None))
        pairs.append(LesionPair(
            a=a, b=b, gap_mm=round(gap, 3), gap_uncertainty_mm=round(uncertainty, 3),
            gap_craniocaudal_uncertainty_mm=None if along is None else round(along, 3),
            gap_thick_slices_mm=thick,
            same_edema=edema_of.get(a) is not None and edema_of.get(a) == edema_of.get(b),
            level_distance=dist,
            adjacent=gap <= twin_gap_mm and (dist is None or dist <= 1),
        ))
    n = len(lesion_ids)
    if n == 0:
        kind = MultiplicityClass.NONE
    elif n == 1:
        kind = MultiplicityClass.SOLITARY
    elif n == 2 and pairs[0].adjacent:
        kind = MultiplicityClass.ADJACENT_PAIR
    else:
        kind = MultiplicityClass.MULTIPLE
    return Multiplicity(count=n, kind=kind, pairs=pairs, twin_gap_mm=twin_gap_mm)
