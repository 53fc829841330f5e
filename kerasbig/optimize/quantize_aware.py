"""Quantization-aware training for Keras 3: int8 fake quantization of
weights (per channel) and activations (per tensor), converting to a fully
int8 LiteRT model."""

import keras
from keras import ops

from kerasbig import _backend
from kerasbig.ops import call_with_values
from kerasbig.optimize._layers import copy_layer
from kerasbig.optimize._layers import is_graph_model

_QUANTIZABLE = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
)


def _range_update(layer, x, minimum, maximum, training):
    """Moving-average range of `x` (tfmot's MovingAverageQuantizer:
    the first batch sets it, then decay 0.999)."""
    if not training:
        return
    x = ops.cast(x, "float32")
    batch_min, batch_max = ops.min(x), ops.max(x)
    first = ops.equal(layer.range_initialized.value, 0)
    decay = layer.ema_decay
    minimum.assign(
        ops.where(
            first, batch_min, decay * minimum.value + (1 - decay) * batch_min
        )
    )
    maximum.assign(
        ops.where(
            first, batch_max, decay * maximum.value + (1 - decay) * batch_max
        )
    )
    layer.range_initialized.assign(1)


@keras.saving.register_keras_serializable(package="kerasbig")
class QuantizeActivations(keras.layers.Layer):
    """Fake-quantizes its input to int8 over a moving-average range.

    Placed on a model's inputs by `quantize_aware`, so the converted model
    takes int8 from its first layer on. In training the range follows the
    batches (first batch, then an exponential moving average with decay
    `ema_decay`); in inference it is fixed.

    Args:
        ema_decay: decay of the range's moving average. Defaults to 0.999.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import QuantizeActivations
        >>> layer = QuantizeActivations()
        >>> x = np.random.rand(1, 1000).astype("float32")
        >>> _ = layer(x, training=True)  # the first batch sets the range
        >>> len(np.unique(keras.ops.convert_to_numpy(layer(x)))) <= 256
        True
    """

    def __init__(self, ema_decay=0.999, **kwargs):
        super().__init__(**kwargs)
        self.ema_decay = ema_decay
        self.supports_masking = True

    def build(self, input_shape):
        self.minimum, self.maximum, self.range_initialized = _range_weights(
            self
        )

    def call(self, inputs, training=None):
        _range_update(self, inputs, self.minimum, self.maximum, training)
        return _backend.fake_quant(
            inputs, self.minimum.value, self.maximum.value
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"ema_decay": self.ema_decay})
        return config


def _range_weights(layer):
    # tfmot's initial range, until the first training batch sets it: an
    # empty [0, 0] range is NaN under XLA (and zeros in eager TensorFlow).
    minimum = layer.add_weight(
        name="activation_min",
        shape=(),
        initializer=keras.initializers.Constant(-6.0),
        trainable=False,
    )
    maximum = layer.add_weight(
        name="activation_max",
        shape=(),
        initializer=keras.initializers.Constant(6.0),
        trainable=False,
    )
    initialized = layer.add_weight(
        name="range_initialized",
        shape=(),
        initializer="zeros",
        dtype="int32",
        trainable=False,
    )
    return minimum, maximum, initialized


@keras.saving.register_keras_serializable(package="kerasbig")
class QuantizeAware(keras.layers.Wrapper):
    """Trains a Dense or Conv layer as it will run in int8.

    The kernel is fake-quantized symmetrically (narrow range, over
    `[-max |w|, max |w|]`), per output channel for convolutions and per
    tensor for `Dense` (tfmot's 8-bit scheme; the LiteRT converter
    rejects per-channel FakeQuant on dense kernels), and the layer's
    output (after its activation) per tensor over a moving-average range.
    On TensorFlow the fake quantization uses TensorFlow's FakeQuant ops,
    which the LiteRT converter turns into int8 kernels with exactly these
    ranges; on JAX and PyTorch it is the same arithmetic in `keras.ops`
    with a straight-through gradient.

    Args:
        layer: a `Dense`, `Conv1D` or `Conv2D` layer (built).
        ema_decay: decay of the output range's moving average.
        preserve_sparsity: keep the kernel's zeros (a pruned model stays
            pruned): the zero mask at wrapping time is stored and the
            layer computes with `kernel * mask`. Defaults to `False`.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import QuantizeAware
        >>> dense = keras.layers.Dense(3)
        >>> dense.build((None, 4))
        >>> layer = QuantizeAware(dense)
        >>> tuple(layer(np.ones((2, 4), "float32"), training=True).shape)
        (2, 3)
    """

    def __init__(
        self, layer, ema_decay=0.999, preserve_sparsity=False, **kwargs
    ):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        if not isinstance(layer, _QUANTIZABLE):
            raise ValueError(
                "QuantizeAware: quantization-aware training supports "
                f"{', '.join(c.__name__ for c in _QUANTIZABLE)}. Received: "
                f"{type(layer).__name__} {layer.name!r}"
            )
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(layer, **kwargs)
        self.ema_decay = ema_decay
        self.preserve_sparsity = preserve_sparsity
        if layer.built:
            self._create_weights()
            self.built = True

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self._create_weights()
        self.built = True

    def _create_weights(self):
        self.minimum, self.maximum, self.range_initialized = _range_weights(
            self
        )
        if self.preserve_sparsity:
            kernel = self.layer.kernel
            self.sparsity_mask = self.add_weight(
                name="sparsity_mask",
                shape=kernel.shape,
                initializer="ones",
                trainable=False,
            )
            self.sparsity_mask.assign(
                ops.cast(ops.not_equal(kernel.value, 0), "float32")
            )

    def call(self, inputs, training=None):
        kernel = self.layer.kernel
        # Convolutions per output channel; Dense per tensor, as tfmot's
        # 8-bit scheme: the converter transposes Dense kernels and rejects
        # a per-channel FakeQuant on them ("mismatched quantized axes").
        per_channel = not isinstance(self.layer, keras.layers.Dense)
        reduce = tuple(range(len(kernel.shape) - 1)) if per_channel else None
        value = kernel.value
        if self.preserve_sparsity:
            # The layer computes with the zeros in place whatever the
            # optimizer does to them; conversion folds them into the file.
            value = value * ops.cast(self.sparsity_mask.value, value.dtype)
        bound = ops.maximum(ops.max(ops.abs(value), axis=reduce), 1e-8)
        quantized_kernel = _backend.fake_quant(
            value, -bound, bound, per_channel, narrow_range=True
        )
        outputs = call_with_values(
            self.layer, {id(kernel): quantized_kernel}, inputs
        )
        _range_update(self, outputs, self.minimum, self.maximum, training)
        return _backend.fake_quant(
            outputs, self.minimum.value, self.maximum.value
        )

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "ema_decay": self.ema_decay,
                "preserve_sparsity": self.preserve_sparsity,
            }
        )
        return config


def quantize_aware(model, preserve_sparsity=False):
    """A copy of `model` for quantization-aware training (QAT).

    Every `Dense`, `Conv1D` and `Conv2D` is wrapped in `QuantizeAware`
    and each input is fake-quantized by a `QuantizeActivations` layer; the
    weights are copied (the original model is unchanged). Fine-tune the
    copy for a few epochs with `fit()` (any backend), then convert it on
    TensorFlow with `to_litert(qat_model, path, quantization="int8")`: the
    converter takes the learned ranges, so no representative data is
    needed, and every convolution and dense layer runs in int8.

    Layers between quantized layers should keep values in range without
    their own quantizer (pooling, flatten, reshape, dropout); layers that
    change values (normalization, attention, ...) are not supported yet.

    Args:
        model: a Sequential or functional model.
        preserve_sparsity: keep every kernel's zeros (for a model from
            `strip_pruning`: pruning-preserving QAT). Defaults to `False`.

    Returns:
        The QAT model (compile it before `fit`).

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import quantize_aware
        >>> model = keras.Sequential([keras.Input((6,)),
        ...     keras.layers.Dense(8, activation="relu"),
        ...     keras.layers.Dense(2)])
        >>> qat = quantize_aware(model)
        >>> qat.compile("adam", "mse")
        >>> _ = qat.fit(np.random.rand(32, 6), np.random.rand(32, 2),
        ...             epochs=1, verbose=0)
        >>> [type(layer).__name__ for layer in qat.layers][1:]
        ['QuantizeActivations', 'Sequential']
    """
    if not is_graph_model(model):
        raise ValueError(
            "quantize_aware: expected a Sequential or functional model. "
            f"Received: {type(model).__name__} {getattr(model, 'name', '')!r}"
        )
    supported = (
        keras.layers.InputLayer,
        keras.layers.MaxPooling1D,
        keras.layers.MaxPooling2D,
        keras.layers.Flatten,
        keras.layers.Reshape,
        keras.layers.Dropout,
        keras.layers.ReLU,
    ) + _QUANTIZABLE

    def clone(layer):
        if not isinstance(layer, supported):
            raise ValueError(
                "quantize_aware: cannot quantize "
                f"{type(layer).__name__} {layer.name!r} yet. Supported: "
                f"{', '.join(sorted(c.__name__ for c in supported))}"
            )
        copy = copy_layer(layer)
        if isinstance(copy, _QUANTIZABLE):
            return QuantizeAware(copy, preserve_sparsity=preserve_sparsity)
        return copy

    body = keras.models.clone_model(model, clone_function=clone)
    inputs = [
        keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t.name)
        for t in model.inputs
    ]
    quantized = [
        QuantizeActivations(name=f"quantize_{t.name}")(t) for t in inputs
    ]
    outputs = body(quantized[0] if len(quantized) == 1 else quantized)
    return keras.Model(
        inputs[0] if len(inputs) == 1 else inputs,
        outputs,
        name=f"{model.name}_qat",
    )
