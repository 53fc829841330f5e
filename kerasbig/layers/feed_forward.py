"""`FeedForward`: a transformer block's feed-forward network (GELU, SwiGLU,
...)."""

import keras

from kerasbig import _validation as checks
from kerasbig._kernel_options import KernelOptions
from kerasbig.layers._adaptable import AdaptableDense

_GATED = {"swiglu": "silu", "geglu": "gelu"}


def _gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


# Activations known by a name Keras lacks, saved by that name.
_NAMED = {"gelu_tanh": _gelu_tanh}


@keras.saving.register_keras_serializable(package="kerasbig")
class FeedForward(KernelOptions, keras.layers.Layer):
    """Position-wise feed-forward network of a transformer block.

    Plain: `down(dropout(activation(up(x))))`. Gated (GLU variants of
    Shazeer 2020): `down(dropout(act(gate(x)) * up(x)))` with
    `act = silu` for `"swiglu"` and `gelu` (tanh approximation off) for
    `"geglu"`. `"gelu_tanh"` is GELU's tanh approximation, ungated (GPT-2's
    `gelu_new`). Dense projections act on the last axis, so any leading
    shape works.

    Args:
        intermediate_dim: width of the hidden projection, a positive int.
        activation: `"gelu"` (default), `"gelu_tanh"`, `"relu"`,
            `"swiglu"`, `"geglu"`, or any Keras activation name or callable
            (plain, ungated).
        output_dim: output width; defaults to the input width.
        dropout: dropout rate on the hidden activations, in [0, 1).
        use_bias: whether the projections have biases. Defaults to `True`.
        kernel_initializer: initializer of the projection kernels.
        bias_initializer: initializer of the biases.
        kernel_regularizer: regularizer of the projection kernels.
        bias_regularizer: regularizer of the biases.
        kernel_constraint: constraint on the projection kernels.
        bias_constraint: constraint on the biases.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(..., features)`.
        training: whether dropout is active.

    Returns:
        Tensor of shape `(..., output_dim)`. Masks pass through unchanged.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import FeedForward
        >>> ffn = FeedForward(intermediate_dim=32, activation="swiglu")
        >>> tuple(ffn(np.ones((2, 5, 8), "float32")).shape)
        (2, 5, 8)

    References:
        - [Shazeer, 2020](https://arxiv.org/abs/2002.05202): GLU variants.
    """

    def __init__(
        self,
        intermediate_dim,
        activation="gelu",
        output_dim=None,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        checks.positive_int("FeedForward", "intermediate_dim", intermediate_dim)
        checks.positive_int(
            "FeedForward", "output_dim", output_dim, allow_none=True
        )
        checks.rate("FeedForward", "dropout", dropout)
        self.intermediate_dim = intermediate_dim
        self.gated = activation in _GATED
        if activation in _NAMED:
            self.activation = _NAMED[activation]
        else:
            self.activation = keras.activations.get(
                _GATED.get(activation, activation)
            )
        named = self.gated or activation in _NAMED
        self._activation_name = activation if named else None
        self.output_dim = output_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.set_kernel_options(
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            kernel_constraint,
            bias_constraint,
        )
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                "FeedForward: the last input axis must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        inputs_shape = tuple(input_shape)
        self.gate_proj = None
        if self.gated:
            self.gate_proj = self._projection(
                "gate_proj", self.intermediate_dim
            )
            self.gate_proj.build(inputs_shape)
        self.up_proj = self._projection("up_proj", self.intermediate_dim)
        self.up_proj.build(inputs_shape)
        self.down_proj = self._projection(
            "down_proj", self.output_dim or features
        )
        self.down_proj.build(inputs_shape[:-1] + (self.intermediate_dim,))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.built = True

    def projections(self):
        """The layer's projections by role: `"gate"` (gated
        activations only), `"up"` and `"down"` (built layers).

        Example:

            >>> from kerasbig.layers import FeedForward
            >>> layer = FeedForward(intermediate_dim=16, activation="swiglu")
            >>> layer.build((None, 8))
            >>> list(layer.projections())
            ['gate', 'up', 'down']
        """
        found = {
            "gate": self.gate_proj,
            "up": self.up_proj,
            "down": self.down_proj,
        }
        return {
            role: dense for role, dense in found.items() if dense is not None
        }

    def call(self, inputs, training=None):
        if self.gated:
            hidden = self.activation(self.gate_proj(inputs)) * self.up_proj(
                inputs
            )
        else:
            hidden = self.activation(self.up_proj(inputs))
        if self.dropout > 0:  # a rate-0 layer call still costs in eager mode
            hidden = self.dropout_layer(hidden, training=training)
        return self.down_proj(hidden)

    def _projection(self, name, units):
        return AdaptableDense(
            units,
            use_bias=self.use_bias,
            dtype=self.dtype_policy,
            name=name,
            **self.kernel_options(),
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": self._activation_name
                or keras.activations.serialize(self.activation),
                "output_dim": self.output_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                **self.kernel_options_config(),
            }
        )
        return config
