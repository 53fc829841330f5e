"""The fake quantizers quantization-aware training places: weights
(symmetric, narrow range, per output channel or per tensor) and outputs
(per tensor, over a moving-average range), tfmot's 8-bit scheme."""

import keras
import numpy as np
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


# LiteRT's int8 kernels of these activations have fixed output ranges
# (SOFTMAX and LOGISTIC: scale 1/256 from 0; TANH: 1/128 around 0): a
# learned range after them would make the converter requantize in a
# QUANTIZE op of its own.
FIXED_OUTPUT_RANGES = {
    "softmax": (0.0, 255 / 256),
    "sigmoid": (0.0, 255 / 256),
    "tanh": (-1.0, 127 / 128),
}


def output_activation(layer):
    """The name of the activation a layer's output comes from (for
    `quantize_output`'s fixed ranges), or None."""
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return keras.activations.serialize(activation)


def quantize_output(layer, x, training, value_range=None, activation=None):
    """Fake-quantizes `x` over a moving-average range of `layer` (its
    default one unless `value_range`, a triple from `range_weights`),
    which a training batch updates first (tfmot's MovingAverageQuantizer:
    the first batch sets it, then decay `layer.ema_decay`). After an
    `activation` LiteRT runs with a fixed output range (softmax, sigmoid,
    tanh) that range is used instead."""
    fixed = FIXED_OUTPUT_RANGES.get(activation)
    if fixed is not None:
        return _backend.fake_quant(x, *fixed)
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


MAX_CLUSTERS = 256
"""Most shared values a cluster-preserving QAT kernel may hold (int8's)."""


def cluster_request(preserve_clusters):
    """What `constraint_weights` takes for a wrapper's `preserve_clusters`:
    None (no clusters), "infer" (True: read them from the kernel) or a
    saved config's number of clusters."""
    if preserve_clusters is True:
        return "infer"
    return preserve_clusters or None


def constraint_weights(layer, kernel, preserve_sparsity, cluster_count):
    """Adds to the QAT wrapper `layer` what keeps its kernel's structure:
    `sparsity_mask` (the zeros at wrapping time) when `preserve_sparsity`,
    and, when `cluster_count` is not None, trainable `cluster_centroids`
    with fixed `cluster_indices` (the kernel's distinct values and where
    each sits; `"infer"` reads them from the kernel, a number creates
    them empty for loading). The kernel itself then stops training: its
    values are the centroids'. Returns the number of clusters (or None).
    """
    if not preserve_sparsity and cluster_count is None:
        return None  # nothing to keep: no copy of the kernel to NumPy
    owner = type(layer).__name__
    value = ops.convert_to_numpy(kernel.value)
    if preserve_sparsity:
        layer.sparsity_mask = layer.add_weight(
            name="sparsity_mask",
            shape=kernel.shape,
            initializer="ones",
            trainable=False,
        )
        layer.sparsity_mask.assign((value != 0).astype("float32"))
    if cluster_count is None:
        return None
    centroids, indices = np.unique(value, return_inverse=True)
    if cluster_count == "infer":
        if len(centroids) > MAX_CLUSTERS:
            raise ValueError(
                f"{owner}: preserve_clusters needs a clustered kernel "
                "(cluster_weights, fit, strip_clustering), with at most "
                f"{MAX_CLUSTERS} distinct values. Received: "
                f"{layer.layer.name!r} with {len(centroids)} distinct values"
            )
        cluster_count = len(centroids)
    layer.cluster_centroids = layer.add_weight(
        name="cluster_centroids",
        shape=(cluster_count,),
        initializer="zeros",
        trainable=True,
    )
    layer.cluster_indices = layer.add_weight(
        name="cluster_indices",
        shape=kernel.shape,
        initializer="zeros",
        dtype="int32",
        trainable=False,
    )
    if len(centroids) == cluster_count:
        layer.cluster_centroids.assign(centroids.astype("float32"))
        layer.cluster_indices.assign(
            indices.reshape(value.shape).astype("int32")
        )
    kernel.trainable = False
    return cluster_count


def constrained_kernel(layer, kernel):
    """The kernel value the QAT wrapper `layer` computes with: its
    centroids at their indices when it keeps clusters, times the sparsity
    mask when it keeps zeros (see `constraint_weights`)."""
    value = kernel.value
    if getattr(layer, "cluster_count", None):
        centroids = layer.cluster_centroids.value
        value = ops.cast(
            ops.take(centroids, layer.cluster_indices.value), value.dtype
        )
    if layer.preserve_sparsity:
        # The layer computes with the zeros in place whatever the
        # optimizer does to them; conversion folds them into the file.
        value = value * ops.cast(layer.sparsity_mask.value, value.dtype)
    return value
