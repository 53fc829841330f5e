import numpy as np
import pytest

from kerasbig.data import load_image_data

tfds = pytest.importorskip("tensorflow_datasets")
PIL_IMAGE = pytest.importorskip("PIL.Image")


# Runs once (on TensorFlow): the image loaders return NumPy arrays on
# every backend.
pytestmark = pytest.mark.backend_agnostic


def _write_folder(root, per_class=10):
    rng = np.random.default_rng(0)
    for name, level in (("cats", 40), ("dogs", 200)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((12, 10, 3), level, "uint8")
            pixels[0, 0] = rng.integers(0, 255, 3)
            PIL_IMAGE.fromarray(pixels).save(root / name / f"{i}.png")


def test_digits_default_and_max_samples():
    data = load_image_data()
    assert data.x_train.shape[1:] == (8, 8, 1)
    assert len(data.x_train) + len(data.x_test) == 1797
    small = load_image_data(max_samples=100, seed=3)
    assert len(small.x_train) == 100
    assert np.isin(small.x_train, data.x_train).all()


def test_image_folder_is_resized_scaled_and_split_per_class(tmp_path):
    _write_folder(tmp_path / "pets")
    data = load_image_data(tmp_path / "pets", image_size=16, test_fraction=0.2)
    assert data.class_names == ["cats", "dogs"]
    assert data.x_train.shape == (16, 16, 16, 3)
    assert data.x_test.shape == (4, 16, 16, 3)
    assert np.bincount(data.y_test).tolist() == [2, 2]
    # Pixels scaled to [0, 1]; the classes keep their grey levels.
    cats = data.x_train[data.y_train == 0]
    np.testing.assert_allclose(np.median(cats), 40 / 255, atol=1e-6)


def test_tfds_source_with_mock_data():
    with tfds.testing.mock_data(num_examples=20):
        data = load_image_data("tfds:mnist", image_size=16)
    assert data.x_train.shape[1:] == (16, 16, 1)
    assert len(data.x_train) + len(data.x_test) == 20
    assert data.class_names[:2] == ["0", "1"]
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert data.y_train.dtype == np.int32


def test_tfds_still_has_the_retry_constant_kerasbig_lowers():
    from tensorflow_datasets.core.download import downloader

    # kerasbig.data._tfds lowers it so that an offline run fails in
    # seconds, not after ten backed-off retries per file.
    assert isinstance(downloader.MAX_RETRIES, int)


def test_offline_tfds_failure_says_what_was_tried(tmp_path):
    with pytest.raises(RuntimeError, match="could not load the tfds") as info:
        load_image_data("tfds:mnist", data_dir=str(tmp_path))
    message = str(info.value)
    assert f"data_dir={str(tmp_path)!r}" in message
    assert "image folder" in message
    # The download itself failed (no network here), not an import inside
    # tfds (importlib_resources, which the datasets extra now installs).
    assert isinstance(info.value.__cause__, OSError), info.value.__cause__


def test_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="existing folder of class"):
        load_image_data(tmp_path / "missing", image_size=8)
    with pytest.raises(ValueError, match="`image_size` is required"):
        load_image_data(tmp_path)
    (tmp_path / "empty" / "a").mkdir(parents=True)
    # Keras's own message names the folder and the allowed formats.
    with pytest.raises(ValueError, match="No images found in directory"):
        load_image_data(tmp_path / "empty", image_size=8)
