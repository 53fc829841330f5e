"""On-device language models: a `CausalLM` as one LiteRT file with
prefill and decode signatures and an explicit key/value cache, and the
generator that drives it."""

import os
import pathlib
import time

import keras
import numpy as np

from kerasbig import _validation as checks
from kerasbig._optional import import_optional
from kerasbig.export import converter
from kerasbig.ops import sample_logits

LM_QUANTIZATIONS = (None, "float16", "dynamic", "int8_weights")
"""`to_litert_lm` quantizations: float32, float16 weights, int8 weights
with dynamic-range int8 activations (LiteRT's hybrid kernels), or int8
weights with float32 arithmetic."""

# Greedy-token agreement with Keras a file must reach, per quantization.
MIN_AGREEMENT = {None: 1.0, "float16": 0.95, "dynamic": 0.95}
MIN_AGREEMENT["int8_weights"] = 0.95


def to_litert_lm(
    model,
    path,
    prefill_lengths=(32, 128),
    cache_length=None,
    quantization=None,
    batch_size=1,
    verify_prompts=None,
    verify_new_tokens=16,
    min_agreement=None,
):
    """Converts a `CausalLM` to a verified on-device LiteRT file.

    The file holds one `prefill_<N>` signature per prefill length and a
    `decode` signature, with the key/value cache as an explicit input
    and output, `(batch, num_layers, 2, cache_length, key_value_heads,
    head_dim)` float32, so the app keeps it between calls; only LiteRT
    builtin ops. `prefill_<N>` takes `tokens` `(batch, N)` int32 and
    `kv_cache`, writes the cache at positions `0..N-1` and returns
    `kv_cache`; `decode` takes `token` `(batch, 1)` int32, `position`
    (a scalar int32) and `kv_cache`, and returns the next-token `logits`
    `(batch, vocabulary_size)` and `kv_cache`. A prompt of `L` tokens is
    prefilled with its first `L - 1` (padded up to a prefill length; the
    padding's cache entries are overwritten before any query sees them)
    and its last token is decoded at position `L - 1`.

    The file is then verified as `to_litert` verifies: `LiteRTGenerator`
    continues each verification prompt greedily and the tokens are
    compared with `CausalLM.generate`'s; the share that agree is
    `generator.agreement`, and a file below `min_agreement` raises.

    Args:
        model: a `CausalLM` (TensorFlow backend; see `kerasbig.export`'s
            command for models trained on JAX or PyTorch).
        path: where to write the `.tflite` file.
        prefill_lengths: the prefill signatures' lengths; the longest
            prompt the file takes is the largest plus one.
        cache_length: positions the cache holds (prompt plus generated
            tokens); defaults to `model.max_sequence_length`.
        quantization: `None` (float32), `"float16"` (float16 weights),
            `"dynamic"` (int8 weights, activations quantized to int8 on
            the fly: the fastest on CPU) or `"int8_weights"` (int8
            weights, the token table included, dequantized when the file
            loads: float32 arithmetic, the file a quarter of float32's;
            needs ai-edge-quantizer, in the `litert` extra, and makes a
            copy of the model while converting).
        batch_size: sequences per call. Defaults to `1`.
        verify_prompts: prompts (lists or 1-D arrays of token ids) to
            verify on; defaults to 8 random prompts of random lengths.
        verify_new_tokens: tokens generated per verification prompt.
        min_agreement: lowest accepted share of greedy tokens equal to
            Keras's; defaults to 1.0 for float32 and 0.95 quantized.

    Returns:
        A `LiteRTGenerator` on the file, with `agreement` set.

    Example:

        >>> # TensorFlow only: converts and runs the file.
        >>> import tempfile, numpy as np
        >>> from kerasbig.models import CausalLM
        >>> from kerasbig.export import to_litert_lm
        >>> model = CausalLM(vocabulary_size=50, max_sequence_length=16,
        ...                  num_layers=1, hidden_dim=16, num_heads=2,
        ...                  intermediate_dim=32)
        >>> path = tempfile.mkdtemp() + "/lm.tflite"
        >>> generator = to_litert_lm(model, path, prefill_lengths=(8,),
        ...                          verify_new_tokens=4)
        >>> generator.agreement
        1.0
        >>> generator.generate([3, 1, 4], max_new_tokens=5).shape
        (8,)
    """
    owner = "to_litert_lm"
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"{owner}: LiteRT conversion needs the TensorFlow backend. Save "
            "the model (`model.save('lm.keras')`), then in a process started "
            "with KERAS_BACKEND=tensorflow: `to_litert_lm(keras.saving."
            "load_model('lm.keras'), 'lm.tflite')`. Received: backend="
            f"{keras.backend.backend()!r}"
        )
    if quantization not in LM_QUANTIZATIONS:
        raise ValueError(
            f"{owner}: `quantization` must be one of {list(LM_QUANTIZATIONS)}."
            f" Received: quantization={quantization!r}"
        )
    if not hasattr(model, "call_with_cache"):
        raise ValueError(
            f"{owner}: expected a kerasbig CausalLM (a model with "
            f"`call_with_cache`). Received: {type(model).__name__}"
        )
    cache_length = cache_length or model.max_sequence_length
    lengths = sorted({int(n) for n in prefill_lengths})
    if not lengths or lengths[0] < 1 or lengths[-1] >= cache_length:
        raise ValueError(
            f"{owner}: `prefill_lengths` must be positive and shorter than "
            f"`cache_length` ({cache_length}). Received: "
            f"prefill_lengths={list(prefill_lengths)}"
        )
    if quantization == "int8_weights":
        source = _with_int8_token_table(model)
        content = converter.weight_only_int8(
            converter.convert_endpoints(
                source, _endpoints(source, lengths, cache_length, batch_size)
            )
        )
    else:
        content = converter.convert_endpoints(
            model,
            _endpoints(model, lengths, cache_length, batch_size),
            quantization=quantization,
        )
    path = pathlib.Path(path)
    with converter.unverified_file(path) as unverified:
        unverified.write_bytes(content)
        generator = LiteRTGenerator(unverified)
        prompts = verify_prompts
        if prompts is None:
            prompts = _random_prompts(model, lengths[-1] + 1, cache_length)
        new_tokens = min(
            verify_new_tokens, cache_length - max(len(p) for p in prompts)
        )
        generator.agreement = _agreement(model, generator, prompts, new_tokens)
        generator.quantization = quantization
        required = (
            MIN_AGREEMENT[quantization]
            if min_agreement is None
            else min_agreement
        )
        if generator.agreement < required:
            raise ValueError(
                f"{owner}: the LiteRT file's greedy tokens agree with Keras's "
                f"on {generator.agreement:.1%} of {len(prompts)} prompts x "
                f"{new_tokens} tokens; at least {required:.0%} is required "
                f"(quantization={quantization!r}); no file was written to "
                f"{path}"
            )
    generator.path = str(path)
    return generator


def _with_int8_token_table(model):
    """A copy of `model` (adapters merged) whose token table is Keras's
    int8 Embedding: int8 rows with a scale each. ai-edge-quantizer makes
    every matmul weight int8 but leaves a lookup's (GATHER's) table
    float; this way the lookup reads int8 rows too."""
    source = model.merge_lora() if model.lora_config else model
    copy = type(source).from_config(source.get_config())
    copy.build((None, None))
    copy.set_weights(source.get_weights())
    table = copy.embedding.token_embedding
    copy.quantize("int8", filters=lambda layer: layer is table)
    return copy


def _endpoints(model, lengths, cache_length, batch_size):
    cache = model.decoder.init_cache(batch_size, cache_length)
    cache_shape = tuple(cache.shape)

    def prefill(tokens, kv_cache):
        _, cache = model.call_with_cache(tokens, kv_cache, 0)
        return {"kv_cache": cache}

    def decode(token, position, kv_cache):
        logits, cache = model.call_with_cache(token, kv_cache, position)
        return {"logits": logits[:, -1], "kv_cache": cache}

    def cache_spec():
        return converter.tensor_spec(cache_shape, "float32", "kv_cache")

    endpoints = {
        f"prefill_{n}": (
            prefill,
            [
                converter.tensor_spec((batch_size, n), "int32", "tokens"),
                cache_spec(),
            ],
        )
        for n in lengths
    }
    endpoints["decode"] = (
        decode,
        [
            converter.tensor_spec((batch_size, 1), "int32", "token"),
            converter.tensor_spec((), "int32", "position"),
            cache_spec(),
        ],
    )
    return endpoints


def _random_prompts(model, longest, cache_length, count=8):
    rng = np.random.default_rng(0)
    longest = min(longest, cache_length - 1)
    lengths = rng.integers(1, longest + 1, count)
    return [rng.integers(0, model.vocabulary_size, n) for n in lengths]


def _agreement(model, generator, prompts, new_tokens):
    prompts = [np.asarray(prompt, "int32") for prompt in prompts]
    # One padded batch: Keras compiles one decode loop for all prompts.
    longest = max(len(prompt) for prompt in prompts)
    padded = np.zeros((len(prompts), longest), "int32")
    mask = np.zeros(padded.shape, bool)
    for row, prompt in enumerate(prompts):
        padded[row, : len(prompt)] = prompt
        mask[row, : len(prompt)] = True
    keras_tokens = model.generate(
        padded, max_new_tokens=new_tokens, temperature=0, padding_mask=mask
    )
    agree = 0
    for row, prompt in enumerate(prompts):
        end = len(prompt) + new_tokens
        expected = keras_tokens[row, len(prompt) : end]
        got = generator.generate(prompt, max_new_tokens=new_tokens)
        # After the first difference the two continue different texts.
        first = np.flatnonzero(expected != got[len(prompt) :])
        agree += first[0] if len(first) else new_tokens
    return agree / (len(prompts) * new_tokens)


class LiteRTGenerator:
    """Generates text with a file written by `to_litert_lm`, in
    `ai_edge_litert`: prefill, then one decode call per token.

    Args:
        path: the `.tflite` file.
        num_threads: interpreter threads; LiteRT's default when None.

    Attributes:
        prefill_lengths: the file's prefill lengths.
        cache_length: positions its cache holds.
        batch_size: sequences per call.
        agreement: share of greedy tokens equal to Keras's, when
            `to_litert_lm` verified the file (else None).
    """

    def __init__(self, path, num_threads=None):
        interpreter_module = import_optional(
            "ai_edge_litert.interpreter", "Running a LiteRT model"
        )
        self.path = str(path)
        self.size = os.path.getsize(self.path)
        self._interpreter = interpreter_module.Interpreter(
            model_path=self.path, num_threads=num_threads
        )
        signatures = self._interpreter.get_signature_list()
        self.prefill_lengths = sorted(
            int(name.split("_", 1)[1])
            for name in signatures
            if name.startswith("prefill_")
        )
        if "decode" not in signatures or not self.prefill_lengths:
            raise ValueError(
                "LiteRTGenerator: expected a file from to_litert_lm, with "
                "prefill_<N> and decode signatures. Received: signatures "
                f"{sorted(signatures)} in {self.path}"
            )
        self._runners = {
            name: self._interpreter.get_signature_runner(name)
            for name in signatures
        }
        cache = self._runners["decode"].get_input_details()["kv_cache"]
        self._cache_shape = tuple(int(n) for n in cache["shape"])
        self.batch_size = self._cache_shape[0]
        self.cache_length = self._cache_shape[3]
        self.agreement = None
        self.quantization = None

    def __repr__(self):
        return (
            f"LiteRTGenerator(path={self.path!r}, size={self.size}, "
            f"prefill_lengths={self.prefill_lengths}, "
            f"cache_length={self.cache_length})"
        )

    def generate(
        self,
        prompt_ids,
        max_new_tokens,
        temperature=0.0,
        top_k=None,
        top_p=None,
        seed=None,
        end_token_id=None,
        pad_token_id=0,
    ):
        """Continues the prompt by `max_new_tokens` tokens, with
        `CausalLM.generate`'s output contract.

        Args:
            prompt_ids: token ids, `(prompt_length,)` or `(batch,
                prompt_length)` with the file's batch size.
            max_new_tokens: positive int.
            temperature: `0` (default) for greedy decoding, else the
                sampling temperature.
            top_k: optional int, sample among the `k` most likely tokens.
            top_p: optional float in (0, 1], nucleus sampling.
            seed: optional int seed of the sampling.
            end_token_id: optional int; after a row generates it, the rest
                of that row is `pad_token_id` (decoding stops once every
                row has it).
            pad_token_id: filler after `end_token_id`. Defaults to `0`.

        Returns:
            NumPy int32 array `(batch, prompt_length + max_new_tokens)`
            (1-D for a 1-D prompt): the prompt followed by the generated
            tokens, as `CausalLM.generate` returns them.
        """
        prompt = np.asarray(prompt_ids, "int32")
        single = prompt.ndim == 1
        prompt = prompt[None] if single else prompt
        self._check(prompt, max_new_tokens)
        checks.sampling_options(
            "LiteRTGenerator.generate", temperature, top_k, top_p
        )
        rng = np.random.default_rng(seed)
        done = np.zeros(len(prompt), bool)

        def choose(logits):
            # The same sampling rule as CausalLM.generate.
            token = keras.ops.convert_to_numpy(
                sample_logits(
                    logits, rng.random(len(prompt)), temperature, top_k, top_p
                )
            )[:, None]
            if end_token_id is None:
                return token, False
            token = np.where(done[:, None], pad_token_id, token)
            done[:] |= token[:, 0] == end_token_id
            return token, done.all()

        cache = self._prefill(prompt[:, :-1])
        tokens = [prompt, *self._decode(prompt, cache, max_new_tokens, choose)]
        output = np.concatenate(tokens, axis=1).astype("int32")
        # Rows that all ended early: the rest is padding.
        missing = prompt.shape[1] + max_new_tokens - output.shape[1]
        output = np.pad(
            output, ((0, 0), (0, missing)), constant_values=pad_token_id
        )
        return output[0] if single else output

    def _check(self, prompt, max_new_tokens):
        owner = "LiteRTGenerator.generate"
        if prompt.ndim != 2 or prompt.shape[0] != self.batch_size:
            raise ValueError(
                f"{owner}: `prompt_ids` must be (prompt_length,) or "
                f"(batch, prompt_length) with the file's batch size "
                f"{self.batch_size}. Received: shape={prompt.shape}"
            )
        if not 1 <= prompt.shape[1] <= self.prefill_lengths[-1] + 1:
            raise ValueError(
                f"{owner}: the prompt has {prompt.shape[1]} tokens; this file "
                f"takes 1 to {self.prefill_lengths[-1] + 1} (its longest "
                f"prefill is {self.prefill_lengths[-1]}, plus the token "
                "decoded first). Convert with a longer prefill_lengths entry"
            )
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(
                f"{owner}: `max_new_tokens` must be a positive int. "
                f"Received: max_new_tokens={max_new_tokens!r}"
            )
        if prompt.shape[1] + max_new_tokens > self.cache_length:
            raise ValueError(
                f"{owner}: the prompt ({prompt.shape[1]} tokens) plus "
                f"max_new_tokens ({max_new_tokens}) exceeds the file's cache "
                f"of {self.cache_length} positions. Convert with a larger "
                "cache_length"
            )

    def _prefill(self, tokens):
        cache = np.zeros(self._cache_shape, "float32")
        if tokens.shape[1] == 0:
            return cache
        length = next(n for n in self.prefill_lengths if n >= tokens.shape[1])
        padded = np.zeros((tokens.shape[0], length), "int32")
        padded[:, : tokens.shape[1]] = tokens
        return self._runners[f"prefill_{length}"](
            tokens=padded, kv_cache=cache
        )["kv_cache"]

    def _decode(self, prompt, cache, steps, choose):
        """Decodes up to `steps` tokens after `prompt` (whose last token is
        not in `cache` yet); `choose(logits)` returns `(token, stop)`."""
        token = prompt[:, -1:]
        for step in range(steps):
            outputs = self._runners["decode"](
                token=token,
                position=np.int32(prompt.shape[1] - 1 + step),
                kv_cache=cache,
            )
            cache = outputs["kv_cache"]
            token, stop = choose(outputs["logits"])
            yield token
            if stop:
                return

    def speed(self, prompt_length, new_tokens=32, runs=3):
        """Measured tokens per second: `{"prefill": ..., "decode": ...}`
        for a random prompt of `prompt_length` tokens (best of `runs`)."""
        prompt = np.random.default_rng(0).integers(
            0, 2, (self.batch_size, prompt_length)
        )
        prompt = prompt.astype("int32")

        def greedy(logits):
            return np.argmax(logits, axis=-1).astype("int32")[:, None], False

        prefill_seconds = decode_seconds = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            cache = self._prefill(prompt[:, :-1])
            middle = time.perf_counter()
            for _ in self._decode(prompt, cache, new_tokens, greedy):
                pass
            end = time.perf_counter()
            prefill_seconds = min(prefill_seconds, middle - start)
            decode_seconds = min(decode_seconds, end - middle)
        rows = self.batch_size
        return {
            "prefill": rows * (prompt_length - 1) / prefill_seconds,
            "decode": rows * new_tokens / max(decode_seconds, 1e-9),
        }
