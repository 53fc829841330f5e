"""A convolution and the BatchNormalization after it trained as one
int8 convolution: BatchNorm folded into the fake-quantized kernel and the
bias (Jacob et al. 2018, section 3.2; Krishnamoorthi 2018, section 3.2)."""

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig.ops import call_with_values
from kerasbig.optimize._layers import OwnWeightsWrapper
from kerasbig.optimize._quantizers import cluster_request
from kerasbig.optimize._quantizers import constrained_kernel
from kerasbig.optimize._quantizers import constraint_weights
from kerasbig.optimize._quantizers import quantize_output
from kerasbig.optimize._quantizers import quantize_weights
from kerasbig.optimize._quantizers import range_weights

FOLDABLE_CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
)
"""The layer classes whose BatchNormalization `quantize_aware` folds."""


def foldable(conv, batch_norm):
    """Whether `batch_norm` (read from `conv`'s output alone) can be
    folded into `conv`: a channels-last convolution with no activation,
    normalized over its channel axis without batch renormalization."""
    return (
        isinstance(conv, FOLDABLE_CONVOLUTIONS)
        and isinstance(batch_norm, keras.layers.BatchNormalization)
        and keras.activations.serialize(conv.activation) == "linear"
        and conv.data_format == "channels_last"
        and batch_norm.axis in (-1, len(conv.kernel.shape) - 1)
        and not batch_norm.renorm
    )


FUSED_ACTIVATIONS = ("linear", "relu", "relu6")
"""Activations LiteRT fuses into a convolution or fully connected
kernel."""


def is_plain_relu(layer):
    """A ReLU (capped or not) that a converted convolution runs fused."""
    if isinstance(layer, keras.layers.ReLU):
        return not layer.negative_slope and not layer.threshold
    name = isinstance(layer, keras.layers.Activation) and (
        keras.activations.serialize(layer.activation)
    )
    return name in FUSED_ACTIVATIONS and name != "linear"


def check_freeze_bn_delay(owner, freeze_bn_delay):
    """One line naming `owner` unless `freeze_bn_delay` is None or a
    number of steps >= 0."""
    checks.int_at_least(
        owner,
        "freeze_bn_delay",
        freeze_bn_delay,
        0,
        "None or a number of steps >= 0",
        allow_none=True,
    )


@keras.saving.register_keras_serializable(package="kerasbig")
class FoldedInto(keras.layers.Layer):
    """Stands where a layer folded into an earlier one was (a
    BatchNormalization or ReLU inside a `QuantizeAwareConvBatchNorm`),
    under the same name, and passes its input on; `into` names the layer
    that computes it now.

    Args:
        into: name of the layer the folded layer lives in.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import numpy as np
        >>> from kerasbig.optimize import FoldedInto
        >>> tuple(FoldedInto("conv", name="bn")(np.ones((1, 2))).shape)
        (1, 2)
    """

    def __init__(self, into, **kwargs):
        super().__init__(**kwargs)
        self.into = into
        self.supports_masking = True

    def call(self, inputs, training=None, mask=None):
        del training, mask
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"into": self.into})
        return config


@keras.saving.register_keras_serializable(package="kerasbig")
class QuantizeAwareConvBatchNorm(OwnWeightsWrapper):
    """Trains a convolution and its BatchNormalization as the one int8
    convolution they become on the phone.

    The BatchNorm scale is folded into the kernel before its fake
    quantization (per output channel, symmetric, narrow range) and its
    shift into the bias, so the converted LiteRT file holds one
    `CONV_2D` (or `DEPTHWISE_CONV_2D`) with the learned int8 weights and
    no separate multiply or add. In training the kernel is folded with
    the moving standard deviation and the output corrected to the batch
    statistics (Krishnamoorthi 2018, section 3.2), which keep updating the
    moving mean and variance as `BatchNormalization` does; after
    `freeze_bn_delay` training steps the batch statistics are no longer
    used and the moving ones stay fixed (Jacob et al. 2018). In inference
    the layer computes what the file computes. An optional ReLU (ReLU6
    included) after the BatchNorm is applied before the output's fake
    quantization, as the converter fuses it into the convolution.

    Args:
        layer: a `Conv1D`, `Conv2D` or `DepthwiseConv2D` layer without
            activation, channels last.
        batch_norm: the `BatchNormalization` that reads its output (over
            the channel axis).
        activation: an optional `ReLU` (or `Activation("relu")`) layer
            after the BatchNorm.
        freeze_bn_delay: training steps after which the batch statistics
            stop being used and updated; `None` (the default) never
            freezes them.
        ema_decay: decay of the output range's moving average.
        preserve_sparsity: keep the kernel's zeros (a pruned model stays
            pruned). Defaults to `False`.
        preserve_clusters: keep the kernel's clusters (see
            `QuantizeAware`; the BatchNorm scale is folded in after).
            Defaults to `False`.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import QuantizeAwareConvBatchNorm
        >>> conv = keras.layers.Conv2D(4, 3, use_bias=False)
        >>> conv.build((None, 8, 8, 3))
        >>> batch_norm = keras.layers.BatchNormalization()
        >>> batch_norm.build((None, 6, 6, 4))
        >>> layer = QuantizeAwareConvBatchNorm(conv, batch_norm,
        ...                                    keras.layers.ReLU(6.0))
        >>> x = np.random.rand(2, 8, 8, 3).astype("float32")
        >>> tuple(layer(x, training=True).shape)
        (2, 6, 6, 4)
    """

    def __init__(
        self,
        layer,
        batch_norm,
        activation=None,
        freeze_bn_delay=None,
        ema_decay=0.999,
        preserve_sparsity=False,
        preserve_clusters=False,
        **kwargs,
    ):
        layer, batch_norm, activation = (
            keras.saving.deserialize_keras_object(x)
            if isinstance(x, dict)
            else x
            for x in (layer, batch_norm, activation)
        )
        if not isinstance(layer, FOLDABLE_CONVOLUTIONS) or not isinstance(
            batch_norm, keras.layers.BatchNormalization
        ):
            raise ValueError(
                "QuantizeAwareConvBatchNorm: expected one of "
                f"{', '.join(c.__name__ for c in FOLDABLE_CONVOLUTIONS)} "
                "and a BatchNormalization. Received: "
                f"{type(layer).__name__} and {type(batch_norm).__name__}"
            )
        if activation is not None and not is_plain_relu(activation):
            raise ValueError(
                "QuantizeAwareConvBatchNorm: `activation` must be a ReLU "
                "layer (or Activation('relu'/'relu6')). Received: "
                f"{type(activation).__name__} {activation.name!r}"
            )
        check_freeze_bn_delay("QuantizeAwareConvBatchNorm", freeze_bn_delay)
        super().__init__(layer, **kwargs)
        self.batch_norm = batch_norm
        self.activation = activation
        self.freeze_bn_delay = freeze_bn_delay
        self.ema_decay = ema_decay
        self.preserve_sparsity = preserve_sparsity
        self.preserve_clusters = preserve_clusters
        self.cluster_count = None
        if batch_norm.built:
            self._create_weights_if_built()

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        if not self.batch_norm.built:
            self.batch_norm.build(self.layer.compute_output_shape(input_shape))
        super().build(input_shape)

    def _create_weights(self):
        self.minimum, self.maximum, self.range_initialized = range_weights(self)
        self.step = self.add_weight(
            name="bn_step",
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
        )
        self.cluster_count = constraint_weights(
            self,
            self.layer.kernel,
            self.preserve_sparsity,
            cluster_request(self.preserve_clusters),
        )

    def _per_kernel_channel(self, per_output_channel):
        """`per_output_channel` shaped to multiply the kernel: a depthwise
        kernel `(h, w, in, multiplier)` holds output channel
        `i * multiplier + m` at `[..., i, m]`."""
        if isinstance(self.layer, keras.layers.DepthwiseConv2D):
            shape = self.layer.kernel.shape
            return ops.reshape(per_output_channel, (shape[2], shape[3]))
        return per_output_channel

    def call(self, inputs, training=None):
        conv, batch_norm = self.layer, self.batch_norm
        kernel = conv.kernel
        value = constrained_kernel(self, kernel)
        dtype = value.dtype
        channels = batch_norm.moving_mean.shape[0]
        gamma = (
            ops.cast(batch_norm.gamma.value, dtype)
            if batch_norm.scale
            else ops.ones((channels,), dtype)
        )
        beta = (
            ops.cast(batch_norm.beta.value, dtype)
            if batch_norm.center
            else ops.zeros((channels,), dtype)
        )
        moving_mean = ops.cast(batch_norm.moving_mean.value, dtype)
        moving_variance = ops.cast(batch_norm.moving_variance.value, dtype)
        moving_std = ops.sqrt(moving_variance + batch_norm.epsilon)
        folded = value * self._per_kernel_channel(gamma / moving_std)
        values = {
            id(kernel): quantize_weights(
                folded,
                per_channel=True,
                depthwise=isinstance(conv, keras.layers.DepthwiseConv2D),
            )
        }
        bias = ops.zeros((channels,), dtype)
        if conv.use_bias:
            bias = ops.cast(conv.bias.value, dtype)
            values[id(conv.bias)] = ops.zeros_like(conv.bias.value)
        outputs = call_with_values(conv, values, inputs)
        if training:
            mean, std = self._batch_statistics(
                inputs, value, moving_mean, moving_variance, moving_std
            )
            # The kernel was folded with the moving deviation: rescale to
            # the batch's, as BatchNormalization normalizes in training.
            outputs = outputs * ops.cast(moving_std / std, outputs.dtype)
        else:
            mean, std = moving_mean, moving_std
        shift = gamma * (bias - mean) / std + beta
        outputs = outputs + ops.cast(shift, outputs.dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return quantize_output(self, outputs, training)

    def _batch_statistics(
        self, inputs, kernel, moving_mean, moving_variance, moving_std
    ):
        """The mean and deviation to normalize a training batch with, and
        the moving statistics' update (none once frozen)."""
        conv, batch_norm = self.layer, self.batch_norm
        raw = call_with_values(conv, {id(conv.kernel): kernel}, inputs)
        axes = tuple(range(len(raw.shape) - 1))
        mean, variance = ops.moments(ops.cast(raw, moving_mean.dtype), axes)
        std = ops.sqrt(variance + batch_norm.epsilon)
        momentum = batch_norm.momentum
        new_mean = moving_mean * momentum + mean * (1 - momentum)
        new_variance = moving_variance * momentum + variance * (1 - momentum)
        if self.freeze_bn_delay is not None:
            frozen = ops.greater_equal(self.step.value, self.freeze_bn_delay)
            mean = ops.where(frozen, moving_mean, mean)
            std = ops.where(frozen, moving_std, std)
            new_mean = ops.where(frozen, moving_mean, new_mean)
            new_variance = ops.where(frozen, moving_variance, new_variance)
        batch_norm.moving_mean.assign(
            ops.cast(ops.stop_gradient(new_mean), batch_norm.moving_mean.dtype)
        )
        batch_norm.moving_variance.assign(
            ops.cast(
                ops.stop_gradient(new_variance),
                batch_norm.moving_variance.dtype,
            )
        )
        self.step.assign(self.step.value + 1)
        return mean, std

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "batch_norm": keras.saving.serialize_keras_object(
                    self.batch_norm
                ),
                "activation": (
                    None
                    if self.activation is None
                    else keras.saving.serialize_keras_object(self.activation)
                ),
                "freeze_bn_delay": self.freeze_bn_delay,
                "ema_decay": self.ema_decay,
                "preserve_sparsity": self.preserve_sparsity,
                "preserve_clusters": self.cluster_count or False,
            }
        )
        return config
