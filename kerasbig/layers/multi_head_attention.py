"""`MultiHeadAttention`: grouped-query, rotary, sliding-window and cached
attention on every backend."""

import keras
from keras import ops

from kerasbig import _backend
from kerasbig import _validation as checks
from kerasbig._kernel_options import KernelOptions
from kerasbig.layers._adaptable import AdaptableEinsumDense
from kerasbig.layers.rotary_embedding import RotaryEmbedding
from kerasbig.ops import attention as attention_ops
from kerasbig.ops import positions as position_ops


@keras.saving.register_keras_serializable(package="kerasbig")
class MultiHeadAttention(KernelOptions, keras.layers.Layer):
    """Multi-head attention with grouped-query heads, rotary positions and a
    key/value cache.

    Projects queries to `num_heads` heads and keys/values to
    `num_key_value_heads` heads (grouped-query attention when fewer,
    multi-query when 1), optionally rotates queries and keys with rotary
    position embeddings, and attends through
    `keras.ops.dot_product_attention`, so the backend's fused kernel runs
    where it has one (cuDNN flash attention on JAX, SDPA on torch). The
    explicit float32 softmax path is used only when attention scores are
    requested, attention dropout is active or `value_dim != key_dim`.

    With rotary and grouped-query attention off, the weights have the same
    shapes and order as `keras.layers.MultiHeadAttention` (query, key,
    value, attention_output) and the outputs are equal.

    Masks (boolean, True = real token / may attend) come from the inputs'
    Keras masks (e.g. `Embedding(mask_zero=True)`), from `value_mask` /
    `key_mask`, and from `attention_mask`. Padded keys are hidden from every
    query; padded queries still produce (meaningless) finite outputs and
    the output carries the query mask. A query that sees no key at all
    attends uniformly, so no NaN reaches the gradients.

    Incremental decoding: `init_cache(batch, max_length)` returns a zero
    cache of static shape `(batch, 2, max_length, num_key_value_heads,
    key_dim)`; `call(x, cache=cache, cache_index=i)` writes the keys and
    values of the `T` new tokens at positions `i..i+T-1`, attends to
    everything written so far (causally), and returns `(outputs, cache)`.
    Shapes never change between steps, so a compiled decode loop works.

    Args:
        num_heads: number of query heads, a positive int.
        key_dim: size of each query/key head, a positive int.
        value_dim: size of each value head; defaults to `key_dim`.
        num_key_value_heads: number of key/value heads, dividing
            `num_heads`; defaults to `num_heads`.
        output_dim: width of the output; defaults to the query width.
        dropout: dropout rate on the attention probabilities, in [0, 1).
        use_bias: whether the projections have biases. Defaults to `True`.
        output_bias: whether the output projection has a bias; defaults to
            `use_bias` (Qwen2 has query/key/value biases only).
        causal: whether each query only attends to keys at or before its
            position by default (see `use_causal_mask`). Defaults to
            `False`.
        sliding_window: optional positive int; a query only attends to keys
            less than this many positions away (Mistral-style local
            attention when combined with `causal`).
        rotary: whether to apply rotary position embeddings to queries and
            keys. Defaults to `False`.
        rotary_max_wavelength: rotary base wavelength. Defaults to `10000`.
        rotary_scaling_factor: rotary linear position scaling. Defaults to
            `1.0`.
        rotary_frequency_scaling: optional dict, Llama 3.1's rotary
            frequency scaling (see `RotaryEmbedding`).
        flash_attention: passed to `keras.ops.dot_product_attention`:
            `None` lets the backend decide, `True` requires the fused kernel,
            `False` disables it.
        kernel_initializer: initializer of the projection kernels.
        bias_initializer: initializer of the biases.
        kernel_regularizer: regularizer of the projection kernels.
        bias_regularizer: regularizer of the biases.
        kernel_constraint: constraint on the projection kernels.
        bias_constraint: constraint on the biases.
        seed: optional int seed of the attention dropout.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        query: `(batch, T, query_features)`.
        value: `(batch, S, value_features)` for cross-attention; `None`
            (default) for self-attention.
        key: `(batch, S, key_features)`; defaults to `value`.
        query_mask, value_mask, key_mask: boolean padding masks `(batch, T)`
            / `(batch, S)`; Keras fills them from the inputs' masks when
            several tensors are passed. With a cache, `value_mask` may
            cover the cache, `(batch, max_length)`.
        mask: the query's padding mask when the layer is called on the
            query alone (self-attention): Keras passes a lone tensor's mask
            here. Used when `query_mask` is not given.
        attention_mask: boolean `(batch, T, S)` (with a cache, S is the
            cache length); True = may attend.
        use_causal_mask: overrides `causal` for this call.
        cache: the key/value cache (self-attention only).
        cache_index: int or scalar int tensor, the position of the first
            new token in the cache. Required with `cache`.
        return_attention_scores: also return the attention probabilities
            `(batch, num_heads, T, S)`.
        training: whether attention dropout is active.

    Returns:
        `outputs` of shape `(batch, T, output_dim)`; `(outputs, scores)` with
        `return_attention_scores`; `(outputs, cache)` or
        `(outputs, scores, cache)` with a cache.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import MultiHeadAttention
        >>> attention = MultiHeadAttention(
        ...     num_heads=4, key_dim=8, num_key_value_heads=2,
        ...     causal=True, rotary=True)
        >>> x = np.ones((2, 6, 16), "float32")
        >>> tuple(attention(x).shape)
        (2, 6, 16)
        >>> cache = attention.init_cache(batch_size=2, max_length=10)
        >>> outputs, cache = attention(x, cache=cache, cache_index=0)
        >>> tuple(cache.shape)
        (2, 2, 10, 2, 8)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762):
          attention is all you need.
        - [Ainslie et al., 2023](https://arxiv.org/abs/2305.13245):
          grouped-query attention.
        - [Su et al., 2021](https://arxiv.org/abs/2104.09864): rotary
          position embeddings.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        num_key_value_heads=None,
        output_dim=None,
        dropout=0.0,
        use_bias=True,
        causal=False,
        sliding_window=None,
        rotary=False,
        rotary_max_wavelength=10000,
        rotary_scaling_factor=1.0,
        rotary_frequency_scaling=None,
        output_bias=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "MultiHeadAttention"
        checks.positive_int(owner, "num_heads", num_heads)
        checks.positive_int(owner, "key_dim", key_dim)
        checks.positive_int(owner, "value_dim", value_dim, allow_none=True)
        checks.positive_int(owner, "output_dim", output_dim, allow_none=True)
        checks.rate(owner, "dropout", dropout)
        checks.positive_int(
            owner, "sliding_window", sliding_window, allow_none=True
        )
        checks.positive_number(
            owner, "rotary_max_wavelength", rotary_max_wavelength
        )
        checks.positive_number(
            owner, "rotary_scaling_factor", rotary_scaling_factor
        )
        position_ops.check_frequency_scaling(
            owner, "rotary_frequency_scaling", rotary_frequency_scaling
        )
        checks.divisor(
            owner,
            "num_key_value_heads",
            num_key_value_heads,
            "num_heads",
            num_heads,
        )
        if rotary and key_dim % 2:
            raise ValueError(
                "MultiHeadAttention: `key_dim` must be even with "
                f"`rotary=True` (features rotate in pairs). Received: "
                f"key_dim={key_dim}"
            )
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.num_key_value_heads = num_key_value_heads
        self.output_dim = output_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.causal = causal
        self.sliding_window = sliding_window
        self.rotary = rotary
        self.rotary_max_wavelength = rotary_max_wavelength
        self.rotary_scaling_factor = rotary_scaling_factor
        self.rotary_frequency_scaling = rotary_frequency_scaling
        self.output_bias = output_bias
        self.flash_attention = flash_attention
        self.set_kernel_options(
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            kernel_constraint,
            bias_constraint,
        )
        self.seed = seed
        self.supports_masking = True

    @property
    def _kv_heads(self):
        return self.num_key_value_heads or self.num_heads

    @property
    def _output_bias(self):
        return self.use_bias if self.output_bias is None else self.output_bias

    @property
    def _value_dim(self):
        return self.value_dim or self.key_dim

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        for name, shape in (
            ("query", query_shape),
            ("value", value_shape),
            ("key", key_shape),
        ):
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(
                    f"MultiHeadAttention: `{name}` must have shape (batch, "
                    "sequence, features) with known features. Received: "
                    f"{name}_shape={tuple(shape)}"
                )
        if (
            key_shape[1] is not None
            and value_shape[1] is not None
            and key_shape[1] != value_shape[1]
        ):
            raise ValueError(
                "MultiHeadAttention: `key` and `value` must have the same "
                f"sequence length. Received: key_shape={tuple(key_shape)}, "
                f"value_shape={tuple(value_shape)}"
            )
        self.query_dense = self._projection(
            "query", query_shape, self.num_heads, self.key_dim
        )
        self.key_dense = self._projection(
            "key", key_shape, self._kv_heads, self.key_dim
        )
        self.value_dense = self._projection(
            "value", value_shape, self._kv_heads, self._value_dim
        )
        # b: batch, t: sequence, n: heads, h: head dim, d: output features.
        self.output_dense = AdaptableEinsumDense(
            "btnh,nhd->btd",
            output_shape=(None, self.output_dim or query_shape[-1]),
            bias_axes="d" if self._output_bias else None,
            dtype=self.dtype_policy,
            name="attention_output",
            **self.kernel_options(),
        )
        self.output_dense.build((None, None, self.num_heads, self._value_dim))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout,
            seed=self.seed,
            dtype=self.dtype_policy,
            name="dropout",
        )
        self.rotary_embedding = None
        if self.rotary:
            # (batch, seq, heads, head_dim): positions on axis 1.
            self.rotary_embedding = RotaryEmbedding(
                self.rotary_max_wavelength,
                self.rotary_scaling_factor,
                frequency_scaling=self.rotary_frequency_scaling,
                dtype=self.dtype_policy,
                name="rotary_embedding",
            )
        self.built = True

    def _projection(self, name, input_shape, heads, head_dim):
        # b: batch, t: sequence, d: input features, n: heads, h: head dim.
        dense = AdaptableEinsumDense(
            "btd,dnh->btnh",
            output_shape=(None, heads, head_dim),
            bias_axes="nh" if self.use_bias else None,
            dtype=self.dtype_policy,
            name=name,
            **self.kernel_options(),
        )
        dense.build(tuple(input_shape))
        # Each token is projected on its own, so a padding mask stays valid
        # (and Keras does not warn that the projection drops it).
        dense.supports_masking = True
        return dense

    def projections(self):
        """The layer's projections by role: `"query"`, `"key"`,
        `"value"` and `"attention_output"` (built layers). What LoRA
        adapts, checkpoint converters map and layout maps shard.

        Example:

            >>> from kerasbig.layers import MultiHeadAttention
            >>> layer = MultiHeadAttention(num_heads=2, key_dim=4)
            >>> layer.build((None, 3, 8))
            >>> list(layer.projections())
            ['query', 'key', 'value', 'attention_output']
        """
        return {
            "query": self.query_dense,
            "key": self.key_dense,
            "value": self.value_dense,
            "attention_output": self.output_dense,
        }

    def init_cache(self, batch_size, max_length, dtype=None):
        """A zero key/value cache for `batch_size` sequences of up to
        `max_length` tokens, shape `(batch, 2, max_length, kv_heads,
        key_dim)` in the compute dtype (or `dtype`)."""
        checks.positive_int("MultiHeadAttention", "max_length", max_length)
        self._check_cache_dims()
        return ops.zeros(
            (batch_size, 2, max_length, self._kv_heads, self.key_dim),
            dtype=dtype or self.compute_dtype,
        )

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=None,
        cache=None,
        cache_index=None,
        return_attention_scores=False,
        mask=None,
        training=None,
    ):
        causal = self.causal if use_causal_mask is None else use_causal_mask
        self_attention = value is None
        if cache is not None:
            self._check_cache_call(query, cache, cache_index, self_attention)
        # Keras fills `<argument>_mask` when several tensors are passed,
        # and `mask` when the query is the only one.
        value, key, padding = self._sources(
            query,
            value,
            key,
            mask if query_mask is None else query_mask,
            value_mask,
            key_mask,
            cached=cache is not None,
        )
        start = 0 if cache is None else cache_index
        query_heads, key_heads, value_heads = self._heads(
            query, key, value, start, self_attention
        )
        if cache is not None:
            cache, key_heads, value_heads = self._update_cache(
                cache, cache_index, key_heads, value_heads
            )
        # A fused causal kernel needs no mask tensor at all.
        fused_causal = (
            causal
            and cache is None
            and self.sliding_window is None
            and padding is None
            and attention_mask is None
            and _backend.has_fused_causal_attention()
        )
        mask = None
        if not fused_causal:
            mask = self._attention_mask(
                ops.shape(query_heads)[1],
                ops.shape(key_heads)[1],
                start,
                causal,
                cache is not None,
                padding,
                attention_mask,
            )
        outputs, scores = self._attend(
            query_heads,
            key_heads,
            value_heads,
            mask,
            fused_causal,
            return_attention_scores,
            training,
        )
        results = (self.output_dense(outputs),)
        if return_attention_scores:
            results += (scores,)
        if cache is not None:
            results += (cache,)
        return results[0] if len(results) == 1 else results

    def _sources(
        self, query, value, key, query_mask, value_mask, key_mask, cached
    ):
        """The value and key tensors (self-attention attends to the query)
        and the padding mask of the attended positions."""
        if value is None:
            value = query
            if value_mask is None and not cached:
                value_mask = query_mask
        if key is None:
            key, key_mask = value, None
        return value, key, attention_ops.combine_masks(value_mask, key_mask)

    def _heads(self, query, key, value, start, self_attention):
        """Projected heads: queries (b, t, n, h), keys (b, s, k, h) and
        values (b, s, k, v), rotated from position `start` when rotary."""
        query_heads = self.query_dense(query)
        key_heads = self.key_dense(key)
        value_heads = self.value_dense(value)
        if self.rotary:
            rotate = self.rotary_embedding
            query_heads = rotate(query_heads, start_index=start)
            key_heads = rotate(
                key_heads, start_index=start if self_attention else 0
            )
        return query_heads, key_heads, value_heads

    def _update_cache(self, cache, cache_index, key_heads, value_heads):
        """Writes the new keys and values at `cache_index`; attention then
        reads every cached position."""
        cache = ops.slice_update(
            cache,
            [0, 0, cache_index, 0, 0],
            ops.stack([key_heads, value_heads], axis=1),
        )
        return cache, cache[:, 0], cache[:, 1]

    def _attend(
        self,
        query_heads,
        key_heads,
        value_heads,
        mask,
        fused_causal,
        return_attention_scores,
        training,
    ):
        """`(outputs, scores)`: the fused kernel where it can serve (no
        scores wanted, no attention dropout, value heads the size of key
        heads, a dtype the backend's kernel runs), else explicit softmax
        attention."""
        dropout_active = self.dropout > 0 and training
        if (
            return_attention_scores
            or dropout_active
            or self._value_dim != self.key_dim
            or not _backend.fused_attention_supports(query_heads.dtype)
        ):
            return self._explicit_attention(
                query_heads,
                key_heads,
                value_heads,
                mask,
                fused_causal,
                training,
            )
        key_heads, value_heads = self._share_single_head(key_heads, value_heads)
        outputs = ops.dot_product_attention(
            query_heads,
            key_heads,
            value_heads,
            mask=mask,
            scale=self.key_dim**-0.5,
            is_causal=fused_causal,
            flash_attention=self.flash_attention,
        )
        return outputs, None

    def _attention_mask(
        self,
        query_length,
        key_length,
        start,
        causal,
        cached,
        padding,
        attention_mask,
    ):
        """The boolean `(batch or 1, 1, T, S)` mask, or None."""
        structural = attention_ops.position_mask(
            query_length,
            key_length,
            query_start=start,
            causal=causal,
            sliding_window=self.sliding_window,
        )
        if cached:
            # Slots after the last written token hold zeros, not tokens.
            written = ops.less(
                ops.arange(key_length, dtype="int32"),
                ops.add(start, query_length),
            )
            structural = attention_ops.combine_masks(structural, written)
        # expand_dims rather than `[None]` indexing: LiteRT has a builtin
        # for it on boolean tensors.
        parts = []
        if structural is not None:
            parts.append(ops.expand_dims(structural, (0, 1)))
        if padding is not None:
            parts.append(ops.expand_dims(padding, (1, 2)))
        if attention_mask is not None:
            parts.append(ops.expand_dims(attention_mask, 1))
        mask = attention_ops.combine_masks(*parts)
        if padding is None and attention_mask is None:
            return mask  # every query sees at least itself
        return attention_ops.attend_somewhere(mask)

    def _share_single_head(self, key_heads, value_heads):
        # Backends broadcast k < n key/value heads in groups, but not
        # every backend broadcasts a single shared head.
        if self._kv_heads == 1 and self.num_heads > 1:
            key_heads = ops.repeat(key_heads, self.num_heads, axis=2)
            value_heads = ops.repeat(value_heads, self.num_heads, axis=2)
        return key_heads, value_heads

    def _explicit_attention(
        self, query_heads, key_heads, value_heads, mask, causal, training
    ):
        groups = self.num_heads // self._kv_heads
        if groups > 1:
            key_heads = ops.repeat(key_heads, groups, axis=2)
            value_heads = ops.repeat(value_heads, groups, axis=2)
        if causal:
            mask = attention_ops.position_mask(
                ops.shape(query_heads)[1], ops.shape(key_heads)[1]
            )
        probabilities = attention_ops.attention_probabilities(
            query_heads, key_heads, self.key_dim**-0.5, mask
        )
        probabilities = ops.cast(probabilities, self.compute_dtype)
        dropped = self.dropout_layer(probabilities, training=training)
        # b: batch, n: heads, t: query, s: key, v: value head dim.
        outputs = ops.einsum("bnts,bsnv->btnv", dropped, value_heads)
        return outputs, probabilities

    def _check_cache_dims(self):
        if self._value_dim != self.key_dim:
            raise ValueError(
                "MultiHeadAttention: a key/value cache needs `value_dim` "
                f"equal to `key_dim` ({self.key_dim}). Received: "
                f"value_dim={self.value_dim}"
            )

    def _check_cache_call(self, query, cache, cache_index, self_attention):
        self._check_cache_dims()
        if not self_attention:
            raise ValueError(
                "MultiHeadAttention: the key/value cache is for "
                "self-attention; call with `value=None` when passing "
                "`cache`. Received: a `value` tensor"
            )
        if cache_index is None:
            raise ValueError(
                "MultiHeadAttention: `cache_index` (the position of the "
                "first new token) is required with `cache`. Received: "
                "cache_index=None"
            )
        expected = (query.shape[0], 2, None, self._kv_heads, self.key_dim)
        shape = tuple(cache.shape)
        if len(shape) != 5 or any(
            want is not None and got is not None and want != got
            for want, got in zip(expected, shape, strict=False)
        ):
            raise ValueError(
                "MultiHeadAttention: `cache` must have shape (batch, 2, "
                f"max_length, num_key_value_heads, key_dim) = {expected} "
                f"(see `init_cache`). Received: cache.shape={shape}"
            )

    def compute_output_shape(
        self, query_shape, value_shape=None, key_shape=None
    ):
        output_dim = self.output_dim or query_shape[-1]
        return tuple(query_shape[:-1]) + (output_dim,)

    def compute_output_spec(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=None,
        cache=None,
        cache_index=None,
        return_attention_scores=False,
        mask=None,
        training=None,
    ):
        outputs = keras.KerasTensor(
            self.compute_output_shape(query.shape), dtype=self.compute_dtype
        )
        results = (outputs,)
        if return_attention_scores:
            key_length = (
                cache.shape[2]
                if cache is not None
                else (query if value is None else value).shape[1]
            )
            results += (
                keras.KerasTensor(
                    (
                        query.shape[0],
                        self.num_heads,
                        query.shape[1],
                        key_length,
                    ),
                    dtype=self.compute_dtype,
                ),
            )
        if cache is not None:
            results += (keras.KerasTensor(cache.shape, dtype=cache.dtype),)
        return results[0] if len(results) == 1 else results

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "num_key_value_heads": self.num_key_value_heads,
                "output_dim": self.output_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "causal": self.causal,
                "sliding_window": self.sliding_window,
                "rotary": self.rotary,
                "rotary_max_wavelength": self.rotary_max_wavelength,
                "rotary_scaling_factor": self.rotary_scaling_factor,
                "rotary_frequency_scaling": self.rotary_frequency_scaling,
                "output_bias": self.output_bias,
                "flash_attention": self.flash_attention,
                **self.kernel_options_config(),
                "seed": self.seed,
            }
        )
        return config
