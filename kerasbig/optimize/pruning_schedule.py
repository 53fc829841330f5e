"""When to prune and how much: tfmot's pruning schedules, on `keras.ops`."""

import keras
from keras import ops


class PruningSchedule:
    """Base class of pruning schedules, with tfmot's semantics.

    A schedule answers, for a training step (an int tensor), whether the
    masks are recomputed at that step (`should_prune`) and the fraction of
    weights to zero (`sparsity`). Masks are recomputed every `frequency`
    steps from `begin_step` through `end_step` (`-1`: no end).

    Subclasses implement `sparsity(step)` and `get_config()`; register them
    with `keras.saving.register_keras_serializable` so pruned models save.
    """

    def __init__(self, begin_step, end_step, frequency, allow_no_end):
        owner = type(self).__name__
        if not isinstance(begin_step, int) or begin_step < 0:
            raise ValueError(
                f"{owner}: `begin_step` must be an int >= 0. Received: "
                f"begin_step={begin_step!r}"
            )
        if end_step == -1 and not allow_no_end:
            raise ValueError(
                f"{owner}: `end_step` must be a step >= begin_step; -1 (no "
                f"end) is not allowed here. Received: end_step={end_step!r}"
            )
        if not isinstance(end_step, int) or (
            end_step != -1 and end_step < begin_step
        ):
            raise ValueError(
                f"{owner}: `end_step` must be -1 or an int >= begin_step "
                f"({begin_step}). Received: end_step={end_step!r}"
            )
        if not isinstance(frequency, int) or frequency <= 0:
            raise ValueError(
                f"{owner}: `frequency` must be an int > 0. Received: "
                f"frequency={frequency!r}"
            )
        self.begin_step = begin_step
        self.end_step = end_step
        self.frequency = frequency

    @staticmethod
    def _check_sparsity(owner, name, value):
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(
                f"{owner}: `{name}` must be a number in [0, 1). Received: "
                f"{name}={value!r}"
            )

    def should_prune(self, step):
        """Whether masks are recomputed at `step` (a bool tensor)."""
        step = ops.convert_to_tensor(step, "int32")
        in_range = ops.greater_equal(step, self.begin_step)
        if self.end_step != -1:
            in_range = ops.logical_and(
                in_range, ops.less_equal(step, self.end_step)
            )
        turn = ops.equal(ops.mod(step - self.begin_step, self.frequency), 0)
        return ops.logical_and(in_range, turn)

    def sparsity(self, step):
        """The target fraction of zeros at `step` (a float32 tensor)."""
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kerasbig")
class ConstantSparsity(PruningSchedule):
    """The same sparsity at every pruning step (tfmot's `ConstantSparsity`).

    Args:
        target_sparsity: fraction of weights to zero, in `[0, 1)`.
        begin_step: first step at which masks are computed. Defaults to 0.
        end_step: last such step; `-1` (default) prunes to the end.
        frequency: steps between mask updates. Defaults to 100.

    Example:

        >>> from kerasbig.optimize import ConstantSparsity
        >>> schedule = ConstantSparsity(0.8, begin_step=0, frequency=10)
        >>> bool(schedule.should_prune(20)), bool(schedule.should_prune(25))
        (True, False)
        >>> round(float(schedule.sparsity(20)), 3)
        0.8
    """

    def __init__(
        self, target_sparsity, begin_step=0, end_step=-1, frequency=100
    ):
        super().__init__(begin_step, end_step, frequency, allow_no_end=True)
        self._check_sparsity(
            "ConstantSparsity", "target_sparsity", target_sparsity
        )
        self.target_sparsity = target_sparsity

    def sparsity(self, step):
        del step
        return ops.convert_to_tensor(self.target_sparsity, "float32")

    def get_config(self):
        return {
            "target_sparsity": self.target_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
        }


@keras.saving.register_keras_serializable(package="kerasbig")
class PolynomialDecay(PruningSchedule):
    """Sparsity rising from `initial_sparsity` to `final_sparsity` between
    `begin_step` and `end_step` (tfmot's `PolynomialDecay`, Zhu & Gupta
    2017): `final + (initial - final) * (1 - p) ** power` with
    `p = clip((step - begin_step) / (end_step - begin_step), 0, 1)`.

    Args:
        initial_sparsity: sparsity at `begin_step`, in `[0, 1)`.
        final_sparsity: sparsity from `end_step` on, in `[0, 1)`.
        begin_step: first mask update.
        end_step: last mask update (required, > `begin_step`).
        power: exponent of the decay. Defaults to 3.
        frequency: steps between mask updates. Defaults to 100.

    Example:

        >>> from kerasbig.optimize import PolynomialDecay
        >>> schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100)
        >>> [round(float(schedule.sparsity(s)), 3) for s in (0, 50, 100, 500)]
        [0.0, 0.7, 0.8, 0.8]
    """

    def __init__(
        self,
        initial_sparsity,
        final_sparsity,
        begin_step,
        end_step,
        power=3,
        frequency=100,
    ):
        super().__init__(begin_step, end_step, frequency, allow_no_end=False)
        for name, value in (
            ("initial_sparsity", initial_sparsity),
            ("final_sparsity", final_sparsity),
        ):
            self._check_sparsity("PolynomialDecay", name, value)
        if end_step == begin_step:
            raise ValueError(
                "PolynomialDecay: `end_step` must be greater than "
                f"`begin_step`. Received: begin_step={begin_step}, "
                f"end_step={end_step}"
            )
        self.initial_sparsity = initial_sparsity
        self.final_sparsity = final_sparsity
        self.power = power

    def sparsity(self, step):
        step = ops.cast(ops.convert_to_tensor(step), "float32")
        progress = ops.clip(
            (step - self.begin_step) / (self.end_step - self.begin_step),
            0.0,
            1.0,
        )
        return self.final_sparsity + (
            self.initial_sparsity - self.final_sparsity
        ) * ops.power(1.0 - progress, self.power)

    def get_config(self):
        return {
            "initial_sparsity": self.initial_sparsity,
            "final_sparsity": self.final_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "power": self.power,
            "frequency": self.frequency,
        }
