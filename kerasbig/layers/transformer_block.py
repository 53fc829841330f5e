"""`TransformerBlock`: one pre- or post-norm transformer block (attention,
feed-forward, residuals, remat)."""

import keras

from kerasbig import _validation as checks
from kerasbig._kernel_options import KernelOptions
from kerasbig.layers._normalization import NORMALIZATIONS
from kerasbig.layers._normalization import make_normalization
from kerasbig.layers.feed_forward import FeedForward
from kerasbig.layers.multi_head_attention import MultiHeadAttention
from kerasbig.layers.stochastic_depth import StochasticDepth
from kerasbig.ops import positions as position_ops


@keras.saving.register_keras_serializable(package="kerasbig")
class TransformerBlock(KernelOptions, keras.layers.Layer):
    """One transformer block: self-attention, optional cross-attention and a
    feed-forward network, each in a residual branch.

    Post-norm (`normalize_first=False`, the original Transformer and
    `keras_hub.layers.TransformerEncoder`):
    `x = norm(x + drop(branch(x)))`. Pre-norm (`normalize_first=True`,
    GPT-2/LLaMA style, trains deeper stacks stably):
    `x = x + drop(branch(norm(x)))`. Residual dropout is applied to each
    branch output, then stochastic depth drops whole branches per sample.

    An encoder block (`causal=False`) attends to every unmasked token; a
    decoder block (`causal=True`) attends only to earlier tokens and can
    decode incrementally with a key/value cache (see
    `MultiHeadAttention`). With `cross_attention=True` the block also
    attends to a `context` sequence (the encoder outputs).

    Masks: the inputs' Keras mask (or `inputs_mask`) hides padded tokens
    from attention and is carried by the output; `context_mask` does the
    same for the context.

    Args:
        num_heads: number of attention heads, a positive int.
        intermediate_dim: width of the feed-forward hidden layer.
        key_dim: size of each attention head; defaults to
            `hidden_dim // num_heads`, which must then divide evenly.
        num_key_value_heads: key/value heads for grouped-query attention;
            defaults to `num_heads`.
        causal: decoder block (causal self-attention). Defaults to `False`.
        cross_attention: add a cross-attention branch over `context`.
            Defaults to `False`.
        normalize_first: pre-norm instead of post-norm. Defaults to `False`.
        normalization: `"layer_norm"` (default) or `"rms_norm"`.
        layer_norm_epsilon: epsilon of the normalization layers.
        activation: feed-forward activation: `"gelu"` (default), `"relu"`,
            `"swiglu"`, `"geglu"` or any Keras activation.
        dropout: residual dropout rate on each branch output.
        attention_dropout: dropout rate on the attention probabilities.
        stochastic_depth: probability of dropping each residual branch for
            a sample during training.
        rotary: rotary position embeddings in the attention layers.
        rotary_max_wavelength: rotary base wavelength.
        rotary_scaling_factor: rotary linear position scaling. Defaults to
            `1.0`.
        rotary_frequency_scaling: optional dict, Llama 3.1's rotary
            frequency scaling (see `RotaryEmbedding`).
        sliding_window: optional local self-attention window.
        use_bias: whether dense projections have biases; the three options
            below override it per projection group.
        attention_bias: biases on the query, key and value projections;
            defaults to `use_bias`.
        attention_output_bias: a bias on the attention output projection;
            defaults to `use_bias`.
        feed_forward_bias: biases in the feed-forward network; defaults to
            `use_bias`.
        flash_attention: see `MultiHeadAttention`.
        kernel_initializer: initializer of every kernel.
        bias_initializer: initializer of every bias.
        kernel_regularizer: regularizer of every kernel.
        bias_regularizer: regularizer of every bias.
        kernel_constraint: constraint on every kernel.
        bias_constraint: constraint on every bias.
        seed: optional int seed of the dropout and stochastic depth draws.
        remat: when True, a training call keeps only the block's inputs
            for the backward pass and recomputes its activations there
            (`keras.remat`: `jax.checkpoint`, `tf.recompute_grad`,
            `torch.utils.checkpoint`), trading compute for activation
            memory; results are unchanged, dropout included. Keras's own
            `keras.RematScope` cannot wrap this block: it hands `training`
            and the masks to the rematerialised function, which JAX and
            TensorFlow cannot trace.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, seq, hidden_dim)`.
        context: `(batch, context_seq, context_dim)`, required with
            `cross_attention=True`.
        inputs_mask: boolean `(batch, seq)` padding mask; Keras fills it
            from the inputs' mask when several tensors are passed.
        mask: the same padding mask when the inputs are the only tensor
            passed (Keras fills `mask` then); used when `inputs_mask` is
            not given.
        context_mask: boolean `(batch, context_seq)` padding mask.
        attention_mask: boolean `(batch, seq, seq)` self-attention mask.
        cache: self-attention key/value cache from `init_cache`.
        cache_index: position of the first new token in the cache.
        training: whether dropout and stochastic depth are active.

    Returns:
        `(batch, seq, hidden_dim)`, or `(outputs, cache)` with a cache.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import TransformerBlock
        >>> block = TransformerBlock(
        ...     num_heads=4, intermediate_dim=64, causal=True,
        ...     normalize_first=True, normalization="rms_norm",
        ...     activation="swiglu", rotary=True)
        >>> tuple(block(np.ones((2, 10, 32), "float32")).shape)
        (2, 10, 32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762).
        - [Xiong et al., 2020](https://arxiv.org/abs/2002.04745): pre-norm.
        - [Huang et al., 2016](https://arxiv.org/abs/1603.09382):
          stochastic depth.
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        num_key_value_heads=None,
        causal=False,
        cross_attention=False,
        normalize_first=False,
        normalization="layer_norm",
        layer_norm_epsilon=1e-5,
        activation="gelu",
        dropout=0.0,
        attention_dropout=0.0,
        stochastic_depth=0.0,
        rotary=False,
        rotary_max_wavelength=10000,
        rotary_scaling_factor=1.0,
        rotary_frequency_scaling=None,
        sliding_window=None,
        use_bias=True,
        attention_bias=None,
        attention_output_bias=None,
        feed_forward_bias=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        remat=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "TransformerBlock"
        if not isinstance(remat, bool):
            raise ValueError(
                f"{owner}: `remat` must be True or False. Received: "
                f"remat={remat!r}"
            )
        checks.positive_int(owner, "num_heads", num_heads)
        checks.positive_int(owner, "intermediate_dim", intermediate_dim)
        checks.positive_int(owner, "key_dim", key_dim, allow_none=True)
        checks.one_of(owner, "normalization", normalization, NORMALIZATIONS)
        checks.positive_number(owner, "layer_norm_epsilon", layer_norm_epsilon)
        checks.positive_number(
            owner, "rotary_scaling_factor", rotary_scaling_factor
        )
        position_ops.check_frequency_scaling(
            owner, "rotary_frequency_scaling", rotary_frequency_scaling
        )
        for name, value in (
            ("dropout", dropout),
            ("attention_dropout", attention_dropout),
            ("stochastic_depth", stochastic_depth),
        ):
            checks.rate(owner, name, value)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.key_dim = key_dim
        self.num_key_value_heads = num_key_value_heads
        self.causal = causal
        self.use_cross_attention = cross_attention
        self.normalize_first = normalize_first
        self.normalization = normalization
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.stochastic_depth = stochastic_depth
        self.rotary = rotary
        self.rotary_max_wavelength = rotary_max_wavelength
        self.rotary_scaling_factor = rotary_scaling_factor
        self.rotary_frequency_scaling = rotary_frequency_scaling
        self.sliding_window = sliding_window
        self.use_bias = use_bias
        self.attention_bias = attention_bias
        self.attention_output_bias = attention_output_bias
        self.feed_forward_bias = feed_forward_bias
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
        self.remat = remat
        self._recomputing = False
        self.supports_masking = True
        checks.divisor(
            owner,
            "num_key_value_heads",
            num_key_value_heads,
            "num_heads",
            num_heads,
        )
        # `dropout` is residual dropout; the hidden layer is not dropped
        # (BERT, keras-hub), so the feed-forward gets none of its own.
        self.feed_forward = FeedForward(
            intermediate_dim,
            activation=activation,
            use_bias=self._bias(feed_forward_bias),
            dtype=self.dtype_policy,
            name="feed_forward",
            **self.kernel_options(),
        )

    def _bias(self, override):
        return self.use_bias if override is None else override

    def _seed(self, offset):
        return None if self.seed is None else self.seed + offset

    def _attention(self, name, key_dim, offset):
        self_attention = name == "self_attention"
        return MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            num_key_value_heads=self.num_key_value_heads,
            dropout=self.attention_dropout,
            use_bias=self._bias(self.attention_bias),
            output_bias=self._bias(self.attention_output_bias),
            causal=self.causal and self_attention,
            sliding_window=self.sliding_window if self_attention else None,
            rotary=self.rotary and self_attention,
            rotary_max_wavelength=self.rotary_max_wavelength,
            rotary_scaling_factor=self.rotary_scaling_factor,
            rotary_frequency_scaling=self.rotary_frequency_scaling,
            flash_attention=self.flash_attention,
            seed=self._seed(offset),
            dtype=self.dtype_policy,
            name=name,
            **self.kernel_options(),
        )

    def build(self, inputs_shape, context_shape=None):
        if len(inputs_shape) != 3 or inputs_shape[-1] is None:
            raise ValueError(
                "TransformerBlock: `inputs` must have shape (batch, sequence, "
                "hidden_dim) with a known hidden_dim. Received: "
                f"inputs_shape={tuple(inputs_shape)}"
            )
        hidden_dim = inputs_shape[-1]
        key_dim = self.key_dim
        if key_dim is None:
            if hidden_dim % self.num_heads:
                raise ValueError(
                    "TransformerBlock: the hidden size must be divisible by "
                    f"`num_heads` ({self.num_heads}) when `key_dim` is not "
                    f"given. Received: hidden_dim={hidden_dim}"
                )
            key_dim = hidden_dim // self.num_heads
        if self.use_cross_attention and context_shape is None:
            raise ValueError(
                "TransformerBlock: `cross_attention=True` needs a `context` "
                "tensor in the first call. Received: context=None"
            )
        self.self_attention = self._attention("self_attention", key_dim, 0)
        self.self_attention.build(inputs_shape)
        # The attention layers, like the branches: None when absent.
        self.cross_attention = None
        if self.use_cross_attention:
            self.cross_attention = self._attention(
                "cross_attention", key_dim, 1
            )
            self.cross_attention.build(inputs_shape, context_shape)
        self.feed_forward.build(inputs_shape)
        # Seeds 2, 3 (and 4 with cross-attention) in branch order.
        self.self_attention_norm = self._norm("self_attention", inputs_shape)
        self.self_attention_dropout = self._dropout("self_attention", 2)
        self.cross_attention_norm = self.cross_attention_dropout = None
        if self.use_cross_attention:
            self.cross_attention_norm = self._norm(
                "cross_attention", inputs_shape
            )
            self.cross_attention_dropout = self._dropout("cross_attention", 3)
        self.feed_forward_norm = self._norm("feed_forward", inputs_shape)
        self.feed_forward_dropout = self._dropout(
            "feed_forward", 4 if self.use_cross_attention else 3
        )
        self.stochastic_depth_layer = StochasticDepth(
            self.stochastic_depth,
            seed=self._seed(5),
            dtype=self.dtype_policy,
            name="stochastic_depth",
        )
        self.built = True

    def projections(self):
        """The self-attention's and the feed-forward's projections by
        role (`MultiHeadAttention.projections`,
        `FeedForward.projections`): query, key, value, attention_output,
        gate (gated blocks), up, down.

        Example:

            >>> from kerasbig.layers import TransformerBlock
            >>> block = TransformerBlock(num_heads=2, intermediate_dim=16)
            >>> block.build((None, 3, 8))
            >>> list(block.projections())[-3:]
            ['attention_output', 'up', 'down']
        """
        return {
            **self.self_attention.projections(),
            **self.feed_forward.projections(),
        }

    def init_cache(self, batch_size, max_length, dtype=None):
        """A zero self-attention key/value cache (see
        `MultiHeadAttention.init_cache`)."""
        return self.self_attention.init_cache(batch_size, max_length, dtype)

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
        if self.remat and training and cache is None and not self._recomputing:
            return self._rematerialized_call(
                training,
                inputs=inputs,
                context=context,
                inputs_mask=inputs_mask,
                context_mask=context_mask,
                attention_mask=attention_mask,
                mask=mask,
            )
        if inputs_mask is None:
            # Keras fills `inputs_mask` when several tensors are passed,
            # and `mask` when the inputs are the only one.
            inputs_mask = mask
        if self.use_cross_attention and context is None:
            raise ValueError(
                "TransformerBlock: this block has `cross_attention=True` and "
                "needs `context`. Received: context=None"
            )
        if context is not None and not self.use_cross_attention:
            raise ValueError(
                "TransformerBlock: `context` was passed but the block was "
                "built without cross-attention (`cross_attention=False`). "
                f"Received: context with shape {tuple(context.shape)}"
            )

        def self_attention(x):
            return self.self_attention(
                x,
                query_mask=inputs_mask,
                attention_mask=attention_mask,
                cache=cache,
                cache_index=cache_index,
                training=training,
            )

        x, cache = self._residual(
            self.self_attention_norm,
            self.self_attention_dropout,
            inputs,
            self_attention,
            training,
            cache,
        )
        if self.use_cross_attention:
            x, _ = self._residual(
                self.cross_attention_norm,
                self.cross_attention_dropout,
                x,
                lambda h: self.cross_attention(
                    h,
                    context,
                    query_mask=inputs_mask,
                    value_mask=context_mask,
                    training=training,
                ),
                training,
            )
        x, _ = self._residual(
            self.feed_forward_norm,
            self.feed_forward_dropout,
            x,
            lambda h: self.feed_forward(h, training=training),
            training,
        )
        return x if cache is None else (x, cache)

    def _rematerialized_call(self, training, **tensors):
        # The recomputed function takes the weights and float inputs as
        # arguments (what the backward pass differentiates) and closes
        # over the masks (TensorFlow cannot differentiate booleans) and
        # copies of the seed states (so the recomputation draws this
        # call's dropout masks); it runs the block statelessly and
        # returns the seed states it advanced, assigned here outside.
        floats = [
            name for name in ("inputs", "context") if tensors[name] is not None
        ]
        masks = {
            name: value
            for name, value in tensors.items()
            if name not in floats and value is not None
        }
        weights = [v.value for v in self.trainable_variables]
        states = [keras.ops.copy(v.value) for v in self.non_trainable_variables]

        def block(*arguments):
            self._recomputing = True
            try:
                outputs, advanced = self.stateless_call(
                    list(arguments[: len(weights)]),
                    states,
                    training=training,
                    **dict(zip(floats, arguments[len(weights) :], strict=True)),
                    **masks,
                )
            finally:
                self._recomputing = False
            return (outputs, *advanced)

        outputs, *advanced = keras.remat(block)(
            *weights, *[tensors[name] for name in floats]
        )
        for variable, value in zip(
            self.non_trainable_variables, advanced, strict=True
        ):
            variable.assign(value)
        return outputs

    def _norm(self, branch, inputs_shape):
        norm = make_normalization(
            self.normalization,
            self.layer_norm_epsilon,
            self.dtype_policy,
            f"{branch}_norm",
        )
        norm.build(inputs_shape)
        return norm

    def _dropout(self, branch, seed_offset):
        return keras.layers.Dropout(
            self.dropout,
            seed=self._seed(seed_offset),
            dtype=self.dtype_policy,
            name=f"{branch}_dropout",
        )

    def _residual(self, norm, dropout, x, branch, training, cache=None):
        h = norm(x) if self.normalize_first else x
        h = branch(h)
        if cache is not None:
            h, cache = h
        # Rate-0 layers are skipped: each call costs time in eager mode.
        if self.dropout > 0:
            h = dropout(h, training=training)
        if self.stochastic_depth > 0:
            h = self.stochastic_depth_layer(h, training=training)
        x = keras.ops.add(x, h)
        return (x if self.normalize_first else norm(x)), cache

    def compute_output_shape(self, inputs_shape, context_shape=None):
        return tuple(inputs_shape)

    def compute_output_spec(self, inputs, context=None, cache=None, **kwargs):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if cache is None:
            return outputs
        return outputs, keras.KerasTensor(cache.shape, dtype=cache.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "key_dim": self.key_dim,
                "num_key_value_heads": self.num_key_value_heads,
                "causal": self.causal,
                "cross_attention": self.use_cross_attention,
                "normalize_first": self.normalize_first,
                "normalization": self.normalization,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "activation": self.feed_forward.get_config()["activation"],
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "stochastic_depth": self.stochastic_depth,
                "rotary": self.rotary,
                "rotary_max_wavelength": self.rotary_max_wavelength,
                "rotary_scaling_factor": self.rotary_scaling_factor,
                "rotary_frequency_scaling": self.rotary_frequency_scaling,
                "sliding_window": self.sliding_window,
                "use_bias": self.use_bias,
                "attention_bias": self.attention_bias,
                "attention_output_bias": self.attention_output_bias,
                "feed_forward_bias": self.feed_forward_bias,
                "flash_attention": self.flash_attention,
                **self.kernel_options_config(),
                "seed": self.seed,
                "remat": self.remat,
            }
        )
        return config
