"""Edema against its lesions and the literature: the volume ratio, the length ratio, and the sentence
placing a study beside Rykken et al. (AJNR 2013;34:2043), on boxes whose counts are known exactly."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lesionview.geometry import Geometry
from lesionview.io.nifti import write_nifti
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.measure.literature import (
    EXTENSIVE_SHARE,
    MEAN_LENGTH_RATIO,
    MEAN_SEGMENTS,
    edema_context,
)
from lesionview.measure.models import Edema, LevelSpan
from lesionview.report.html import edema_rows
from lesionview.report.tabular import csv_rows
from lesionview.volume import Volume

SPACING = (0.8, 0.9, 1.5)  # anisotropic: x, y in-plane, z along the cord


def _study(edema_slices: int, lesion_slices: tuple[int, ...] = (6,)):
    """A straight cord along z with box lesions (each 5 x 4 voxels across) inside a box of edema
    (9 x 8 voxels across, ``edema_slices`` long, lesion voxels included), and discs every 20 mm."""
    g = Geometry((30, 30, 160), spacing=SPACING)
    cord = np.zeros(g.shape, np.uint8)
    cord[5:25, 5:25, :] = 1
    lesions = np.zeros(g.shape, np.uint8)
    edema = np.zeros(g.shape, np.uint8)
    mid = 80
    edema[11:20, 11:19, mid - edema_slices // 2: mid - edema_slices // 2 + edema_slices] = 1
    z0 = mid - sum(lesion_slices) // 2 - 2 * (len(lesion_slices) - 1)
    for n in lesion_slices:
        lesions[13:18, 13:17, z0:z0 + n] = 1
        z0 += n + 4  # 4 slices of edema between two lesions
    names = ["C1/C2", "C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7", "C7/T1", "T1/T2", "T2/T3", "T3/T4", "T4/T5",
             "T5/T6", "T6/T7"]
    top = g.index_to_world([15, 15, 159])[2]
    discs = [[0, 0, top - 2 - 18 * k] for k in range(len(names))]
    return g, lesions, edema, cord, LevelModel.from_landmarks(names, discs)


def test_volume_and_length_ratios_are_the_voxel_count_and_extent_ratios():
    g, lesions, edema, cord, levels = _study(edema_slices=60, lesion_slices=(6, 10))
    r = measure(Volume(lesions, g), edema=Volume(edema, g), cord=Volume(cord, g), levels=levels)
    (ed,) = r.edema
    assert ed.lesion_ids == [1, 2]
    # Edema 9 x 8 x 60 voxels; lesions 5 x 4 x (6 + 10): same voxel volume, so counts give the ratio.
    assert ed.volume_ratio == pytest.approx(9 * 8 * 60 / (5 * 4 * 16), abs=1e-3)
    # Lengths: edema 60 slices; the two lesions and the 4 slices between them: 20 slices.
    assert ed.length_ratio == pytest.approx(60 / 20, abs=1e-3)


def test_no_ratio_without_a_lesion_inside():
    g, lesions, edema, cord, levels = _study(edema_slices=30)
    lesions[:] = 0
    lesions[2:4, 2:4, 5:8] = 1  # far from the edema, outside the cord: measured, not inside
    r = measure(Volume(lesions, g), edema=Volume(edema, g), cord=Volume(cord, g), levels=levels)
    assert r.edema[0].lesion_ids == []
    assert r.edema[0].volume_ratio is None and r.edema[0].length_ratio is None


@pytest.mark.parametrize("edema_slices, word", [(100, "above"), (20, "below")])
def test_the_statement_places_extent_and_ratio_beside_the_series(edema_slices, word):
    g, lesions, edema, cord, levels = _study(edema_slices=edema_slices, lesion_slices=(8,))
    r = measure(Volume(lesions, g), edema=Volume(edema, g), cord=Volume(cord, g), levels=levels)
    (ed,) = r.edema
    n = ed.levels.count
    ratio = edema_slices / 8
    assert ed.length_ratio == pytest.approx(ratio, abs=1e-3)
    expected_levels = "above" if n > MEAN_SEGMENTS + 1 else "below" if n < MEAN_SEGMENTS - 1 else "close to"
    text = ed.literature_context
    assert text.startswith(f"Edema over {n} vertebral levels, {expected_levels} the series mean of 4.5")
    assert f"{ratio:.1f}x the length of the lesions inside it, {word} the series mean of 3.6x" in text
    share = EXTENSIVE_SHARE if ed.longitudinally_extensive else 1 - EXTENSIVE_SHARE
    assert f"as in {share:.0%} of that series" in text and "AJNR 2013;34:2043" in text
    assert "metastas" not in text.split("(")[0]  # a place beside a cohort, never a diagnosis


def _edema(**update) -> Edema:
    return Edema(id=1, voxel_count=10, volume_mm3=10.0, craniocaudal_mm=40.0, **update)


def test_close_to_the_means_within_a_level_or_a_tenth_of_the_ratio_and_nothing_unknown():
    assert edema_context(_edema()) is None
    text = edema_context(_edema(length_ratio=MEAN_LENGTH_RATIO * 1.09))
    assert text.startswith("Edema 3.9x the length of the lesions inside it, close to the series mean of 3.6x")
    assert "levels or more" not in text  # unknown without levels
    assert ", above the series mean of 3.6x" in edema_context(_edema(length_ratio=MEAN_LENGTH_RATIO * 1.11))
    span = LevelSpan(first="C3", last="C6", count=4)
    text = edema_context(_edema(levels=span, longitudinally_extensive=True))
    assert text.startswith("Edema over 4 vertebral levels, close to the series mean of 4.5;")
    text = edema_context(_edema(levels=LevelSpan(first="C3", last="C7", count=5), longitudinally_extensive=True))
    assert text.startswith("Edema over 5 vertebral levels, close to the series mean of 4.5;")
    text = edema_context(_edema(levels=LevelSpan(first="C3", last="C8", count=6), longitudinally_extensive=True))
    assert text.startswith("Edema over 6 vertebral levels, above the series mean of 4.5;")
    possibly = LevelSpan(first="C4", last="C5", count=2, possible_first="C4", possible_last="C6")
    text = edema_context(_edema(levels=possibly, longitudinally_extensive=False, craniocaudal_uncertainty_mm=3.0,
                                thick_slices_mm=3.0))
    assert "; possibly 3 levels or more (as in 54% of that series)" in text and "fewer than" not in text
    assert text.endswith("cohort figures, not a diagnosis).")
    text = edema_context(_edema(levels=LevelSpan(first="C3", last="C4", count=2), longitudinally_extensive=False))
    assert "below the series mean of 4.5; fewer than 3 levels, as in 46% of that series" in text


def test_ratios_and_statement_reach_the_csv_the_html_and_the_cli(tmp_path):
    g, lesions, edema, cord, levels = _study(edema_slices=60, lesion_slices=(6,))
    r = measure(Volume(lesions, g), edema=Volume(edema, g), cord=Volume(cord, g), levels=levels)
    (row,) = [x for x in csv_rows(r) if x["kind"] == "edema"]
    assert row["volume_ratio"] == pytest.approx(9 * 8 * 60 / (5 * 4 * 6), abs=1e-3)
    html = dict(edema_rows(r.edema[0]))
    assert html["Edema / lesion volume"] == f"{9 * 8 * 60 / (5 * 4 * 6):.1f}"
    assert html["Against the literature"] == r.edema[0].literature_context

    for name, arr in (("lesion", lesions), ("edema", edema), ("cord", cord)):
        write_nifti(Volume(arr, g), tmp_path / f"{name}.nii.gz")
    levels.save_landmarks(tmp_path / "landmarks.json")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "lesionview", "measure", str(tmp_path / "lesion.nii.gz"),
                          "--edema", str(tmp_path / "edema.nii.gz"), "--cord", str(tmp_path / "cord.nii.gz"),
                          "--levels", str(tmp_path / "landmarks.json"), "--out", str(out)],
                         check=False, capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"},
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert "context, edema 1:" in run.stdout and "10.0x the length of the lesions inside it" in run.stdout
    (saved,) = json.loads((out / "measurements.json").read_text())["edema"]
    assert saved["volume_ratio"] == pytest.approx(36.0, abs=1e-3)
    with open(out / "measurements.csv", newline="", encoding="utf-8") as fh:
        (edema_row,) = [x for x in csv.DictReader(fh) if x["kind"] == "edema"]
    assert float(edema_row["volume_ratio"]) == pytest.approx(36.0, abs=1e-3)
