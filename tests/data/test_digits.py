import numpy as np
import pytest

from kerasbig.data import load_digits

# Runs once (on TensorFlow): load_digits is NumPy on every backend.
pytestmark = pytest.mark.backend_agnostic


def test_split_is_stratified_complete_and_disjoint():
    (x_train, y_train), (x_test, y_test) = load_digits(test_fraction=0.25)
    assert len(x_train) + len(x_test) == 1797
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    assert x_train.shape[1:] == (8, 8, 1)
    assert x_train.min() >= 0.0 and x_train.max() <= 1.0
    # every class is about 25 % held out
    for label in range(10):
        share = np.sum(y_test == label) / (
            np.sum(y_test == label) + np.sum(y_train == label)
        )
        assert 0.2 < share < 0.3
    # no image is in both splits
    train_rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    overlap = sum(
        row.tobytes() in train_rows for row in x_test.reshape(len(x_test), -1)
    )
    assert overlap <= 5  # the raw set has a handful of exact duplicates


def test_resize_keeps_range_and_content():
    (small, labels), _ = load_digits(seed=3)
    (large, large_labels), _ = load_digits(image_size=32, seed=3)
    assert large.shape[1:] == (32, 32, 1)
    np.testing.assert_array_equal(labels, large_labels)
    assert large.min() >= 0.0 and large.max() <= 1.0
    # mean brightness survives bilinear resizing
    np.testing.assert_allclose(large.mean(), small.mean(), rtol=0.05)


def test_classes_and_seed():
    (_, y_a), _ = load_digits(classes=[5, 6, 7, 8, 9], seed=1)
    (_, y_b), _ = load_digits(classes=[5, 6, 7, 8, 9], seed=1)
    assert set(np.unique(y_a)) == {5, 6, 7, 8, 9}
    np.testing.assert_array_equal(y_a, y_b)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 4}, "image_size"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"classes": [11]}, "classes"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_digits(**kwargs)
