"""Gradient accumulation that equals the large batch: Keras's
`gradient_accumulation_steps` with learning-rate schedules counted in
optimizer updates, and an epoch's leftover micro-batches applied at its
end (`ApplyLeftoverGradients`)."""

import keras


@keras.saving.register_keras_serializable(package="kerasbig")
class PerUpdateSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` read at the optimizer's update count when it accumulates
    gradients over `steps` micro-batches.

    Keras 3.15 evaluates an optimizer's learning-rate schedule at its
    micro-step counter, so with `gradient_accumulation_steps=k` a schedule
    runs k times too fast (its own docs promise the update count). This
    schedule divides the step by `steps` first.

    Example:

        >>> import keras
        >>> from kerasbig.training import PerUpdateSchedule
        >>> halving = keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5)
        >>> schedule = PerUpdateSchedule(halving, steps=4)
        >>> [float(schedule(step)) for step in (0, 3, 4, 8)]
        [1.0, 1.0, 0.5, 0.25]
    """

    def __init__(self, schedule, steps):
        self.schedule = schedule
        self.steps = int(steps)

    def __call__(self, step):
        return self.schedule(keras.ops.floor_divide(step, self.steps))

    def get_config(self):
        return {
            "schedule": keras.optimizers.schedules.serialize(self.schedule),
            "steps": self.steps,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        schedule = keras.optimizers.schedules.deserialize(
            config.pop("schedule")
        )
        return cls(schedule, **config)


def accumulate_gradients(optimizer, steps):
    """A new `optimizer` (same class and settings) that applies the mean
    gradient of `steps` consecutive batches once every `steps` batches:
    `fit` with batch size b then trains as batch size `steps * b` with
    `steps` times fewer updates, in the memory of b.

    It is Keras's `gradient_accumulation_steps`, which in Keras 3.15
    equals the large batch for SGD (with weight decay), Adam, AdamW and a
    `LossScaleOptimizer` around them (tested on every backend), except
    that a learning-rate schedule is read at the micro-step count; here
    schedules are wrapped in `PerUpdateSchedule`. A
    `LossScaleOptimizer` keeps its scaling and accumulates in its inner
    optimizer. The equality needs equal micro-batches: the loss is a
    mean per micro-batch, so a smaller last batch weighs more per
    example than in the large batch.

    An epoch whose batch count `steps` does not divide leaves micro-
    batches that fill no whole update. Keras alone carries them into the
    next epoch's first update; with the `ApplyLeftoverGradients` callback
    (which `fit_to_folder` adds) they are applied at the epoch's end as
    one update of their own, the mean gradient of the rows left, as the
    large batch does with its smaller last batch. No row is dropped, and
    each epoch starts with empty accumulators.

    Args:
        optimizer: a Keras optimizer that has not been used yet.
        steps: micro-batches per update, an int >= 1 (1: `optimizer`
            itself).

    Returns:
        The accumulating optimizer.

    Example:

        >>> import keras
        >>> from kerasbig.training import accumulate_gradients
        >>> adam = accumulate_gradients(keras.optimizers.Adam(1e-3), 4)
        >>> adam.gradient_accumulation_steps
        4
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            "accumulate_gradients: `steps` must be an int >= 1. "
            f"Received: steps={steps!r}"
        )
    if steps == 1:
        return optimizer
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        inner = accumulate_gradients(optimizer.inner_optimizer, steps)
        config = optimizer.get_config()
        config.pop("inner_optimizer")
        return keras.optimizers.LossScaleOptimizer(inner, **config)
    if optimizer.built:
        raise ValueError(
            "accumulate_gradients: `optimizer` has already been used (its "
            "state would not carry over); pass a new one. Received: "
            f"{type(optimizer).__name__} after {int(optimizer.iterations)} "
            "steps"
        )
    config = optimizer.get_config()
    rate = config["learning_rate"]
    if isinstance(rate, dict):
        rate = keras.optimizers.schedules.deserialize(rate)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        config["learning_rate"] = PerUpdateSchedule(rate, steps)
    config["gradient_accumulation_steps"] = steps
    return type(optimizer).from_config(config)


def _accumulating(optimizer):
    """The optimizer that accumulates (the inner one of a
    `LossScaleOptimizer`), or None."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if getattr(optimizer, "gradient_accumulation_steps", None):
        return optimizer
    return None


class ApplyLeftoverGradients(keras.callbacks.Callback):
    """Applies an epoch's leftover micro-batches at its end, for a model
    compiled with `accumulate_gradients(optimizer, k)`.

    With k micro-batches per update and an epoch of n batches, n % k of
    them fill no whole update; Keras's `gradient_accumulation_steps`
    carries them into the next epoch. This callback applies them after
    the epoch's last batch (before validation and checkpoints) as one
    update with their mean gradient, counted as an update, so that an
    epoch trains as the large batch does: 6 batches of 8 with k = 4 equal
    batches of 32 and 16. `fit_to_folder` adds it; with plain `fit`, pass
    it in `callbacks`. It does nothing for other optimizers. When the
    number of batches is unknown it applies them at the epoch's end,
    after that epoch's validation.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.training import ApplyLeftoverGradients
        >>> from kerasbig.training import accumulate_gradients
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(accumulate_gradients(keras.optimizers.SGD(0.1), 4),
        ...               "mse")
        >>> x, y = np.ones((48, 2), "float32"), np.ones((48, 1), "float32")
        >>> _ = model.fit(x, y, batch_size=8, epochs=1, verbose=0,
        ...               callbacks=[ApplyLeftoverGradients()])
        >>> int(model.optimizer.iterations)  # 4 + 2 batches: two updates
        2
    """

    def __init__(self):
        super().__init__()
        self._applied = False

    def on_epoch_begin(self, epoch, logs=None):
        self._applied = False

    def on_train_batch_end(self, batch, logs=None):
        steps = self.params.get("steps")
        if steps and batch + 1 >= steps:
            self._apply()

    def on_epoch_end(self, epoch, logs=None):
        self._apply()

    def _apply(self):
        if self._applied:
            return
        self._applied = True
        optimizer = _accumulating(self.model.optimizer)
        if optimizer is None or not optimizer.built:
            return
        if keras.backend.backend() == "jax":
            # JAX's fit keeps the state outside the variables between
            # syncs; this writes it back (and the epoch's own sync then
            # keeps what is applied here).
            self.model.jax_state_sync()
        steps = optimizer.gradient_accumulation_steps
        # Keras 3.15's accumulation state, which has no public face:
        # `_iterations` counts micro-batches, `_accumulated_gradients`
        # holds their summed gradients in the order of the variables the
        # optimizer was built on, `_trainable_variables`
        # (tests/training/test_gradient_accumulation.py fails loudly if
        # any of them changes).
        done = int(keras.ops.convert_to_numpy(optimizer._iterations))
        left = done % steps
        if left == 0:
            return
        variables = optimizer._trainable_variables
        sums = optimizer._accumulated_gradients
        # Keras's update step divides (gradient + sum) by `steps`: this
        # gradient makes it the sum's mean over the `left` micro-batches,
        # and Keras then clips, decays weights, reads the schedule at this
        # update, resets the sums and counts the update.
        factor = steps / left - 1.0
        gradients = [keras.ops.multiply(total, factor) for total in sums]
        optimizer._iterations.assign(done - left + steps - 1)
        optimizer.apply(gradients, variables)
