"""The fake quantizers quantization-aware training places: weights
(symmetric, narrow range, per output channel or per tensor) and outputs
(per tensor, over a moving-average range), tfmot's 8-bit scheme."""

import keras
from keras import ops

from kerasbig import _backend


def range_weights(layer, prefix="activation"):
    """Adds a range (`<prefix>_min`, `<prefix>_max`) and a flag saying
    whether a training batch has set it (`range_initialized`, or
    `<prefix>_range_initialized` for other prefixes) to `layer`; returns
    the three variables. A layer keeps its output's range as
    `minimum`, `maximum` and `range_initialized`."""
    # tfmot's initial range, until the first training batch sets it: an
    # empty [0, 0] range is NaN under XLA (and zeros in eager TensorFlow).
    minimum = layer.add_weight(
        name=f"{prefix}_min",
        shape=(),
        initializer=keras.initializers.Constant(-6.0),
        trainable=False,
    )
    maximum = layer.add_weight(
        name=f"{prefix}_max",
        shape=(),
        initializer=keras.initializers.Constant(6.0),
        trainable=False,
    )
    initialized = layer.add_weight(
        name=(
            "range_initialized"
            if prefix == "activation"
            else f"{prefix}_range_initialized"
        ),
        shape=(),
        initializer="zeros",
        dtype="int32",
        trainable=False,
    )
    return minimum, maximum, initialized


def quantize_output(layer, x, training, value_range=None):
    """Fake-quantizes `x` over a moving-average range of `layer` (its
    default one unless `value_range`, a triple from `range_weights`),
    which a training batch updates first (tfmot's MovingAverageQuantizer:
    the first batch sets it, then decay `layer.ema_decay`)."""
    minimum, maximum, initialized = value_range or (
        layer.minimum,
        layer.maximum,
        layer.range_initialized,
    )
    if training:
        batch = ops.cast(x, "float32")
        batch_min, batch_max = ops.min(batch), ops.max(batch)
        first = ops.equal(initialized.value, 0)
        decay = layer.ema_decay
        for variable, value in ((minimum, batch_min), (maximum, batch_max)):
            variable.assign(
                ops.where(
                    first, value, decay * variable.value + (1 - decay) * value
                )
            )
        initialized.assign(1)
    return _backend.fake_quant(x, minimum.value, maximum.value)


def quantize_weights(value, per_channel, depthwise=False):
    """Symmetric narrow-range int8 fake quantization of a kernel over
    `[-max |w|, max |w|]`: per output channel (the last axis; for a
    depthwise kernel `(h, w, in, multiplier)` its `in * multiplier`
    output channels) when `per_channel`, else per tensor."""
    if depthwise and per_channel:
        shape = tuple(value.shape)
        flat = ops.reshape(value, (*shape[:2], 1, shape[2] * shape[3]))
        return ops.reshape(quantize_weights(flat, True), shape)
    reduce = tuple(range(len(value.shape) - 1)) if per_channel else None
    bound = ops.maximum(ops.max(ops.abs(value), axis=reduce), 1e-8)
    return _backend.fake_quant(
        value, -bound, bound, per_channel, narrow_range=True
    )
