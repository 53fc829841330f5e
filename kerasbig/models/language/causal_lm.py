"""`CausalLM`: a decoder-only language model with cached generation, Hugging
Face checkpoints and LoRA."""

import json
import pathlib

import keras
import numpy as np
from keras import ops

from kerasbig import _backend
from kerasbig import _validation as checks
from kerasbig.layers import TokenAndPositionEmbedding
from kerasbig.layers import TransformerDecoder
from kerasbig.models.language import _hugging_face as hugging_face
from kerasbig.models.language import _lora as lora
from kerasbig.models.language._functional import FunctionalModel
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
        tie_embeddings: the output head multiplies by the transposed token
            table instead of having its own kernel (GPT-2, small Qwen2).
            Defaults to `False`.
        dtype: dtype policy of every layer (e.g. `"mixed_bfloat16"`).
        **kwargs: any other `TransformerBlock` option, passed to every
            block (`key_dim`, `layer_norm_epsilon`, `rotary_max_wavelength`,
            `rotary_scaling_factor`, `rotary_frequency_scaling`,
            `attention_bias`, `attention_output_bias`, `feed_forward_bias`,
            `flash_attention`, initializers...), and `keras.Model`
            arguments such as `name`.

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
        "tie_embeddings",
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
        tie_embeddings=False,
        dtype=None,
        **kwargs,
    ):
        checks.one_of("CausalLM", "position", position, ("rotary", "learned"))
        if "rotary" in kwargs:
            raise ValueError(
                'CausalLM: rotary attention follows `position` ("rotary" or '
                f'"learned"); pass that instead. Received: rotary='
                f"{kwargs['rotary']!r}"
            )
        block_options = {
            name: kwargs.pop(name)
            for name in TransformerDecoder.block_options
            if name in kwargs
        }
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
            **block_options,
        )
        head = None
        if not tie_embeddings:
            head = keras.layers.Dense(
                vocabulary_size, use_bias=use_bias, name="lm_head", dtype=dtype
            )
        hidden = decoder(embedding(token_ids))
        if head is None:
            logits = embedding(hidden, reverse=True)
        else:
            logits = head(hidden)
        super().__init__(token_ids, logits, dtype=dtype, **kwargs)
        self.embedding = embedding
        self.decoder = decoder
        self.lm_head = head
        self.block_options = block_options
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
        self.tie_embeddings = tie_embeddings
        self.lora_config = None  # set by enable_lora
        self.special_token_ids = {}  # set by from_pretrained
        self._loaded_lora = _LoadedLoRA()
        # A plain object, not a dict: TensorFlow would track a dict
        # attribute and fail to export the model (tuple keys).
        self._generate_functions = _CompiledFunctions()

    @classmethod
    def from_pretrained(cls, directory, dtype=None, load_weights=True):
        """Builds the model of a Hugging Face folder and loads its weights.

        Reads `config.json` and `model.safetensors` (or the shards of
        `model.safetensors.index.json`) for `model_type` `"gpt2"`,
        `"llama"`, `"mistral"` or `"qwen2"`: learned or rotary positions
        (with the config's theta and linear or Llama 3.1 scaling),
        LayerNorm or RMSNorm, GELU or SwiGLU, grouped-query attention,
        sliding windows, biases where the architecture has them, tied or
        untied embeddings. Needs `safetensors` (`pip install
        'kerasbig[hf]'`), not PyTorch or `transformers`.

        Args:
            directory: the model folder (e.g. from
                `huggingface_hub.snapshot_download` or `save_pretrained`).
            dtype: dtype policy of every layer; float32 when None,
                whatever the checkpoint stores.
            load_weights: False builds the folder's architecture only,
                with fresh weights (a layout template for
                `kerasbig.distribute.strategy("model_parallel")`).

        Returns:
            A `CausalLM` whose logits equal the Hugging Face model's.

        Raises:
            ValueError: an unsupported `model_type` or setting, or a
                missing, unexpected or mis-shaped tensor (named, with the
                expected and the received shape).
        """
        config = hugging_face.read_config(directory)
        model = cls(**hugging_face.causal_lm_arguments(config), dtype=dtype)
        # Written back by save_pretrained (transformers assumes Llama's
        # 1 and 2 when a config has none).
        model.special_token_ids = {
            name: config.get(name) for name in hugging_face.TOKEN_ID_KEYS
        }
        if load_weights:
            hugging_face.load_weights(model, directory, config["model_type"])
        return model

    def save_pretrained(
        self,
        directory,
        model_type=None,
        max_shard_bytes=hugging_face.DEFAULT_SHARD_BYTES,
        **special_token_ids,
    ):
        """Writes the model as a Hugging Face folder (`config.json` and
        safetensors) that `transformers` and `from_pretrained` load.

        The config holds what every reader looks for: the rotary settings
        both as transformers 5's `rope_parameters` and as the top-level
        `rope_theta` / `rope_scaling` (with `type` and `rope_type`) that
        transformers 4, vLLM and llama.cpp's converter read; the weights'
        dtype as `torch_dtype` and `dtype`; and `bos_token_id`,
        `eos_token_id` and `pad_token_id`: those given here, else those of
        the folder `from_pretrained` read, else null.

        Args:
            directory: the folder to write (created if needed).
            model_type: `"gpt2"`, `"llama"`, `"mistral"` or `"qwen2"`;
                by default the one the model's settings describe (learned
                positions: gpt2; a sliding window: mistral; query, key and
                value biases alone: qwen2; else llama).
            max_shard_bytes: above this many bytes the weights go in
                several files with an index, as Hugging Face writes them.
                Defaults to 5 GiB.
            **special_token_ids: `bos_token_id`, `eos_token_id`,
                `pad_token_id` (ints or None).

        Raises:
            ValueError: the model has a setting `model_type` cannot
                express (each named with both values), or an unknown
                keyword argument.
        """
        unknown = sorted(
            set(special_token_ids) - set(hugging_face.TOKEN_ID_KEYS)
        )
        if unknown:
            raise ValueError(
                f"CausalLM.save_pretrained: unknown arguments {unknown}. "
                f"Expected token ids among {list(hugging_face.TOKEN_ID_KEYS)}"
            )
        model_type = model_type or hugging_face.infer_model_type(self)
        config = hugging_face.hugging_face_config(self, model_type)
        for name in hugging_face.TOKEN_ID_KEYS:
            config[name] = special_token_ids.get(
                name, self.special_token_ids.get(name)
            )
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        hugging_face.save_weights(self, directory, model_type, max_shard_bytes)
        (directory / "config.json").write_text(
            json.dumps(config, indent=2) + "\n"
        )

    def enable_lora(
        self,
        rank,
        alpha=None,
        targets=("query", "value"),
        dropout=0.0,
        seed=None,
    ):
        """Adds LoRA adapters to the decoder's projections and freezes
        everything else, so `fit()` trains only the adapters.

        LoRA as Hu et al. (2021) and PEFT define it: each targeted
        projection, its input axes flattened to `in` and its output axes
        to `out`, gains `alpha / rank * dropout(x) @ A @ B` with `A`
        `(in, rank)` uniform in ±1/sqrt(in) (PEFT's initialisation) and
        `B` `(rank, out)` zero, so the model starts exactly as it was.
        Every other variable (embeddings, norms, biases, other
        projections, the head) is frozen. Compile after this call.
        `save_lora_weights` writes the adapters as a PEFT adapter folder.

        Args:
            rank: the adapters' rank, a positive int.
            alpha: the scale numerator; defaults to `rank` (scale 1).
            targets: which projections of every block, among
                `"query"`, `"key"`, `"value"`, `"attention_output"`,
                `"gate"`, `"up"` and `"down"` (PEFT's `q_proj`, `k_proj`,
                `v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`).
                Defaults to query and value (Hu et al., 2021).
            dropout: dropout on each adapter's input in training (PEFT's
                `lora_dropout`).
            seed: an int for reproducible `A` initialisations.

        Example:

            >>> import numpy as np
            >>> from kerasbig.models import CausalLM
            >>> model = CausalLM(
            ...     vocabulary_size=50, max_sequence_length=16,
            ...     hidden_dim=32, intermediate_dim=64)
            >>> _ = model(np.zeros((1, 4), "int32"))
            >>> model.enable_lora(rank=4)
            >>> sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            1024
        """
        alpha = rank if alpha is None else alpha
        targets = lora.enable(self, rank, alpha, targets, dropout, seed)
        self.lora_config = {
            "rank": rank,
            "alpha": alpha,
            "targets": list(targets),
            "dropout": dropout,
        }

    def merge_lora(self):
        """A new `CausalLM`, without adapters, whose kernels are the
        adapted ones merged (`kernel + alpha / rank * A @ B`): the same
        outputs, every variable trainable, and exportable with
        `save_pretrained` or `to_litert` like any model."""
        if not lora.adapted_layers(self):
            raise ValueError(
                "CausalLM.merge_lora: LoRA is not enabled on this model; "
                "call enable_lora() first"
            )
        merged = type(self).from_config(self.get_config())
        merged.build((None, None))
        values = lora.merged_weights(self)
        for variable in merged.weights:
            variable.assign(values[variable.path])
        return merged

    def save_lora_weights(self, directory):
        """Writes only the adapters, as a PEFT adapter folder:
        `adapter_config.json` and `adapter_model.safetensors`, which
        `peft.PeftModel.from_pretrained` loads onto the transformers
        model of this one (`save_pretrained`). Llama-family models
        (rotary positions) only: GPT-2's PEFT adapters target its fused
        query/key/value projection."""
        lora.save_adapters(self, directory, self.lora_config)

    def load_lora_weights(self, directory):
        """Loads a PEFT LoRA adapter folder (made by `peft` or by
        `save_lora_weights`), enabling LoRA with its settings first when
        it is not enabled. Raises naming a setting CausalLM does not
        implement (DoRA, biases, per-layer ranks), a rank, alpha or
        target that differs from the LoRA already enabled, and a missing
        or mis-shaped matrix."""
        config, arrays = lora.read_adapters(directory)
        if lora.adapted_layers(self):
            lora.check_settings(self, config, directory)
        else:
            self.enable_lora(
                config["rank"],
                config["alpha"],
                config["targets"],
                dropout=config["dropout"],
            )
        lora.assign_adapters(self, arrays, directory)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        lora.save_state(self, store)

    def load_own_variables(self, store):
        arrays, rest = lora.split_state(store)
        super().load_own_variables(rest)
        # Keras loads this model's entry before its layers' (which zero
        # the adapters); load_weights puts the LoRA state back after.
        self._loaded_lora.arrays = arrays if lora.adapted_layers(self) else []

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Keras's `load_weights`; on a model with LoRA enabled it also
        restores the unmerged kernels and the adapters (Keras alone
        would load merged kernels and zero the adapters, after which
        they no longer train)."""
        self._loaded_lora.arrays = []
        super().load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)
        if lora.adapted_layers(self):
            lora.restore_state(self, self._loaded_lora.arrays, filepath)
        self._loaded_lora.arrays = []

    def call_with_cache(self, token_ids, cache, cache_index):
        """Runs `token_ids` at positions `cache_index, ...` against the
        key/value `cache` (from `self.decoder.init_cache`); returns
        `(logits, cache)`."""
        x = self.embedding(token_ids, start_index=cache_index)
        x, cache = self.decoder(x, cache=cache, cache_index=cache_index)
        return self.logits(x), cache

    def logits(self, hidden):
        """The output head: `(..., hidden_dim)` → `(..., vocabulary_size)`."""
        if self.lm_head is None:
            return self.embedding(hidden, reverse=True)
        return self.lm_head(hidden)

    def get_config(self):
        return {**super().get_config(), **self.block_options}

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
        checks.sampling_options(owner, temperature, top_k, top_p)
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
        functions = self._generate_functions.by_key
        if key not in functions:

            def decode(inputs):
                return self._decode(inputs, start, total, *key[2:])

            functions[key] = _backend.compile_inference(self, decode)
        return functions[key]

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


class _LoadedLoRA:
    """The LoRA state read from a weights file, until `load_weights`
    restores it (a plain object: Keras would track a list attribute)."""

    arrays = ()


class _CompiledFunctions:
    """The compiled decode loops of a model, by generation settings."""

    def __init__(self):
        self.by_key = {}
