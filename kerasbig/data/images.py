"""Image data sets as NumPy arrays: embedded digits, tfds, image folders."""

import collections
import pathlib

import keras
import numpy as np

from kerasbig.data._tfds import prepared_builder
from kerasbig.data.digits import load_digits
from kerasbig.data.digits import stratified_split

ImageData = collections.namedtuple(
    "ImageData", ["x_train", "y_train", "x_test", "y_test", "class_names"]
)
ImageData.__doc__ = """Images (float32 in [0, 1], NHWC) and int32 labels of a
train and a test split, and the class names in label order."""

TFDS_PREFIX = "tfds:"


def load_image_data(
    source="digits",
    image_size=None,
    test_fraction=0.2,
    seed=0,
    max_samples=None,
    data_dir=None,
):
    """Loads an image classification data set into memory.

    Sources:

    - `"digits"`: scikit-learn's 1,797 bundled 8x8 digits (no download).
    - `"tfds:<name>"`, e.g. `"tfds:mnist"`: a TensorFlow Datasets set with
      `image` and `label` features. Its `test` split is used when it has
      one; otherwise the train split is divided per class. Downloads
      unless prepared in `data_dir` already.
    - a folder with one subfolder of images per class (the
      `keras.utils.image_dataset_from_directory` layout), divided per
      class.

    Args:
        source: `"digits"`, `"tfds:<name>"` or a folder path.
        image_size: side of the square images returned; defaults to 8
            for digits and is required for folders (tfds images keep their
            size when it is omitted).
        test_fraction: share of each class held out when the source has
            no test split.
        seed: seed of the split and of the `max_samples` subset.
        max_samples: optional cap on the train split's size (a random
            subset), for quick runs.
        data_dir: tfds data folder (`TFDS_DATA_DIR` by default).

    Returns:
        An `ImageData` namedtuple.

    Example:

        >>> from kerasbig.data import load_image_data
        >>> data = load_image_data("digits", image_size=16)
        >>> data.x_train.shape[1:], data.class_names[:3]
        ((16, 16, 1), ['0', '1', '2'])
    """
    if source == "digits":
        (x_train, y_train), (x_test, y_test) = load_digits(
            image_size=image_size or 8, test_fraction=test_fraction, seed=seed
        )
        names = [str(i) for i in range(10)]
    elif str(source).startswith(TFDS_PREFIX):
        x_train, y_train, x_test, y_test, names = _load_tfds(
            str(source)[len(TFDS_PREFIX) :],
            image_size,
            test_fraction,
            seed,
            data_dir,
        )
    else:
        x_train, y_train, x_test, y_test, names = _load_folder(
            source, image_size, test_fraction, seed
        )
    if max_samples is not None and max_samples < len(x_train):
        keep = np.random.default_rng(seed).permutation(len(x_train))
        keep = np.sort(keep[:max_samples])
        x_train, y_train = x_train[keep], y_train[keep]
    return ImageData(x_train, y_train, x_test, y_test, names)


def _load_tfds(name, image_size, test_fraction, seed, data_dir):
    tfds, builder = prepared_builder(
        name,
        data_dir,
        "load_image_data",
        "an image folder with one subfolder per class, or 'digits'",
    )
    features = builder.info.features
    for key in ("image", "label"):
        if key not in features:
            raise ValueError(
                f"load_image_data: tfds data set {name!r} has no {key!r} "
                f"feature. Received features: {sorted(features)}"
            )
    splits = builder.info.splits
    names = list(features["label"].names)

    def arrays(split):
        dataset = builder.as_dataset(split=split, as_supervised=True)
        images, labels = [], []
        for image, label in tfds.as_numpy(dataset):
            images.append(_resize(image, image_size))
            labels.append(label)
        return np.stack(images), np.asarray(labels, "int32")

    if "test" in splits:
        x_train, y_train = arrays("train")
        x_test, y_test = arrays("test")
        return x_train, y_train, x_test, y_test, names
    images, labels = arrays("train")
    return (*_split(images, labels, test_fraction, seed), names)


def _load_folder(source, image_size, test_fraction, seed):
    folder = pathlib.Path(source)
    if not folder.is_dir():
        raise ValueError(
            "load_image_data: `source` must be 'digits', 'tfds:<name>' or "
            f"an existing folder of class subfolders. Received: {source!r}"
        )
    if image_size is None:
        raise ValueError(
            "load_image_data: `image_size` is required for an image folder "
            f"(images are resized to image_size x image_size). Received: "
            f"image_size=None for {source!r}"
        )
    dataset = keras.utils.image_dataset_from_directory(
        folder,
        image_size=(image_size, image_size),
        batch_size=None,
        shuffle=False,
        verbose=False,
    )
    names = list(dataset.class_names)
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        images.append(image / 255.0)
        labels.append(label)
    images = np.stack(images).astype("float32")
    labels = np.asarray(labels, "int32")
    return (*_split(images, labels, test_fraction, seed), names)


def _split(images, labels, test_fraction, seed):
    train, test = stratified_split(labels, test_fraction, seed)
    return images[train], labels[train], images[test], labels[test]


def _resize(image, image_size):
    image = np.asarray(image, "float32") / 255.0
    if image_size is None or image.shape[:2] == (image_size, image_size):
        return image
    resized = keras.ops.image.resize(
        image, (image_size, image_size), interpolation="bilinear"
    )
    return np.clip(keras.ops.convert_to_numpy(resized), 0.0, 1.0)
