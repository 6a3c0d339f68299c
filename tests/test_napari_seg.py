"""A DICOM SEG opened in napari: the cord, edema and lesion layers the panel measures, on the image's grid.

The oracle is the twin phantom measured from its NIfTI masks with the core; the SEG is the one
lesionview's report writes (highdicom), and one written as 3D Slicer writes them (generic labels,
other codes, a segment that says no role).
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from pydicom.sr.codedict import codes

from lesionview.io import load_volume
from lesionview.measure import measure
from lesionview.phantom import sample_path
from lesionview.report.dicom_seg import highdicom_sources, source_series, write_seg
from napari_lesionview._layers import layer_to_volume
from napari_lesionview._study import ROLE_KEY, find_layer

TWIN = sample_path("twin")
T1C = TWIN / "dicom" / "05_SAG_T1_TSE_C"


@pytest.fixture(scope="module")
def masks():
    return {k: load_volume(TWIN / f"{k}.nii.gz") for k in ("lesion", "edema", "cord")}


@pytest.fixture(scope="module")
def segs(masks, tmp_path_factory):
    out = tmp_path_factory.mktemp("segs")
    own = write_seg(T1C, masks, out / "lesionview.dcm")
    sources = list(highdicom_sources(source_series(T1C)))
    abnormal, anatomy = codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.AnatomicalStructure
    tissue = codes.SCT.Tissue
    segments = [("Segment_1", abnormal, codes.SCT.Neoplasm, masks["lesion"].array != 0),
                ("Segment_2", anatomy, codes.SCT.SpinalCord, masks["cord"].array != 0),
                ("Segment_3", tissue, tissue, masks["edema"].array != 0)]
    descriptions = [hd.seg.SegmentDescription(
        segment_number=k, segment_label=label, segmented_property_category=category,
        segmented_property_type=prop, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
        for k, (label, category, prop, _) in enumerate(segments, start=1)]
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=np.stack([m for *_, m in segments], axis=-1).astype(np.uint8),
        segmentation_type="BINARY", segment_descriptions=descriptions, series_instance_uid=hd.UID(),
        series_number=300, sop_instance_uid=hd.UID(), instance_number=1, manufacturer="3D Slicer",
        manufacturer_model_name="Slicer", software_versions="5", device_serial_number="1")
    seg.save_as(out / "slicer.dcm", enforce_file_format=True)
    return {"lesionview": own, "slicer": out / "slicer.dcm"}


def _numbers(result):
    return [(les.voxel_count, round(les.max_diameter_mm, 3), les.levels) for les in result.lesions], \
        [(ed.voxel_count, ed.lesion_ids) for ed in result.edema]


def test_lesionviews_own_seg_opens_as_the_three_role_layers_on_the_image_grid(viewer, segs, masks):
    viewer.open(T1C, plugin="lesionview")
    image = viewer.layers[-1]
    viewer.open(segs["lesionview"], plugin="lesionview")
    layers = {role: find_layer(viewer, role) for role in ("cord", "edema", "lesions")}
    assert all(layer is not None for layer in layers.values()), [ly.name for ly in viewer.layers]
    # On the open series' voxels (the SEG stores only the frames its segments touch).
    for layer in layers.values():
        assert layer.data.shape == image.data.shape
        np.testing.assert_allclose(layer.affine.affine_matrix, image.affine.affine_matrix, atol=1e-9)
    got = measure(layer_to_volume(layers["lesions"]), image=layer_to_volume(image),
                  edema=layer_to_volume(layers["edema"]), cord=layer_to_volume(layers["cord"]))
    want = measure(masks["lesion"], image=load_volume(T1C), edema=masks["edema"], cord=masks["cord"])
    assert _numbers(got) == _numbers(want)
    assert [les.id for les in got.lesions] == [1, 2]
    assert got.multiplicity.kind == want.multiplicity.kind


def test_a_slicer_seg_gives_role_layers_and_leaves_an_unnamed_segment_for_the_user(viewer, segs, masks):
    viewer.open(segs["slicer"], plugin="lesionview")        # no image open: the SEG's own frames
    lesions, cord = find_layer(viewer, "lesions"), find_layer(viewer, "cord")
    assert "Segment_1" in lesions.name and "Segment_2" in cord.name
    assert find_layer(viewer, "edema") is None             # "Tissue" says no role
    (other,) = [ly for ly in viewer.layers if ROLE_KEY not in ly.metadata or ly.metadata[ROLE_KEY] is None]
    assert "Segment_3" in other.name
    # The same voxels in the patient, whatever grid they came on.
    got, want = layer_to_volume(lesions), masks["lesion"]
    got_world = got.geometry.index_to_world(np.argwhere(got.array != 0))
    want_world = want.geometry.index_to_world(np.argwhere(want.array != 0))
    assert len(got_world) == len(want_world)
    np.testing.assert_allclose(np.sort(got_world, axis=0), np.sort(want_world, axis=0), atol=1e-3)


def test_a_seg_of_one_lesion_segment_opens_as_the_lesions_only(viewer, segs, masks, tmp_path):
    sources = list(highdicom_sources(source_series(T1C)))
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="Lesion", segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=(masks["lesion"].array != 0).astype(np.uint8), segmentation_type="BINARY",
        segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=301,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="OHIF", manufacturer_model_name="OHIF",
        software_versions="3", device_serial_number="1")
    seg.save_as(tmp_path / "one.dcm", enforce_file_format=True)
    before = len(viewer.layers)
    viewer.open(tmp_path / "one.dcm", plugin="lesionview")
    added = list(viewer.layers)[before:]
    assert [layer.metadata.get(ROLE_KEY) for layer in added] == ["lesions"]
