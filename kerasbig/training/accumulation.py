"""Gradient accumulation that equals the large batch: Keras's
`gradient_accumulation_steps` with learning-rate schedules counted in
optimizer updates."""

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
