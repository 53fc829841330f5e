"""In-memory arrays as `fit()` batches, reshuffled every epoch by a
seeded permutation of (seed, epoch)."""

import keras
import numpy as np


class ArrayBatches(keras.utils.PyDataset):
    """`(x, y)` batches of in-memory arrays, in a new order every epoch.

    Epoch `e`'s order is a permutation drawn from `(seed, e)` alone, so
    it is the same on every backend, on every worker of a multi-worker
    run, and in a run resumed at epoch `e`. `fit_to_folder` calls
    `set_epoch` at the start of each epoch.

    Why not `fit(x, y, shuffle=True)`: on TensorFlow, once
    `keras.utils.set_random_seed` has set TensorFlow's global seed (every
    recipe does), Keras 3.15's array adapter draws its permutation inside
    a `tf.data` map whose random state restarts with each epoch's
    iterator, so every epoch sees the same order; JAX and torch reshuffle.

    Args:
        x: an array, or a dict / list / tuple of arrays with one first
            dimension.
        y: the targets, like `x`, or None.
        batch_size: examples per batch; the last batch may be smaller.
        seed: the shuffling seed; None keeps the arrays' order (for
            validation and prediction).
        transform: optional function applied to each batch of `x` (e.g.
            per-batch preprocessing that would be too big for the whole
            array).
        **kwargs: `PyDataset`'s `workers`, `use_multiprocessing` and
            `max_queue_size`.

    Example:

        >>> import numpy as np
        >>> from kerasbig.data import ArrayBatches
        >>> batches = ArrayBatches(np.arange(10), np.arange(10) * 2,
        ...                        batch_size=4, seed=0)
        >>> len(batches), batches[2][0].shape
        (3, (2,))
        >>> first = np.concatenate([batches[i][0] for i in range(3)])
        >>> sorted(first.tolist()) == list(range(10))
        True
        >>> batches.set_epoch(1)
        >>> second = np.concatenate([batches[i][0] for i in range(3)])
        >>> bool((first != second).any())
        True
        >>> x, y = batches[0]
        >>> bool((y == 2 * x).all())
        True
    """

    def __init__(
        self, x, y=None, batch_size=32, seed=None, transform=None, **kwargs
    ):
        super().__init__(**kwargs)
        sizes = {len(a) for a in keras.tree.flatten((x, y)) if a is not None}
        if len(sizes) != 1:
            raise ValueError(
                "ArrayBatches: x and y must share one first dimension; "
                f"received lengths {sorted(sizes)}."
            )
        if batch_size is None or int(batch_size) < 1:
            raise ValueError(
                f"ArrayBatches: batch_size must be >= 1; received {batch_size}."
            )
        self.x, self.y = x, y
        self.num_examples = sizes.pop()
        self.batch_size = int(batch_size)
        self.seed = seed
        self.transform = transform
        self.set_epoch(0)

    def set_epoch(self, epoch):
        """Orders the examples for `epoch` (0-based)."""
        self.epoch = int(epoch)
        if self.seed is None:
            self.order = np.arange(self.num_examples)
        else:
            rng = np.random.default_rng([int(self.seed), self.epoch])
            self.order = rng.permutation(self.num_examples)

    def __len__(self):
        return -(-self.num_examples // self.batch_size)

    def __getitem__(self, index):
        start = index * self.batch_size
        rows = self.order[start : start + self.batch_size]
        x = keras.tree.map_structure(lambda a: a[rows], self.x)
        if self.transform is not None:
            x = self.transform(x)
        if self.y is None:
            return (x,)
        return x, keras.tree.map_structure(lambda a: a[rows], self.y)

    def on_epoch_end(self):
        # Without fit_to_folder's set_epoch (a plain fit()), move on by one.
        self.set_epoch(self.epoch + 1)
