"""Quantization-aware training for Keras 3: int8 fake quantization of
weights (per channel) and activations (per tensor), converting to a fully
int8 LiteRT model."""

import inspect

import keras
from keras import ops

from kerasbig.ops import call_with_values
from kerasbig.optimize._graph import layer_readers
from kerasbig.optimize._layers import OwnWeightsWrapper
from kerasbig.optimize._layers import clone_with_wrappers
from kerasbig.optimize._layers import copy_layer
from kerasbig.optimize._layers import is_graph_model
from kerasbig.optimize._quantizers import cluster_request
from kerasbig.optimize._quantizers import constrained_kernel
from kerasbig.optimize._quantizers import constraint_weights
from kerasbig.optimize._quantizers import output_activation
from kerasbig.optimize._quantizers import quantize_output
from kerasbig.optimize._quantizers import quantize_weights
from kerasbig.optimize._quantizers import range_weights
from kerasbig.optimize.batch_norm_folding import FOLDABLE_CONVOLUTIONS
from kerasbig.optimize.batch_norm_folding import FUSED_ACTIVATIONS
from kerasbig.optimize.batch_norm_folding import FoldedInto
from kerasbig.optimize.batch_norm_folding import QuantizeAwareConvBatchNorm
from kerasbig.optimize.batch_norm_folding import check_freeze_bn_delay
from kerasbig.optimize.batch_norm_folding import foldable
from kerasbig.optimize.batch_norm_folding import is_plain_relu
from kerasbig.optimize.quantize_config import QuantizeAnnotate
from kerasbig.optimize.quantize_config import QuantizeWithConfig

_QUANTIZABLE = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv2DTranspose,
)


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
        self.minimum, self.maximum, self.range_initialized = range_weights(self)

    def call(self, inputs, training=None):
        return quantize_output(self, inputs, training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"ema_decay": self.ema_decay})
        return config


@keras.saving.register_keras_serializable(package="kerasbig")
class QuantizeAware(OwnWeightsWrapper):
    """Trains a Dense or Conv layer as it will run in int8.

    The kernel is fake-quantized symmetrically (narrow range, over
    `[-max |w|, max |w|]`), per output channel for convolutions and per
    tensor for `Dense` and `Conv2DTranspose` (tfmot's 8-bit scheme; the
    LiteRT converter rejects per-channel FakeQuant on dense kernels, and
    a transposed kernel holds its output channels on axis -2), and the
    layer's output (after its activation) per tensor over a
    moving-average range. A `SeparableConv2D` runs as LiteRT runs it, a
    depthwise then a 1x1 convolution: both kernels per channel and the
    depthwise result quantized too (`depthwise_output` range).
    On TensorFlow the fake quantization uses TensorFlow's FakeQuant ops,
    which the LiteRT converter turns into int8 kernels with exactly these
    ranges; on JAX and PyTorch it is the same arithmetic in `keras.ops`
    with a straight-through gradient.

    Args:
        layer: a `Dense`, `Conv1D`, `Conv2D`, `DepthwiseConv2D`,
            `SeparableConv2D` or `Conv2DTranspose` layer.
        ema_decay: decay of the output range's moving average.
        preserve_sparsity: keep the kernel's zeros (a pruned model stays
            pruned): the zero mask at wrapping time is stored and the
            layer computes with `kernel * mask`. Defaults to `False`.
            Not for `SeparableConv2D` (two kernels).
        preserve_clusters: keep the kernel's clusters (a model from
            `strip_clustering`, at most 256 distinct values per kernel):
            its distinct values become trainable `cluster_centroids` and
            each weight keeps its centroid, so the trained kernel still
            holds as many values (cluster-preserving QAT). Defaults to
            `False`. Not for `SeparableConv2D`.
        activation: an activation applied after the quantized output
            and quantized again; set by the wrapper itself when `layer`'s
            own activation is one LiteRT does not fuse (leave it `None`).
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
        self,
        layer,
        ema_decay=0.999,
        preserve_sparsity=False,
        preserve_clusters=False,
        activation=None,
        **kwargs,
    ):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        if not isinstance(layer, _QUANTIZABLE):
            raise ValueError(
                "QuantizeAware: quantization-aware training supports "
                f"{', '.join(c.__name__ for c in _QUANTIZABLE)}. Received: "
                f"{type(layer).__name__} {layer.name!r}"
            )
        if isinstance(layer, keras.layers.SeparableConv2D) and (
            preserve_sparsity or preserve_clusters
        ):
            raise ValueError(
                "QuantizeAware: preserve_sparsity and preserve_clusters "
                "keep one kernel's structure; SeparableConv2D "
                f"{layer.name!r} has two. Received: preserve_sparsity="
                f"{preserve_sparsity}, preserve_clusters={preserve_clusters}"
            )
        super().__init__(layer, **kwargs)
        self.ema_decay = ema_decay
        self.preserve_sparsity = preserve_sparsity
        # True (read the clusters from the kernel) or, from a saved
        # config, their number.
        self.preserve_clusters = preserve_clusters
        self.cluster_count = None
        if (
            keras.activations.serialize(layer.activation)
            not in FUSED_ACTIVATIONS
        ):
            # LiteRT fuses only ReLUs into its kernels; any other
            # activation runs as an int8 op of its own, which needs the
            # layer's output quantized before it too (tfmot's
            # QuantizeAwareActivation). The wrapper applies it.
            activation = layer.activation
            layer.activation = keras.activations.get("linear")
        self.activation = (
            None if activation is None else keras.activations.get(activation)
        )
        self._create_weights_if_built()

    def _create_weights(self):
        self.minimum, self.maximum, self.range_initialized = range_weights(self)
        if isinstance(self.layer, keras.layers.SeparableConv2D):
            self.depthwise_range = range_weights(self, "depthwise_output")
        else:
            self.cluster_count = constraint_weights(
                self,
                self.layer.kernel,
                self.preserve_sparsity,
                cluster_request(self.preserve_clusters),
            )
        if self.activation is not None:
            self.pre_activation_range = range_weights(self, "pre_activation")

    def call(self, inputs, training=None):
        if isinstance(self.layer, keras.layers.SeparableConv2D):
            outputs = self._separable(inputs, training)
        else:
            outputs = self._one_kernel(inputs)
        activation = None
        if self.activation is not None:
            outputs = self.activation(
                quantize_output(
                    self, outputs, training, self.pre_activation_range
                )
            )
            activation = keras.activations.serialize(self.activation)
        return quantize_output(self, outputs, training, activation=activation)

    def _one_kernel(self, inputs):
        kernel = self.layer.kernel
        value = constrained_kernel(self, kernel)
        # Convolutions per output channel; Dense per tensor, as tfmot's
        # 8-bit scheme: the converter transposes Dense kernels and rejects
        # a per-channel FakeQuant on them ("mismatched quantized axes").
        quantized_kernel = quantize_weights(
            value,
            per_channel=not isinstance(
                self.layer, (keras.layers.Dense, keras.layers.Conv2DTranspose)
            ),
            depthwise=isinstance(self.layer, keras.layers.DepthwiseConv2D),
        )
        return call_with_values(
            self.layer, {id(kernel): quantized_kernel}, inputs
        )

    def _separable(self, inputs, training):
        # LiteRT has no separable convolution: the converter writes a
        # DEPTHWISE_CONV_2D and a 1x1 CONV_2D, and the tensor between them
        # needs a range of its own (tfmot's SeparableConvQuantize splits
        # the layer in two for the same reason).
        layer = self.layer
        depthwise = ops.depthwise_conv(
            inputs,
            quantize_weights(
                layer.depthwise_kernel.value, per_channel=True, depthwise=True
            ),
            strides=layer.strides,
            padding=layer.padding,
            data_format=layer.data_format,
            dilation_rate=layer.dilation_rate,
        )
        depthwise = quantize_output(
            self, depthwise, training, self.depthwise_range
        )
        outputs = ops.conv(
            depthwise,
            quantize_weights(layer.pointwise_kernel.value, per_channel=True),
            strides=1,
            padding="valid",
            data_format=layer.data_format,
        )
        if layer.use_bias:
            channels_last = layer.data_format == "channels_last"
            shape = (1, 1, 1, -1) if channels_last else (1, -1, 1, 1)
            outputs = outputs + ops.reshape(layer.bias.value, shape)
        return layer.activation(outputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "ema_decay": self.ema_decay,
                "preserve_sparsity": self.preserve_sparsity,
                "preserve_clusters": self.cluster_count or False,
                "activation": (
                    None
                    if self.activation is None
                    else keras.activations.serialize(self.activation)
                ),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kerasbig")
class QuantizeOutput(OwnWeightsWrapper):
    """Fake-quantizes a layer's output to int8 over a moving-average range.

    `quantize_aware` wraps the layers that change values without weights
    of their own in it (Add, Concatenate, Multiply, average pooling,
    global pooling, UpSampling, Softmax, activations, a BatchNormalization
    no convolution absorbs), as tfmot places their output quantizers, so
    the converted file computes each of them in int8.

    Args:
        layer: the layer whose output is quantized.
        ema_decay: decay of the output range's moving average.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import QuantizeOutput
        >>> layer = QuantizeOutput(keras.layers.Add())
        >>> x = np.random.rand(2, 5).astype("float32")
        >>> tuple(layer([x, x], training=True).shape)
        (2, 5)
    """

    def __init__(self, layer, ema_decay=0.999, **kwargs):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        super().__init__(layer, **kwargs)
        self.ema_decay = ema_decay
        self.supports_masking = layer.supports_masking
        self._create_weights_if_built()

    def _create_weights(self):
        self.minimum, self.maximum, self.range_initialized = range_weights(self)

    def call(self, inputs, training=None, mask=None):
        kwargs = {}
        if (
            mask is not None
            and "mask" in inspect.signature(self.layer.call).parameters
        ):
            kwargs["mask"] = mask
        outputs = self.layer(inputs, training=training, **kwargs)
        return quantize_output(
            self, outputs, training, activation=output_activation(self.layer)
        )

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"ema_decay": self.ema_decay})
        return config


# Layers that keep values on their input's int8 grid: they run on the
# quantized values with no quantizer of their own (tfmot's no-op configs).
_PASS_THROUGH = (
    keras.layers.InputLayer,
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Dropout,
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping1D,
    keras.layers.Cropping2D,
    keras.layers.Identity,
)
# Layers that change values without weights: their output gets its own
# quantizer (QuantizeOutput).
_OUTPUT_QUANTIZED = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Concatenate,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.UpSampling1D,
    keras.layers.UpSampling2D,
    keras.layers.Softmax,
    keras.layers.ReLU,
    keras.layers.BatchNormalization,
)
# Activation layers LiteRT runs in int8.
_INT8_ACTIVATIONS = (
    "linear",
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "softmax",
    "hard_silu",
    "hard_sigmoid",
    "leaky_relu",
)


def _supported_names():
    classes = _PASS_THROUGH + _OUTPUT_QUANTIZED + _QUANTIZABLE
    names = sorted({c.__name__ for c in classes} | {"Activation"})
    return ", ".join(names)


def _plan(model):
    """`{layer name: what quantize_aware puts there}` for the layers of
    one Sequential or functional graph: a convolution read only by a
    BatchNormalization (and that by a ReLU) becomes one
    `QuantizeAwareConvBatchNorm` and the others `FoldedInto` it."""
    readers, sources = layer_readers(model)
    layers = {layer.name: layer for layer in model.layers}
    plan = {}
    for name, layer in layers.items():
        if not isinstance(layer, FOLDABLE_CONVOLUTIONS):
            continue
        if len(sources[name]) != 1 or len(readers[name]) != 1:
            continue  # shared, or read by more than the BatchNorm
        norm = layers.get(readers[name][0])
        if norm is None or sources[norm.name] != [[name]]:
            continue
        if not foldable(layer, norm):
            continue
        relu = None
        if len(readers[norm.name]) == 1:
            after = layers.get(readers[norm.name][0])
            if (
                after is not None
                and is_plain_relu(after)
                and sources[after.name] == [[norm.name]]
            ):
                relu = after
        plan[name] = ("fold", norm, relu)
        plan[norm.name] = ("folded", name)
        if relu is not None:
            plan[relu.name] = ("folded", name)
    return plan


def quantize_aware(
    model,
    preserve_sparsity=False,
    preserve_clusters=False,
    freeze_bn_delay=None,
):
    """A copy of `model` for quantization-aware training (QAT), tfmot's
    default 8-bit scheme on every backend.

    - A `Conv1D`, `Conv2D` or `DepthwiseConv2D` read only by a
      `BatchNormalization` (and that by a ReLU or ReLU6) becomes one
      `QuantizeAwareConvBatchNorm`: the BatchNorm folded into the
      fake-quantized kernel and bias, so the converted file holds one
      int8 convolution with the ReLU fused (the BatchNorm and ReLU layers
      become `FoldedInto` layers that keep their names).
    - Every other `Dense`, `Conv1D`, `Conv2D` and `DepthwiseConv2D` is
      wrapped in `QuantizeAware` (weights and output fake-quantized).
    - Layers that change values without weights (Add, Subtract,
      Multiply, Average, Concatenate, average and global pooling,
      UpSampling, Softmax, ReLU, int8-capable `Activation`s, a
      BatchNormalization no convolution absorbs) are wrapped in
      `QuantizeOutput`.
    - Layers that keep their input's grid (max pooling, Flatten, Reshape,
      Dropout, padding, cropping) are copied as they are.
    - Nested Sequential and functional models (a `keras.applications`
      base inside a classifier) are quantized the same way.
    - A layer annotated with `quantize_annotate_layer(layer, config)`
      is wrapped in `QuantizeWithConfig`, which quantizes what its
      `QuantizeConfig` names (a layer of your own joins this way).
    - Each model input is fake-quantized by a `QuantizeActivations`.

    The weights are copied (the original model is unchanged). Fine-tune
    the copy for a few epochs with `fit()` (any backend), then convert it
    on TensorFlow with `to_litert(qat_model, path, quantization="int8")`:
    the converter takes the learned ranges, so no representative data is
    needed, and every layer computes in int8. A layer none of the above
    covers raises a `ValueError` naming it.

    Args:
        model: a Sequential or functional model.
        preserve_sparsity: keep every kernel's zeros (for a model from
            `strip_pruning`: pruning-preserving QAT). Defaults to `False`.
        preserve_clusters: keep every kernel's clusters (for a model from
            `strip_clustering`: cluster-preserving QAT; with
            `preserve_sparsity`, tfmot's PCQAT). Defaults to `False`.
        freeze_bn_delay: training steps after which folded BatchNorms stop
            using and updating batch statistics (see
            `QuantizeAwareConvBatchNorm`); `None` (the default) never.

    Returns:
        The QAT model (compile it before `fit`).

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import quantize_aware
        >>> inputs = keras.Input((8, 8, 3))
        >>> x = keras.layers.Conv2D(8, 3, use_bias=False)(inputs)
        >>> x = keras.layers.BatchNormalization()(x)
        >>> x = keras.layers.ReLU(6.0)(x)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> model = keras.Model(inputs, keras.layers.Dense(2)(x))
        >>> qat = quantize_aware(model)
        >>> qat.compile("adam", "mse")
        >>> _ = qat.fit(np.random.rand(32, 8, 8, 3), np.random.rand(32, 2),
        ...             epochs=1, verbose=0)
        >>> [type(layer).__name__ for layer in qat.layers[-1].layers][1:4]
        ['QuantizeAwareConvBatchNorm', 'FoldedInto', 'FoldedInto']
    """
    if not is_graph_model(model):
        raise ValueError(
            "quantize_aware: expected a Sequential or functional model. "
            f"Received: {type(model).__name__} {getattr(model, 'name', '')!r}"
        )
    check_freeze_bn_delay("quantize_aware", freeze_bn_delay)

    def quantize_graph(graph):
        plan = _plan(graph)

        def wrap(copy, original, chosen):
            del chosen
            if isinstance(copy, QuantizeAnnotate):
                if copy.quantize_config is not None:
                    return QuantizeWithConfig(
                        copy.layer, copy.quantize_config, name=original.name
                    )
                copy = copy.layer  # a layer quantize_aware knows
            step = plan.get(original.name)
            if step is not None and step[0] == "folded":
                return FoldedInto(step[1], name=original.name)
            if step is not None:
                _, norm, relu = step
                return QuantizeAwareConvBatchNorm(
                    copy,
                    copy_layer(norm),
                    None if relu is None else copy_layer(relu),
                    freeze_bn_delay=freeze_bn_delay,
                    preserve_sparsity=preserve_sparsity,
                    preserve_clusters=preserve_clusters,
                    name=original.name,
                )
            # Wrappers take the layer's name: the QAT model's layers are
            # found by the names of the model's.
            if isinstance(copy, _QUANTIZABLE):
                return QuantizeAware(
                    copy,
                    preserve_sparsity=preserve_sparsity,
                    preserve_clusters=preserve_clusters,
                    name=original.name,
                )
            if isinstance(copy, _OUTPUT_QUANTIZED):
                return QuantizeOutput(copy, name=original.name)
            if isinstance(copy, keras.layers.Activation):
                activation = keras.activations.serialize(copy.activation)
                if activation in _INT8_ACTIVATIONS:
                    return QuantizeOutput(copy, name=original.name)
            elif isinstance(copy, _PASS_THROUGH):
                return copy
            raise ValueError(
                "quantize_aware: cannot quantize "
                f"{_describe(original)} {original.name!r} yet. Supported: "
                f"{_supported_names()}, and Activation with "
                f"{', '.join(_INT8_ACTIVATIONS)}; for another layer, "
                "annotate it with quantize_annotate_layer(layer, "
                "QuantizeConfig)"
            )

        return clone_with_wrappers(
            graph, "quantize_aware", wrap, recurse=quantize_graph
        )

    body = quantize_graph(model)
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


def _describe(layer):
    if isinstance(layer, keras.layers.Activation):
        name = keras.activations.serialize(layer.activation)
        return f"Activation({name!r})"
    return type(layer).__name__
