"""Hugging Face checkpoints (`config.json` plus safetensors) to and from
`CausalLM`, one converter module per `model_type` (`gpt2`, `llama`,
`mistral`, `qwen2`) in `REGISTRY`. Each declares `MODEL_TYPE`,
`ARCHITECTURE` (the transformers class), `OPTIONAL_PREFIX`,
`MAPPED_SETTINGS` (the CausalLM settings it maps: a positive list, so
training-only options never block a save), `arguments(config)`,
`config(model, settings)` and `tensors(model)` (the `Tensor` table both
loading and saving read). Adding an architecture is one module and one
registry entry."""

import inspect
import json
import pathlib

import keras

from kerasbig.layers import TransformerBlock
from kerasbig.models.language._hugging_face import files
from kerasbig.models.language._hugging_face import gpt2
from kerasbig.models.language._hugging_face import llama
from kerasbig.models.language._hugging_face import mistral
from kerasbig.models.language._hugging_face import qwen2

REGISTRY = {
    module.MODEL_TYPE: module for module in (gpt2, llama, mistral, qwen2)
}
"""Each supported `model_type` and its converter module."""
ARCHITECTURES = tuple(REGISTRY)
"""The Hugging Face `model_type`s `CausalLM` reads and writes."""
LLAMA_MODULES = llama.MODULES
"""Each projection of a block (`TransformerBlock.projections`) as a
Llama-family checkpoint names it under `model.layers.<i>.`."""
TOKEN_ID_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id")
"""The special token ids a Hugging Face config carries."""
DEFAULT_SHARD_BYTES = files.DEFAULT_SHARD_BYTES


def read_config(directory):
    """The `config.json` of a Hugging Face model folder, checked to be of
    a supported `model_type`."""
    path = pathlib.Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            "CausalLM.from_pretrained: expected a Hugging Face model folder "
            f"with a config.json. Received: {directory} (no {path.name})"
        )
    config = json.loads(path.read_text())
    kind = config.get("model_type")
    if kind not in ARCHITECTURES:
        raise ValueError(
            f"CausalLM.from_pretrained: model_type {kind!r} in {path} is not "
            f"supported. Expected one of {list(ARCHITECTURES)}"
        )
    return config


def causal_lm_arguments(config):
    """`CausalLM` constructor arguments equal to a Hugging Face config."""
    return REGISTRY[config["model_type"]].arguments(config)


def infer_model_type(model):
    """The Hugging Face `model_type` a `CausalLM` is written as by
    default."""
    settings = _resolved(model, model.get_config())
    if settings["position"] == "learned":
        return "gpt2"
    if settings["sliding_window"]:
        return "mistral"
    if settings["attention_bias"] and not settings["attention_output_bias"]:
        return "qwen2"
    return "llama"


def hugging_face_config(model, model_type):
    """The `config.json` of `model` as a Hugging Face `model_type`; raises
    when the model has a setting that architecture cannot express."""
    if model_type not in ARCHITECTURES:
        raise ValueError(
            "CausalLM.save_pretrained: `model_type` must be one of "
            f"{list(ARCHITECTURES)}. Received: model_type={model_type!r}"
        )
    architecture = REGISTRY[model_type]
    settings = _resolved(model, model.get_config())
    dtype = keras.backend.standardize_dtype(model.weights[0].dtype)
    config = {
        "architectures": [architecture.ARCHITECTURE],
        "model_type": model_type,
        "vocab_size": model.vocabulary_size,
        "tie_word_embeddings": model.tie_embeddings,
        # transformers 4 reads torch_dtype, transformers 5 dtype.
        "torch_dtype": dtype,
        "dtype": dtype,
        **architecture.config(model, settings),
    }
    # The config must read back as this very model, in every setting
    # the architecture maps.
    written = _resolved(model, architecture.arguments(config))
    differences = [
        f"{name}={settings.get(name)!r} (as {model_type}: "
        f"{written.get(name)!r})"
        for name in architecture.MAPPED_SETTINGS
        if settings.get(name) != written.get(name)
    ]
    if differences:
        raise ValueError(
            f"CausalLM.save_pretrained: this model cannot be written as "
            f"{model_type}: " + "; ".join(differences)
        )
    return config


def _defaults(function):
    return {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not parameter.empty
    }


def _resolved(model, arguments):
    """CausalLM arguments with every default its blocks apply filled in
    (head size, key/value heads, per-group biases)."""
    settings = {
        **_defaults(TransformerBlock.__init__),
        **_defaults(type(model).__init__),
        **arguments,
    }
    settings["key_dim"] = (
        settings["key_dim"] or settings["hidden_dim"] // settings["num_heads"]
    )
    settings["num_key_value_heads"] = (
        settings["num_key_value_heads"] or settings["num_heads"]
    )
    for name in (
        "attention_bias",
        "attention_output_bias",
        "feed_forward_bias",
    ):
        if settings[name] is None:
            settings[name] = settings["use_bias"]
    if settings["position"] == "learned":  # no rotary settings apply
        for name in ("rotary_max_wavelength", "rotary_scaling_factor"):
            settings.pop(name)
        settings.pop("rotary_frequency_scaling")
    # Per-block arguments a CausalLM sets itself.
    for name in ("causal", "seed", "cross_attention", "stochastic_depth"):
        settings.pop(name, None)
    return settings


def load_weights(model, directory, model_type):
    """Assigns every variable of `model` from the folder's safetensors;
    raises naming a missing, unexpected or mis-shaped tensor."""
    files.load_weights(model, directory, REGISTRY[model_type])


def save_weights(model, directory, model_type, max_shard_bytes):
    """Writes `model`'s weights as `model_type` names them."""
    files.save_weights(model, directory, REGISTRY[model_type], max_shard_bytes)
