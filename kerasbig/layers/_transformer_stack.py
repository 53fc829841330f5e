"""What `TransformerEncoder` and `TransformerDecoder` share: a stack of
`TransformerBlock`s with a final norm for pre-norm stacks."""

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig.layers._normalization import make_normalization
from kerasbig.layers.transformer_block import TransformerBlock

# Block arguments a stack passes through unchanged (stored under the same
# names and written to its config).
_BLOCK_OPTIONS = (
    "num_heads",
    "intermediate_dim",
    "key_dim",
    "num_key_value_heads",
    "normalize_first",
    "normalization",
    "layer_norm_epsilon",
    "activation",
    "dropout",
    "attention_dropout",
    "rotary",
    "rotary_max_wavelength",
    "sliding_window",
    "use_bias",
    "flash_attention",
    "kernel_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "bias_constraint",
)


class TransformerStack(keras.layers.Layer):
    """Base of the transformer stacks; see `TransformerEncoder`."""

    causal = False

    def __init__(
        self,
        num_layers,
        num_heads,
        intermediate_dim,
        key_dim=None,
        num_key_value_heads=None,
        normalize_first=False,
        normalization="layer_norm",
        layer_norm_epsilon=1e-5,
        activation="gelu",
        dropout=0.0,
        attention_dropout=0.0,
        stochastic_depth=0.0,
        rotary=False,
        rotary_max_wavelength=10000,
        sliding_window=None,
        use_bias=True,
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
        # Only `TransformerDecoder` exposes cross-attention.
        cross_attention = kwargs.pop("_cross_attention", False)
        super().__init__(**kwargs)
        owner = type(self).__name__
        checks.positive_int(owner, "num_layers", num_layers)
        checks.rate(owner, "stochastic_depth", stochastic_depth)
        self.num_layers = num_layers
        self.stochastic_depth = stochastic_depth
        self.cross_attention = cross_attention
        self.seed = seed
        options = dict(locals())  # the arguments, by name
        for name in _BLOCK_OPTIONS:
            setattr(self, name, options[name])
        self.supports_masking = True
        # Blocks validate their own arguments here, at construction.
        self.blocks = [
            TransformerBlock(
                causal=self.causal,
                cross_attention=cross_attention,
                stochastic_depth=self._depth_rate(index),
                seed=None if seed is None else seed + 10 * index,
                dtype=self.dtype_policy,
                name=f"block_{index}",
                **{name: options[name] for name in _BLOCK_OPTIONS},
            )
            for index in range(num_layers)
        ]

    def _depth_rate(self, index):
        # Linearly increasing drop rates, as in the stochastic depth paper.
        if self.num_layers == 1:
            return self.stochastic_depth
        return self.stochastic_depth * index / (self.num_layers - 1)

    def _build_stack(self, inputs_shape, context_shape=None):
        for block in self.blocks:
            block.build(inputs_shape, context_shape)
        self.final_norm = None
        if self.normalize_first:
            # Pre-norm blocks leave the residual stream unnormalized.
            self.final_norm = make_normalization(
                self.normalization,
                self.layer_norm_epsilon,
                self.dtype_policy,
                "final_norm",
            )
            self.final_norm.build(inputs_shape)
        self.built = True

    def _run(
        self,
        inputs,
        context=None,
        inputs_mask=None,
        context_mask=None,
        attention_mask=None,
        cache=None,
        cache_index=None,
        training=None,
    ):
        if cache is not None:
            self._check_cache(cache)
        x, caches = inputs, []
        for index, block in enumerate(self.blocks):
            outputs = block(
                x,
                context,
                inputs_mask=inputs_mask,
                context_mask=context_mask,
                attention_mask=attention_mask,
                cache=None if cache is None else cache[:, index],
                cache_index=cache_index,
                training=training,
            )
            if cache is None:
                x = outputs
            else:
                x, block_cache = outputs
                caches.append(block_cache)
        if self.final_norm is not None:
            x = self.final_norm(x)
        if cache is None:
            return x
        return x, ops.stack(caches, axis=1)

    def _check_cache(self, cache):
        shape = tuple(cache.shape)
        if len(shape) != 6 or shape[1] != self.num_layers:
            raise ValueError(
                f"{type(self).__name__}: `cache` must have shape (batch, "
                f"num_layers={self.num_layers}, 2, max_length, "
                "num_key_value_heads, key_dim) (see `init_cache`). "
                f"Received: cache.shape={shape}"
            )

    def compute_output_spec(self, inputs, context=None, cache=None, **kwargs):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if cache is None:
            return outputs
        return outputs, keras.KerasTensor(cache.shape, dtype=cache.dtype)

    def get_config(self):
        config = super().get_config()
        block_config = self.blocks[0].get_config()
        config.update({name: block_config[name] for name in _BLOCK_OPTIONS})
        config.update(
            {
                "num_layers": self.num_layers,
                "stochastic_depth": self.stochastic_depth,
                "seed": self.seed,
            }
        )
        return config
