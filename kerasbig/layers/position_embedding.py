"""`PositionEmbedding`: a learned table of position vectors."""

import keras

from kerasbig import _validation as checks


@keras.saving.register_keras_serializable(package="kerasbig")
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute position embeddings.

    Holds a trainable table of shape `(sequence_length, features)` and
    returns, for an input of shape `(..., seq, features)`, the rows for
    positions `start_index .. start_index + seq - 1` broadcast to the input
    shape. Add the result to the token embeddings. Equal to
    `keras_hub.layers.PositionEmbedding` on the same table.

    Args:
        sequence_length: the number of positions in the table, a positive
            int; longer inputs raise a `ValueError`.
        initializer: initializer of the table. Defaults to
            `"glorot_uniform"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: a tensor of shape `(..., seq, features)`; only its shape is
            used.
        start_index: int or scalar int tensor, the position of the first
            token (for cached decoding). Defaults to `0`.
        positions: optional int tensor of positions, shape `(seq,)` or
            `(batch, seq)`; overrides `start_index`.

    Returns:
        The position embeddings, same shape as `inputs`. The input mask
        passes through unchanged.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import PositionEmbedding
        >>> tokens = np.zeros((2, 10, 16), "float32")
        >>> tuple(PositionEmbedding(sequence_length=64)(tokens).shape)
        (2, 10, 16)
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        checks.positive_int(
            "PositionEmbedding", "sequence_length", sequence_length
        )
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                "PositionEmbedding: expected inputs of shape "
                "(..., seq, features) with a known feature size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self._check_length(input_shape[-2])
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, input_shape[-1]),
            initializer=self.initializer,
        )
        self.built = True

    def call(self, inputs, start_index=0, positions=None):
        shape = keras.ops.shape(inputs)
        # A variable is not an array to jax.lax.dynamic_slice.
        embeddings = keras.ops.convert_to_tensor(self.embeddings)
        if positions is None:
            self._check_length(inputs.shape[-2], start_index)
            table = keras.ops.slice(
                embeddings, (start_index, 0), (shape[-2], shape[-1])
            )
        else:
            table = keras.ops.take(
                embeddings, keras.ops.cast(positions, "int32"), axis=0
            )
        return keras.ops.broadcast_to(
            keras.ops.cast(table, self.compute_dtype), shape
        )

    def _check_length(self, length, start_index=0):
        # Checked whenever the length (and start) are static; a traced
        # start_index under jit cannot be checked here.
        if not isinstance(start_index, int) or length is None:
            return
        if start_index + length > self.sequence_length:
            raise ValueError(
                f"PositionEmbedding '{self.name}': the sequence is longer "
                f"than the position table: positions up to "
                f"{start_index + length - 1} requested, table has "
                f"sequence_length={self.sequence_length}. Received: "
                f"sequence length {length}, start_index={start_index}"
            )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
