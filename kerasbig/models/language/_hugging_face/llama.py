"""Llama (`model_type` "llama"), and what its family (mistral, qwen2)
shares: rotary positions (theta, linear or Llama 3.1 scaling), RMSNorm,
SwiGLU, grouped-query attention, separate projections."""

from kerasbig.models.language._hugging_face.common import CORE_SETTINGS
from kerasbig.models.language._hugging_face.common import Tensor
from kerasbig.models.language._hugging_face.common import dense
from kerasbig.models.language._hugging_face.common import head
from kerasbig.models.language._hugging_face.common import norm
from kerasbig.models.language._hugging_face.common import unsupported

MODEL_TYPE = "llama"
ARCHITECTURE = "LlamaForCausalLM"
OPTIONAL_PREFIX = ""
MAPPED_SETTINGS = (
    *CORE_SETTINGS,
    "rotary_max_wavelength",
    "rotary_scaling_factor",
    "rotary_frequency_scaling",
)
"""The CausalLM settings the Llama family's converters map; the others
(dropout, remat, flash attention, dtype, initializers) never block a
save."""
MODULES = {
    "query": "self_attn.q_proj",
    "key": "self_attn.k_proj",
    "value": "self_attn.v_proj",
    "attention_output": "self_attn.o_proj",
    "gate": "mlp.gate_proj",
    "up": "mlp.up_proj",
    "down": "mlp.down_proj",
}
"""Each projection of a block (`TransformerBlock.projections`) as a
Llama-family checkpoint names it under `model.layers.<i>.`."""


def family_arguments(config):
    """CausalLM arguments of a Llama-family config (llama, mistral, qwen2)
    before each architecture's own settings."""
    if config.get("hidden_act", "silu") != "silu":
        raise unsupported(
            config, "hidden_act", config["hidden_act"], "silu (SwiGLU)"
        )
    heads = config["num_attention_heads"]
    arguments = {
        "vocabulary_size": config["vocab_size"],
        "max_sequence_length": config["max_position_embeddings"],
        "num_layers": config["num_hidden_layers"],
        "hidden_dim": config["hidden_size"],
        "num_heads": heads,
        "intermediate_dim": config["intermediate_size"],
        "num_key_value_heads": config.get("num_key_value_heads") or heads,
        "position": "rotary",
        "normalize_first": True,
        "normalization": "rms_norm",
        "activation": "swiglu",
        "use_bias": False,
        "tie_embeddings": config.get("tie_word_embeddings", False),
        "layer_norm_epsilon": config.get("rms_norm_eps", 1e-6),
        "key_dim": config.get("head_dim") or config["hidden_size"] // heads,
        **rope_arguments(config),
    }
    return arguments


def arguments(config):
    """CausalLM arguments equal to a Llama config."""
    arguments = family_arguments(config)
    attention_bias = bool(config.get("attention_bias", False))
    arguments["attention_bias"] = attention_bias
    arguments["attention_output_bias"] = attention_bias
    arguments["feed_forward_bias"] = bool(config.get("mlp_bias", False))
    return arguments


def rope_arguments(config):
    # transformers 5 writes `rope_parameters`; earlier versions wrote
    # `rope_theta` and `rope_scaling` (with "type" before "rope_type").
    parameters = dict(config.get("rope_parameters") or {})
    parameters.update(config.get("rope_scaling") or {})
    theta = parameters.get("rope_theta", config.get("rope_theta", 10000.0))
    kind = parameters.get("rope_type", parameters.get("type", "default"))
    arguments = {"rotary_max_wavelength": theta}
    if kind == "linear":
        arguments["rotary_scaling_factor"] = parameters["factor"]
    elif kind == "llama3":
        arguments["rotary_frequency_scaling"] = {
            "factor": parameters["factor"],
            "low_freq_factor": parameters["low_freq_factor"],
            "high_freq_factor": parameters["high_freq_factor"],
            "original_max_position_embeddings": parameters[
                "original_max_position_embeddings"
            ],
        }
    elif kind != "default":
        raise unsupported(
            config, "rope_type", kind, "default, linear or llama3"
        )
    return arguments


def family_config(model, settings):
    """The config keys the Llama family shares."""
    return {
        "max_position_embeddings": model.max_sequence_length,
        "hidden_size": model.hidden_dim,
        "intermediate_size": model.intermediate_dim,
        "num_hidden_layers": model.num_layers,
        "num_attention_heads": model.num_heads,
        "num_key_value_heads": settings["num_key_value_heads"],
        "head_dim": settings["key_dim"],
        "hidden_act": "silu",
        "rms_norm_eps": settings["layer_norm_epsilon"],
        "attention_dropout": settings.get("attention_dropout", 0.0),
        **rope_config(settings),
    }


def config(model, settings):
    """The Llama config of `model` (its resolved `settings`)."""
    return {
        **family_config(model, settings),
        "attention_bias": settings["attention_bias"],
        "mlp_bias": settings["feed_forward_bias"],
    }


def rope_config(settings):
    parameters = {
        "rope_type": "default",
        "rope_theta": float(settings["rotary_max_wavelength"]),
    }
    if settings.get("rotary_frequency_scaling"):
        parameters.update(
            rope_type="llama3", **settings["rotary_frequency_scaling"]
        )
    elif settings.get("rotary_scaling_factor", 1.0) != 1.0:
        parameters.update(
            rope_type="linear", factor=settings["rotary_scaling_factor"]
        )
    # transformers 5 reads `rope_parameters`; transformers 4, vLLM and
    # llama.cpp's converter read top-level `rope_theta` and `rope_scaling`
    # (None by default; "type" in old readers, "rope_type" in newer ones)
    # and fall back to theta 10000 without them.
    scaling = {k: v for k, v in parameters.items() if k != "rope_theta"}
    legacy_scaling = (
        None
        if scaling["rope_type"] == "default"
        else {"type": scaling["rope_type"], **scaling}
    )
    return {
        "rope_parameters": parameters,
        "rope_theta": parameters["rope_theta"],
        "rope_scaling": legacy_scaling,
    }


def tensors(model):
    """The `Tensor`s of `model` as the Llama family names them, in
    checkpoint order."""
    found = [
        Tensor(
            "model.embed_tokens.weight",
            (model.embedding.token_embedding.embeddings,),
        )
    ]
    for index, block in enumerate(model.decoder.blocks):
        prefix = f"model.layers.{index}"
        projections = block.projections()
        found += norm(f"{prefix}.input_layernorm", block.self_attention_norm)
        for role in ("query", "key", "value", "attention_output"):
            found += dense(
                f"{prefix}.{MODULES[role]}",
                projections[role],
                # (heads, head_dim, features): two input axes.
                inputs=2 if role == "attention_output" else 1,
            )
        found += norm(
            f"{prefix}.post_attention_layernorm", block.feed_forward_norm
        )
        for role in ("gate", "up", "down"):
            found += dense(f"{prefix}.{MODULES[role]}", projections[role])
    found += norm("model.norm", model.decoder.final_norm)
    return found + head(model)
