"""`SinusoidalPositionEmbedding`: the fixed sine/cosine positions of Vaswani et
al."""

import keras

from kerasbig import _validation as checks
from kerasbig.ops import positions as position_ops


@keras.saving.register_keras_serializable(package="kerasbig")
class SinusoidalPositionEmbedding(keras.layers.Layer):
    """Fixed sinusoidal position embeddings (no weights).

    Returns, for an input of shape `(..., seq, features)`, the encodings of
    "Attention Is All You Need" broadcast to that shape: feature `2i` is
    `sin(p / max_wavelength ** (2i / features))` and feature `2i + 1` is
    the cosine of the same angle, as in keras-hub's `SinePositionEncoding`.
    Add the result to the token embeddings. Computed in float32, returned in
    the compute dtype.

    Args:
        max_wavelength: the longest wavelength, a positive number.
            Defaults to `10000`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: a tensor of shape `(..., seq, features)`; only its shape is
            used.
        start_index: int or scalar int tensor, the position of the first
            token (for cached decoding). Defaults to `0`.
        positions: optional tensor of positions, shape `(seq,)` or
            `(batch, seq)`; overrides `start_index`.

    Returns:
        The position encodings, same shape as `inputs`. The input mask
        passes through unchanged.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.layers import SinusoidalPositionEmbedding
        >>> tokens = np.zeros((2, 10, 16), "float32")
        >>> x = ops.add(tokens, SinusoidalPositionEmbedding()(tokens))
        >>> tuple(x.shape)
        (2, 10, 16)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        checks.positive_number(
            "SinusoidalPositionEmbedding", "max_wavelength", max_wavelength
        )
        self.max_wavelength = max_wavelength
        self.supports_masking = True
        self.built = True

    def call(self, inputs, start_index=0, positions=None):
        shape = keras.ops.shape(inputs)
        if positions is None:
            positions = position_ops.sequence_positions(shape[-2], start_index)
        table = position_ops.sinusoidal_table(
            positions, inputs.shape[-1], self.max_wavelength
        )
        return keras.ops.broadcast_to(
            keras.ops.cast(table, self.compute_dtype), shape
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
