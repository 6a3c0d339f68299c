"""napari reader: layers in true physical space, one display orientation, real viewer under Xvfb.

GUI tests (``@pytest.mark.gui``) need a real X display: run them with
``xvfb-run -a -s "-screen 0 1280x1024x24"``. A hidden or offscreen viewer renders black here,
so they show the viewer. Without a display they fail when ``CI`` is set and skip otherwise.
"""

from __future__ import annotations

import gzip
import itertools
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lesionview.errors import InputError
from lesionview.geometry import Geometry, reorient
from lesionview.io import load, write_nifti
from lesionview.series import SeriesInfo
from lesionview.volume import Volume
from napari_lesionview._layers import (
    contrast_limits,
    is_mask,
    layer_name,
    layer_to_volume,
    volume_to_layer_data,
)
from napari_lesionview._reader import PLUGIN_NAME, READER_PREFERENCES, get_reader, read
from napari_lesionview._space import (
    AXIS_LABELS,
    DISPLAY_ORIENTATION,
    geometry_from_transform,
    layer_transform,
    lps_to_napari,
    napari_to_lps,
)

MANIFEST = Path(__file__).resolve().parents[1] / "plugins" / "napari_lesionview" / "napari.yaml"
# All 48 storage orientations: every axis order with every sign.
ALL_CODES = ["".join(c) for p in itertools.permutations([("L", "R"), ("P", "A"), ("S", "I")])
             for c in itertools.product(*p)]


def _plugin_name() -> str:
    from npe2 import PluginManifest

    return PluginManifest.from_file(MANIFEST).name


def _display_index(volume: Volume, idx) -> tuple[int, ...]:
    """Where voxel ``idx`` of ``volume`` lands once reoriented for display."""
    order, flip = volume.geometry.reorientation(DISPLAY_ORIENTATION)
    shape = volume.geometry.shape
    return tuple(shape[a] - 1 - idx[a] if f else idx[a] for a, f in zip(order, flip))


def _napari_layer(layer_data):
    import napari.layers

    data, kwargs, kind = layer_data
    return getattr(napari.layers, kind.capitalize())(data, **kwargs)


def _assert_voxels_land_where_the_loader_says(layer, volume: Volume, voxels) -> None:
    for idx in voxels:
        idx = tuple(int(i) for i in idx)
        shown = _display_index(volume, idx)
        assert layer.data[shown] == volume.array[idx]
        np.testing.assert_allclose(layer.data_to_world(shown),
                                   lps_to_napari(volume.geometry.index_to_world(idx)), atol=1e-4)


def _some_voxels(shape, n=20, seed=0):
    corners = list(itertools.product(*[(0, s - 1) for s in shape]))
    rng = np.random.default_rng(seed)
    return corners + [tuple(rng.integers(0, s) for s in shape) for _ in range(n)]


def _rotation(degrees: float, axis) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    t = np.radians(degrees)
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


# ---------------------------------------------------------------------------- world mapping
def test_napari_world_is_a_proper_rotation_of_lps():
    lps = np.array([[10.0, 20.0, 30.0], [-1.5, 2.5, -3.5]])
    np.testing.assert_allclose(lps_to_napari(lps), [[10, -30, 20], [-1.5, 3.5, 2.5]])
    np.testing.assert_allclose(napari_to_lps(lps_to_napari(lps)), lps)
    matrix = lps_to_napari(np.eye(3)).T
    assert np.linalg.det(matrix) == pytest.approx(1.0)  # 3D view never mirrored
    assert AXIS_LABELS == ("R→L", "S→I", "A→P") and DISPLAY_ORIENTATION == "LIP"


@pytest.mark.filterwarnings("ignore:Non-orthogonal slicing")  # napari's 2D view of an oblique layer
@pytest.mark.parametrize("tilt", [0.0, 17.0])
def test_display_does_not_depend_on_storage_orientation(tilt):
    rng = np.random.default_rng(1)
    shown_dir = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)  # columns L, I, P
    direction = _rotation(tilt, [0.3, 1.0, 0.2]) @ shown_dir
    base = Geometry((5, 7, 9), spacing=(3.3, 0.7, 0.9), origin=(12.0, -40.0, 85.0),
                    direction=direction)
    array = rng.integers(0, 1000, base.shape).astype(np.int16)
    expected = None
    for code in ALL_CODES:
        stored, geometry = reorient(array, base, code)
        volume = Volume(np.ascontiguousarray(stored), geometry, SeriesInfo(series_description="x"))
        data, kwargs, kind = volume_to_layer_data(volume)
        assert kind == "image"
        if expected is None:
            expected = data, kwargs
        np.testing.assert_array_equal(data, expected[0], err_msg=code)
        for key in ("scale", "translate", "affine"):
            np.testing.assert_allclose(kwargs[key], expected[1][key], atol=1e-9,
                                       err_msg=f"{code} {key}")
        _assert_voxels_land_where_the_loader_says(_napari_layer((data, kwargs, kind)), volume,
                                                  _some_voxels(volume.geometry.shape, 5))
    np.testing.assert_allclose(expected[1]["scale"], (3.3, 0.7, 0.9))
    is_identity = np.allclose(expected[1]["affine"], np.eye(4))
    assert is_identity == (tilt == 0.0)


@pytest.mark.filterwarnings("ignore:Non-orthogonal slicing")
def test_layer_geometry_round_trips_to_the_core():
    g = Geometry((4, 6, 8), spacing=(2.0, 0.5, 0.8), origin=(-3.0, 7.0, 20.0),
                 direction=_rotation(25, [1, 1, 0]) @ np.diag([1.0, -1.0, 1.0]))
    array = np.arange(np.prod(g.shape)).reshape(g.shape)
    volume = Volume(array, g, SeriesInfo(series_description="x"))
    layer = _napari_layer(volume_to_layer_data(volume, as_labels=False))
    back = layer_to_volume(layer)
    assert back.geometry.same_space(layer.metadata["geometry"], atol_mm=1e-6)
    # The same voxels at the same places as the volume we started from.
    for idx in _some_voxels(g.shape, 5):
        shown = _display_index(volume, idx)
        np.testing.assert_allclose(back.geometry.index_to_world(shown), g.index_to_world(idx),
                                   atol=1e-6)
        assert back.array[shown] == volume.array[idx]
    t = layer_transform(back.geometry)
    again = geometry_from_transform(back.geometry.shape, **t)
    assert again.same_space(back.geometry, atol_mm=1e-6)


# ---------------------------------------------------------------------------- layer kinds
def _volume(array, name="image.nii.gz") -> Volume:
    array = np.asarray(array)
    info = SeriesInfo(source=f"/data/{name}", series_description="x")
    return Volume(array, Geometry(array.shape), info)


def test_masks_become_labels_and_images_stay_images():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 2000, (6, 6, 6)).astype(np.int16)
    assert not is_mask(_volume(image))
    assert is_mask(_volume(image > 1000))                                       # boolean
    assert is_mask(_volume((image > 1000).astype(np.uint8)))                    # 0/1 integers
    assert is_mask(_volume((image // 500).astype(np.int32)))                    # a few labels
    assert is_mask(_volume((image > 1000).astype(np.float64), "t2_seg.nii.gz"))  # named, float 0/1
    assert not is_mask(_volume(image / 2000.0, "t2_seg.nii.gz"))                # soft segmentation
    assert not is_mask(_volume((image // 500) - 2))                             # negative values
    # A DICOM folder's name says nothing about its pixels.
    assert not is_mask(Volume(image, Geometry(image.shape), SeriesInfo(source="/data/seg_study")))
    named_float = _volume((image > 1000).astype(float), "lesion_mask.nii")
    data, kwargs, kind = volume_to_layer_data(named_float)
    assert kind == "labels" and np.issubdtype(data.dtype, np.integer) and kwargs["name"] == "x"


def test_contrast_limits_are_robust_percentiles():
    values = np.r_[np.zeros(10), np.linspace(100, 200, 10_000), [1e6]].reshape(-1, 1, 1)
    low, high = contrast_limits(values)
    assert 90 < low < 101 and 199 < high <= 200
    assert contrast_limits(np.full((2, 2, 2), 7.0)) == (7.0, 8.0)


# ---------------------------------------------------------------------------- reader, no GUI
def test_reader_declines_what_it_cannot_read(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "a.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "empty").mkdir()
    with zipfile.ZipFile(tmp_path / "docs.zip", "w") as zf:
        zf.writestr("readme.txt", "no images here")
        zf.writestr("data.bin", b"\0" * 200)
    for name in ["notes.txt", "pictures", "empty", "docs.zip"]:
        assert get_reader(str(tmp_path / name)) is None, name
    assert get_reader([str(tmp_path / "notes.txt"), str(tmp_path / "docs.zip")]) is None


def test_reader_never_opens_a_fifo_or_device_while_sniffing(tmp_path):
    """A folder holding a named pipe (or a link to a device) must not block napari's reader choice."""
    import os

    from fuzzing import time_limit

    os.mkfifo(tmp_path / "IM0001")           # a DICOM-like name: it would be sniffed
    os.symlink("/dev/zero", tmp_path / "IM0002")
    with time_limit(20):
        assert get_reader(str(tmp_path)) is None
    # A pipe named like a zip is claimed without being opened: the loader says what it is.
    os.mkfifo(tmp_path / "study.zip")
    with time_limit(20):
        assert get_reader(str(tmp_path / "study.zip")) is read
        with pytest.raises(InputError, match="named pipe"):
            read(str(tmp_path / "study.zip"))


def _corrupt_nifti(tmp_path) -> Path:
    path = tmp_path / "broken_scan.nii.gz"
    path.write_bytes(gzip.compress(b"this is not a NIfTI header" * 20)[:-9])
    return path


def test_corrupt_nifti_is_claimed_and_the_error_names_the_file(tmp_path):
    path = _corrupt_nifti(tmp_path)
    reader = get_reader(str(path))
    assert reader is read  # claimed: napari must show our message, not "no reader"
    with pytest.raises(InputError, match="broken_scan.nii.gz"):
        reader(str(path))


@pytest.mark.shared_data
def test_sct_t2_layer_in_physical_space(shared_data):
    path = shared_data / "sct_t2" / "t2.nii.gz"
    (volume,) = load(path)
    assert volume.geometry.orientation == "PSR"
    ((data, kwargs, kind),) = read(str(path))
    assert kind == "image" and kwargs["name"] == layer_name(volume) == "t2 (T2, sagittal)"
    assert data.shape == (52, 55, 60)  # L, I, P
    shown = volume.reoriented(DISPLAY_ORIENTATION).geometry
    assert kwargs["scale"] == shown.spacing
    assert kwargs["colormap"] == "gray" and kwargs["axis_labels"] == AXIS_LABELS
    meta = kwargs["metadata"]
    assert meta["series_info"]["source"] == str(path) and meta["source"] == str(path)
    assert meta["geometry"].orientation == "LIP" and meta["source_geometry"] == volume.geometry
    assert meta["problems"] == list(volume.problems)
    low, high = kwargs["contrast_limits"]
    assert np.percentile(volume.array, 0.4) <= low < high <= np.percentile(volume.array, 99.6)
    _assert_voxels_land_where_the_loader_says(_napari_layer((data, kwargs, kind)), volume,
                                              _some_voxels(volume.geometry.shape))


@pytest.mark.shared_data
def test_sct_t2_cord_mask_overlays_its_image(shared_data):
    (image,) = read(str(shared_data / "sct_t2" / "t2.nii.gz"))
    (mask,) = read(str(shared_data / "sct_t2" / "t2_seg-manual.nii.gz"))
    assert mask[2] == "labels" and mask[1]["name"] == "t2_seg-manual"
    for key in ("scale", "translate", "affine"):
        np.testing.assert_allclose(mask[1][key], image[1][key])
    # C2 (label 2) is above C5 (label 5) on screen: smaller row coordinate (axis 1 runs S->I).
    (levels,) = read(str(shared_data / "sct_t2" / "t2_seg-manual_labeled.nii.gz"))
    layer = _napari_layer(levels)
    rows = {lv: layer.data_to_world(np.argwhere(layer.data == lv).mean(0))[1] for lv in (2, 5)}
    assert rows[2] < rows[5] - 30


@pytest.mark.shared_data
def test_each_series_of_a_folder_becomes_a_layer(shared_data, tmp_path):
    study = tmp_path / "study"
    for series in ["sagittal_t1_series", "edge_cases/compressed_rle"]:
        shutil.copytree(shared_data / "dicom" / series, study / Path(series).name,
                        ignore=shutil.ignore_patterns("LICENSE*"))
    volumes = load(study)
    layers = read(str(study))
    assert len(volumes) == len(layers) == 2
    assert [kw["name"] for _, kw, _ in layers] == [layer_name(v) for v in volumes]
    for volume, layer_data in zip(volumes, layers):
        _assert_voxels_land_where_the_loader_says(_napari_layer(layer_data), volume,
                                                  _some_voxels(volume.geometry.shape, 5))


@pytest.mark.shared_data
@pytest.mark.filterwarnings("ignore:Non-orthogonal slicing")
def test_oblique_dicom_series_keeps_its_tilt_and_problems(shared_data):
    folder = shared_data / "dicom" / "edge_cases" / "missing_slice"
    (volume,) = load(folder)
    assert volume.geometry.tilt_degrees(volume.slice_axis) > 10 and volume.problems
    ((data, kwargs, kind),) = read(str(folder))
    rotation = np.asarray(kwargs["affine"])[:3, :3]
    assert not np.allclose(rotation, np.eye(3)) and np.allclose(rotation @ rotation.T, np.eye(3))
    assert np.allclose(np.asarray(kwargs["affine"])[:3, 3], 0)  # rotation only
    assert kwargs["metadata"]["problems"] == list(volume.problems)
    _assert_voxels_land_where_the_loader_says(_napari_layer((data, kwargs, kind)), volume,
                                              _some_voxels(volume.geometry.shape))


# ---------------------------------------------------------------------------- GUI
def _screenshot(viewer, path: Path) -> np.ndarray:
    from skimage.io import imsave

    shot = viewer.screenshot(canvas_only=True, flash=False)
    imsave(path, shot, check_contrast=False)
    return shot


def _world_to_data(layer, world: np.ndarray) -> np.ndarray:
    """``layer.world_to_data`` for many points at once (the transform is affine)."""
    c = np.asarray(layer.world_to_data(np.zeros(3)), float)
    b = np.stack([np.asarray(layer.world_to_data(e), float) - c for e in np.eye(3)], axis=1)
    return world @ b.T + c


def _expected_canvas(viewer, layer, shape) -> np.ndarray:
    """What the 2D canvas should show for ``layer`` (0-255 gray, NaN outside the data).

    napari's 2D camera puts world axis 1 on screen rows, increasing downward, and axis 2 on
    columns, increasing to the right, ``zoom`` screen pixels per mm around ``center``.
    """
    height, width = shape[:2]
    zoom = viewer.scene.camera.zoom
    center = np.asarray(viewer.scene.camera.center)[-2:]
    rows = center[0] + (np.arange(height) + 0.5 - height / 2) / zoom
    cols = center[1] + (np.arange(width) + 0.5 - width / 2) / zoom
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    world = np.stack([np.full(rr.shape, viewer.dims.point[0]), rr, cc], axis=-1).reshape(-1, 3)
    index = np.round(_world_to_data(layer, world))
    inside = np.all((index >= 0) & (index < np.array(layer.data.shape)), axis=1)
    out = np.full(len(index), np.nan)
    values = layer.data[tuple(index[inside].astype(int).T)].astype(float)
    if hasattr(layer, "contrast_limits"):
        low, high = layer.contrast_limits
        values = np.clip((values - low) / (high - low), 0, 1) * 255
    out[inside] = values
    return out.reshape(height, width)


def _correlation(a, b) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


@pytest.mark.gui
@pytest.mark.shared_data
def test_viewer_opens_sct_t2_as_a_sagittal_view(viewer, shared_data, tmp_path):
    path = shared_data / "sct_t2" / "t2.nii.gz"
    (volume,) = load(path)
    plugin = _plugin_name()
    (layer,) = viewer.open(path, plugin=plugin)
    assert layer.name == "t2 (T2, sagittal)" and layer.colormap.name == "gray"
    assert tuple(layer.scale) == volume.reoriented(DISPLAY_ORIENTATION).geometry.spacing
    assert viewer.dims.axis_labels == AXIS_LABELS
    _assert_voxels_land_where_the_loader_says(layer, volume, _some_voxels(volume.geometry.shape))
    (cord,) = viewer.open(shared_data / "sct_t2" / "t2_seg-manual.nii.gz", plugin=plugin)
    cord.visible = False
    assert viewer.layers[0].metadata["series_info"]["role"] == "T2"

    shot = _screenshot(viewer, tmp_path / "sct_t2_sagittal.png")
    gray = shot[..., :3].mean(axis=-1)
    assert gray.std() > 20, "screenshot is blank"
    # Pixel for pixel what napari should draw with Superior up and Anterior left, and not
    # what an upside-down or mirrored view would draw.
    expected = _expected_canvas(viewer, layer, gray.shape)
    assert _correlation(gray, expected) > 0.9
    assert _correlation(gray, expected[::-1]) < 0.5
    assert _correlation(gray, expected[:, ::-1]) < 0.5
    # The cord is intermediate grey on T2 (between dark bone and bright CSF).
    cord_on_screen = _expected_canvas(viewer, cord, gray.shape) > 0
    assert cord_on_screen.sum() > 1000
    assert 40 < np.median(gray[cord_on_screen]) < 215


@pytest.mark.gui
def test_viewer_shows_superior_up_and_anterior_left(viewer, tmp_path):
    import napari.layers

    # Stored RAS (axial slices): axis 1 grows towards Anterior, axis 2 towards Superior.
    g = Geometry((40, 30, 50), spacing=(1.0, 1.0, 1.0), direction=np.diag([-1.0, -1.0, 1.0]))
    # Noisy, so it opens as an image, not a mask.
    array = np.random.default_rng(3).integers(50, 150, g.shape).astype(np.int16)
    array[:, -8:, -10:] += 900  # the superior-anterior corner, on every sagittal slice
    path = write_nifti(Volume(array, g), tmp_path / "corner.nii.gz")
    (layer,) = viewer.open(path, plugin=_plugin_name())
    assert isinstance(layer, napari.layers.Image)
    layer.contrast_limits = (0, 1000)
    shot = _screenshot(viewer, tmp_path / "corner.png")
    bright = np.argwhere(shot[..., :3].mean(axis=-1) > 200)
    drawn = np.argwhere(_expected_canvas(viewer, layer, shot.shape) >= 0)
    (top, left), (bottom, right) = drawn.min(0), drawn.max(0)
    assert len(bright) > 100
    # The bright block sits in the top-left quarter of the drawn volume.
    assert bright[:, 0].max() < (top + bottom) / 2 and bright[:, 1].max() < (left + right) / 2
    # 3D: napari's default camera is right-handed and our world mapping a rotation, so the
    # volume is seen from the patient's left like the 2D view, not as its mirror image.
    assert str(viewer.scene.camera.handedness) == "right"
    viewer.dims.ndisplay = 3
    shot = _screenshot(viewer, tmp_path / "corner_3d.png")
    bright = np.argwhere(shot[..., :3].mean(axis=-1) > 200)
    assert len(bright) > 100 and np.all(bright.max(0) < np.array(shot.shape[:2]) / 2)


@pytest.mark.gui
@pytest.mark.shared_data
def test_corrupt_file_raises_a_clear_error_and_the_viewer_lives_on(viewer, tmp_path, shared_data):
    path = _corrupt_nifti(tmp_path)
    with pytest.raises(InputError, match="broken_scan.nii.gz") as err:
        viewer.open(path, plugin=_plugin_name())
    assert "truncated" in str(err.value) and "re-download" in str(err.value)  # what, and what to do
    assert len(viewer.layers) == 0
    viewer.open(shared_data / "sct_t2" / "t2.nii.gz", plugin=_plugin_name())
    assert len(viewer.layers) == 1


# ---------------------------------------------------------------------------- DICOM
def _dicom_volume(series_dir: Path) -> Volume:
    (volume,) = load(series_dir)
    return volume


@pytest.mark.gui
@pytest.mark.shared_data
def test_viewer_opens_a_dicom_folder_in_physical_space(viewer, shared_data, tmp_path):
    series = shared_data / "dicom" / "sagittal_t1_series"
    volume = _dicom_volume(series)
    layers = viewer.open(series, plugin=_plugin_name())
    assert [la.name for la in layers] == [layer_name(volume)] == ["3 t1_fl2d_sag (T1, sagittal)"]
    (layer,) = layers
    # 4.8 mm between sagittal slices along the slider, 1.016 mm pixels on screen.
    np.testing.assert_allclose(layer.scale, (4.8, 1.015625, 1.015625), atol=1e-5)
    assert tuple(layer.scale) == volume.reoriented(DISPLAY_ORIENTATION).geometry.spacing
    _assert_voxels_land_where_the_loader_says(layer, volume, _some_voxels(volume.geometry.shape))
    shot = _screenshot(viewer, tmp_path / "sagittal_t1.png")
    gray = shot[..., :3].mean(axis=-1)
    assert gray.std() > 20, "screenshot is blank"
    assert _correlation(gray, _expected_canvas(viewer, layer, gray.shape)) > 0.9


@pytest.mark.gui
@pytest.mark.shared_data
def test_viewer_opens_a_dicom_zip_and_a_single_file(viewer, shared_data, tmp_path):
    series = shared_data / "dicom" / "sagittal_t1_series"
    volume = _dicom_volume(series)
    with zipfile.ZipFile(tmp_path / "study.zip", "w") as zf:
        for f in sorted(series.glob("*.dcm")):
            zf.write(f, f"study/{f.name}")
    (from_zip,) = viewer.open(tmp_path / "study.zip", plugin=_plugin_name())
    _assert_voxels_land_where_the_loader_says(from_zip, volume,
                                              _some_voxels(volume.geometry.shape, 5))
    single = shared_data / "dicom" / "transfer_syntaxes" / "1.dcm"
    (one,) = load(single)
    (layer,) = viewer.open(single, plugin=_plugin_name())
    assert layer.data.size == one.array.size
    _assert_voxels_land_where_the_loader_says(layer, one, _some_voxels(one.geometry.shape, 5))


# ---------------------------------------------------------------------------- how napari picks us
TWIN_T1C = Path(__file__).resolve().parents[1] / "sample_data" / "twin" / "dicom" / "05_SAG_T1_TSE_C"


def test_layer_names_say_series_role_and_plane():
    sagittal = Geometry((4, 5, 6), direction=np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float).T)
    axial = Geometry((4, 5, 6), direction=np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float).T)
    tilted = Geometry((4, 5, 6), direction=_rotation(20, [0, 0, 1]) @ sagittal.direction_matrix)

    def name(geometry, **info):
        return layer_name(Volume(np.zeros(geometry.shape), geometry, SeriesInfo(**info)))

    t1c = {"series_number": 5, "series_description": "SAG T1 TSE +C", "role": "T1+C"}
    assert name(sagittal, **t1c) == "5 SAG T1 TSE +C (T1+C, sagittal)"
    # No role guessed: not said. A NIfTI file: its stem, and no series number.
    assert name(axial, series_number=3, series_description="AX DWI") == "3 AX DWI (axial)"
    assert name(sagittal, source="/data/t2.nii.gz", series_description="t2", role="T2") == \
        "t2 (T2, sagittal)"
    # Tilted 20 degrees: oblique, and the nearest plane.
    assert name(tilted, series_number=7, protocol_name="t2_tse_obl", role="T2") == \
        "7 t2_tse_obl (T2, oblique sagittal)"


def test_twin_sample_layers_are_named_for_a_radiologist():
    names = [kw["name"] for _, kw, kind in read(str(TWIN_T1C.parent)) if kind == "image"]
    assert names == ["2 SAG T2 TSE (T2, sagittal)", "5 SAG T1 TSE +C (T1+C, sagittal)"]


def test_reader_sniffs_a_bounded_number_of_files_in_a_big_folder(tmp_path, monkeypatch):
    from lesionview.io.paths import open_regular
    from napari_lesionview import _reader

    for i in range(3000):  # DICOM-like names, no DICOM inside
        (tmp_path / f"IM{i:05d}").write_bytes(b"\0" * 200)
    opened = []

    def counted(path):
        opened.append(path)
        return open_regular(path)

    monkeypatch.setattr(_reader, "open_regular", counted)
    assert get_reader(str(tmp_path)) is None
    assert len(opened) == _reader._MAX_SNIFFED


def test_lesionview_prefers_only_its_own_patterns_and_only_once(napari_settings, tmp_path,
                                                                monkeypatch):
    from napari.plugins.utils import get_preferred_reader

    from napari_lesionview import _reader
    from napari_lesionview._reader import prefer_lesionview

    folder = tmp_path / "study"
    folder.mkdir()
    # The user already chose napari for .nii files: that choice stands.
    napari_settings.plugins.extension2reader = {"*.tif": "napari", "*.nii": "napari"}
    added = prefer_lesionview(napari_settings)
    assert added == [p for p in READER_PREFERENCES if p != "*.nii"]
    prefs = napari_settings.plugins.extension2reader
    assert prefs["*.nii"] == prefs["*.tif"] == "napari"
    assert {prefs[p] for p in added} == {PLUGIN_NAME}
    # What napari now decides, as File > Open does.
    assert get_preferred_reader(folder) == PLUGIN_NAME
    assert get_preferred_reader(tmp_path / "T2.NII.GZ") == PLUGIN_NAME
    assert get_preferred_reader(tmp_path / "IM0001.dcm") == PLUGIN_NAME
    assert get_preferred_reader(tmp_path / "image.npy") is None
    assert get_preferred_reader(tmp_path / "scan.nii") == "napari"
    # The user removes the folder preference in Preferences > Plugins: it stays removed, in this
    # session and in the next one (lesionview noted what it added beside napari's settings).
    # The user's own .nii choice, removed later, is not taken over either.
    napari_settings.plugins.extension2reader = {k: v for k, v in prefs.items()
                                                if k not in ("*/", "*.nii")}
    assert prefer_lesionview(napari_settings) == []
    monkeypatch.setattr(_reader, "_offered_in_session", {})
    assert prefer_lesionview(napari_settings) == []
    assert not {"*/", "*.nii"} & set(napari_settings.plugins.extension2reader)
    record = napari_settings.config_path.parent / "lesionview-reader-preferences.json"
    assert record.is_file()
    # Another napari environment where the user sends every file and folder to one reader.
    napari_settings.config_path = tmp_path / "other" / "settings.yaml"
    napari_settings.plugins.extension2reader = {"*": "napari"}
    assert prefer_lesionview(napari_settings) == []


def test_reading_without_a_window_leaves_napari_preferences_alone(napari_settings, shared_data):
    read(str(shared_data / "sct_t2" / "t2.nii.gz"))
    assert napari_settings.plugins.extension2reader == {}


def _dicom_names_without_suffix(series: Path, folder: Path) -> Path:
    """A copy of ``series`` named as scanners and PACS exports do: IM0001... and bare UIDs."""
    folder.mkdir()
    for i, f in enumerate(sorted(series.glob("*.dcm")), 1):
        uid = f.stem.split("_", 1)[1]  # 0001_1.3.12.2....dcm
        shutil.copy(f, folder / (f"IM{i:04d}" if i % 2 else uid))
    return folder


def _file_menu_action(viewer, text: str):
    """The top-level action of napari's File menu called ``text`` (not the "Open with Plugin" one)."""
    (action,) = [a for a in viewer.window.file_menu.actions() if a.text() == text]
    return action


def _reader_questions(monkeypatch, answer: str = "") -> list[dict]:
    """Record napari's "Choose reader" dialog instead of showing it; it answers ``answer``
    ("" = Cancel)."""
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog

    asked = []

    def get_user_choices(dialog):
        offered = sorted(b.text() for b in dialog.reader_btn_group.buttons())
        asked.append({"path": dialog._current_file, "offered": offered})
        return answer, False

    monkeypatch.setattr(QtReaderDialog, "get_user_choices", get_user_choices)
    return asked


def _choose_in_file_dialog(monkeypatch, path: Path) -> None:
    """The user picks ``path`` in napari's Open File(s) / Open Folder dialogs."""
    from qtpy.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(path)))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        staticmethod(lambda *a, **k: ([str(path)], "")))


def _shown_info(monkeypatch) -> list[str]:
    import napari.utils.notifications

    shown = []
    monkeypatch.setattr(napari.utils.notifications, "show_info", shown.append)
    return shown


@pytest.mark.gui
@pytest.mark.shared_data
def test_open_without_plugin_uses_lesionview_after_its_first_use(napari_settings, viewer,
                                                                   shared_data, tmp_path,
                                                                   monkeypatch):
    series = shared_data / "dicom" / "sagittal_t1_series"
    nifti = shared_data / "sct_t2" / "t2.nii.gz"
    single = shared_data / "dicom" / "transfer_syntaxes" / "1.dcm"
    shown = _shown_info(monkeypatch)
    # First use in a window (here with plugin= named): lesionview adds its preferences, says so.
    viewer.open(nifti, plugin=PLUGIN_NAME)
    assert len(shown) == 1 and "folders" in shown[0] and "Preferences > Plugins" in shown[0]
    assert napari_settings.plugins.extension2reader["*/"] == PLUGIN_NAME
    viewer.layers.clear()

    t1 = "3 t1_fl2d_sag (T1, sagittal)"
    with zipfile.ZipFile(tmp_path / "study.zip", "w") as zf:
        for f in sorted(series.glob("*.dcm")):
            zf.write(f, f"study/{f.name}")
    for path, names in [
        (series, [t1]),
        (_dicom_names_without_suffix(series, tmp_path / "no_suffix"), [t1]),
        (tmp_path / "study.zip", [t1]),
        (TWIN_T1C, ["5 SAG T1 TSE +C (T1+C, sagittal)"]),
        (TWIN_T1C.parent, ["2 SAG T2 TSE (T2, sagittal)", "5 SAG T1 TSE +C (T1+C, sagittal)"]),
        (nifti, ["t2 (T2, sagittal)"]),
        (single, ["1 ax_asc_35sl (axial)"]),
    ]:
        # plugin=None: napari picks the reader as File > Open does (no plugin= means "napari").
        layers = viewer.open(path, plugin=None)
        assert [la.name for la in layers] == names, path
        assert {la.source.reader_plugin for la in layers} == {PLUGIN_NAME}, path
        viewer.layers.clear()
    assert len(shown) == 1  # said once
    # napari's own formats still open with napari's reader, without a question.
    import tifffile

    np.save(tmp_path / "array.npy", np.arange(24.0).reshape(2, 3, 4))
    tifffile.imwrite(tmp_path / "image.tif", np.zeros((6, 7), np.uint16), photometric="minisblack")
    for name, shape in [("array.npy", (2, 3, 4)), ("image.tif", (6, 7))]:
        (layer,) = viewer.open(tmp_path / name, plugin=None)
        assert layer.source.reader_plugin == "napari" and layer.data.shape == shape


@pytest.mark.gui
@pytest.mark.shared_data
def test_file_open_folder_asks_once_ever_then_never(napari_settings, viewer, shared_data,
                                                    tmp_path, monkeypatch):
    """A napari where lesionview never ran asks once (napari decides before any plugin code
    runs); choosing lesionview sets its preferences, and no later folder or file asks."""
    series = shared_data / "dicom" / "sagittal_t1_series"
    asked = _reader_questions(monkeypatch, answer="lesionview")
    shown = _shown_info(monkeypatch)
    _choose_in_file_dialog(monkeypatch, series)
    _file_menu_action(viewer, "Open Folder...").trigger()
    assert [q["offered"] for q in asked] == [["lesionview", "napari builtins"]]
    assert [la.name for la in viewer.layers] == ["3 t1_fl2d_sag (T1, sagittal)"]
    assert len(shown) == 1

    asked.clear()
    viewer.layers.clear()
    for path in [_dicom_names_without_suffix(series, tmp_path / "IMAGES"), TWIN_T1C]:
        _choose_in_file_dialog(monkeypatch, path)
        _file_menu_action(viewer, "Open Folder...").trigger()
    for path in [shared_data / "sct_t2" / "t2.nii.gz", shared_data / "dicom" / "transfer_syntaxes" / "1.dcm"]:
        _choose_in_file_dialog(monkeypatch, path)
        _file_menu_action(viewer, "Open File(s)...").trigger()
    assert asked == [], f"napari asked which reader to use: {asked}"
    assert [la.name for la in viewer.layers] == [
        "3 t1_fl2d_sag (T1, sagittal)", "5 SAG T1 TSE +C (T1+C, sagittal)", "t2 (T2, sagittal)",
        "1 ax_asc_35sl (axial)"]
    assert {la.source.reader_plugin for la in viewer.layers} == {PLUGIN_NAME}


@pytest.mark.gui
@pytest.mark.shared_data
def test_file_open_with_lesionview_preferences_asks_nothing(napari_settings, viewer,
                                                             shared_data, tmp_path, monkeypatch):
    from napari_lesionview._reader import prefer_lesionview

    prefer_lesionview()  # the state after lesionview's first use
    asked = _reader_questions(monkeypatch)
    _choose_in_file_dialog(monkeypatch, TWIN_T1C)
    _file_menu_action(viewer, "Open Folder...").trigger()
    np.save(tmp_path / "array.npy", np.zeros((3, 4)))
    _choose_in_file_dialog(monkeypatch, tmp_path / "array.npy")
    _file_menu_action(viewer, "Open File(s)...").trigger()
    assert asked == [], f"napari asked which reader to use: {asked}"
    assert [(la.name, la.source.reader_plugin) for la in viewer.layers] == [
        ("5 SAG T1 TSE +C (T1+C, sagittal)", PLUGIN_NAME), ("array", "napari")]


@pytest.mark.gui
def test_a_folder_without_dicom_is_left_to_napari(napari_settings, viewer, tmp_path, monkeypatch):
    from skimage.io import imsave

    from napari_lesionview._reader import prefer_lesionview

    prefer_lesionview()
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        imsave(folder / f"slice{i}.png", np.full((8, 9), 40 * (i + 1), np.uint8), check_contrast=False)
    assert get_reader(str(folder)) is None
    # lesionview refuses it, so napari asks for another reader and offers only its own.
    asked = _reader_questions(monkeypatch, answer="napari builtins")
    _choose_in_file_dialog(monkeypatch, folder)
    _file_menu_action(viewer, "Open Folder...").trigger()
    assert [q["offered"] for q in asked] == [["napari builtins"]]
    (layer,) = viewer.layers
    assert layer.source.reader_plugin == "napari" and layer.data.shape == (2, 8, 9)
