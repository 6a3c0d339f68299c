"""Sample data (File > Open Sample > lesionview) and the writers, in a real viewer under Xvfb."""

from __future__ import annotations

import numpy as np
import pytest

from lesionview.geometry import Geometry, reorient
from lesionview.io import load_volume, write_nifti
from lesionview.levels import read_landmarks
from lesionview.phantom import sample_path
from lesionview.volume import Volume
from napari_lesionview._layers import layer_geometry, volume_to_layer_data
from napari_lesionview._space import DISPLAY_ORIENTATION, lps_to_napari, napari_to_lps
from napari_lesionview._study import ROLE_KEY, find_layer
from napari_lesionview._writer import write_labels

pytestmark = pytest.mark.gui


@pytest.fixture
def twin(viewer):
    viewer.open_sample("lesionview", "twin")
    return viewer


def test_sample_opens_images_truth_and_levels(twin, tmp_path):
    roles = {layer.metadata.get(ROLE_KEY): layer for layer in twin.layers}
    assert set(roles) == {"t2", "t1c", "lesions", "edema", "cord", "levels"}
    assert [layer._type_string for layer in twin.layers] == ["image"] * 2 + ["labels"] * 3 + ["points"]
    assert roles["t1c"].metadata["series_info"]["role"] == "T1+C"
    assert roles["t2"].metadata["series_info"]["role"] == "T2"

    folder = sample_path("twin")
    lesion = load_volume(folder / "lesion.nii.gz")
    shown = lesion.reoriented(DISPLAY_ORIENTATION)
    for role in ("t2", "t1c", "lesions", "edema", "cord"):
        np.testing.assert_allclose(roles[role].scale, shown.geometry.spacing)
        assert layer_geometry(roles[role]).same_space(shown.geometry)
    np.testing.assert_array_equal(roles["lesions"].data, shown.array)

    names, positions = read_landmarks(folder / "landmarks.csv")
    levels = roles["levels"]
    assert list(levels.features["name"]) == names
    world = np.array([levels.data_to_world(p) for p in levels.data])
    np.testing.assert_allclose(world, lps_to_napari(positions), atol=1e-9)
    np.testing.assert_allclose(napari_to_lps(world), positions, atol=1e-9)
    np.testing.assert_allclose(levels.scale, roles["t1c"].scale)   # the slider steps slice by slice
    assert twin.dims.nsteps[0] == roles["t1c"].data.shape[0]
    assert levels.text.string.format == "{name}" and levels.text.visible

    shot = twin.screenshot(str(tmp_path / "twin_sample.png"), canvas_only=False)
    assert shot.std() > 10   # not a blank window


def test_solitary_sample_opens(viewer):
    viewer.open_sample("lesionview", "solitary")
    assert find_layer(viewer, "lesions").data.any()
    assert find_layer(viewer, "t1c") is not None and find_layer(viewer, "levels") is not None


def test_labels_written_on_the_source_grid(twin, tmp_path):
    lesions = find_layer(twin, "lesions")
    lesions.paint((6, 200, 150), 7)
    out = tmp_path / "lesions.nii.gz"
    assert lesions.save(str(out), plugin="lesionview") == [str(out)]
    written = load_volume(out)
    source = load_volume(sample_path("twin") / "t2.nii.gz")
    assert written.geometry.shape == source.geometry.shape
    assert written.geometry.orientation == source.geometry.orientation
    assert written.geometry.same_space(source.geometry)
    np.testing.assert_allclose(written.geometry.affine, source.geometry.affine, atol=1e-4)
    expected = reorient(lesions.data, layer_geometry(lesions), source.geometry.orientation)[0]
    np.testing.assert_array_equal(written.array, expected)
    # The painted voxel is at the same physical place in the file as on screen.
    world = layer_geometry(lesions).index_to_world((6, 200, 150))
    idx = tuple(int(i) for i in np.round(written.geometry.world_to_index(world)))
    assert written.array[idx] == 7


@pytest.mark.parametrize("code", ["ASL", "RAS", "PIR"])
def test_labels_round_trip_any_storage_orientation(viewer, tmp_path, code):
    lps = Geometry((7, 9, 11), spacing=(1.0, 2.0, 0.5), origin=(-3.0, 4.0, 12.0))
    _array, geometry = reorient(np.zeros(lps.shape, np.uint8), lps, code)
    mask = np.zeros(geometry.shape, np.uint8)
    mask[1, 2, 3] = 1
    mask[5, 0, 8 % geometry.shape[2]] = 2
    src = tmp_path / f"mask_{code}.nii.gz"
    write_nifti(Volume(mask, geometry), src)
    data, kwargs, _ = volume_to_layer_data(load_volume(src), as_labels=True)
    layer = viewer.add_labels(data, **kwargs)
    layer.metadata.pop("source_geometry")   # a user-made layer: found via the image grid instead
    viewer.add_image(np.zeros_like(data, float), **{k: v for k, v in kwargs.items() if k != "name"})
    out = tmp_path / f"out_{code}.nii"
    assert layer.save(str(out), plugin="lesionview") == [str(out)]
    back = load_volume(out)
    assert back.geometry.orientation == code and back.geometry.same_space(load_volume(src).geometry)
    np.testing.assert_array_equal(back.array, mask)


def test_dicom_seg_references_the_t1c_series(twin, tmp_path):
    import pydicom

    lesions = find_layer(twin, "lesions")
    out = tmp_path / "lesions_seg.dcm"
    assert lesions.save(str(out), plugin="lesionview") == [str(out)]
    seg = pydicom.dcmread(out)
    assert seg.Modality == "SEG"
    t1c = find_layer(twin, "t1c").metadata["series_info"]
    assert seg.StudyInstanceUID == t1c["study_uid"]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == t1c["series_uid"]
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Lesion 1", "Lesion 2"]


def test_dicom_seg_of_a_nifti_study_is_refused_with_a_message(viewer, tmp_path):
    data, kwargs, _ = volume_to_layer_data(load_volume(sample_path("twin") / "lesion.nii.gz"), as_labels=True)
    layer = viewer.add_labels(data, **kwargs)
    data, state, _ = layer.as_layer_data_tuple()
    assert write_labels(str(tmp_path / "seg.dcm"), data, state) == []
    assert not (tmp_path / "seg.dcm").exists()


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_levels_written_in_lps_with_names(twin, tmp_path, suffix):
    levels = find_layer(twin, "levels")
    out = tmp_path / f"levels{suffix}"
    assert levels.save(str(out), plugin="lesionview") == [str(out)]
    names, positions = read_landmarks(out)
    truth_names, truth = read_landmarks(sample_path("twin") / "landmarks.csv")
    assert names == truth_names
    np.testing.assert_allclose(positions, truth, atol=1e-9)
