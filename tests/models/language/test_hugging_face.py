"""CausalLM.from_pretrained / save_pretrained against Hugging Face
`transformers`: tiny random models built offline from a config, on the
active Keras backend (the reference runs on PyTorch)."""

import json

import keras
import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.models import CausalLM

torch = reference("torch")
transformers = reference("transformers")
needs_transformers = requires(transformers, "transformers torch")

VOCABULARY = 97
_COMMON = {
    "vocab_size": VOCABULARY,
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    # Larger than the default 0.02, so logits spread and a wrong mapping
    # shows far above the tolerance.
    "initializer_range": 0.2,
}


def _config(kind):
    if kind == "llama":
        # Head size apart from hidden/heads, Llama 3.1 rotary scaling,
        # attention and MLP biases.
        return transformers.LlamaConfig(
            **_COMMON,
            head_dim=16,
            rope_theta=500000.0,
            rope_scaling={
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 16,
            },
            attention_bias=True,
            mlp_bias=True,
        )
    if kind == "llama_linear_rope":
        return transformers.LlamaConfig(
            **_COMMON, rope_scaling={"rope_type": "linear", "factor": 2.0}
        )
    if kind == "mistral":  # a window shorter than the sequences
        return transformers.MistralConfig(**_COMMON, sliding_window=4)
    if kind == "qwen2":  # query/key/value biases, tied embeddings
        return transformers.Qwen2Config(**_COMMON, tie_word_embeddings=True)
    return transformers.GPT2Config(
        vocab_size=VOCABULARY,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        initializer_range=0.2,
    )


def _reference_model(kind, dtype=None):
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(_config(kind))
    with torch.no_grad():  # norms and biases away from their 1s and 0s
        for parameter in model.parameters():
            if parameter.ndim == 1:
                parameter.add_(torch.randn_like(parameter) * 0.3)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


@pytest.fixture
def checkpoint(tmp_path):
    """`checkpoint(kind)`: a tiny random `transformers` model saved in a
    folder; returns `(folder, model)`."""

    def make(kind, dtype=None):
        model = _reference_model(kind, dtype)
        folder = tmp_path / kind
        model.save_pretrained(folder)
        return folder, model

    return make


def _reference_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor(ids)).logits.float().numpy()


def _ids(shape, seed=0):
    return np.random.default_rng(seed).integers(0, VOCABULARY, shape)


# Per push on every backend: llama and gpt2; the other configurations
# per push on TensorFlow (full tier elsewhere).
def _kinds(every_backend, others):
    return list(every_backend) + [
        pytest.param(kind, marks=pytest.mark.tensorflow_per_push)
        for kind in others
    ]


KINDS = _kinds(["llama", "gpt2"], ["mistral", "qwen2", "llama_linear_rope"])


@needs_transformers
@pytest.mark.parametrize("kind", KINDS)
def test_logits_equal_transformers(kind, checkpoint):
    folder, reference_model = checkpoint(kind)
    model = CausalLM.from_pretrained(folder)
    ids = _ids((2, 12))
    expected = _reference_logits(reference_model, ids)
    assert np.abs(expected).max() > 1.0  # a meaningful scale
    # Compiled (predict) and eager.
    np.testing.assert_allclose(
        model.predict(ids, verbose=0), expected, atol=1e-4, rtol=0
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(ids)), expected, atol=1e-4, rtol=0
    )


@needs_transformers
@pytest.mark.parametrize(
    "kind", _kinds(["llama"], ["gpt2", "mistral", "qwen2"])
)
def test_greedy_generation_equals_transformers_for_a_padded_batch(
    kind, checkpoint
):
    folder, reference_model = checkpoint(kind)
    model = CausalLM.from_pretrained(folder)
    lengths = [3, 7, 5]
    total = 15
    prompts = [_ids((n,), seed=i) for i, n in enumerate(lengths)]
    # Right-padded, as CausalLM.generate takes them.
    padded = np.zeros((len(prompts), max(lengths)), "int32")
    mask = np.zeros(padded.shape, bool)
    for row, prompt in enumerate(prompts):
        padded[row, : len(prompt)] = prompt
        mask[row, : len(prompt)] = True
    reference_model.generation_config.eos_token_id = None  # run to length
    ours = model.generate(
        padded,
        max_new_tokens=total - max(lengths),
        temperature=0,
        padding_mask=mask,
    )
    for row, prompt in enumerate(prompts):
        with torch.no_grad():
            expected = reference_model.generate(
                torch.tensor(prompt[None]),
                attention_mask=torch.ones((1, len(prompt)), dtype=torch.long),
                max_new_tokens=total - len(prompt),
                do_sample=False,
                pad_token_id=0,
            )[0].numpy()
        np.testing.assert_array_equal(ours[row], expected)


@needs_transformers
@pytest.mark.parametrize("kind", _kinds(["llama"], ["gpt2", "qwen2"]))
def test_save_pretrained_loads_in_transformers_with_the_same_logits(
    kind, checkpoint, tmp_path
):
    folder, _ = checkpoint(kind)
    model = CausalLM.from_pretrained(folder)
    written = tmp_path / "written"
    # Small shards: the index is written and read back by both libraries.
    model.save_pretrained(written, max_shard_bytes=20_000)
    assert (written / "model.safetensors.index.json").is_file()
    ids = _ids((2, 10))
    expected = ops.convert_to_numpy(model(ids))
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(written)
    np.testing.assert_allclose(
        _reference_logits(reloaded.eval(), ids), expected, atol=1e-5, rtol=0
    )
    again = CausalLM.from_pretrained(written)
    np.testing.assert_allclose(
        ops.convert_to_numpy(again(ids)), expected, atol=1e-6
    )
    config = json.loads((written / "config.json").read_text())
    assert config["model_type"] == kind


@needs_transformers
def test_training_switches_never_block_a_save(tmp_path):
    # Each converter maps a positive list of settings: remat, dropout,
    # flash attention and initializers are not among them.
    keras.utils.set_random_seed(0)
    model = CausalLM(
        vocabulary_size=VOCABULARY,
        max_sequence_length=16,
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        remat=True,
        dropout=0.1,
        flash_attention=False,
        kernel_initializer="he_normal",
    )
    model.save_pretrained(tmp_path)
    ids = _ids((1, 6))
    np.testing.assert_allclose(
        ops.convert_to_numpy(CausalLM.from_pretrained(tmp_path)(ids)),
        ops.convert_to_numpy(model(ids)),
        atol=1e-6,
    )


@needs_transformers
@pytest.mark.backend_agnostic
@pytest.mark.parametrize("kind", ["llama", "llama_linear_rope", "qwen2"])
def test_configs_carry_the_rope_keys_transformers_4_readers_use(
    kind, checkpoint, tmp_path
):
    # transformers 4, vLLM and llama.cpp's converter read top-level
    # rope_theta and rope_scaling; without them they fall back to 10000.
    folder, reference = checkpoint(kind)
    CausalLM.from_pretrained(folder).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    parameters = reference.config.rope_parameters
    assert config["rope_theta"] == parameters["rope_theta"]
    kind_of_rope = parameters["rope_type"]
    if kind_of_rope == "default":
        assert config["rope_scaling"] is None
    else:
        scaling = config["rope_scaling"]
        assert scaling["type"] == scaling["rope_type"] == kind_of_rope
        for key, value in parameters.items():
            if key != "rope_theta":
                assert scaling[key] == value, key
    # transformers 5 reads the same rotary settings back (it merges the
    # legacy "type" key into them).
    read = transformers.AutoConfig.from_pretrained(tmp_path).rope_parameters
    assert {k: v for k, v in read.items() if k != "type"} == parameters
    # The dtype under both names, and the source's special token ids
    # (transformers would assume Llama's 1 and 2 without them).
    assert config["torch_dtype"] == config["dtype"] == "float32"
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        assert config[name] == getattr(reference.config, name), name


@needs_transformers
@pytest.mark.tensorflow_per_push
def test_bfloat16_models_save_as_bfloat16_with_given_token_ids(
    checkpoint, tmp_path
):
    folder, _ = checkpoint("llama")
    model = CausalLM.from_pretrained(folder, dtype="bfloat16")
    model.save_pretrained(tmp_path, bos_token_id=5, eos_token_id=None)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["torch_dtype"] == config["dtype"] == "bfloat16"
    assert (config["bos_token_id"], config["eos_token_id"]) == (5, None)
    header = (tmp_path / "model.safetensors").read_bytes()
    assert b'"dtype":"BF16"' in header[: 8 + 100_000]
    again = CausalLM.from_pretrained(tmp_path, dtype="bfloat16")
    for ours, theirs in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(ops.cast(ours, "float32")),
            ops.convert_to_numpy(ops.cast(theirs, "float32")),
        )
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    assert reloaded.dtype == torch.bfloat16
    with pytest.raises(ValueError, match=r"unknown arguments \['bos_id'\]"):
        model.save_pretrained(tmp_path, bos_id=1)


@needs_transformers
@pytest.mark.tensorflow_per_push
def test_bfloat16_checkpoint_loads_as_float32(checkpoint):
    # safetensors' NumPy API cannot read bfloat16; kerasbig reads the raw
    # bytes (ml_dtypes) and keeps the model's float32 variables.
    folder, _ = checkpoint("llama", dtype=torch.bfloat16)
    raw = (folder / "model.safetensors").read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    assert "BF16" in {entry.get("dtype") for entry in header.values()}
    model = CausalLM.from_pretrained(folder)
    ids = _ids((1, 8))
    # The same bfloat16 weights in float32 (loaded afresh: a model cast
    # to bfloat16 keeps its rotary table rounded even after .float()).
    reference_model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32
    )
    expected = _reference_logits(reference_model.eval(), ids)
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(ids)), expected, atol=1e-4
    )


@needs_transformers
@pytest.mark.tensorflow_per_push
def test_architecture_only_needs_no_weights_file(checkpoint):
    # load_weights=False: the folder's model with fresh weights (what
    # the model-parallel layout template needs), from config.json alone.
    folder, _ = checkpoint("llama")
    loaded = CausalLM.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    fresh = CausalLM.from_pretrained(folder, load_weights=False)
    assert [(v.path, tuple(v.shape)) for v in fresh.weights] == [
        (v.path, tuple(v.shape)) for v in loaded.weights
    ]
    with pytest.raises(FileNotFoundError, match="expected model.safetensors"):
        CausalLM.from_pretrained(folder)


def _write_config(folder, config):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))


def test_unknown_architecture_is_named(tmp_path):
    _write_config(tmp_path, {"model_type": "bert"})
    with pytest.raises(ValueError, match=r"model_type 'bert' in .* is not"):
        CausalLM.from_pretrained(tmp_path)


def test_folder_without_config_says_what_it_needs(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        CausalLM.from_pretrained(tmp_path)


def test_unsupported_setting_is_named(tmp_path):
    _write_config(
        tmp_path,
        {
            "model_type": "llama",
            "vocab_size": 10,
            "hidden_size": 8,
            "intermediate_size": 8,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 8,
            "rope_scaling": {"rope_type": "yarn", "factor": 4.0},
        },
    )
    with pytest.raises(ValueError, match=r"rope_type='yarn'.*linear or llama3"):
        CausalLM.from_pretrained(tmp_path)


def _drop(name):
    def edit(tensors):
        del tensors[name]

    return edit


def _cut(name):
    def edit(tensors):
        tensors[name] = tensors[name][:, :48]

    return edit


def _add(name):
    def edit(tensors):
        tensors[name] = np.zeros(32, "float32")

    return edit


@needs_transformers
@pytest.mark.tensorflow_per_push
@pytest.mark.parametrize(
    "kind, edit, message",
    [
        (
            "llama",
            _drop("model.layers.1.self_attn.k_proj.weight"),
            r"'model.layers.1.self_attn.k_proj.weight' is missing .*"
            r"\(expected shape \(32, 32\)\)",
        ),
        (
            "gpt2",
            _cut("transformer.h.0.attn.c_attn.weight"),
            r"'transformer.h.0.attn.c_attn.weight' has the wrong shape .*"
            r"Expected: \(32, 96\). Received: \(32, 48\)",
        ),
        (
            "qwen2",
            _add("model.layers.0.self_attn.o_proj.bias"),
            r"does not use: \['model.layers.0.self_attn.o_proj.bias'\]",
        ),
    ],
    ids=["missing", "misshaped", "unexpected"],
)
def test_bad_tensors_are_named(kind, edit, message, checkpoint):
    from safetensors.numpy import load_file
    from safetensors.numpy import save_file

    folder, _ = checkpoint(kind)
    tensors = load_file(folder / "model.safetensors")
    edit(tensors)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ValueError, match=message):
        CausalLM.from_pretrained(folder)


def test_save_pretrained_refuses_what_the_architecture_cannot_hold(tmp_path):
    model = CausalLM(
        vocabulary_size=20,
        max_sequence_length=16,
        hidden_dim=16,
        intermediate_dim=32,
        normalization="layer_norm",
    )
    with pytest.raises(
        ValueError, match=r"cannot be written as llama: normalization="
    ):
        model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"`model_type` must be one of"):
        model.save_pretrained(tmp_path, model_type="bert")
