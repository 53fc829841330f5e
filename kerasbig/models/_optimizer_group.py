"""Several optimizers seen by Keras's trainer as one `model.optimizer`."""

import keras


class OptimizerGroup:
    """Optimizers of a multi-optimizer model, each owning one network.

    Keras's trainer reads `model.optimizer` to build optimizer variables,
    to hand them to the JAX train step as state and write them back, and
    for `iterations` (TensorBoard's step). This object answers for all
    the optimizers at once; the model keeps each optimizer as its own
    attribute too, so `.keras` files save and restore every one.

    Args:
        pairs: list of `(optimizer, network)`; each optimizer is built on
            its network's trainable variables.
        main: index of the optimizer whose `iterations` count train steps.
    """

    def __init__(self, pairs, main=0):
        self.pairs = list(pairs)
        self.main = main
        seen = set()
        for optimizer, _ in self.pairs:
            if id(optimizer) in seen:
                raise ValueError(
                    "Each network needs its own optimizer instance; the "
                    f"same {type(optimizer).__name__} was passed twice."
                )
            seen.add(id(optimizer))

    @property
    def variables(self):
        return [v for optimizer, _ in self.pairs for v in optimizer.variables]

    @property
    def built(self):
        return all(optimizer.built for optimizer, _ in self.pairs)

    def build(self, variables=None):
        del variables  # each optimizer takes its own network's
        for optimizer, network in self.pairs:
            if not optimizer.built:
                optimizer.build(network.trainable_variables)

    @property
    def iterations(self):
        return self.pairs[self.main][0].iterations


def resolve_optimizer(optimizer, default, model):
    """`keras.optimizers.get` with a default, wrapped for loss scaling
    under a `mixed_float16` policy (as `Model.compile` does)."""
    optimizer = keras.optimizers.get(
        default() if optimizer is None else optimizer
    )
    if model.dtype_policy.name == "mixed_float16" and not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
