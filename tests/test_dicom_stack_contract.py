"""Contract of ``lesionview.io.dicom.stack``: grouping, step, gaps and problems, from in-memory headers.

Slices are built from pydicom datasets as a scanner writes them (oblique ImageOrientationPatient,
ImagePositionPatient, PixelSpacing, InstanceNumber scrambled), without pixel data, and handed to
``stack.group`` / ``stack.build``. Every expected position is computed from the headers by the
PS3.3 C.7.6.2.1.1 formula (voxel = IPP + col * dc * row cosines + row * dr * column cosines, slices
along row x column), never from the module's constants. Checks: split parts are named ``uid#1``,
``uid#2``; the message of a size split names rows x cols; series without a SeriesNumber sort after
numbered ones; a single slice says when its thickness was assumed; a missing slice keeps every
slice at its true position and its place is named; an uneven step and a misplaced slice are said
with the offset they cause; a missing slice within tolerance still counts as missing, an uneven one
that is no multiple does not; a sheared stack reports its full drift.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from pydicom.dataset import Dataset

from lesionview.io.dicom import stack
from lesionview.io.dicom.discover import Header
from lesionview.io.dicom.slices import Slice

# An oblique plane (rotated about two axes), unit and orthogonal to print precision.
_ROW = np.array([np.cos(0.3), np.sin(0.3), 0.0])
_COL = np.array([-np.sin(0.3) * np.cos(0.2), np.cos(0.3) * np.cos(0.2), -np.sin(0.2)])
_NORMAL = np.cross(_ROW, _COL)
_ORIGIN = np.array([-12.5, 30.25, 101.0])
_PS = (0.8, 0.6)  # PixelSpacing: between rows, between columns


def _slice(name, ipp, *, iop=None, rows=4, cols=3, instance=1, thickness=None, uid="1.2.3",
           series_number=None) -> Slice:
    ds = Dataset()
    ds.SeriesInstanceUID = uid
    if series_number is not None:
        ds.SeriesNumber = series_number
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
    iop = tuple(np.concatenate([_ROW, _COL])) if iop is None else tuple(iop)
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in iop]
    ds.PixelSpacing = list(_PS)
    ds.Rows, ds.Columns = rows, cols
    if thickness is not None:
        ds.SliceThickness = thickness
    # The Slice fields as read from the header (pydicom's parsed values).
    return Slice(Header(name, ds, 0, 0, 0), 0, np.array([float(v) for v in ds.ImagePositionPatient]),
                 tuple(float(v) for v in ds.ImageOrientationPatient), rows, cols,
                 tuple(float(v) for v in ds.PixelSpacing), None, instance=instance, thickness=thickness)


def _series(offsets_mm, shift_mm=None, **kw) -> list[Slice]:
    """Slices at ``offsets_mm`` along the normal (scrambled instance numbers, reversed file order)."""
    shift_mm = [0.0] * len(offsets_mm) if shift_mm is None else shift_mm
    out = [_slice(f"s/{i}.dcm", _ORIGIN + z * _NORMAL + s * _ROW, instance=(7 * i + 3) % 11, **kw)
           for i, (z, s) in enumerate(zip(offsets_mm, shift_mm))]
    return out[::-1]


def _expected_world(k_mm, i, j) -> np.ndarray:
    """PS3.3 position of row i, column j of the plane k_mm along the normal from the first slice."""
    return _ORIGIN + k_mm * _NORMAL + i * _PS[0] * _COL + j * _PS[1] * _ROW


def _one_syntax(slices: list[Slice]) -> list[Slice]:
    """``slices`` with one transfer syntax (read when images at one position must be told apart)."""
    pixels = SimpleNamespace(transfer_syntax="1.2.840.10008.1.2.1")
    return [replace(s, pixels=pixels) for s in slices]


def _one(stacks):
    assert len(stacks) == 1
    return stacks[0]


def _problem(st, start: str) -> str:
    found = [p for p in st.problems if p.startswith(start)]
    assert len(found) == 1, st.problems
    return found[0]


def test_split_parts_are_named_uid_hash_one_and_two_and_the_message_gives_rows_x_cols():
    # A 4x3 stack and a 6x3 localiser in one series UID: split, each part choosable by uid#k.
    main = _series([0.0, 2.0, 4.0])
    localiser = [_slice("s/loc.dcm", _ORIGIN, rows=6, cols=3, iop=(*_COL, *_ROW))]
    stacks = stack.group(main + localiser, str)
    assert sorted(st.uid for st in stacks) == ["1.2.3#1", "1.2.3#2"]
    sizes = {st.uid: (st.geometry.shape[1], st.geometry.shape[2]) for st in stacks}
    assert sorted(sizes.values()) == [(4, 3), (6, 3)]
    msg = _problem(stacks[0], "series split into 2 stacks")
    assert "3 slice(s) 4x3" in msg and "1 slice(s) 6x3" in msg


def test_series_without_series_number_sort_after_numbered_ones():
    unnumbered = _series([0.0, 1.0], uid="1.1")       # uid sorts first, but no SeriesNumber
    numbered = _series([0.0, 1.0], uid="9.9", series_number=7)
    assert [st.uid for st in stack.group(unnumbered + numbered, str)] == ["9.9", "1.1"]
    low = _series([0.0, 1.0], uid="5.5", series_number=2)
    assert [st.uid for st in stack.group(numbered + unnumbered + low, str)] == ["5.5", "9.9", "1.1"]


@pytest.mark.parametrize("thickness", [None, 3.5])
def test_single_slice_uses_its_thickness_and_says_when_it_was_assumed(thickness):
    st = _one(stack.group(_series([0.0], thickness=thickness), str))
    want = 1.0 if thickness is None else thickness
    assert st.geometry.spacing[0] == pytest.approx(want)
    msg = _problem(st, "single slice")
    assert (", assumed" in msg) == (thickness is None)


def test_missing_slice_keeps_every_position_and_is_named_where_it_belongs():
    # Regular 2.5 mm step, the slice at 7.5 mm missing; files in scrambled order.
    offsets = [0.0, 2.5, 5.0, 10.0, 12.5]
    st = _one(stack.group(_series(offsets), str))
    assert st.slots == (0, 1, 2, 4, 5)
    assert st.geometry.shape == (6, 4, 3)
    assert st.geometry.spacing[0] == pytest.approx(2.5)
    for slot, z in zip(st.slots, offsets):
        for i, j in [(0, 0), (3, 2), (1, 2)]:
            np.testing.assert_allclose(st.geometry.index_to_world((slot, i, j)), _expected_world(z, i, j),
                                       atol=1e-4)
    assert [(g.missing, round(g.before_mm - offsets[0] - _ORIGIN @ _NORMAL, 3)) for g in st.gaps] == [(1, 5.0)]
    z0 = _ORIGIN @ _NORMAL
    assert f"1 empty slice(s) inserted at {z0 + 7.5:.2f} mm" in _problem(st, "1 empty slice(s)")
    assert "1 slice missing" in _problem(st, "gap of 5.00 mm")


def test_three_slices_with_one_missing_get_the_true_step():
    # Steps 2 and 4: the median (3) is wrong; the documented rule gives the smallest, 2.
    st = _one(stack.group(_series([0.0, 2.0, 6.0]), str))
    assert st.geometry.spacing[0] == pytest.approx(2.0)
    assert st.slots == (0, 1, 3)


def test_jittered_regular_steps_use_the_median_step():
    # Steps 2.0, 2.03, 2.03, 2.03 are all one regular step within tolerance: the grid step is the
    # median step (2.03), not the mean (2.0225) nor the smallest (2.0).
    st = _one(stack.group(_series([0.0, 2.0, 4.03, 6.06, 8.09]), str))
    assert st.geometry.spacing[0] == pytest.approx(2.03, abs=1e-3)
    assert st.gaps == ()


def test_missing_slice_within_tolerance_still_counts_as_missing():
    # 2.03 mm where 1 mm steps are regular: two steps off by 0.03 mm (1.5 % per step, under the
    # documented 2 %): one slice missing, not uneven spacing.
    st = _one(stack.group(_series([0.0, 1.0, 2.0, 4.03, 5.03]), str))
    assert st.geometry.spacing[0] == pytest.approx(1.0)
    assert [g.missing for g in st.gaps] == [1]
    assert st.slots == (0, 1, 2, 4, 5)


def test_uneven_step_that_is_no_multiple_is_said_with_its_offset():
    # 2.3 mm where 1 mm is regular: 0.3 mm off a multiple, far over tolerance: uneven, nothing inserted.
    st = _one(stack.group(_series([0.0, 1.0, 2.0, 3.0, 5.3]), str))
    assert [g.missing for g in st.gaps] == [0]
    assert st.slots == (0, 1, 2, 3, 4)
    assert st.geometry.shape[0] == 5
    assert "uneven spacing" in _problem(st, "gap of 2.30 mm")
    assert not any("missing" in p for p in st.problems)
    assert "off by up to 1.30 mm" in _problem(st, "uneven slice spacing")


def test_one_far_slice_is_not_padded_and_its_offset_is_said():
    # Steps 1, 1, 10: nine slices "missing" for three present: a misplaced slice, no padding.
    st = _one(stack.group(_series([0.0, 1.0, 2.0, 12.0]), str))
    assert st.geometry.spacing[0] == pytest.approx(1.0)
    assert st.slots == (0, 1, 2, 3)
    msg = _problem(st, "9 slices would be missing, more than the 4 present")
    assert "off by up to 9.00 mm" in msg
    # On a 2.5 mm grid, a slice 30 mm past the last: 11 "missing", off by 30 - 2.5 mm.
    st = _one(stack.group(_series([0.0, 2.5, 5.0, 35.0]), str))
    assert "off by up to 27.50 mm" in _problem(st, "11 slices would be missing, more than the 4 present")
    # One slice missing in one gap and 10 in another: 11 for 4 present is still a far slice.
    st = _one(stack.group(_series([0.0, 1.0, 3.0, 14.0]), str))
    assert st.slots == (0, 1, 2, 3)
    _problem(st, "11 slices would be missing, more than the 4 present")


def test_sheared_stack_reports_the_drift_across_the_whole_stack():
    # Each slice shifted 0.04 mm further along the row direction: 0.16 mm from first to last.
    st = _one(stack.group(_series([0.0, 1.0, 2.0, 3.0, 4.0], shift_mm=[0.0, 0.04, 0.08, 0.12, 0.16]), str))
    assert "slice positions drift 0.16 mm" in _problem(st, "slice positions drift")
    straight = _one(stack.group(_series([0.0, 1.0, 2.0, 3.0, 4.0]), str))
    assert not any(p.startswith("slice positions drift") for p in straight.problems)


def test_most_steps_skipping_a_slice_still_give_the_true_step():
    # Steps 2, 4.01, 4.01: the median is a whole multiple of the smallest (within tolerance), which
    # is the grid step.
    st = _one(stack.group(_series([0.0, 2.0, 6.01, 10.02]), str))
    assert st.geometry.spacing[0] == pytest.approx(2.0)
    assert st.slots == (0, 1, 3, 5)
    assert [g.missing for g in st.gaps] == [1, 1]


def test_a_large_series_number_still_sorts_before_none():
    unnumbered = _series([0.0, 1.0], uid="1.1")
    numbered = _series([0.0, 1.0], uid="9.9", series_number=2**31 - 1)   # the largest an IS holds
    assert [st.uid for st in stack.group(unnumbered + numbered, str)] == ["9.9", "1.1"]


def test_images_at_the_same_positions_with_nothing_telling_them_apart_are_numbered_from_one():
    slices = _one_syntax(_series([0.0, 2.0]) + _series([0.0, 2.0]))       # one folder too
    stacks = stack.group(slices, str)
    assert len(stacks) == 2 and all(st.geometry.shape[0] == 2 for st in stacks)
    notes = sorted(p for st in stacks for p in st.problems if "occurrence" in p)
    assert [n[n.index("occurrence"):] for n in notes] == ["occurrence 1 of each position",
                                                           "occurrence 2 of each position"]


def test_two_missing_slices_in_one_gap_are_each_placed_and_the_gap_ends_where_it_ends():
    # Slices at 0, 2 and 8 mm: the slices at 4 and 6 are missing (the gap starts at slice 1, an odd index).
    st = _one(stack.group(_series([0.0, 2.0, 8.0]), str))
    z0 = _ORIGIN @ _NORMAL
    (gap,) = st.gaps
    assert gap.missing == 2
    assert (gap.before_mm - z0, gap.after_mm - z0) == (pytest.approx(2.0, abs=1e-4), pytest.approx(8.0, abs=1e-4))
    assert f"2 empty slice(s) inserted at {z0 + 4.0:.2f}, {z0 + 6.0:.2f} mm" in _problem(st, "2 empty slice(s)")


def test_steps_that_are_not_multiples_of_the_smallest_give_the_median_step():
    # regular_step's rule: the smallest step only when every step is a whole multiple of it.
    assert stack.regular_step(np.array([2.0, 3.0, 3.0])) == pytest.approx(3.0)
    assert stack.regular_step(np.array([2.0, 4.0, 4.0])) == pytest.approx(2.0)


def test_steps_near_but_not_within_tolerance_of_a_multiple_give_the_median():
    # 2.2 is 1.1 times 2: 0.2 mm from a whole multiple, beyond the 0.04 mm tolerance.
    assert stack.regular_step(np.array([2.0, 2.2, 2.2])) == pytest.approx(2.2)


def test_an_uneven_gap_beside_a_far_slice_is_reported_as_uneven_spacing():
    # Steps 2, 2, 2, 2, 3 and 32: the 3 mm step is no multiple (uneven), the 32 mm one would be 15
    # missing slices. Not every gap is whole missing slices, so nothing is inserted and the spacing
    # is called uneven.
    st = _one(stack.group(_series([0.0, 2.0, 4.0, 6.0, 8.0, 11.0, 43.0]), str))
    assert st.slots == tuple(range(7))
    assert [g.missing for g in st.gaps] == [0, 15]
    assert _problem(st, "uneven slice spacing").startswith("uneven slice spacing: the grid uses a 2 mm step")
    assert not any("would be missing" in p for p in st.problems)


@pytest.mark.parametrize("first_rows", [4, 6], ids=["smaller first", "larger first"])
def test_slices_of_two_matrix_sizes_in_one_orientation_are_split(first_rows):
    """Same orientation, same positions, 4x3 and 6x3 matrices: two grids, whichever comes first."""
    other = 10 - first_rows
    slices = (_series([0.0, 2.0, 4.0], rows=first_rows)[::-1]
              + [_slice(f"s/b{i}.dcm", _ORIGIN + z * _NORMAL, rows=other, instance=20 + i)
                 for i, z in enumerate([0.0, 2.0, 4.0])])
    stacks = stack.group(slices, str)
    assert sorted(st.geometry.shape for st in stacks) == [(3, 4, 3), (3, 6, 3)]
    assert "differ in orientation or size" in stacks[0].problems[0]


def test_as_many_missing_slices_as_present_are_inserted():
    """Slices at 0, 5 and 25 mm: 3 missing for 3 present is not "more than present", so the empty
    slots are inserted (the far-slice rule starts above that)."""
    st = _one(stack.group(_series([0.0, 5.0, 25.0]), str))
    assert st.geometry.spacing[0] == pytest.approx(5.0)
    assert st.slots == (0, 1, 5) and st.geometry.shape[0] == 6
    z0 = _ORIGIN @ _NORMAL
    assert (f"3 empty slice(s) inserted at {z0 + 10:.2f}, {z0 + 15:.2f}, {z0 + 20:.2f} mm"
            in _problem(st, "3 empty slice(s)"))
    assert "3 slices missing" in _problem(st, "gap of 20.00 mm")


def test_two_missing_slices_on_a_2_5_mm_grid_are_each_named():
    st = _one(stack.group(_series([0.0, 2.5, 10.0]), str))
    z0 = _ORIGIN @ _NORMAL
    assert f"2 empty slice(s) inserted at {z0 + 5.0:.2f}, {z0 + 7.5:.2f} mm" in _problem(st, "2 empty slice(s)")
    assert "2 slices missing" in _problem(st, "gap of 7.50 mm")


@pytest.mark.parametrize("n_spacings", [2, 3])
def test_pixel_spacing_that_differs_between_slices_is_said(n_spacings):
    slices = sorted(_series([0.0, 2.0, 4.0]), key=lambda s: s.name)
    for k in range(1, n_spacings):
        slices[k] = replace(slices[k], pixel_spacing=(0.8 + 0.1 * k, 0.6))
    st = _one(stack.group(slices, str))
    assert _problem(st, "pixel spacing differs between slices").endswith("the first is used")
    assert st.geometry.spacing[1:] == pytest.approx(_PS)


def test_thin_slices_with_positions_rounded_in_the_header_are_regular():
    """0.3 mm slices whose positions were written to about 0.01 mm: steps 0.292-0.308 mm are within
    the absolute 0.01 mm tolerance (2 % of 0.3 mm is only 0.006 mm)."""
    st = _one(stack.group(_series([0.0, 0.3, 0.608, 0.9, 1.208, 1.5]), str))
    assert st.gaps == () and st.slots == tuple(range(6))
    assert st.geometry.spacing[0] == pytest.approx(0.3, abs=1e-6)


def test_a_step_0_3_mm_off_a_multiple_of_5_mm_is_not_a_multiple():
    # 10.3 is 2.06 times 5: 0.3 mm from a whole multiple, beyond the 0.1 mm tolerance of a 5 mm step.
    assert stack.regular_step(np.array([5.0, 10.3, 10.3])) == pytest.approx(10.3)


def test_images_at_one_position_are_numbered_in_instance_order_not_file_order():
    """Two images per position, nothing telling them apart: the copy with the lower InstanceNumbers
    is occurrence 1, although its files come last."""
    late = [_slice(f"s/late{i}.dcm", _ORIGIN + z * _NORMAL, instance=10 + i) for i, z in enumerate([0.0, 2.0])]
    early = [_slice(f"s/early{i}.dcm", _ORIGIN + z * _NORMAL, instance=1 + i) for i, z in enumerate([0.0, 2.0])]
    stacks = stack.group(_one_syntax(late + early), str)
    first = [st for st in stacks if any(p.endswith("occurrence 1 of each position") for p in st.problems)]
    assert len(first) == 1
    assert sorted(s.name for s in first[0].slices) == ["s/early0.dcm", "s/early1.dcm"]


def test_a_series_of_300_slices_is_one_stack_and_two_copies_of_it_are_split_by_folder():
    st = _one(stack.group(_series(list(np.arange(300) * 0.5)), str))
    assert st.geometry.shape == (300, 4, 3) and st.gaps == ()
    assert not any("several images" in p for p in st.problems)
    copies = _one_syntax([replace(s, header=replace(s.header, name=f"{folder}/{s.name}"))
                          for folder in ("a", "b") for s in _series(list(np.arange(300) * 0.5))])
    stacks = stack.group(copies, str)
    assert [st.geometry.shape for st in stacks] == [(300, 4, 3)] * 2
    assert sorted(p[p.index("folder"):] for st in stacks for p in st.problems if "holds those with" in p) == [
        "folder = a/s", "folder = b/s"]


def test_a_file_that_cannot_be_read_again_does_not_stop_the_duplicate_search():
    """Three files with one header in one folder; the first cannot be read again (no digest): the
    other two, with the same pixel bytes, are still a duplicate and its original."""
    slices = [_slice(f"s/{n}.dcm", _ORIGIN) for n in "abc"]
    kept, duplicates = stack.find_duplicates(slices, lambda headers: {"s/b.dcm": "same", "s/c.dcm": "same"})
    assert duplicates == [("s/c.dcm", "s/b.dcm")]
    assert [s.name for s in kept] == ["s/a.dcm", "s/b.dcm"]


@pytest.mark.parametrize("rewritten", ["position", "orientation"])
def test_a_copy_whose_header_holds_fewer_digits_is_still_a_duplicate(rewritten):
    """A re-export of one file, with the same pixel bytes, whose header writes ImagePositionPatient
    to 0.01 mm (x 10.004 -> 10.0) or ImageOrientationPatient to 4 decimals (0.955336 -> 0.9553):
    the same image as the header holds it, so the copy is a duplicate (not a second slice 0.004 mm
    away, nor a second orientation)."""
    ipp = np.array([10.004, -20.0, 30.0])
    iop = np.concatenate([_ROW, _COL])
    original = _slice("s/a.dcm", ipp, iop=iop)
    copy = (_slice("s/b.dcm", np.round(ipp, 2), iop=iop) if rewritten == "position"
            else _slice("s/b.dcm", ipp, iop=np.round(iop, 4)))
    if rewritten == "position":
        assert copy.position[0] != original.position[0]
    else:
        assert copy.orientation != original.orientation
    kept, duplicates = stack.find_duplicates([original, copy], lambda headers: {h.name: "same" for h in headers})
    assert duplicates == [("s/b.dcm", "s/a.dcm")]
    assert [s.name for s in kept] == ["s/a.dcm"]


def _near_a_hundredth(z_mm: float, extra_mm: float) -> np.ndarray:
    """The point ``z_mm`` along the normal from a place whose distance along the normal is a whole
    0.01 mm, plus ``extra_mm`` (so extras of 0.004 and 0.006 mm lie either side of a rounding edge)."""
    z0 = _ORIGIN @ _NORMAL
    return _ORIGIN + (round(z0, 2) - z0 + z_mm + extra_mm) * _NORMAL


@pytest.mark.parametrize("extras", [(0.001, 0.003), (0.004, 0.006), (0.0, 0.009)],
                         ids=["within one hundredth", "across a rounding edge", "0.009 mm apart"])
@pytest.mark.parametrize("told_apart", [True, False], ids=["by EchoNumbers", "by nothing"])
def test_images_whose_positions_differ_by_header_rounding_are_at_one_position(told_apart, extras):
    """Two echoes at 0, 2 and 4 mm whose positions were written up to 0.009 mm apart, also either
    side of a whole 0.005 mm: images at one position, split into two stacks of three slices 2 mm
    apart, by EchoNumbers or, with nothing telling them apart, by occurrence (never one stack of
    six with a 0.002 mm step and 998 slices missing)."""
    slices = []
    for echo, extra in zip((1, 2), extras):
        for k, z in enumerate([0.0, 2.0, 4.0]):
            s = _slice(f"s/e{echo}_{k}.dcm", _near_a_hundredth(z, extra), instance=10 * echo + k)
            if told_apart:
                s.dataset.EchoNumbers = echo
            slices.append(s)
    stacks = stack.group(_one_syntax(slices), str)
    assert [st.geometry.shape[0] for st in stacks] == [3, 3]
    assert all(st.gaps == () and st.geometry.spacing[0] == pytest.approx(2.0, abs=1e-2) for st in stacks)
    held = sorted(sorted(s.name for s in st.slices) for st in stacks)
    assert held == [[f"s/e{e}_{k}.dcm" for k in range(3)] for e in (1, 2)]
    notes = [p for st in stacks for p in st.problems if p.startswith("several images")]
    assert len(notes) == 2 and all(("EchoNumbers" in n) == told_apart for n in notes)


@pytest.mark.parametrize(("cosine", "parts"), [(0.0001, 1), (0.0009, 1), (0.001, 2), (0.01, 2)])
def test_slices_whose_orientation_differs_by_a_thousandth_are_split(cosine, parts):
    """A direction cosine up to 0.0009 off (header noise) stays in the stack; 0.001 off (as the
    header holds it, docs/loading.md) or 0.01 (0.6 degrees) is another orientation, split off and
    said."""
    axial = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    tilted = (1.0, 0.0, 0.0, 0.0, 1.0, cosine)
    slices = [_slice(f"s/{k}.dcm", np.array([0.0, 0.0, 2.0 * k]), iop=axial if k < 3 else tilted, instance=k + 1)
              for k in range(6)]
    stacks = stack.group(slices, str)
    assert len(stacks) == parts
    assert any("differ in orientation or size" in p for st in stacks for p in st.problems) == (parts == 2)
