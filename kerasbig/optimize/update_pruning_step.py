"""`UpdatePruningStep`: the callback that advances pruning schedules and
applies masks."""

import keras

from kerasbig._layer_walk import nested_layers
from kerasbig.optimize.prune_low_magnitude import PruneLowMagnitude


def pruning_wrappers(model):
    """Every `PruneLowMagnitude` inside `model`, at any depth."""
    return [
        layer
        for layer in nested_layers(model)
        if isinstance(layer, PruneLowMagnitude)
    ]


class UpdatePruningStep(keras.callbacks.Callback):
    """Drives pruning during `fit()` (tfmot's callback of the same name).

    At the start of training it enables the model's `PruneLowMagnitude`
    wrappers (which count steps and update masks inside the train step, so
    the schedule advances once per batch) and starts a fresh model's step
    count at 0; a model reloaded from a `.keras` file keeps its count. At
    the end of every epoch and of training it writes `kernel * mask` into
    the kernels, so a checkpoint holds the zeros.

    Example:

        >>> from kerasbig.optimize import UpdatePruningStep
        >>> callbacks = [UpdatePruningStep()]
    """

    def on_train_begin(self, logs=None):
        self.wrappers = pruning_wrappers(self.model)
        if not self.wrappers:
            raise ValueError(
                "UpdatePruningStep: the model has no PruneLowMagnitude "
                "layers; prune it first with "
                "kerasbig.optimize.prune_low_magnitude(model). Received: "
                f"model {self.model.name!r}"
            )
        for wrapper in self.wrappers:
            wrapper.updater_attached = True
            if int(keras.ops.convert_to_numpy(wrapper.pruning_step)) < 0:
                wrapper.pruning_step.assign(0)

    def on_epoch_end(self, epoch, logs=None):
        for wrapper in self.wrappers:
            wrapper.apply_masks()

    def on_train_end(self, logs=None):
        self.on_epoch_end(None)
