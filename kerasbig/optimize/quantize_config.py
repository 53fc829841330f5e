"""Quantization-aware training for layers of your own: a `QuantizeConfig`
says which weights and whether the output are fake-quantized, and
`quantize_annotate_layer` attaches it (tfmot's names and roles)."""

import keras

from kerasbig.ops import call_with_values
from kerasbig.optimize._layers import OwnWeightsWrapper
from kerasbig.optimize._quantizers import quantize_output
from kerasbig.optimize._quantizers import quantize_weights
from kerasbig.optimize._quantizers import range_weights


@keras.saving.register_keras_serializable(package="kerasbig")
class QuantizeConfig:
    """Which of a layer's weights, and whether its output, quantization-
    aware training fake-quantizes to int8 (tfmot's `QuantizeConfig`).

    Subclass it for a layer `quantize_aware` does not know: return the
    weight variables to quantize from `weights(layer)` with, for each,
    whether it is quantized per output channel (the last axis: a
    convolution kernel) or per tensor (a dense kernel, as the LiteRT
    converter wants). Weights are quantized symmetrically over their
    largest magnitude, the output over a moving-average range, as for
    the built-in layers. A config with constructor arguments returns them
    from `get_config()`. Register the subclass as Keras serializable
    (`@keras.saving.register_keras_serializable()`): `quantize_aware`
    copies the annotated layer through its config, and a saved QAT model
    reloads it.

    Example:

        >>> import keras
        >>> from kerasbig.optimize import QuantizeConfig
        >>> class KernelOnly(QuantizeConfig):
        ...     def weights(self, layer):
        ...         return [(layer.kernel, False)]
        >>> dense = keras.layers.Dense(2)
        >>> dense.build((None, 3))
        >>> [v.name for v, _ in KernelOnly().weights(dense)]
        ['kernel']
    """

    def weights(self, layer):
        """`[(variable, per_channel), ...]`: the weights of `layer` to
        fake-quantize. Defaults to none."""
        del layer
        return []

    def quantize_output(self, layer):
        """Whether the output of `layer` gets its own quantizer. Defaults
        to `True`."""
        del layer
        return True

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kerasbig")
class QuantizeAnnotate(keras.layers.Wrapper):
    """Marks a layer for `quantize_aware` with its `QuantizeConfig`; in a
    float model it computes what the layer computes. Made by
    `quantize_annotate_layer`.

    Args:
        layer: the layer to quantize.
        quantize_config: a `QuantizeConfig`, or `None` for a layer
            `quantize_aware` knows (it then quantizes it as usual).
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import quantize_annotate_layer
        >>> dense = keras.layers.Dense(2)
        >>> annotated = quantize_annotate_layer(dense)  # QuantizeAnnotate
        >>> x = np.ones((1, 3), "float32")
        >>> same = keras.ops.all(annotated(x) == dense(x))  # float: unchanged
        >>> bool(keras.ops.convert_to_numpy(same))
        True
    """

    def __init__(self, layer, quantize_config=None, **kwargs):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        if isinstance(quantize_config, dict):
            quantize_config = keras.saving.deserialize_keras_object(
                quantize_config
            )
        if quantize_config is not None and not isinstance(
            quantize_config, QuantizeConfig
        ):
            raise ValueError(
                "quantize_annotate_layer: `quantize_config` must be a "
                "kerasbig.optimize.QuantizeConfig. Received: "
                f"{type(quantize_config).__name__} for {layer.name!r}"
            )
        kwargs.setdefault("dtype", layer.dtype_policy)
        kwargs.setdefault("name", layer.name)
        super().__init__(layer, **kwargs)
        self.quantize_config = quantize_config

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.built = True

    def call(self, inputs, *args, **kwargs):
        return self.layer(inputs, *args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["quantize_config"] = (
            None
            if self.quantize_config is None
            else keras.saving.serialize_keras_object(self.quantize_config)
        )
        return config


def quantize_annotate_layer(to_annotate, quantize_config=None):
    """Marks a layer for quantization-aware training with its
    `QuantizeConfig` (tfmot's `quantize_annotate_layer`).

    Use it where you build the model; `quantize_aware(model)` then wraps
    the layer in `QuantizeWithConfig`, which fake-quantizes the weights
    and output the config names. Without a config, a layer
    `quantize_aware` knows is quantized as usual.

    Args:
        to_annotate: a Keras layer.
        quantize_config: a `QuantizeConfig` instance.

    Returns:
        A `QuantizeAnnotate` layer to call in place of `to_annotate`.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import (QuantizeConfig, quantize_aware,
        ...     quantize_annotate_layer)
        >>> @keras.saving.register_keras_serializable("example")
        ... class KernelOnly(QuantizeConfig):
        ...     def weights(self, layer):
        ...         return [(layer.kernel, False)]
        >>> inputs = keras.Input((4,))
        >>> dense = keras.layers.Dense(2)
        >>> outputs = quantize_annotate_layer(dense, KernelOnly())(inputs)
        >>> qat = quantize_aware(keras.Model(inputs, outputs))
        >>> type(qat.layers[-1].layers[-1]).__name__
        'QuantizeWithConfig'
    """
    if not isinstance(to_annotate, keras.layers.Layer):
        raise ValueError(
            "quantize_annotate_layer: expected a Keras layer. Received: "
            f"{type(to_annotate).__name__}"
        )
    return QuantizeAnnotate(to_annotate, quantize_config)


@keras.saving.register_keras_serializable(package="kerasbig")
class QuantizeWithConfig(OwnWeightsWrapper):
    """Trains a layer as it will run in int8, following its
    `QuantizeConfig`: the weights `config.weights(layer)` names are
    fake-quantized (symmetric, narrow range; per output channel or per
    tensor), and the output over a moving-average range when
    `config.quantize_output(layer)`. `quantize_aware` puts it in place of
    a `QuantizeAnnotate` that holds a config.

    Args:
        layer: the layer.
        quantize_config: its `QuantizeConfig`.
        ema_decay: decay of the output range's moving average.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import QuantizeConfig, QuantizeWithConfig
        >>> class KernelOnly(QuantizeConfig):
        ...     def weights(self, layer):
        ...         return [(layer.kernel, False)]
        >>> dense = keras.layers.Dense(2)
        >>> dense.build((None, 3))
        >>> layer = QuantizeWithConfig(dense, KernelOnly())
        >>> tuple(layer(np.ones((4, 3), "float32"), training=True).shape)
        (4, 2)
    """

    def __init__(self, layer, quantize_config, ema_decay=0.999, **kwargs):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        if isinstance(quantize_config, dict):
            quantize_config = keras.saving.deserialize_keras_object(
                quantize_config
            )
        super().__init__(layer, **kwargs)
        self.quantize_config = quantize_config
        self.ema_decay = ema_decay
        self._create_weights_if_built()

    def _create_weights(self):
        self.minimum, self.maximum, self.range_initialized = range_weights(self)

    def call(self, inputs, training=None):
        values = {
            id(variable): quantize_weights(variable.value, per_channel)
            for variable, per_channel in self.quantize_config.weights(
                self.layer
            )
        }
        outputs = call_with_values(
            self.layer, values, inputs, training=training
        )
        if self.quantize_config.quantize_output(self.layer):
            outputs = quantize_output(self, outputs, training)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "quantize_config": keras.saving.serialize_keras_object(
                    self.quantize_config
                ),
                "ema_decay": self.ema_decay,
            }
        )
        return config
