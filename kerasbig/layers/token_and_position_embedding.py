"""`TokenAndPositionEmbedding`: token table plus position table, with padding
masks."""

import keras

from kerasbig import _validation as checks
from kerasbig.layers._initializers import clone_initializer
from kerasbig.layers.embedding import Embedding
from kerasbig.layers.position_embedding import PositionEmbedding
from kerasbig.layers.sinusoidal_position_embedding import (
    SinusoidalPositionEmbedding,
)

_POSITION_KINDS = ("learned", "sinusoidal", "none")


@keras.saving.register_keras_serializable(package="kerasbig")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embeddings plus position embeddings.

    Embeds integer token ids with an `Embedding` (Keras's, with exact
    optimizer updates on TensorFlow) and adds
    learned (`PositionEmbedding`) or fixed (`SinusoidalPositionEmbedding`)
    position embeddings, or none (for models that use rotary attention).
    With `position="learned"` it equals
    `keras_hub.layers.TokenAndPositionEmbedding` on the same weights.

    Args:
        vocabulary_size: number of token ids, a positive int.
        sequence_length: longest sequence, a positive int (size of the
            learned position table; also checked for sinusoidal).
        embedding_dim: output features, a positive int.
        position: `"learned"` (default), `"sinusoidal"` or `"none"`.
        mask_zero: whether token id 0 is padding; if so the output carries a
            mask (True = real token). Defaults to `False`.
        embeddings_initializer: initializer of the token and learned
            position tables. Defaults to `"uniform"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: int tensor of token ids, shape `(batch, seq)`.
        start_index: int or scalar int tensor, the position of the first
            token (for cached decoding). Defaults to `0`.
        reverse: when True, `inputs` are hidden states `(..., embedding_dim)`
            and the result is their logits against the token table,
            `inputs @ token_embeddings.T` (tied input and output
            embeddings, as GPT-2). Defaults to `False`.
        training: in training the token table's gradient is dense on
            TensorFlow (`kerasbig.layers.Embedding`), so Adam updates a
            token seen twice in a batch as JAX and PyTorch do.

    Returns:
        Float tensor of shape `(batch, seq, embedding_dim)`, with a mask
        when `mask_zero=True`; `(..., vocabulary_size)` logits with
        `reverse=True`.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import TokenAndPositionEmbedding
        >>> ids = np.array([[5, 2, 9, 0, 0]])
        >>> embed = TokenAndPositionEmbedding(
        ...     vocabulary_size=10, sequence_length=8, embedding_dim=4,
        ...     mask_zero=True)
        >>> tuple(embed(ids).shape)
        (1, 5, 4)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        position="learned",
        mask_zero=False,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "TokenAndPositionEmbedding"
        checks.positive_int(owner, "vocabulary_size", vocabulary_size)
        checks.positive_int(owner, "sequence_length", sequence_length)
        checks.positive_int(owner, "embedding_dim", embedding_dim)
        checks.one_of(owner, "position", position, _POSITION_KINDS)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.position = position
        self.mask_zero = mask_zero
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )
        self.supports_masking = mask_zero
        self.token_embedding = Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=clone_initializer(
                self.embeddings_initializer
            ),
            mask_zero=mask_zero,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        if position == "learned":
            self.position_embedding = PositionEmbedding(
                sequence_length,
                initializer=clone_initializer(self.embeddings_initializer),
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        elif position == "sinusoidal":
            self.position_embedding = SinusoidalPositionEmbedding(
                dtype=self.dtype_policy, name="position_embedding"
            )
        else:
            self.position_embedding = None

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "TokenAndPositionEmbedding: expected token ids of shape "
                f"(batch, seq). Received: input_shape={tuple(input_shape)}"
            )
        length = input_shape[1]
        if length is not None and length > self.sequence_length:
            raise ValueError(
                f"TokenAndPositionEmbedding '{self.name}': the sequence is "
                "longer than the position table. Expected at most "
                f"sequence_length={self.sequence_length} tokens. Received: "
                f"input_shape={tuple(input_shape)}"
            )
        self.token_embedding.build(input_shape)
        if self.position_embedding is not None:
            self.position_embedding.build(
                tuple(input_shape) + (self.embedding_dim,)
            )
        self.built = True

    def call(self, inputs, start_index=0, reverse=False, training=None):
        if reverse:
            return self._reverse(inputs)
        embedded = self.token_embedding(inputs, training=training)
        if self.position_embedding is None:
            return embedded
        return embedded + self.position_embedding(
            embedded, start_index=start_index
        )

    def _reverse(self, hidden):
        embedding = self.token_embedding
        if embedding.quantization_mode is None:
            table = keras.ops.cast(embedding.embeddings, self.compute_dtype)
            return keras.ops.matmul(hidden, keras.ops.transpose(table))
        # A quantized Embedding's `embeddings` are its integers. With one
        # scale per row (`row = integers / scale`) the scale divides the
        # logits; otherwise the layer itself dequantizes every row.
        scale = getattr(embedding, "embeddings_scale", None)
        if scale is not None and len(scale.shape) == 1:
            table = keras.ops.cast(embedding.embeddings, self.compute_dtype)
            logits = keras.ops.matmul(hidden, keras.ops.transpose(table))
            return logits / keras.ops.cast(scale, self.compute_dtype)
        table = embedding(keras.ops.arange(self.vocabulary_size))
        return keras.ops.matmul(
            hidden, keras.ops.transpose(keras.ops.cast(table, hidden.dtype))
        )

    def compute_mask(self, inputs, mask=None):
        if not keras.backend.is_int_dtype(inputs.dtype):
            return None  # reverse=True: logits of hidden states
        return self.token_embedding.compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return tuple(input_shape[:-1]) + (self.vocabulary_size,)
        return tuple(input_shape) + (self.embedding_dim,)

    def compute_output_spec(
        self, inputs, start_index=0, reverse=False, training=None
    ):
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape, reverse),
            dtype=self.compute_dtype,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "position": self.position,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config
