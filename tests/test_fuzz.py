"""Fuzzing the loaders: only LesionviewError escapes, nothing hangs, no corrupt gzip loads.

``make test`` checks a few hundred seeded mutants of real files (``tests/fuzzing.py``);
``make fuzz`` checks thousands (``LESIONVIEW_FUZZ_CASES`` mutants in all, ``LESIONVIEW_FUZZ_SEEDS``).
A failure names its mutant; ``python tests/fuzzing.py NAME DIR`` writes it to disk.
"""

from __future__ import annotations

import os
from collections import Counter

import fuzzing
import pytest

#: Mutants per run, spread over the families (make fuzz raises it).
CASES = int(os.environ.get("LESIONVIEW_FUZZ_CASES", "700"))
SEEDS = [int(s) for s in os.environ.get("LESIONVIEW_FUZZ_SEEDS", "0").split(",")]
#: Per case: a load of these small files takes well under a second; a hang is anything far beyond.
TIMEOUT_S = float(os.environ.get("LESIONVIEW_FUZZ_TIMEOUT", "20"))


def _summary(outcomes) -> str:
    bad = [o for o in outcomes if o.result not in ("loaded", "refused")]  # escaped, hang, lost...
    lines = [f"{o.mutant}: {o.result}: {o.detail}" for o in bad[:15]]
    return f"{dict(Counter(o.result for o in outcomes))}\n" + "\n".join(lines)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family", fuzzing.FAMILIES)
def test_a_file_can_only_raise_a_lesionview_error(family, seed, shared_data, tmp_path):
    per_family = max(10, CASES // len(fuzzing.FAMILIES))
    outcomes = fuzzing.run([family], per_family, seed=seed, folder=tmp_path, timeout=TIMEOUT_S)
    results = Counter(o.result for o in outcomes)
    assert results["escaped"] == results["hang"] == results["loaded-corrupt"] == 0, _summary(outcomes)
    # The mutants really are damaged: many are refused, and some still load (flips in pixel data).
    assert results["refused"] >= len(outcomes) // 5, _summary(outcomes)


@pytest.mark.parametrize("seed", SEEDS)
def test_one_bad_file_never_costs_the_folder(seed, shared_data, tmp_path):
    """A mutant among the 34 other files of the real series: they still load as the series, and
    the mutant is either loaded or listed as ignored with its reason."""
    outcomes = fuzzing.run_in_folder(max(10, CASES // len(fuzzing.FAMILIES)), seed=seed, folder=tmp_path,
                                     timeout=TIMEOUT_S)
    assert {o.result for o in outcomes} == {"loaded"}, _summary(outcomes)


def test_corrupt_gzip_mutants_exist_and_are_all_refused(shared_data, tmp_path):
    """The gzip family really produces streams that fail their CRC/length check."""
    corrupt = [m for m in fuzzing.mutants("nifti-mask", 60, seed=SEEDS[0]) if m.corrupt_gzip]
    assert len(corrupt) >= 5
    for m in corrupt:
        outcome = fuzzing.check(m.write(tmp_path), m, load=_load(), timeout=TIMEOUT_S)
        assert outcome.result == "refused", (m.name, outcome)


def test_mutants_are_reproducible_from_their_name(shared_data):
    made = list(fuzzing.mutants("dicom-classic", 8, seed=5))
    again = fuzzing.mutant_by_name(made[7].name)
    assert again.data == made[7].data and again.name == made[7].name


def _load():
    from lesionview.io import load

    return load
