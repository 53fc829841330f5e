import keras

from kerasbig import _validation as checks
from kerasbig.layers._initializers import clone_initializer

_GATED = {"swiglu": "silu", "geglu": "gelu"}


@keras.saving.register_keras_serializable(package="kerasbig")
class FeedForward(keras.layers.Layer):
    """Position-wise feed-forward network of a transformer block.

    Plain: `down(dropout(activation(up(x))))`. Gated (GLU variants of
    Shazeer 2020): `down(dropout(act(gate(x)) * up(x)))` with
    `act = silu` for `"swiglu"` and `gelu` (tanh approximation off) for
    `"geglu"`. Dense projections act on the last axis, so any leading
    shape works.

    Args:
        intermediate_dim: width of the hidden projection, a positive int.
        activation: `"gelu"` (default), `"relu"`, `"swiglu"`, `"geglu"`, or
            any Keras activation name or callable (plain, ungated).
        output_dim: output width; defaults to the input width.
        dropout: dropout rate on the hidden activations, in [0, 1).
        use_bias: whether the projections have biases. Defaults to `True`.
        kernel_initializer: initializer of the projection kernels.
        bias_initializer: initializer of the biases.
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
        self.activation = keras.activations.get(
            _GATED.get(activation, activation)
        )
        self._activation_name = activation if self.gated else None
        self.output_dim = output_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                "FeedForward: the last input axis must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        names = ["gate", "up", "down"] if self.gated else ["up", "down"]
        widths = {
            "gate": self.intermediate_dim,
            "up": self.intermediate_dim,
            "down": self.output_dim or features,
        }
        for name in names:
            dense = keras.layers.Dense(
                widths[name],
                use_bias=self.use_bias,
                kernel_initializer=clone_initializer(self.kernel_initializer),
                bias_initializer=clone_initializer(self.bias_initializer),
                dtype=self.dtype_policy,
                name=f"{name}_proj",
            )
            in_features = self.intermediate_dim if name == "down" else features
            dense.build(tuple(input_shape[:-1]) + (in_features,))
            setattr(self, f"{name}_proj", dense)
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.built = True

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
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config
