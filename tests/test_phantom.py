"""The twin-lesion phantom: deterministic, grid-independent, anatomically consistent ground truth."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy.spatial.transform import Rotation

from lesionview.geometry import Geometry
from lesionview.io.nifti import read_nifti, write_nifti
from lesionview.phantom import (
    CASES,
    VertebralLevels,
    case_truth,
    lesion_fractions,
    render,
    render_maps,
    sagittal_geometry,
    sample_path,
    surface_gap,
)
from lesionview.phantom import renderer as render_module
from lesionview.phantom.sample import DICOM_FOLDERS
from lesionview.volume import Volume

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
TWIN = CASES["twin"]


@pytest.fixture(scope="session")
def twin() -> Path:
    """sample_data/twin, completed (deterministically regenerated) if files are missing."""
    return sample_path("twin", root=SAMPLE)


@pytest.fixture(scope="session")
def solitary() -> Path:
    return sample_path("solitary", root=SAMPLE)


def centroid(fraction: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Intensity-weighted centroid of a fraction map, LPS mm."""
    idx = np.argwhere(fraction > 0)
    w = fraction[fraction > 0].astype(np.float64)
    return (geometry.index_to_world(idx) * w[:, None]).sum(0) / w.sum()


def _grids() -> dict[str, Geometry]:
    middle = (TWIN.lesions[0].centre + TWIN.lesions[1].centre) / 2
    axial = np.column_stack([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])  # slices foot->head, rows A->P
    rot = Rotation.from_euler("xyz", [20, -12, 33], degrees=True).as_matrix()
    shape, spacing = np.array([25, 30, 30]), np.array([1.7, 0.9, 0.9])
    return {
        "sagittal": sagittal_geometry(),
        "axial": Geometry((20, 60, 60), (3.0, 0.8, 0.8), middle + [-23.6, -23.3, -28.7], axial),
        "oblique": Geometry(tuple(shape), tuple(spacing), middle - rot @ (shape * spacing / 2) + 0.123, rot),
    }


# ----------------------------------------------------------------------------- determinism
def test_two_renders_give_identical_arrays():
    g = sagittal_geometry().cropped((slice(4, 9), slice(150, 300), slice(100, 260)))
    first = render("twin", g, "T2").array
    render_module._anatomy.cache_clear()
    second = render("twin", g, "T2").array
    assert first.dtype == np.uint16
    assert np.array_equal(first, second)
    assert first.std() > 50  # an image, not a constant


def test_sample_images_match_a_fresh_render(twin):
    """The committed images are what the renderer makes here, up to floating point's last bit.

    exp, sin and long sums can differ in the last bit between CPUs and numpy/libm builds;
    rounding to uint16 then moves a voxel whose value sits on a .5 boundary by 1 (40 of 2.2
    million voxels between two machines). So: at most 1 voxel in 10,000 differs, by at most 1.
    """
    image = read_nifti(twin / "t1c.nii.gz")
    assert image.geometry.same_space(sagittal_geometry())
    fresh = render("twin", sagittal_geometry(), "T1C").array
    diff = np.abs(image.array.astype(np.int32) - fresh.astype(np.int32))
    assert diff.max() <= 1
    assert np.count_nonzero(diff) <= image.array.size // 10_000


def test_dicom_is_completed_from_the_nifti_that_is_there(tmp_path):
    """A machine whose render differs in the last bit still gets a DICOM equal to the committed
    NIfTI: the missing half of a pair is written from the half that is there, never re-rendered."""
    from lesionview.io.dicom import scan
    from lesionview.phantom import write_case

    write_case("twin", tmp_path)
    t2 = read_nifti(tmp_path / "twin" / "t2.nii.gz")
    other_machine = t2.array.copy()
    other_machine[6, 200:210, 150] += 1  # what another CPU's rounding might have committed
    write_nifti(Volume(other_machine, t2.geometry), tmp_path / "twin" / "t2.nii.gz")
    shutil.rmtree(tmp_path / "twin" / "dicom")
    written = write_case("twin", tmp_path, only_missing=True)
    assert {p.name for p in written} == set(DICOM_FOLDERS.values())
    found = {s.info.series_description: s for s in scan(tmp_path / "twin" / "dicom").require_series()}
    assert np.array_equal(found["SAG T2 TSE"].load().array, other_machine)
    assert found["SAG T2 TSE"].info.role.value == "T2"  # identifiers as a render gives them


# ----------------------------------------------------------------------------- world positions
@pytest.mark.parametrize("grid", ["sagittal", "axial", "oblique"])
def test_lesion_centres_are_grid_independent(grid):
    g = _grids()[grid]
    for lesion, (fraction, inside) in zip(TWIN.lesions, lesion_fractions("twin", g)):
        assert inside.any()
        np.testing.assert_allclose(centroid(fraction, g), lesion.centre, atol=0.01)


def test_truth_centres_are_the_rendered_centres(twin):
    truth = json.loads((twin / "truth.json").read_text())
    g = sagittal_geometry()
    for entry, (fraction, _) in zip(truth["lesions"], lesion_fractions("twin", g)):
        np.testing.assert_allclose(centroid(fraction, g), entry["centre_lps_mm"], atol=0.01)


def test_nifti_round_trip_keeps_lesion_centres(tmp_path):
    g = _grids()["oblique"]
    for i, (fraction, _) in enumerate(lesion_fractions("twin", g)):
        back = read_nifti(write_nifti(fraction, tmp_path / f"l{i}.nii.gz", geometry=g))
        np.testing.assert_allclose(centroid(back.array, back.geometry), TWIN.lesions[i].centre, atol=0.01)


def test_dicom_round_trip_keeps_lesion_centres(tmp_path):
    pytest.importorskip("lesionview.io.dicom.scan")
    from lesionview.io.dicom import scan
    from lesionview.io.dicom.write import write_series

    for name in ("sagittal", "axial", "oblique"):
        g = _grids()[name]
        fraction, _ = lesion_fractions("twin", g)[1]
        write_series(Volume(fraction, g), tmp_path / name)
        (series,) = scan(tmp_path / name).require_series()
        back = series.load()
        # The same grid when its slice normal is row x column cosines (as DICOM readers build it);
        # the oblique grid is right-handed, so it comes back with axis 0 reversed.
        assert back.geometry.same_space(g, atol_mm=1e-3) == (np.linalg.det(g.direction_matrix) < 0)
        np.testing.assert_allclose(centroid(back.array.astype(float), back.geometry),
                                   TWIN.lesions[1].centre, atol=0.01)


def test_sample_dicom_matches_sample_nifti(twin):
    pytest.importorskip("lesionview.io.dicom.scan")
    from lesionview.io.dicom import scan

    found = {s.info.series_description: s for s in scan(twin / "dicom").require_series()}
    assert set(found) == {"SAG T2 TSE", "SAG T1 TSE +C"}
    for description, nifti in (("SAG T2 TSE", "t2.nii.gz"), ("SAG T1 TSE +C", "t1c.nii.gz")):
        dicom, ref = found[description].load(), read_nifti(twin / nifti)
        assert dicom.geometry.same_space(ref.geometry)
        assert np.array_equal(dicom.array, ref.array)


# ----------------------------------------------------------------------------- anatomy and truth
@pytest.mark.parametrize("case", ["twin", "solitary"])
def test_masks_lie_in_the_cord(case, twin, solitary):
    folder = {"twin": twin, "solitary": solitary}[case]
    lesion = read_nifti(folder / "lesion.nii.gz").array
    edema = read_nifti(folder / "edema.nii.gz").array
    cord = read_nifti(folder / "cord.nii.gz").array
    assert lesion.dtype == edema.dtype == cord.dtype == np.uint8
    assert set(np.unique(lesion)) == set(range(len(CASES[case].lesions) + 1))
    assert edema.any() and not np.any(edema & ~cord)
    assert not np.any((lesion > 0) & (cord == 0))


def test_levels_agree_with_landmarks(twin):
    truth = json.loads((twin / "truth.json").read_text())
    levels = VertebralLevels.from_json(twin / "landmarks.json")
    assert [e["levels"] for e in truth["lesions"]] == ["C5", "C6"]
    assert [levels.level_of(e["centre_lps_mm"]) for e in truth["lesions"]] == ["C5", "C6"]
    assert truth["edema"]["levels"] == "C1-C7" and truth["edema"]["level_count"] == 7
    assert truth["edema"]["longitudinally_extensive"] is True

    # The rendered masks cover the same levels as the truth says.
    image = read_nifti(twin / "lesion.nii.gz")
    for entry in truth["lesions"]:
        points = image.geometry.index_to_world(np.argwhere(image.array == entry["id"]))
        assert levels.span(points) == entry["levels"]
    edema = read_nifti(twin / "edema.nii.gz")
    assert levels.span(edema.geometry.index_to_world(np.argwhere(edema.array > 0))) == "C1-C7"

    # The CSV alone gives the same answer: disc-centre planes normal to the cord (from cord points).
    with open(twin / "landmarks.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {"C5", "C6", "C5/C6", "T2/T3"} <= {r["name"] for r in rows}
    assert {r["kind"] for r in rows} == {"body", "disc"}
    assert len({r["name"] for r in rows}) == len(rows)  # one position per vertebra or disc
    discs = {r["name"]: np.array([float(r[k]) for k in "xyz"]) for r in rows if r["kind"] == "disc"}
    marks = json.loads((twin / "landmarks.json").read_text())["cord_points"]
    cord = {m["name"]: np.array(m["position"]) for m in marks}
    upper, lower = discs["C4/C5"], discs["C5/C6"]
    centre = np.array(truth["lesions"][0]["centre_lps_mm"])
    n_up = levels.boundary("C4/C5").normal
    n_low = levels.boundary("C5/C6").normal
    assert (centre - upper) @ n_up > 0 > (centre - lower) @ n_low
    assert np.allclose((cord["C5/C6"] - lower) @ n_low, 0, atol=1e-3)  # disc and cord point share a plane


def test_truth_describes_the_clinical_case(twin, solitary):
    t = json.loads((twin / "truth.json").read_text())
    assert t["multiplicity"] == "adjacent pair" and t["lesion_count"] == 2
    assert [e["max_diameter_mm"] for e in t["lesions"]] == [3.0, 11.0]
    assert 2.0 < t["gap_between_lesion_surfaces_mm"] < 5.0
    assert t["gap_between_lesion_surfaces_mm"] == pytest.approx(surface_gap(*TWIN.lesions), abs=1e-3)
    assert t["coordinate_convention"].startswith("LPS, mm")
    assert t["voxel_spacing_mm"] == {"slice": 3.0, "row": 0.5, "column": 0.5}
    s = json.loads((solitary / "truth.json").read_text())
    assert s["multiplicity"] == "solitary" and [e["levels"] for e in s["lesions"]] == ["C5-C6"]
    assert s["edema"]["levels"] == "C1-C7"
    assert case_truth("twin", spacing=(3.0, 0.5, 0.5)) == t


def test_gap_is_the_true_surface_distance():
    a, b = TWIN.lesions
    pa, pb = a.surface(200), b.surface(200)
    brute = min(np.linalg.norm(pb - p, axis=1).min() for p in pa[::7])
    gap = surface_gap(a, b)
    assert gap <= brute + 1e-9 and brute - gap < 0.05


def test_contrasts_look_like_t2_and_t1_post(twin):
    t1c = read_nifti(twin / "t1c.nii.gz").array.astype(float)
    t2 = read_nifti(twin / "t2.nii.gz").array.astype(float)
    lesion = read_nifti(twin / "lesion.nii.gz").array
    edema = read_nifti(twin / "edema.nii.gz").array > 0
    cord = read_nifti(twin / "cord.nii.gz").array > 0
    maps = render_maps("twin", sagittal_geometry())
    normal_cord = cord & ~edema & (lesion == 0) & (maps.fractions["cord"] > 0.95)  # no partial volume
    csf = maps.fractions["csf"] > 0.95
    assert t1c[lesion == 2].mean() > 2 * t1c[normal_cord].mean()
    assert t1c[lesion == 1].max() > 1.8 * t1c[normal_cord].mean()
    assert t1c[normal_cord].mean() > 1.5 * t1c[csf].mean()  # cord brighter than CSF on T1
    assert t2[csf].mean() > 2.5 * t2[normal_cord].mean()  # CSF bright on T2
    pure_edema = edema & (lesion == 0) & (maps.fractions["edema"] > 0.95)
    assert t2[pure_edema].mean() > 1.5 * t2[normal_cord].mean()  # edema T2-bright


# ----------------------------------------------------------------------------- files
def test_dicom_headers(twin):
    headers = {}
    for contrast, folder in DICOM_FOLDERS.items():
        files = sorted((twin / "dicom" / folder).iterdir())
        assert len(files) == 13
        headers[contrast] = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    t2, t1 = headers["T2"][0], headers["T1C"][0]
    assert t1.ContrastBolusAgent == "Gadoterate meglumine" and t1.ContrastBolusRoute == "IV"
    assert all("ContrastBolusAgent" not in ds for ds in headers["T2"])
    assert t1.StudyInstanceUID == t2.StudyInstanceUID
    assert t1.FrameOfReferenceUID == t2.FrameOfReferenceUID
    assert t1.SeriesInstanceUID != t2.SeriesInstanceUID
    assert t2.SOPClassUID == pydicom.uid.MRImageStorage and t2.Modality == "MR"
    assert str(t2.PatientName) == "PHANTOM^TWIN"
    assert (float(t2.RepetitionTime), float(t2.EchoTime)) == (3000.0, 100.0)
    assert (float(t1.RepetitionTime), float(t1.EchoTime)) == (500.0, 10.0)
    assert [float(v) for v in t2.PixelSpacing] == [0.5, 0.5]
    assert float(t2.SliceThickness) == float(t2.SpacingBetweenSlices) == 3.0
    assert [float(v) for v in t2.ImageOrientationPatient] == [0, 1, 0, 0, 0, -1]
    g = sagittal_geometry()
    for k, ds in enumerate(headers["T2"]):
        assert ds.InstanceNumber == k + 1
        np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], g.index_to_world([k, 0, 0]),
                                   atol=1e-4)


def test_write_series_is_deterministic_and_refuses_to_overwrite(tmp_path):
    from lesionview.io.dicom.write import write_series

    g = Geometry((3, 8, 6), (2.0, 0.7, 0.6), (1.0, 2.0, 3.0), np.diag([1.0, 1.0, -1.0]))
    v = Volume(np.arange(144, dtype=np.uint16).reshape(g.shape), g)
    a, b = write_series(v, tmp_path / "a"), write_series(v, tmp_path / "b")
    assert [f.read_bytes() for f in sorted(a.iterdir())] == [f.read_bytes() for f in sorted(b.iterdir())]
    with pytest.raises(FileExistsError):
        write_series(v, a)
    write_series(Volume(np.zeros(g.shape, np.uint16), g), a, overwrite=True)
    assert pydicom.dcmread(next(a.iterdir())).pixel_array.max() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary folders left


def test_committed_sample_data_is_small(twin, solitary):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "sample_data"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    size = sum((ROOT / p).stat().st_size for p in listed if (ROOT / p).is_file())
    assert any(p.endswith("truth.json") for p in listed)
    assert not any("/dicom/" in p for p in listed)  # DICOM is generated by `make sample`
    assert size < 10_000_000, f"committed sample data is {size / 1e6:.1f} MB"


def test_make_sample_is_quick_when_complete(twin, solitary):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_phantom.py"), "--out", str(SAMPLE),
                          "--only-missing"], capture_output=True, text=True, check=True)
    assert "complete" in out.stdout
    assert time.perf_counter() - start < 10


def test_only_missing_regenerates_identical_files(tmp_path):
    from lesionview.phantom import write_case

    write_case("twin", tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    (tmp_path / "twin" / "truth.json").unlink()
    shutil.rmtree(tmp_path / "twin" / "dicom" / DICOM_FOLDERS["T1C"])
    (tmp_path / "twin" / "t2.nii.gz").unlink()
    written = write_case("twin", tmp_path, only_missing=True)
    # t2.nii.gz is rendered again, so its DICOM is rewritten from the same render (a pair is
    # always one render), plus the T1C DICOM and truth.json
    assert sorted(p.name for p in written) == sorted(["t2.nii.gz", DICOM_FOLDERS["T2"], DICOM_FOLDERS["T1C"],
                                                      "truth.json"])
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    with pytest.raises(FileExistsError):
        write_case("twin", tmp_path)
