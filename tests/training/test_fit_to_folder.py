"""fit_to_folder feeds arrays in a new seeded order every epoch, on every
backend, through compiled fit()."""

import keras
import numpy as np
import pytest

from kerasbig.data import ArrayBatches
from kerasbig.training import fit_to_folder

EXAMPLES, BATCH = 64, 16


class FirstBatchTargets(keras.callbacks.Callback):
    """The running mean of the targets after each epoch's first step: the
    mean of the first batch's targets (the targets are 0..EXAMPLES-1)."""

    def __init__(self):
        super().__init__()
        self.means = []

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.means.append(float(logs["target_mean"]))


def _target_mean(y_true, y_pred):
    del y_pred
    return keras.ops.mean(y_true, axis=-1)


def _model():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(
        "sgd",
        "mse",
        metrics=[keras.metrics.MeanMetricWrapper(_target_mean, "target_mean")],
        jit_compile=keras.backend.backend() != "torch",
    )
    return model


def _data():
    y = np.arange(EXAMPLES, dtype="float32")[:, None]
    return y / EXAMPLES, y


def test_every_epoch_sees_the_seeded_order_of_its_epoch(tmp_path):
    keras.utils.set_random_seed(3)
    seen = FirstBatchTargets()
    fit_to_folder(
        _model(),
        _data(),
        None,
        epochs=3,
        output_dir=tmp_path,
        batch_size=BATCH,
        monitor="loss",
        callbacks=[seen],
        verbose=0,
        shuffle_seed=11,
    )
    batches = ArrayBatches(*_data(), BATCH, seed=11)
    expected = []
    for epoch in range(3):
        batches.set_epoch(epoch)
        expected.append(float(batches[0][1].mean()))
    np.testing.assert_allclose(seen.means, expected, rtol=1e-6)
    assert len(set(seen.means)) == 3


def test_the_default_seed_follows_keras_set_random_seed(tmp_path):
    runs = []
    for name in ("a", "b"):
        keras.utils.set_random_seed(5)
        seen = FirstBatchTargets()
        fit_to_folder(
            _model(),
            _data(),
            None,
            epochs=2,
            output_dir=tmp_path / name,
            batch_size=BATCH,
            monitor="loss",
            callbacks=[seen],
            verbose=0,
        )
        runs.append(seen.means)
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[0][1]


@pytest.mark.tensorflow_only
def test_keras_array_shuffle_still_repeats_one_order_on_tensorflow():
    # Pins the Keras 3.15 behaviour that ArrayBatches works around: with
    # TensorFlow's global seed set, fit(shuffle=True) on arrays draws the
    # same permutation every epoch. When this fails, Keras reshuffles
    # again and ArrayBatches' docstring should say so.
    keras.utils.set_random_seed(3)
    seen = FirstBatchTargets()
    _model().fit(
        *_data(),
        batch_size=BATCH,
        epochs=3,
        shuffle=True,
        callbacks=[seen],
        verbose=0,
    )
    assert len(set(seen.means)) == 1, seen.means
