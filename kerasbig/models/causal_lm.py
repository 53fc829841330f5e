import keras
import numpy as np
from keras import ops

from kerasbig import _backend
from kerasbig import _validation as checks
from kerasbig.layers import TokenAndPositionEmbedding
from kerasbig.layers import TransformerDecoder
from kerasbig.models._functional import FunctionalModel
from kerasbig.ops import sample_logits


@keras.saving.register_keras_serializable(package="kerasbig")
class CausalLM(FunctionalModel):
    """Decoder-only language model: token ids → next-token logits, with
    cached generation.

    A functional model: token embedding (plus a learned position table
    when `position="learned"`), a `TransformerDecoder` and a dense output
    head giving `(batch, seq, vocabulary_size)` logits; position `t`
    predicts token `t + 1`. Train with `fit()` on `(ids[:, :-1],
    ids[:, 1:])` and `SparseCategoricalCrossentropy(from_logits=True)`.
    The defaults are a LLaMA-style block: pre-norm, RMSNorm, SwiGLU,
    rotary positions, no biases.

    `generate()` fills a key/value cache with the prompt in one pass, then
    decodes one token per step inside a compiled loop (`tf.function` with
    XLA on TensorFlow, `jax.jit` on JAX; eager without autograd on
    PyTorch) whose shapes never change.

    Args:
        vocabulary_size: number of token ids.
        max_sequence_length: the longest sequence (prompt plus generated
            tokens) the model handles; the size of the position table.
        num_layers: decoder blocks. Defaults to `2`.
        hidden_dim: model width. Defaults to `256`.
        num_heads: attention heads. Defaults to `4`.
        intermediate_dim: feed-forward width. Defaults to `512`.
        num_key_value_heads: key/value heads (grouped-query attention);
            defaults to `num_heads`.
        position: `"rotary"` (default) or `"learned"`.
        normalize_first: pre-norm blocks. Defaults to `True`.
        normalization: `"rms_norm"` (default) or `"layer_norm"`.
        activation: feed-forward activation. Defaults to `"swiglu"`.
        dropout: residual dropout rate. Defaults to `0.0`.
        sliding_window: optional local attention window.
        use_bias: whether projections have biases. Defaults to `False`.
        dtype: dtype policy of every layer (e.g. `"mixed_bfloat16"`).
        **kwargs: `keras.Model` arguments such as `name`.

    Example:

        >>> import numpy as np
        >>> from kerasbig.models import CausalLM
        >>> model = CausalLM(
        ...     vocabulary_size=50, max_sequence_length=32, hidden_dim=32,
        ...     intermediate_dim=64)
        >>> ids = np.random.default_rng(0).integers(0, 50, (2, 10))
        >>> tuple(model(ids).shape)
        (2, 10, 50)
        >>> tokens = model.generate(ids[:, :4], max_new_tokens=6, seed=1)
        >>> tokens.shape
        (2, 10)
    """

    _config_names = (
        "vocabulary_size",
        "max_sequence_length",
        "num_layers",
        "hidden_dim",
        "num_heads",
        "intermediate_dim",
        "num_key_value_heads",
        "position",
        "normalize_first",
        "normalization",
        "activation",
        "dropout",
        "sliding_window",
        "use_bias",
    )

    def __init__(
        self,
        vocabulary_size,
        max_sequence_length,
        num_layers=2,
        hidden_dim=256,
        num_heads=4,
        intermediate_dim=512,
        num_key_value_heads=None,
        position="rotary",
        normalize_first=True,
        normalization="rms_norm",
        activation="swiglu",
        dropout=0.0,
        sliding_window=None,
        use_bias=False,
        dtype=None,
        **kwargs,
    ):
        checks.one_of("CausalLM", "position", position, ("rotary", "learned"))
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            max_sequence_length,
            hidden_dim,
            position="learned" if position == "learned" else "none",
            name="embedding",
            dtype=dtype,
        )
        decoder = TransformerDecoder(
            num_layers,
            num_heads,
            intermediate_dim,
            num_key_value_heads=num_key_value_heads,
            normalize_first=normalize_first,
            normalization=normalization,
            activation=activation,
            dropout=dropout,
            rotary=position == "rotary",
            sliding_window=sliding_window,
            use_bias=use_bias,
            name="decoder",
            dtype=dtype,
        )
        head = keras.layers.Dense(
            vocabulary_size, use_bias=use_bias, name="lm_head", dtype=dtype
        )
        logits = head(decoder(embedding(token_ids)))
        super().__init__(token_ids, logits, dtype=dtype, **kwargs)
        self.embedding = embedding
        self.decoder = decoder
        self.lm_head = head
        self.vocabulary_size = vocabulary_size
        self.max_sequence_length = max_sequence_length
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.num_key_value_heads = num_key_value_heads
        self.position = position
        self.normalize_first = normalize_first
        self.normalization = normalization
        self.activation = activation
        self.dropout = dropout
        self.sliding_window = sliding_window
        self.use_bias = use_bias
        self._generate_functions = {}

    def call_with_cache(self, token_ids, cache, cache_index):
        """Runs `token_ids` at positions `cache_index, ...` against the
        key/value `cache` (from `self.decoder.init_cache`); returns
        `(logits, cache)`."""
        x = self.embedding(token_ids, start_index=cache_index)
        x, cache = self.decoder(x, cache=cache, cache_index=cache_index)
        return self.lm_head(x), cache

    def generate(
        self,
        prompt_ids,
        max_new_tokens,
        temperature=1.0,
        top_k=None,
        top_p=None,
        seed=None,
        padding_mask=None,
        end_token_id=None,
        pad_token_id=0,
    ):
        """Continues each prompt by `max_new_tokens` tokens.

        Prompts of different lengths are right-padded, with `padding_mask`
        marking the real tokens (True). Generation starts after the
        shortest prompt; positions still inside a longer prompt keep the
        prompt's token, so every row is continued from its own end.

        Args:
            prompt_ids: int array `(batch, prompt_length)` or
                `(prompt_length,)`.
            max_new_tokens: positive int, tokens to append.
            temperature: `0` for greedy decoding, else the sampling
                temperature. Defaults to `1.0`.
            top_k: optional int, sample among the `k` most likely tokens.
            top_p: optional float in (0, 1], nucleus sampling.
            seed: optional int; equal seeds give equal samples.
            padding_mask: optional boolean array like `prompt_ids`, True at
                real tokens, each row of the form True...True False...False.
            end_token_id: optional int; after a row generates it, the rest
                of that row is `pad_token_id`.
            pad_token_id: filler after `end_token_id`. Defaults to `0`.

        Returns:
            NumPy int32 array `(batch, prompt_length + max_new_tokens)`
            (1-D for a 1-D prompt): the prompts followed by the generated
            tokens.
        """
        prompt = np.asarray(ops.convert_to_numpy(prompt_ids))
        single = prompt.ndim == 1
        prompt = prompt[None] if single else prompt
        mask = self._check_generate_arguments(
            prompt, padding_mask, max_new_tokens, temperature, top_k, top_p
        )
        batch, prompt_length = prompt.shape
        total = prompt_length + int(max_new_tokens)
        tokens = np.zeros((batch, total), "int32")
        tokens[:, :prompt_length] = np.where(mask, prompt, 0)
        keep = np.zeros((batch, total), bool)
        keep[:, :prompt_length] = mask
        start = int(mask.sum(axis=1).min())
        uniform = keras.random.uniform(
            (total - start, batch), seed=seed, dtype="float32"
        )
        function = self._generate_function(
            start, total, float(temperature), top_k, top_p
        )
        outputs = np.array(
            ops.convert_to_numpy(
                function({"tokens": tokens, "keep": keep, "uniform": uniform})
            ),
            dtype="int32",
        )
        if end_token_id is not None:
            generated = ~keep & (outputs == end_token_id)
            after_end = np.cumsum(generated, axis=1) - generated > 0
            outputs[after_end] = pad_token_id
        return outputs[0] if single else outputs

    def _check_generate_arguments(
        self, prompt, padding_mask, max_new_tokens, temperature, top_k, top_p
    ):
        owner = "CausalLM.generate"
        if prompt.ndim != 2 or not np.issubdtype(prompt.dtype, np.integer):
            raise ValueError(
                f"{owner}: `prompt_ids` must be an int array of shape "
                "(batch, prompt_length) or (prompt_length,). Received: "
                f"shape={prompt.shape}, dtype={prompt.dtype}"
            )
        checks.positive_int(owner, "max_new_tokens", max_new_tokens)
        total = prompt.shape[1] + max_new_tokens
        if total > self.max_sequence_length:
            raise ValueError(
                f"{owner}: the prompt length plus `max_new_tokens` is longer "
                f"than the model's position table (max_sequence_length="
                f"{self.max_sequence_length}). Received: prompt_length="
                f"{prompt.shape[1]}, max_new_tokens={max_new_tokens}"
            )
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or temperature < 0
        ):
            raise ValueError(
                f"{owner}: `temperature` must be a number >= 0 (0 is greedy). "
                f"Received: temperature={temperature!r}"
            )
        checks.positive_int(owner, "top_k", top_k, allow_none=True)
        if top_p is not None and not (
            isinstance(top_p, (int, float)) and 0 < top_p <= 1
        ):
            raise ValueError(
                f"{owner}: `top_p` must be None or a number in (0, 1]. "
                f"Received: top_p={top_p!r}"
            )
        if padding_mask is None:
            return np.ones(prompt.shape, bool)
        mask = np.asarray(ops.convert_to_numpy(padding_mask)).astype(bool)
        lengths = mask.sum(axis=1) if mask.ndim == 2 else None
        if (
            mask.shape != prompt.shape
            or lengths.min() < 1
            or (mask != (np.arange(prompt.shape[1]) < lengths[:, None])).any()
        ):
            raise ValueError(
                f"{owner}: `padding_mask` must have the prompt's shape "
                f"{prompt.shape}, with each row True at its real tokens "
                "followed by False at padding (right padding, at least one "
                f"real token). Received: padding_mask={mask.tolist()}"
            )
        return mask

    def _generate_function(self, start, total, temperature, top_k, top_p):
        key = (start, total, temperature, top_k, top_p)
        if key not in self._generate_functions:

            def decode(inputs):
                return self._decode(inputs, start, total, *key[2:])

            self._generate_functions[key] = _backend.compile_inference(
                self, decode
            )
        return self._generate_functions[key]

    def _decode(self, inputs, start, total, temperature, top_k, top_p):
        tokens = ops.convert_to_tensor(inputs["tokens"], "int32")
        keep = ops.convert_to_tensor(inputs["keep"], "bool")
        uniform = ops.convert_to_tensor(inputs["uniform"], "float32")
        cache = self.decoder.init_cache(ops.shape(tokens)[0], total)
        logits, cache = self.call_with_cache(tokens[:, :start], cache, 0)

        def step(index, state):
            # logits: (batch, vocabulary), predicting the token at `index`.
            tokens, cache, logits = state
            sampled = sample_logits(
                logits,
                ops.take(uniform, index - start, axis=0),
                temperature,
                top_k,
                top_p,
            )
            # Inside a longer prompt, the prompt's own token wins.
            chosen = ops.where(
                ops.take(keep, index, axis=1),
                ops.take(tokens, index, axis=1),
                sampled,
            )
            chosen = ops.expand_dims(chosen, 1)
            tokens = ops.slice_update(tokens, [0, index], chosen)
            logits, cache = self.call_with_cache(chosen, cache, index)
            return tokens, cache, logits[:, -1]

        state = (tokens, cache, logits[:, -1])
        tokens, _, _ = ops.fori_loop(start, total, step, state)
        return tokens
