"""SCT's metrics and the rim and flame signs as users get them: through ``measure()``, the CSV, the
HTML report and the CLI, on SCT's own fake lesion (against SCT's outputs) and on the sign phantoms."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import need

from lesionview.io.nifti import read_nifti
from lesionview.measure import measure
from lesionview.report.html import render_html
from lesionview.report.tabular import CSV_COLUMNS, csv_rows

SCT_T2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sct_t2"


@pytest.fixture(scope="module")
def fake_lesion():
    need(SCT_T2.is_dir(), f"{SCT_T2} is absent: SCT's fake lesion and its oracle are not here")
    vols = {k: read_nifti(SCT_T2 / f"t2_fake_lesion{s}.nii.gz") for k, s in
            (("lesion", "_lesion_seg"), ("cord", "_sc_seg"), ("image", ""))}
    oracle = json.loads((SCT_T2 / "oracle_sct_analyze_lesion.json").read_text())["lesions"][0]
    return vols, oracle


def test_measure_gives_sct_numbers_on_the_whole_grid_though_it_works_on_a_crop(fake_lesion):
    vols, oracle = fake_lesion
    r = measure(vols["lesion"], cord=vols["cord"], image=vols["image"])
    (les,) = r.lesions
    m = les.sct
    # measure() works on the masks' box (here 48 x 98 x 22 of 99 x 99 x 29): the slice numbers are
    # nevertheless the whole image's, as SCT writes them.
    assert m.sct_midsagittal_slice == pytest.approx(oracle["interpolated_midsagittal_slice"], abs=0.01)
    per_slice = {b.sagittal_slice: b for b in m.sct_bridges_per_slice}
    assert sorted(per_slice) == list(range(12, 17))
    for n, b in per_slice.items():
        assert b.dorsal_mm == pytest.approx(oracle[f"slice_{n}_dorsal_bridge_width [mm]"], abs=0.01)
        assert b.ventral_mm == pytest.approx(oracle[f"slice_{n}_ventral_bridge_width [mm]"], abs=0.01)
    assert m.sct_length_mm == pytest.approx(oracle["length [mm]"], abs=0.01)
    assert m.sct_total_bridge_mm == pytest.approx(oracle["interpolated_total_bridge_width [mm]"], abs=0.01)
    # SCT's length is a slice sum; lesionview's own craniocaudal length is another definition.
    assert les.volume_mm3 == pytest.approx(m.sct_volume_mm3, rel=1e-6)
    # A T2 image: SCT's intensity statistics, but no rim or flame sign (they are read on T1+C).
    assert m.sct_mean_intensity == pytest.approx(oracle["mean_t2_fake_lesion"], rel=1e-4)
    assert les.signs is None
    assert any("not T1 post-contrast: the rim and flame signs are not read" in w for w in r.warnings)


def test_the_csv_and_the_html_carry_sct_metrics(fake_lesion):
    vols, oracle = fake_lesion
    r = measure(vols["lesion"], cord=vols["cord"], image=vols["image"])
    (row,) = [x for x in csv_rows(r) if x["kind"] == "lesion"]
    assert CSV_COLUMNS.index("sct_volume_mm3") > CSV_COLUMNS.index("volume_ratio")  # appended, not inserted
    assert row["sct_width_mm"] == pytest.approx(oracle["width [mm]"], abs=0.01)
    assert row["sct_max_axial_damage_ratio"] == pytest.approx(oracle["max_axial_damage_ratio []"], rel=1e-3)
    assert row["sct_level_percent"] == "" and row["rim_sign"] == ""  # no levels; no signs on T2
    html = render_html(r)
    section = html[html.index('<section id="sct">'):]
    section = section[:section.index("</section>")]
    assert "Spinal Cord Toolbox metrics" in section
    cells = [c.split("<")[0] for c in section.split('<td class="num">')[1:]]
    assert cells[:5] == [f"{oracle['volume [mm3]']:.1f}", f"{oracle['length [mm]']:.1f}", f"{oracle['width [mm]']:.1f}",
                         f"{oracle['max_equivalent_diameter [mm]']:.1f}", f"{oracle['max_axial_damage_ratio []']:.2f}"]
    assert f"{oracle['interpolated_total_bridge_width [mm]']:.1f}" in cells


def test_the_cli_writes_sct_metrics_into_the_json_and_csv(fake_lesion, tmp_path):
    out = tmp_path / "out"
    exe = shutil.which("lesionview") or str(Path(os.sys.executable).with_name("lesionview"))
    run = subprocess.run([exe, "report", str(SCT_T2 / "t2_fake_lesion_lesion_seg.nii.gz"),
                          "--cord", str(SCT_T2 / "t2_fake_lesion_sc_seg.nii.gz"),
                          "--image", str(SCT_T2 / "t2_fake_lesion.nii.gz"), "--out", str(out), "-f", "json,csv,html"],
                         check=False, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    _, oracle = fake_lesion
    (les,) = json.loads((out / "measurements.json").read_text())["lesions"]
    assert les["sct"]["sct_midsagittal_slice"] == pytest.approx(oracle["interpolated_midsagittal_slice"], abs=0.01)
    assert les["sct"]["sct_dorsal_bridge_ratio_pct"] == pytest.approx(oracle["dorsal_bridge_ratio [%]"], abs=0.1)
    with open(out / "measurements.csv", newline="", encoding="utf-8") as fh:
        (row,) = [x for x in csv.DictReader(fh) if x["kind"] == "lesion"]
    assert float(row["sct_length_mm"]) == pytest.approx(oracle["length [mm]"], abs=0.01)
    assert "Spinal Cord Toolbox metrics" in (out / "report.html").read_text(encoding="utf-8")


def test_sct_metrics_do_not_depend_on_how_the_study_is_stored(fake_lesion):
    from lesionview.geometry import reorient
    from lesionview.volume import Volume

    vols, _ = fake_lesion
    ref = measure(vols["lesion"], cord=vols["cord"], image=vols["image"]).lesions[0].sct
    moved = {k: Volume(*reorient(v.array, v.geometry, "LPS"), info=v.info) for k, v in vols.items()}
    m = measure(moved["lesion"], cord=moved["cord"], image=moved["image"]).lesions[0].sct
    for name in ("sct_length_mm", "sct_width_mm", "sct_max_equivalent_diameter_mm", "sct_total_bridge_mm",
                 "sct_dorsal_bridge_ratio_pct", "sct_midsagittal_length_mm"):
        assert getattr(m, name) == pytest.approx(getattr(ref, name), rel=1e-6), name
    # Stored left to right (LPS) rather than right to left (the file: towards R), slices are numbered
    # from the other side, as SCT would number them.
    n = vols["lesion"].array.shape[2]
    assert m.sct_midsagittal_slice == pytest.approx(n - 1 - ref.sct_midsagittal_slice, abs=1e-6)
    offsets = sorted(b.lateral_offset_mm for b in m.sct_bridges_per_slice)
    assert offsets == pytest.approx(sorted(b.lateral_offset_mm for b in ref.sct_bridges_per_slice), abs=1e-6)
    assert np.ptp(offsets) == pytest.approx(4 * 0.8, abs=1e-3)


# ---------------------------------------------------------------------------------- rim and flame signs
@pytest.fixture(scope="module")
def rim_and_flame():
    """A 12 mm lesion with a rim and a superior flame, 3 mm axial slices (RAS), low noise."""
    from lesionview.phantom.signs import SignCase, SignLesion, render_sign_case

    lesion = SignLesion(12.0, rim=True, flames=("superior",), flame_mm=10.0, flame_cone=False)
    return lesion, render_sign_case(SignCase(lesion, "ax3", "low"))


def _volumes(im, role):
    from lesionview.series import SeriesInfo
    from lesionview.volume import Volume

    info = SeriesInfo().with_role(role, "test")
    return (Volume(im.labels, im.geometry), Volume(im.cord, im.geometry),
            Volume(im.image, im.geometry, info=info))


def test_measure_reads_the_signs_on_t1_post_contrast_and_reports_them_everywhere(rim_and_flame):
    from lesionview.measure.sections import voxel_extent_along
    from lesionview.report.html import SIGNS_REFERENCE, lesion_rows

    truth, im = rim_and_flame
    lesions, cord, image = _volumes(im, "T1+C")
    r = measure(lesions, cord=cord, image=image)
    (les,) = r.lesions
    s = les.signs
    assert s.rim_sign is True and s.flame_sign is True and s.judgeable_reason is None
    # The blunt flame reaches its true length within a grid step along the cord; none below.
    step = voxel_extent_along(im.geometry, np.array([0.0, 0.0, 1.0]))
    assert abs(s.flame_superior_mm - truth.flame_mm) <= step and s.flame_inferior_mm < s.flame_threshold_mm
    assert r.summary.startswith("One enhancing intramedullary lesion")  # read on T1+C
    (row,) = [x for x in csv_rows(r) if x["kind"] == "lesion"]
    assert (row["rim_sign"], row["flame_sign"], row["rim_score"]) == (True, True, s.rim_score)
    rows = dict(lesion_rows(les))
    assert rows["Rim sign"].startswith(f"present: outer 1.5 mm shell {s.rim_score:.2f}x the core's signal")
    assert rows["Flame sign"].startswith(f"present: enhancement beyond the superior pole {s.flame_superior_mm:.1f} mm")
    assert rows["About the signs"] == "I" + SIGNS_REFERENCE[1:] and "not a diagnosis" in SIGNS_REFERENCE
    assert "metasta" not in (rows["Rim sign"] + rows["Flame sign"]).lower()


def test_no_signs_on_another_contrast_and_no_judgement_below_the_size_limits(rim_and_flame):
    from lesionview.phantom.signs import SignCase, SignLesion, render_sign_case

    _, im = rim_and_flame
    lesions, cord, image = _volumes(im, "T2")
    r = measure(lesions, cord=cord, image=image)
    assert r.lesions[0].signs is None and r.lesions[0].enhancement_ratio is not None
    assert "the image is T2, not T1 post-contrast: the rim and flame signs are not read" in r.warnings
    small = render_sign_case(SignCase(SignLesion(3.0, rim=True, flames=("inferior",)), "ax3", "low"))
    s = measure(*[v for v in _volumes(small, "T1+C")][:1], cord=_volumes(small, "T1+C")[1],
                image=_volumes(small, "T1+C")[2]).lesions[0].signs
    assert s.rim_sign is None and s.flame_sign is None
    assert s.judgeable_reason.startswith("rim: too small to judge at this resolution")
    assert "flame: too small to judge" in s.judgeable_reason
    # Each row of the report gives its own sign's reason, not the other's.
    from lesionview.measure.models import Lesion
    from lesionview.report.html import sign_rows

    les = Lesion(id=1, voxel_count=1, volume_mm3=1.0, centroid_lps_mm=(0, 0, 0), max_diameter_ibsi_mm=3.0,
                 max_diameter_mm=3.0, axial_long_mm=3.0, axial_short_mm=3.0, craniocaudal_mm=3.0, measurable=False,
                 signs=s)
    rows = dict(sign_rows(les))
    assert rows["Rim sign"].startswith("cannot be judged (too small to judge at this resolution (")
    assert "along the cord" not in rows["Rim sign"] and "deeper than" not in rows["Flame sign"]
    assert rows["Flame sign"].startswith("cannot be judged (too small to judge at this resolution (the lesion spans")


# ---------------------------------------------------------------------------------- measure()'s crop and odd inputs
def _short_cord_study(shape=(40, 40, 160), span=(50, 110)):
    """A wobbling cord drawn on part of the field of view only (a partial segmentation), a lesion in it."""
    from lesionview.geometry import Geometry

    rng = np.random.default_rng(0)
    sp = (0.5, 0.5, 1.0)
    x, y, z = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    zc = np.arange(shape[2])
    cx = 20 + 6 * np.sin((zc - span[0]) / 60 * np.pi) + rng.normal(0, 0.7, zc.size)
    cy = 20 + 4 * np.sin((zc - span[0]) / 60 * np.pi) + rng.normal(0, 0.7, zc.size)
    cord = (((x - cx[z]) * sp[0]) ** 2 + ((y - cy[z]) * sp[1]) ** 2 <= 16) & (z >= span[0]) & (z <= span[1])
    lesion = np.zeros(shape, np.uint8)
    for k in range(75, 88):
        i, j = round(cx[k]), round(cy[k])
        lesion[i - 2:i + 3, j - 2:j + 3, k] = 1
    lesion &= cord
    return Geometry(shape, spacing=sp, direction=np.diag([1.0, -1.0, 1.0])), lesion, cord.astype(np.uint8)


def test_measure_gives_sct_s_numbers_of_the_whole_image_when_the_cord_covers_part_of_it():
    from lesionview.measure.sct import sct_metrics

    g, lesion, cord = _short_cord_study()
    whole = sct_metrics(lesion.astype(int), g, cord=cord)[1]
    m = measure(lesion, geometry=g, cord=cord).lesions[0].sct
    # SCT smooths its centerline by the whole image's slice count: the crop measure() works on must not
    # change the angles (it did by 2-8 % before).
    for name in ("sct_length_mm", "sct_max_equivalent_diameter_mm", "sct_midsagittal_length_mm",
                 "sct_total_bridge_mm", "sct_midsagittal_slice"):
        assert getattr(m, name) == pytest.approx(getattr(whole, name), rel=1e-9), name


def test_any_label_number_unknown_contrast_and_image_nans():
    g, lesion, cord = _short_cord_study()
    labels = lesion.astype(np.int64) * (2**31 - 1)
    image = np.where(cord > 0, 300.0, 100.0).astype(np.float32)
    image[lesion > 0] = 700.0
    image[np.argwhere(lesion)[0][0], np.argwhere(lesion)[0][1], np.argwhere(lesion)[0][2]] = np.nan
    r = measure(labels, geometry=g, cord=cord, image=image, mask_kind="labels")
    (les,) = r.lesions
    assert les.id == 2**31 - 1 and les.sct is not None and les.signs is not None
    assert les.sct.sct_mean_intensity == pytest.approx(700.0)
    assert any("NaN or infinite) on 1 lesion voxel" in n for n in les.sct.sct_notes)
    # A bare array has no known contrast: the signs are read as on T1+C, and the result says so.
    assert any(w.startswith("the image's contrast is not known: the rim and flame signs were read") for w in r.warnings)
