"""What `TransformerEncoder` and `TransformerDecoder` share: a stack of
`TransformerBlock`s with a final norm for pre-norm stacks."""

import inspect

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig.layers._normalization import make_normalization
from kerasbig.layers.transformer_block import TransformerBlock

# Arguments a stack sets per block; every other argument of
# `TransformerBlock` is an option the stack passes to all its blocks.
_PER_BLOCK = (
    "num_heads",
    "intermediate_dim",
    "causal",
    "cross_attention",
    "stochastic_depth",
    "seed",
)
BLOCK_OPTIONS = tuple(
    name
    for name, parameter in inspect.signature(
        TransformerBlock.__init__
    ).parameters.items()
    if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
    and name not in ("self", *_PER_BLOCK)
)
"""The block options of a transformer stack: defined once, by
`TransformerBlock`'s arguments (their defaults and checks are the
block's)."""


class TransformerStack(keras.layers.Layer):
    """Base of the transformer stacks; see `TransformerEncoder`.

    The stack's own arguments are `num_layers`, `num_heads`,
    `intermediate_dim`, `stochastic_depth`, `seed` and, for stacks that
    take a `context` (`takes_context`), `cross_attention`; every other
    keyword in `BLOCK_OPTIONS` goes to each `TransformerBlock`, the rest
    to `keras.layers.Layer`.
    """

    causal = False
    takes_context = False
    block_options = BLOCK_OPTIONS
    """The keywords the stack passes to every block."""

    def __init__(
        self,
        num_layers,
        num_heads,
        intermediate_dim,
        *,
        stochastic_depth=0.0,
        seed=None,
        cross_attention=False,
        **kwargs,
    ):
        options = {
            name: kwargs.pop(name) for name in BLOCK_OPTIONS if name in kwargs
        }
        super().__init__(**kwargs)
        owner = type(self).__name__
        checks.positive_int(owner, "num_layers", num_layers)
        checks.rate(owner, "stochastic_depth", stochastic_depth)
        if cross_attention and not self.takes_context:
            raise ValueError(
                f"{owner}: `cross_attention` needs a stack that takes a "
                "`context` (TransformerDecoder). Received: "
                f"cross_attention={cross_attention!r}"
            )
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.stochastic_depth = stochastic_depth
        self.seed = seed
        self.cross_attention = cross_attention
        self.supports_masking = True
        # Blocks validate their own arguments here, at construction.
        self.blocks = [
            TransformerBlock(
                num_heads,
                intermediate_dim,
                causal=self.causal,
                cross_attention=cross_attention,
                stochastic_depth=self._depth_rate(index),
                seed=None if seed is None else seed + 10 * index,
                dtype=self.dtype_policy,
                name=f"block_{index}",
                **options,
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
        first = self.blocks[0]
        if first.normalize_first:
            # Pre-norm blocks leave the residual stream unnormalized.
            self.final_norm = make_normalization(
                first.normalization,
                first.layer_norm_epsilon,
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
        config.update({name: block_config[name] for name in BLOCK_OPTIONS})
        config.update(
            {
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "stochastic_depth": self.stochastic_depth,
                "seed": self.seed,
            }
        )
        if self.takes_context:
            config["cross_attention"] = self.cross_attention
        return config
