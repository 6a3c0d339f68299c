"""``classify()`` on its own, where the table through ``measure()`` cannot reach: a gap exactly at
the threshold, edema ids that differ, and the rounding of the gaps it records (mutants that survived
the first mutation run, scripts/mutation.py)."""

from __future__ import annotations

import pytest

from lesionview.measure.models import MultiplicityClass
from lesionview.measure.multiplicity import classify


def test_a_gap_exactly_at_the_threshold_is_adjacent():
    m = classify([1, 2], {(1, 2): (10.0, 0.3)}, {1: {5}, 2: {6}}, {}, twin_gap_mm=10.0)
    assert m.pairs[0].adjacent is True and m.kind is MultiplicityClass.ADJACENT_PAIR
    m = classify([1, 2], {(1, 2): (10.001, 0.3)}, {1: {5}, 2: {6}}, {}, twin_gap_mm=10.0)
    assert m.pairs[0].adjacent is False and m.kind is MultiplicityClass.MULTIPLE


@pytest.mark.parametrize("edema_of, same", [({1: 2, 2: 1}, False), ({1: 1, 2: 2}, False), ({1: 3, 2: 3}, True),
                                            ({1: None, 2: None}, False), ({1: int("300"), 2: int("300")}, True)])
def test_same_edema_only_when_both_lie_in_one_region(edema_of, same):
    m = classify([1, 2], {(1, 2): (4.0, 0.3)}, {}, edema_of)
    assert m.pairs[0].same_edema is same


def test_the_recorded_gaps_keep_three_decimals():
    m = classify([1, 2], {(1, 2): (7.12345, 0.45678)}, {}, {}, gap_lines={(1, 2): (1.23456, 3.5)})
    pair = m.pairs[0]
    assert pair.gap_mm == pytest.approx(7.123, abs=1e-9)
    assert pair.gap_uncertainty_mm == pytest.approx(0.457, abs=1e-9)
    assert pair.gap_craniocaudal_uncertainty_mm == pytest.approx(1.235, abs=1e-9)
    assert pair.gap_thick_slices_mm == 3.5
    bare = classify([1, 2], {(1, 2): (7.12345, 0.45678)}, {}, {}).pairs[0]
    assert bare.gap_craniocaudal_uncertainty_mm is None and bare.gap_thick_slices_mm is None


def test_keywords_name_every_argument():
    m = classify(lesion_ids=[1, 2], gaps={(1, 2): (2.0, 0.5)}, levels={1: {3}, 2: {3}}, edema_of={1: 1, 2: 1},
                 twin_gap_mm=5.0)
    assert m.kind is MultiplicityClass.ADJACENT_PAIR and m.pairs[0].level_distance == 0
