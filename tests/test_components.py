"""Lesions from masks: components by connectivity, labels kept as painted, bad masks refused."""

import numpy as np
import pytest

from lesionview.errors import InputError
from lesionview.measure.components import bounding_boxes, label_regions


def _diagonal_pair():
    m = np.zeros((5, 5, 5), np.uint8)
    m[1, 1, 1] = m[2, 2, 2] = 1  # touch at a corner only
    return m


@pytest.mark.parametrize(("connectivity", "count"), [(26, 1), (18, 2), (6, 2)])
def test_connectivity_decides_corner_neighbours(connectivity, count):
    labels, kind = label_regions(_diagonal_pair(), connectivity=connectivity)
    assert kind == "binary" and labels.max() == count


def test_label_image_kept_as_painted_even_in_pieces():
    m = np.zeros((6, 6, 6), np.uint16)
    m[0, 0, 0] = m[5, 5, 5] = 3
    m[2, 2, 2] = 7
    labels, kind = label_regions(m)
    assert kind == "labels"
    assert set(np.unique(labels)) == {0, 3, 7}
    assert sorted(bounding_boxes(labels)) == [3, 7]


@pytest.mark.parametrize(("values", "message"), [
    (np.array([0, 2.5]), "fractional"),
    (np.array([0, np.nan]), "NaN"),
    (np.array([0, -1]), "negative"),
])
def test_bad_masks_are_refused_with_a_reason(values, message):
    m = np.zeros((3, 3, 3))
    m.flat[: values.size] = values
    with pytest.raises(InputError, match=message):
        label_regions(m)


def test_binary_requested_but_labels_given():
    m = np.zeros((3, 3, 3), np.uint8)
    m[0, 0, 0], m[2, 2, 2] = 1, 2
    with pytest.raises(InputError, match="binary but holds the values 1, 2"):
        label_regions(m, kind="binary")


def test_empty_mask_is_no_lesion_not_an_error():
    labels, _ = label_regions(np.zeros((4, 4, 4), bool))
    assert labels.max() == 0


def test_a_0_255_mask_is_binary_and_split_into_components():
    m = np.zeros((6, 6, 6), np.uint8)
    m[0, 0, 0] = m[5, 5, 5] = 255
    labels, kind = label_regions(m)
    assert kind == "binary" and labels.max() == 2
