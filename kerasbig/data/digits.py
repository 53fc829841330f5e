"""scikit-learn's bundled handwritten digits, ready for Keras image models."""

import numpy as np
from keras import ops

from kerasbig._optional import import_optional


def load_digits(image_size=8, test_fraction=0.2, seed=0, classes=None):
    """Loads the 1,797 real 8x8 digits bundled with scikit-learn.

    No download: the images ship inside scikit-learn, which makes this the
    embedded default data set of kerasbig's image recipes. Images are scaled
    to [0, 1], optionally resized (bilinear) to `image_size` x `image_size`,
    and split per class, so both splits keep the class balance.

    Args:
        image_size: side of the returned square images, >= 8.
        test_fraction: fraction of each class held out, in (0, 1).
        seed: seed of the shuffle before the split.
        classes: optional sequence of digit labels to keep (labels are
            kept as they are, not renumbered).

    Returns:
        `((x_train, y_train), (x_test, y_test))`: float32 images of shape
        `(n, image_size, image_size, 1)` and int32 labels.

    Example:

        >>> from kerasbig.data import load_digits
        >>> (x_train, y_train), (x_test, y_test) = load_digits(image_size=16)
        >>> x_train.shape[1:], len(x_train) + len(x_test)
        ((16, 16, 1), 1797)
    """
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(
            "load_digits: `image_size` must be an int >= 8. "
            f"Received: image_size={image_size!r}"
        )
    if not 0 < test_fraction < 1:
        raise ValueError(
            "load_digits: `test_fraction` must be in (0, 1). "
            f"Received: test_fraction={test_fraction!r}"
        )
    datasets = import_optional("sklearn.datasets", "load_digits")
    bunch = datasets.load_digits()
    images = (bunch.images / 16.0).astype("float32")[..., None]
    labels = bunch.target.astype("int32")
    if classes is not None:
        keep = np.isin(labels, list(classes))
        if not keep.any():
            raise ValueError(
                "load_digits: `classes` must name digits 0-9. "
                f"Received: classes={classes!r}"
            )
        images, labels = images[keep], labels[keep]
    if image_size != 8:
        images = ops.convert_to_numpy(
            ops.image.resize(
                images, (image_size, image_size), interpolation="bilinear"
            )
        ).astype("float32")
        images = np.clip(images, 0.0, 1.0)
    train_index, test_index = stratified_split(labels, test_fraction, seed)
    return (
        (images[train_index], labels[train_index]),
        (images[test_index], labels[test_index]),
    )


def stratified_split(labels, test_fraction, seed):
    """Train and test indices that keep each class's share (at least one
    test sample per class); the train indices are shuffled.

    Args:
        labels: 1-D integer labels.
        test_fraction: share of each class in the second split.
        seed: seed of the permutation.

    Returns:
        `(train_index, test_index)`: NumPy index arrays.

    Example:

        >>> import numpy as np
        >>> from kerasbig.data import stratified_split
        >>> labels = np.array([0] * 8 + [1] * 4)
        >>> train, test = stratified_split(labels, 0.25, seed=0)
        >>> np.bincount(labels[train]), np.bincount(labels[test])
        (array([6, 3]), array([2, 1]))
    """
    rng = np.random.default_rng(seed)
    train_index, test_index = [], []
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, round(len(index) * test_fraction))
        test_index.append(index[:n_test])
        train_index.append(index[n_test:])
    train_index = rng.permutation(np.concatenate(train_index))
    test_index = np.sort(np.concatenate(test_index))
    return train_index, test_index
