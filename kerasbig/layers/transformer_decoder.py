"""`TransformerDecoder`: a stack of causal `TransformerBlock`s with a final
norm."""

import keras

from kerasbig.layers._transformer_stack import TransformerStack


@keras.saving.register_keras_serializable(package="kerasbig")
class TransformerDecoder(TransformerStack):
    """A stack of `num_layers` decoder (causal) `TransformerBlock`s, with
    optional cross-attention and a key/value cache for generation.

    Decoder-only language models use it without `context`; sequence-to-
    sequence models set `cross_attention=True` and pass the encoder outputs
    as `context`. For incremental decoding, `init_cache(batch, max_length)`
    returns a zero cache of static shape `(batch, num_layers, 2,
    max_length, num_key_value_heads, key_dim)`; calling with
    `cache=cache, cache_index=i` processes new tokens at positions
    `i, i+1, ...` and returns `(outputs, cache)`.

    Args:
        num_layers: number of blocks, a positive int.
        num_heads: attention heads per block.
        intermediate_dim: feed-forward hidden width.
        cross_attention: add cross-attention over `context` to every block.
            Defaults to `False`.
        **kwargs: the other (keyword-only) arguments of
            `TransformerEncoder`: `stochastic_depth`, `seed` and the block
            options of `TransformerBlock` (`key_dim`,
            `num_key_value_heads`, `normalize_first`, `normalization`,
            `activation`, `dropout`, `rotary`, ...), and base layer
            arguments.

    Call arguments:
        inputs: `(batch, seq, hidden_dim)`.
        context: `(batch, context_seq, context_dim)` with cross-attention.
        inputs_mask: boolean `(batch, seq)` padding mask; Keras fills it
            from the inputs' mask when several tensors are passed.
        mask: the same padding mask when the inputs are the only tensor
            passed (Keras fills `mask` then); used when `inputs_mask` is
            not given.
        context_mask: boolean `(batch, context_seq)` padding mask.
        attention_mask: boolean `(batch, seq, seq)`, True = may attend.
        cache: key/value cache from `init_cache`.
        cache_index: position of the first new token; required with
            `cache`.
        training: whether dropout and stochastic depth are active.

    Returns:
        `(batch, seq, hidden_dim)`, or `(outputs, cache)` with a cache.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import TransformerDecoder
        >>> decoder = TransformerDecoder(
        ...     num_layers=2, num_heads=4, intermediate_dim=64,
        ...     normalize_first=True, rotary=True)
        >>> x = np.ones((2, 10, 32), "float32")
        >>> tuple(decoder(x).shape)
        (2, 10, 32)
        >>> cache = decoder.init_cache(batch_size=2, max_length=16)
        >>> outputs, cache = decoder(x, cache=cache, cache_index=0)
        >>> tuple(cache.shape)
        (2, 2, 2, 16, 4, 8)
    """

    causal = True
    takes_context = True

    def build(self, inputs_shape, context_shape=None):
        self._build_stack(inputs_shape, context_shape)

    def init_cache(self, batch_size, max_length, dtype=None):
        """A zero key/value cache for every block, shape `(batch,
        num_layers, 2, max_length, num_key_value_heads, key_dim)`."""
        if not self.built:
            raise ValueError(
                "TransformerDecoder: build the layer (call it once or call "
                "`build(inputs_shape)`) before `init_cache`, so the head "
                "size is known. Received: an unbuilt layer"
            )
        return keras.ops.stack(
            [
                block.init_cache(batch_size, max_length, dtype)
                for block in self.blocks
            ],
            axis=1,
        )

    def call(
        self,
        inputs,
        context=None,
        inputs_mask=None,
        context_mask=None,
        attention_mask=None,
        cache=None,
        cache_index=None,
        mask=None,
        training=None,
    ):
        return self._run(
            inputs,
            context,
            inputs_mask=mask if inputs_mask is None else inputs_mask,
            context_mask=context_mask,
            attention_mask=attention_mask,
            cache=cache,
            cache_index=cache_index,
            training=training,
        )

    def compute_output_shape(self, inputs_shape, context_shape=None):
        return tuple(inputs_shape)
