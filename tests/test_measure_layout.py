"""The numbers do not depend on the arrays' memory layout: Fortran order, as nibabel loads NIfTI,
or C order, as NumPy makes arrays.

Whole-volume passes (boxes, indices, labels) read the arrays in their own memory order for speed;
these tests pin that the results are those of the C-order reading: the same study measured from
its NIfTI files and from C-ordered copies of them, and each helper against its plain NumPy/SciPy
equivalent on C, Fortran and strided views.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from lesionview.cord import centerline_from_mask
from lesionview.geometry import Geometry
from lesionview.io import load_volume
from lesionview.levels import LevelModel
from lesionview.measure import measure
from lesionview.measure.components import (
    bounding_boxes,
    label_regions,
    nonzero_box,
    nonzero_indices,
)
from lesionview.measure.diameters import (
    axial_diameters,
    craniocaudal_length,
    max_diameter,
    max_diameter_ibsi,
)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _layouts(array: np.ndarray) -> dict[str, np.ndarray]:
    """The same values as C order, Fortran order, a transposed view and a flipped, strided view."""
    f = np.asfortranarray(array)
    return {"C": np.ascontiguousarray(array), "F": f, "transposed view": f.T.T,
            "flipped view": np.ascontiguousarray(array[::-1, :, ::-1])[::-1, :, ::-1]}


def _blobs(seed: int, shape=(23, 17, 11)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random(shape), 1.2) > 0.56


def _assert_close(got, expected, where="result"):
    """Equal structures; numbers within 1e-6 (layouts change only the order of float sums)."""
    if isinstance(expected, dict):
        assert got.keys() == expected.keys(), where
        for key in expected:
            _assert_close(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), where
        for k, (a, b) in enumerate(zip(got, expected)):
            _assert_close(a, b, f"{where}[{k}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert got == pytest.approx(expected, abs=1e-6, nan_ok=True), where
    else:
        assert got == expected, where


# ---------------------------------------------------------------------------- a study from NIfTI
@pytest.fixture(scope="module")
def solitary():
    root = SAMPLE / "solitary"
    if not (root / "lesion.nii.gz").exists():
        pytest.fail(f"{root} is incomplete: run `make sample` (scripts/make_phantom.py) first")
    return {"lesions": load_volume(root / "lesion.nii.gz"), "image": load_volume(root / "t1c.nii.gz"),
            "edema": load_volume(root / "edema.nii.gz"), "cord": load_volume(root / "cord.nii.gz"),
            "levels": LevelModel.from_file(root / "landmarks.csv")}


def test_nifti_loads_fortran_ordered(solitary):
    """The case at stake: nibabel hands over the file's voxels in Fortran order."""
    for role in ("lesions", "image", "edema", "cord"):
        array = solitary[role].array
        assert array.flags.f_contiguous and not array.flags.c_contiguous, role


def test_study_from_nifti_measures_as_c_ordered_copies(solitary):
    loaded = measure(solitary["lesions"], **{k: v for k, v in solitary.items() if k != "lesions"})
    copies = {k: replace(v, array=np.ascontiguousarray(v.array)) if k != "levels" else v
              for k, v in solitary.items()}
    assert copies["cord"].array.flags.c_contiguous
    again = measure(copies["lesions"], **{k: v for k, v in copies.items() if k != "lesions"})
    assert len(loaded.lesions) == 1 and len(loaded.edema) == 1
    assert loaded.lesions[0].max_diameter_mm > 5 and loaded.lesions[0].cord_occupancy is not None
    skip = {"created_utc"}
    _assert_close(again.model_dump(mode="json", exclude=skip), loaded.model_dump(mode="json", exclude=skip))


def test_label_image_in_fortran_order_measures_the_same():
    """A label image (ids kept as painted) goes through bounding_boxes on Fortran-ordered labels."""
    labels = np.zeros((40, 30, 20), np.uint16)
    labels[5:12, 4:9, 3:8] = 9
    labels[20:31, 10:20, 9:16] = 4
    labels[33:36, 22:27, 2:5] = 9          # label 9 in two pieces: one lesion, with a warning
    g = Geometry(labels.shape, (0.5, 0.7, 3.0), (10.0, -20.0, 5.0))
    results = [measure(a, geometry=g, mask_kind="labels").model_dump(mode="json", exclude={"created_utc"})
               for a in (labels, np.asfortranarray(labels))]
    assert [les["voxel_count"] for les in results[0]["lesions"]] == [11 * 10 * 7, 7 * 5 * 5 + 3 * 5 * 3]
    _assert_close(results[1], results[0])


# ---------------------------------------------------------------------------- the helpers
@pytest.mark.parametrize("seed", range(3))
def test_nonzero_box_and_indices_match_scipy_and_numpy(seed):
    mask = _blobs(seed)
    expected_box = ndimage.find_objects(mask.astype(np.uint8))[0]
    for name, a in _layouts(mask.astype(np.uint8) * 3).items():
        assert nonzero_box([a]) == expected_box, name
        assert nonzero_box([a], pad=2) == tuple(slice(max(s.start - 2, 0), min(s.stop + 2, n))
                                                for s, n in zip(expected_box, mask.shape)), name
        np.testing.assert_array_equal(nonzero_indices(a), np.argwhere(mask), err_msg=name)


def test_nonzero_box_of_several_masks_and_of_none():
    a = np.zeros((6, 7, 8), bool)
    b = np.zeros((6, 7, 8), np.uint8, order="F")
    a[1, 2, 3] = True
    b[4, 5, 1] = 2
    assert nonzero_box([a, None, b]) == (slice(1, 5), slice(2, 6), slice(1, 4))
    assert nonzero_box([np.zeros_like(a), None]) is None and nonzero_box([]) is None
    assert nonzero_indices(np.zeros_like(b)).shape == (0, 3)


def test_bounding_boxes_and_labels_do_not_depend_on_layout():
    labels, _ = ndimage.label(_blobs(5))
    assert labels.max() > 2
    expected = {k: sl for k, sl in enumerate(ndimage.find_objects(labels), start=1)}
    for name, a in _layouts(labels).items():
        assert bounding_boxes(a, pad=0) == expected, name
        # Components are numbered in C scan order whatever the layout.
        got, kind = label_regions(a != 0)
        np.testing.assert_array_equal(got, label_regions(labels != 0)[0], err_msg=name)
        assert kind == "binary"


def test_centerline_from_mask_does_not_depend_on_layout():
    g = Geometry((60, 24, 20), (0.5, 0.5, 3.0), (0.0, 0.0, 0.0), [[0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    z, y, x = np.indices(g.shape)
    cord = (y - 12 - 4 * np.sin(z / 15)) ** 2 + ((x - 10) * 6) ** 2 <= 36
    ref = centerline_from_mask(cord, g)
    for name, a in _layouts(cord).items():
        np.testing.assert_allclose(centerline_from_mask(a, g).points, ref.points, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("seed", range(3))
def test_diameters_do_not_depend_on_layout(seed):
    mask = _blobs(seed + 10)
    labels, _ = ndimage.label(mask)
    lesion = labels == 1 + int(np.argmax(ndimage.sum(mask, labels, range(1, labels.max() + 1))))
    g = Geometry(lesion.shape, (0.5, 0.5, 3.0), (4.0, -7.0, 30.0))
    oblique = np.array([0.1, -0.2, 1.0]) / np.linalg.norm([0.1, -0.2, 1.0])

    def numbers(m):
        a = axial_diameters(m, g, axis=oblique)
        return [max_diameter_ibsi(m, g), max_diameter(m, g), a.long_mm, a.short_mm, craniocaudal_length(m, g)]

    ref = numbers(lesion)
    assert min(ref) > 0
    for name, a in _layouts(lesion).items():
        np.testing.assert_allclose(numbers(a), ref, rtol=0, atol=1e-6, err_msg=name)
