"""Masks from other tools, taken without loss: the same voxels stored in another axis order, and
DICOM SEG objects (lesionview's own and ones made the way 3D Slicer / OHIF write them).

The oracle is always the same study measured from the masks as lesionview stores them: storage
order and file format must not change a number (beyond float noise)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

hd = pytest.importorskip("highdicom")

from pydicom.sr.codedict import codes

from lesionview.errors import GeometryMismatchError, InputError
from lesionview.geometry import Geometry, reorient
from lesionview.io import load_volume, write_nifti
from lesionview.io.dicom import scan
from lesionview.io.seg import find_seg, is_seg, read_seg
from lesionview.measure import measure
from lesionview.report.dicom_seg import highdicom_sources, source_series, write_seg
from lesionview.volume import Volume

TWIN = Path(__file__).resolve().parents[1] / "sample_data" / "twin"
DICOM = TWIN / "dicom" / "05_SAG_T1_TSE_C"
LESIONVIEW = Path(sys.executable).parent / "lesionview"
EXIT_BAD_INPUT = 2

# Every storage order of a 3D grid: the 6 axis permutations times the 8 axis senses.
CODES = ["".join(("LPS"[k] if sense else "RAI"[k]) for k, sense in zip(perm, senses))
         for perm in itertools.permutations(range(3)) for senses in itertools.product((True, False), repeat=3)]


def _numbers(result) -> dict:
    """What a radiologist reads, by lesion / edema id."""
    lesions = {les.id: (les.voxel_count, les.volume_mm3, *les.centroid_lps_mm, les.max_diameter_mm,
                        les.max_diameter_ibsi_mm, les.axial_long_mm, les.axial_short_mm, les.craniocaudal_mm,
                        les.craniocaudal_along_cord_mm or 0.0, les.cord_occupancy or 0.0,
                        les.enhancement_ratio or 0.0, les.edema_id or 0) for les in result.lesions}
    edema = {ed.id: (ed.voxel_count, ed.volume_mm3, ed.craniocaudal_mm) for ed in result.edema}
    return {"lesions": lesions, "edema": edema, "kind": result.multiplicity.kind.value,
            "edema_lesions": [ed.lesion_ids for ed in result.edema]}


def _assert_same(a: dict, b: dict) -> None:
    """Equal up to float noise (results are rounded to 4 decimals: a last digit may flip)."""
    assert a["kind"] == b["kind"] and a["edema_lesions"] == b["edema_lesions"]
    assert a["lesions"].keys() == b["lesions"].keys() and a["edema"].keys() == b["edema"].keys()
    for what in ("lesions", "edema"):
        for k in a[what]:
            assert a[what][k] == pytest.approx(b[what][k], abs=2e-4), (what, k)


# ----------------------------------------------------------------------------- a small synthetic study
@pytest.fixture(scope="module")
def small():
    """A RIP-stored grid (a sagittal DICOM series' order), 3 x 0.5 x 0.7 mm, with a cord along
    superior-inferior, two lesions in it, edema around them and an image where lesions are bright."""
    geometry = Geometry((9, 40, 30), spacing=(3.0, 0.5, 0.7), origin=(12.0, -10.0, 15.0),
                        direction=[[-1, 0, 0], [0, 0, 1], [0, -1, 0]])
    world = geometry.index_to_world(np.stack(np.indices(geometry.shape), axis=-1))
    x, y, z = world[..., 0], world[..., 1], world[..., 2]
    centre_x, centre_y = geometry.index_to_world([4, 0, 15])[[0, 1]]
    r2 = ((x - centre_x) / 6.0) ** 2 + ((y - centre_y) / 4.0) ** 2
    cord = (r2 <= 1.0).astype(np.uint8)
    lesion = np.zeros(geometry.shape, np.uint8)
    lesion[(r2 <= 0.3) & (np.abs(z - 8.0) <= 2.5)] = 1
    lesion[(r2 <= 0.5) & (np.abs(z + 0.5) <= 3.0)] = 2
    edema = ndimage.binary_dilation(lesion > 0, iterations=3) & (cord > 0)
    rng = np.random.default_rng(0)
    image = (100.0 + 5 * rng.standard_normal(geometry.shape)) * (1 + cord) * (1 + (lesion > 0))
    vol = {"lesions": lesion, "edema": edema.astype(np.uint8), "cord": cord, "image": image.astype(np.float32)}
    return {k: Volume(v, geometry) for k, v in vol.items()}


def _reoriented(vol: Volume, code: str) -> Volume:
    array, geometry = reorient(vol.array, vol.geometry, code)
    return Volume(np.ascontiguousarray(array), geometry)


def test_every_storage_order_of_the_masks_measures_the_same(small):
    """All 48 axis orders of lesion, edema and cord masks (the image kept as stored), and of the
    image (masks kept): the same numbers, each reorientation recorded, nothing resampled."""
    reference = measure(small["lesions"], image=small["image"], edema=small["edema"], cord=small["cord"])
    assert len(reference.lesions) == 2 and reference.edema and not reference.inputs
    expected = _numbers(reference)
    assert len(CODES) == 48 and len(set(CODES)) == 48
    for code in CODES:
        masks = {k: _reoriented(small[k], code) for k in ("lesions", "edema", "cord")}
        assert masks["lesions"].geometry.orientation == code
        result = measure(masks["lesions"], image=small["image"], edema=masks["edema"], cord=masks["cord"])
        _assert_same(_numbers(result), expected)
        records = {r.role: r for r in result.inputs}
        if code == "RIP":
            assert not records
            continue
        assert set(records) == {"lesions", "edema", "cord"}
        for r in records.values():
            assert r.reoriented == f"{code} -> RIP (axes permuted/flipped, no interpolation)"
            assert r.resampled is None and code in r.original_grid
        # The image in another order: the lesion mask is the grid, the image's axes follow it.
        other = measure(small["lesions"], image=_reoriented(small["image"], code), edema=small["edema"],
                        cord=small["cord"])
        _assert_same(_numbers(other), expected)
        assert other.inputs[0].role == "lesions" and other.inputs[0].reoriented.startswith(f"RIP -> {code} ")


def test_a_mask_on_another_grid_is_still_refused_and_resampled_only_on_request(small):
    """Voxel centres a quarter voxel apart do not coincide: refused, or resampled (nearest
    neighbour, recorded) with resample=True."""
    g = small["cord"].geometry
    shifted = Geometry(g.shape, g.spacing, tuple(np.asarray(g.origin) + 0.25 * g.direction_matrix[:, 1]),
                       g.direction)
    assert g.grid_map(shifted) is None
    cord = Volume(small["cord"].array, shifted)
    with pytest.raises(GeometryMismatchError, match="cord mask is not in the lesion mask's space"):
        measure(small["lesions"], image=small["image"], cord=cord)
    result = measure(small["lesions"], image=small["image"], cord=cord, resample=True)
    (record,) = result.inputs
    assert (record.role, record.resampled, record.reoriented) == ("cord", "nearest neighbour", None)
    assert record.original_grid == shifted.describe() and result.parameters.resample
    # A whole-voxel shift is another field of view, not another storage order: refused too.
    moved = Geometry(g.shape, g.spacing, tuple(g.index_to_world([0, 1, 0])), g.direction)
    with pytest.raises(GeometryMismatchError):
        measure(small["lesions"], image=small["image"], cord=Volume(small["cord"].array, moved))


# ----------------------------------------------------------------------------- the twin phantom
@pytest.fixture(scope="module")
def twin():
    image = load_volume(DICOM)
    masks = {k: load_volume(TWIN / f"{k}.nii.gz") for k in ("lesion", "edema", "cord")}
    assert image.geometry.orientation == "RIP" and all(m.geometry.same_space(image.geometry) for m in masks.values())
    result = measure(masks["lesion"], image=image, edema=masks["edema"], cord=masks["cord"])
    return {"image": image, "masks": masks, "numbers": _numbers(result)}


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(LESIONVIEW), "measure", *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False)


def _json(out: Path) -> dict:
    return json.loads((out / "measurements.json").read_text(encoding="utf-8"))


def _json_numbers(data: dict) -> dict:
    from lesionview.measure.models import StudyMeasurements

    return _numbers(StudyMeasurements.model_validate(data))


def test_cli_measures_a_pir_mask_of_a_rip_series(twin, tmp_path):
    """The lesion mask stored PIR (as many NIfTI tools save it) against the DICOM series (RIP):
    measured as the series' own mask, the reorientation in the JSON and a note on stderr."""
    pir = twin["masks"]["lesion"].reoriented("PIR")
    assert pir.geometry.orientation == "PIR" and not pir.geometry.same_space(twin["image"].geometry)
    write_nifti(pir, tmp_path / "lesion_pir.nii.gz")
    las = twin["masks"]["cord"].reoriented("LAS")
    write_nifti(las, tmp_path / "cord_las.nii.gz")
    done = _cli(tmp_path / "lesion_pir.nii.gz", "--image", DICOM, "--edema", TWIN / "edema.nii.gz",
                "--cord", tmp_path / "cord_las.nii.gz", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    data = _json(tmp_path / "out")
    _assert_same(_json_numbers(data), twin["numbers"])
    records = {r["role"]: r for r in data["inputs"]}
    assert records["lesions"]["reoriented"] == "PIR -> RIP (axes permuted/flipped, no interpolation)"
    assert records["cord"]["reoriented"] == "LAS -> RIP (axes permuted/flipped, no interpolation)"
    assert records["edema"]["reoriented"] is None and records["lesions"]["resampled"] is None
    assert data["parameters"]["resample"] is False
    assert "note: lesions: PIR -> RIP" in " ".join(done.stderr.split())
    assert "warning" not in done.stderr.lower()


def test_cli_refuses_a_shifted_mask_and_resamples_it_on_request(twin, tmp_path):
    lesion = twin["masks"]["lesion"]
    g = lesion.geometry
    shifted = Geometry(g.shape, g.spacing, tuple(np.asarray(g.origin) + 0.2 * g.direction_matrix[:, 2]), g.direction)
    write_nifti(Volume(lesion.array, shifted), tmp_path / "shifted.nii.gz")
    refused = _cli(tmp_path / "shifted.nii.gz", "--image", DICOM)
    assert refused.returncode == EXIT_BAD_INPUT and "not in this image's space" in refused.stderr
    done = _cli(tmp_path / "shifted.nii.gz", "--image", DICOM, "--resample", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    data = _json(tmp_path / "out")
    records = {r["role"]: r for r in data["inputs"]}
    # The lesion mask is the grid: the image was resampled onto it, linearly.
    assert records["image"]["resampled"] == "linear" and records["lesions"]["resampled"] is None
    assert records["image"]["original_grid"] == twin["image"].geometry.describe()
    assert data["parameters"]["resample"] is True
    assert "resampled (linear)" in " ".join(done.stderr.split())


# ----------------------------------------------------------------------------- DICOM SEG
@pytest.fixture(scope="module")
def seg_files(twin, tmp_path_factory):
    """lesionview's own SEG of the twin phantom, and SEGs made with highdicom as other tools
    write them: generic labels with SNOMED codes (binary and fractional), labels only, and
    segments nothing tells apart."""
    out = tmp_path_factory.mktemp("segs")
    masks = twin["masks"]
    files = {"lesionview": write_seg(DICOM, masks, out / "lesionview.dcm")}
    sources = list(highdicom_sources(source_series(DICOM)))
    lesion = masks["lesion"].array != 0
    edema, cord = masks["edema"].array != 0, masks["cord"].array != 0
    tissue = codes.SCT.Tissue
    abnormal, anatomy = codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.AnatomicalStructure

    def make(name, segments, kind="BINARY"):
        descriptions = [hd.seg.SegmentDescription(
            segment_number=k, segment_label=label, segmented_property_category=category,
            segmented_property_type=prop, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
            for k, (label, category, prop, _) in enumerate(segments, start=1)]
        pixels = np.stack([layer for *_, layer in segments], axis=-1)
        seg = hd.seg.Segmentation(
            source_images=sources, pixel_array=pixels.astype(np.float32 if kind == "FRACTIONAL" else np.uint8),
            segmentation_type=kind, segment_descriptions=descriptions, series_instance_uid=hd.UID(),
            series_number=300, sop_instance_uid=hd.UID(), instance_number=1, manufacturer="3D Slicer",
            manufacturer_model_name="Slicer", software_versions="5", device_serial_number="1")
        seg.save_as(out / f"{name}.dcm", enforce_file_format=True)
        files[name] = out / f"{name}.dcm"

    slicer = [("Segment_1", abnormal, codes.SCT.Neoplasm, lesion), ("Segment_2", abnormal, codes.SCT.Edema, edema),
              ("Segment_3", anatomy, codes.SCT.SpinalCord, cord)]
    make("slicer", slicer)
    # Fractional: the lesion at full fraction, and a rim at 0.3 that must not count.
    rim = ndimage.binary_dilation(lesion, iterations=1) & ~lesion
    make("fractional", [("Segment_1", abnormal, codes.SCT.Neoplasm, lesion + 0.3 * rim)], "FRACTIONAL")
    make("labels_only", [("Tumor", tissue, tissue, lesion), ("Oedema", tissue, tissue, edema),
                         ("Spinal Cord", tissue, tissue, cord)])
    make("ambiguous", [("Segment_1", tissue, tissue, lesion), ("Segment_2", tissue, tissue, cord)])
    return files


def test_lesionviews_own_seg_reads_back_on_the_series_grid(twin, seg_files):
    """Each role picks its segments by code; frames land on the source series' voxels exactly."""
    path = seg_files["lesionview"]
    assert is_seg(path) and not is_seg(TWIN / "lesion.nii.gz") and not is_seg(next(DICOM.glob("*.dcm")))
    ref = twin["image"].geometry
    got = {role: read_seg(path, role=role, reference=ref) for role in ("lesion", "edema", "cord")}
    assert [s.label for s in got["lesion"].segments] == ["Lesion 1", "Lesion 2"]
    assert [s.label for s in got["edema"].segments] == ["Edema 1"]
    assert [s.code for s in got["cord"].segments] == ["SCT:2748008"]
    for role, key in (("lesion", "lesion"), ("edema", "edema"), ("cord", "cord")):
        vol = got[role].volume
        assert vol.geometry.same_space(ref)
        expected = twin["masks"][key].array
        np.testing.assert_array_equal(vol.array, expected if role == "lesion" else (expected != 0))
    result = measure(got["lesion"].volume, image=twin["image"], edema=got["edema"].volume, cord=got["cord"].volume)
    _assert_same(_numbers(result), twin["numbers"])


def test_seg_without_the_image_is_measured_on_its_own_frames(twin, seg_files):
    """No reference grid: the SEG's frames (only the slices its segments touch) in LPS mm give the
    same numbers, image aside (no enhancement ratio without an image)."""
    got = {role: read_seg(seg_files["lesionview"], role=role) for role in ("lesion", "edema", "cord")}
    assert got["lesion"].volume.geometry.shape[0] < twin["image"].geometry.shape[0]  # empty frames left out
    result = measure(got["lesion"].volume, edema=got["edema"].volume, cord=got["cord"].volume)
    nifti = twin["masks"]
    expected = measure(nifti["lesion"], edema=nifti["edema"], cord=nifti["cord"])
    _assert_same(_numbers(result), _numbers(expected))


@pytest.mark.parametrize("choice", [None, "1", 1, "segment_1", "SCT:108369006", "SRT:108369006", ["Segment_1"]])
def test_slicer_style_seg_each_way_of_choosing(twin, seg_files, choice):
    """Generic labels ("Segment_1") with SNOMED codes: the lesion is found by its code, or chosen
    by number, label (any case) or code; it is one binary segment, each component a lesion."""
    got = read_seg(seg_files["slicer"], segments=choice, role="lesion", reference=twin["image"].geometry)
    assert [s.number for s in got.segments] == [1]
    np.testing.assert_array_equal(got.volume.array, twin["masks"]["lesion"].array != 0)


def test_slicer_style_and_labels_only_segs_give_every_role(twin, seg_files):
    ref = twin["image"].geometry
    for name in ("slicer", "labels_only", "fractional"):
        roles = ("lesion",) if name == "fractional" else ("lesion", "edema", "cord")
        for role in roles:
            got = read_seg(seg_files[name], role=role, reference=ref)
            np.testing.assert_array_equal(got.volume.array != 0, twin["masks"][role].array != 0, err_msg=(name, role))
    fractional = read_seg(seg_files["fractional"], role="lesion", reference=ref)
    assert any("fraction" in p for p in fractional.volume.problems)


def test_ambiguous_seg_is_refused_listing_its_segments(twin, seg_files):
    with pytest.raises(InputError) as caught:
        read_seg(seg_files["ambiguous"], role="lesion")
    message = caught.value.message
    assert '1 "Segment_1" SCT:85756007 (Tissue)' in message and '2 "Segment_2"' in message
    assert "--lesion-segment" in message
    with pytest.raises(InputError, match="no segment matches 'Lesion 7'"):
        read_seg(seg_files["lesionview"], segments="Lesion 7", role="lesion")
    # Chosen, it is read.
    got = read_seg(seg_files["ambiguous"], segments="2", role="cord", reference=twin["image"].geometry)
    np.testing.assert_array_equal(got.volume.array, twin["masks"]["cord"].array != 0)


def test_overlapping_lesion_segments_are_refused(seg_files):
    # Lesion 1 and the edema overlap (lesions lie in the edema): not one label image.
    with pytest.raises(InputError, match="overlap"):
        read_seg(seg_files["lesionview"], segments=["Lesion 1", "Edema 1"], role="lesion")
    with pytest.raises(InputError, match="overlap"):
        load_volume(seg_files["lesionview"])  # every segment, no role


def test_load_volume_reads_a_seg_and_image_folders_still_load(twin, seg_files, tmp_path):
    vol = load_volume(seg_files["fractional"])
    assert vol.info.modality == "SEG" and set(np.unique(vol.array)) == {0, 1}
    # A folder holding the series and a SEG still loads the series (the SEG is not an image).
    folder = tmp_path / "study"
    folder.mkdir()
    for f in DICOM.glob("*.dcm"):
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "seg.dcm").write_bytes(seg_files["slicer"].read_bytes())
    (series,) = scan(folder).series
    assert series.geometry.same_space(twin["image"].geometry)
    assert load_volume(folder).geometry.same_space(twin["image"].geometry)


def test_cli_measures_through_segs_as_through_nifti(twin, seg_files, tmp_path):
    """lesionview's own SEG for every role, then a Slicer-style SEG with a chosen segment: the
    JSON equals the NIfTI measurement and names the segments read."""
    seg = seg_files["lesionview"]
    done = _cli(seg, "--image", DICOM, "--edema", seg, "--cord", seg, "--out", tmp_path / "own")
    assert done.returncode == 0, done.stderr
    data = _json(tmp_path / "own")
    _assert_same(_json_numbers(data), twin["numbers"])
    records = {r["role"]: r for r in data["inputs"]}
    assert records["lesions"]["segments"] == ['1 "Lesion 1" SCT:52988006 (Lesion)',
                                              '2 "Lesion 2" SCT:52988006 (Lesion)']
    assert records["cord"]["segments"] == ['4 "Spinal cord" SCT:2748008 (Spinal cord)']
    assert "no interpolation" in records["edema"]["reoriented"]

    slicer = seg_files["slicer"]
    done = _cli(slicer, "--image", DICOM, "--edema", slicer, "--edema-segment", "SCT:79654002",
                "--cord", slicer, "--cord-segment", "segment_3", "--out", tmp_path / "slicer")
    assert done.returncode == 0, done.stderr
    _assert_same(_json_numbers(_json(tmp_path / "slicer")), twin["numbers"])


def test_cli_refuses_an_ambiguous_seg_and_a_segment_option_without_seg(seg_files, tmp_path):
    done = _cli(seg_files["ambiguous"], "--image", DICOM)
    text = " ".join(done.stderr.split())
    assert done.returncode == EXIT_BAD_INPUT and "Traceback" not in done.stderr
    assert '1 "Segment_1" SCT:85756007 (Tissue)' in text and '2 "Segment_2" SCT:85756007 (Tissue)' in text
    assert "--lesion-segment" in text
    done = _cli(TWIN / "lesion.nii.gz", "--lesion-segment", "1")
    assert done.returncode == EXIT_BAD_INPUT and "--lesion-segment chooses segments of a DICOM SEG" in done.stderr
    done = _cli(TWIN / "lesion.nii.gz", "--image", seg_files["slicer"])
    assert done.returncode == EXIT_BAD_INPUT and "is a DICOM SEG (a mask), not an image" in done.stderr


def test_a_folder_holding_only_a_seg_is_that_seg(twin, seg_files, tmp_path):
    """A SEG series exported from a PACS: one file in a folder."""
    folder = tmp_path / "SEG_SERIES"
    folder.mkdir()
    (folder / "IM0001").write_bytes(seg_files["slicer"].read_bytes())
    assert find_seg(folder) == folder / "IM0001" and find_seg(DICOM) is None
    done = _cli(folder, "--image", DICOM, "--edema", folder, "--cord", folder, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    _assert_same(_json_numbers(_json(tmp_path / "out")), twin["numbers"])


def test_a_lone_segment_is_not_taken_for_a_role_its_code_denies(seg_files):
    """One segment coded Neoplasm: it is the lesions, and refused as the cord or the edema (a SEG of the
    lesions given as --cord is a mistake); an uncoded lone segment ("Tumor" aside) goes anywhere."""
    assert read_seg(seg_files["fractional"], role="lesion").volume.array.any()
    for role in ("cord", "edema"):
        with pytest.raises(InputError, match="its only segment says it is the lesions"):
            read_seg(seg_files["fractional"], role=role)
