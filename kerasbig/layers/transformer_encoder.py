"""`TransformerEncoder`: a stack of bidirectional `TransformerBlock`s with a
final norm."""

import keras

from kerasbig.layers._transformer_stack import TransformerStack


@keras.saving.register_keras_serializable(package="kerasbig")
class TransformerEncoder(TransformerStack):
    """A stack of `num_layers` encoder `TransformerBlock`s.

    Every token attends to every unmasked token. The arguments after
    `intermediate_dim` are keyword-only; the block options among them
    (`key_dim` ... `bias_constraint`) are `TransformerBlock`'s, with its
    defaults and checks, and go to every block. Pre-norm stacks
    (`normalize_first=True`) end with a final normalization, since their
    blocks leave the residual stream unnormalized. Stochastic depth rises
    linearly from 0 at the first block to `stochastic_depth` at the last.
    Block `i` is the sublayer `block_{i}`.

    Args:
        num_layers: number of blocks, a positive int.
        num_heads: attention heads per block.
        intermediate_dim: feed-forward hidden width.
        key_dim: attention head size; defaults to `hidden_dim // num_heads`.
        num_key_value_heads: key/value heads (grouped-query attention).
        normalize_first: pre-norm blocks and a final norm. Defaults to
            `False` (post-norm).
        normalization: `"layer_norm"` (default) or `"rms_norm"`.
        layer_norm_epsilon: epsilon of the normalization layers.
        activation: feed-forward activation (see `FeedForward`).
        dropout: residual dropout rate.
        attention_dropout: attention-probability dropout rate.
        stochastic_depth: drop rate of the last block's residual branches.
        rotary: rotary position embeddings in self-attention.
        rotary_max_wavelength: rotary base wavelength.
        sliding_window: optional local attention window.
        use_bias: whether dense projections have biases.
        flash_attention: see `MultiHeadAttention`.
        kernel_initializer: initializer of every kernel.
        bias_initializer: initializer of every bias.
        kernel_regularizer: regularizer of every kernel.
        bias_regularizer: regularizer of every bias.
        kernel_constraint: constraint on every kernel.
        bias_constraint: constraint on every bias.
        seed: optional int seed of the random draws.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, seq, hidden_dim)`.
        inputs_mask: boolean `(batch, seq)` padding mask; Keras fills it
            from the inputs' mask when several tensors are passed.
        mask: the same padding mask when the inputs are the only tensor
            passed (Keras fills `mask` then); used when `inputs_mask` is
            not given.
        attention_mask: boolean `(batch, seq, seq)`, True = may attend.
        training: whether dropout and stochastic depth are active.

    Returns:
        `(batch, seq, hidden_dim)`, carrying the input mask.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import TransformerEncoder
        >>> encoder = TransformerEncoder(
        ...     num_layers=2, num_heads=4, intermediate_dim=64)
        >>> tuple(encoder(np.ones((2, 10, 32), "float32")).shape)
        (2, 10, 32)
    """

    def build(self, inputs_shape):
        self._build_stack(inputs_shape)

    def call(
        self,
        inputs,
        inputs_mask=None,
        attention_mask=None,
        mask=None,
        training=None,
    ):
        return self._run(
            inputs,
            inputs_mask=mask if inputs_mask is None else inputs_mask,
            attention_mask=attention_mask,
            training=training,
        )

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape)
