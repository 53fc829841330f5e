"""accumulate_gradients: k micro-batches per update equal one batch k
times larger, for SGD with weight decay, Adam, AdamW and a schedule,
with and without loss scaling, through compiled fit() on every backend;
Keras's own schedule handling, which this works around, is pinned."""

import keras
import numpy as np
import pytest

from kerasbig.training import ApplyLeftoverGradients
from kerasbig.training import PerUpdateSchedule
from kerasbig.training import accumulate_gradients
from kerasbig.training import fit_to_folder

STEPS, MICRO_BATCH = 4, 8


def _halving():
    return keras.optimizers.schedules.ExponentialDecay(0.05, 1, 0.5)


OPTIMIZERS = {
    "sgd_weight_decay": lambda: keras.optimizers.SGD(
        0.05, momentum=0.9, weight_decay=0.1
    ),
    "adam": lambda: keras.optimizers.Adam(0.05),
    "adamw": lambda: keras.optimizers.AdamW(0.05, weight_decay=0.1),
    "adam_schedule": lambda: keras.optimizers.Adam(_halving()),
}


def _train(optimizer, batch_size, rows=64, callbacks=()):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(4, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer, "mse", jit_compile=keras.backend.backend() != "torch"
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 5)).astype("float32")
    y = rng.normal(size=(rows, 1)).astype("float32")
    # Two epochs (of two large-batch updates each with 64 rows).
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
    )
    return model


def _largest_difference(a, b):
    return max(
        float(np.max(np.abs(u - v)))
        for u, v in zip(a.get_weights(), b.get_weights(), strict=True)
    )


def _cases(per_push):
    """(optimizer, loss scaling) pairs: `per_push` every tier, the other
    optimizers in the full tier only."""
    return [
        pytest.param(
            name,
            loss_scaling,
            marks=() if (name, loss_scaling) in per_push else pytest.mark.full,
        )
        for loss_scaling in (False, True)
        for name in OPTIMIZERS
    ]


@pytest.mark.parametrize(
    "name, loss_scaling",
    _cases({(name, False) for name in OPTIMIZERS} | {("adam", True)}),
)
def test_accumulated_micro_batches_equal_the_large_batch(name, loss_scaling):
    def make():
        optimizer = OPTIMIZERS[name]()
        if loss_scaling:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    large = _train(make(), STEPS * MICRO_BATCH)
    accumulated = _train(accumulate_gradients(make(), STEPS), MICRO_BATCH)
    assert _largest_difference(large, accumulated) < 1e-6
    assert int(accumulated.optimizer.iterations) == 4  # updates, not batches


@pytest.mark.parametrize(
    "name, loss_scaling",
    _cases(
        {("sgd_weight_decay", False), ("adam_schedule", False), ("adam", True)}
    ),
)
def test_an_epochs_leftover_micro_batches_are_the_large_batchs_last(
    name, loss_scaling
):
    # 48 rows: 6 micro-batches of 8 an epoch with k = 4, so 2 are left
    # over each epoch; the large batch trains on 32 then 16 rows.
    def make():
        optimizer = OPTIMIZERS[name]()
        if loss_scaling:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    large = _train(make(), STEPS * MICRO_BATCH, rows=48)
    accumulated = _train(
        accumulate_gradients(make(), STEPS),
        MICRO_BATCH,
        rows=48,
        callbacks=[ApplyLeftoverGradients()],
    )
    assert _largest_difference(large, accumulated) < 1e-6
    assert int(accumulated.optimizer.iterations) == 4  # 2 updates an epoch


def test_keras_alone_carries_leftovers_into_the_next_epoch():
    # Pins what ApplyLeftoverGradients corrects, and the Keras 3.15
    # internals it uses (_iterations, _accumulated_gradients,
    # _trainable_variables): without it the two leftover micro-batches
    # of epoch 1 join epoch 2's first update.
    large = _train(keras.optimizers.SGD(0.05), STEPS * MICRO_BATCH, rows=48)
    keras_own = _train(
        accumulate_gradients(keras.optimizers.SGD(0.05), STEPS),
        MICRO_BATCH,
        rows=48,
    )
    assert _largest_difference(large, keras_own) > 1e-3
    optimizer = keras_own.optimizer
    assert int(keras.ops.convert_to_numpy(optimizer._iterations)) == 12
    assert len(optimizer._accumulated_gradients) == len(
        optimizer._trainable_variables
    )


def test_fit_to_folder_applies_the_leftovers(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def train(optimizer, batch_size, folder):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
        model.compile(
            optimizer,
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        fit_to_folder(
            model,
            (x, y),
            None,
            epochs=2,
            output_dir=tmp_path / folder,
            batch_size=batch_size,
            monitor="loss",
            shuffle_seed=3,
            verbose=0,
        )
        return model

    large = train(keras.optimizers.Adam(0.05), 32, "large")
    accumulated = train(
        accumulate_gradients(keras.optimizers.Adam(0.05), 2), 16, "small"
    )
    # 48 rows: batches of 32 and 16; micro-batches 16, 16 | 16 left.
    assert int(accumulated.optimizer.iterations) == 4
    assert _largest_difference(large, accumulated) < 1e-6


def test_keras_alone_still_runs_schedules_per_micro_batch():
    # Pins Keras 3.15: with gradient_accumulation_steps a schedule reads
    # the micro-step count. When this fails, Keras counts updates and
    # PerUpdateSchedule can go.
    large = _train(keras.optimizers.Adam(_halving()), STEPS * MICRO_BATCH)
    keras_own = _train(
        keras.optimizers.Adam(_halving(), gradient_accumulation_steps=STEPS),
        MICRO_BATCH,
    )
    assert _largest_difference(large, keras_own) > 1e-3


def test_the_accumulating_optimizer_saves_and_loads(tmp_path):
    model = _train(
        accumulate_gradients(keras.optimizers.Adam(_halving()), STEPS),
        MICRO_BATCH,
    )
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    schedule = loaded.optimizer.learning_rate
    assert loaded.optimizer.gradient_accumulation_steps == STEPS
    assert isinstance(loaded.optimizer._learning_rate, PerUpdateSchedule)
    np.testing.assert_allclose(
        float(schedule), float(model.optimizer.learning_rate)
    )


@pytest.mark.backend_agnostic
@pytest.mark.parametrize("steps", [0, 2.0, True, "4"])
def test_bad_steps_get_one_clear_line(steps):
    with pytest.raises(
        ValueError, match=f"int >= 1. Received: steps={steps!r}"
    ):
        accumulate_gradients(keras.optimizers.SGD(), steps)


@pytest.mark.backend_agnostic
def test_one_step_is_the_optimizer_itself_and_a_used_one_is_refused():
    sgd = keras.optimizers.SGD()
    assert accumulate_gradients(sgd, 1) is sgd
    model = _train(keras.optimizers.SGD(), 32)
    with pytest.raises(ValueError, match="already been used.*SGD after 4"):
        accumulate_gradients(model.optimizer, 2)
