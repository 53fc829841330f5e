"""GPT-2 (`model_type` "gpt2"): learned positions, LayerNorm, GELU,
biases everywhere, query/key/value fused in one Conv1D."""

from kerasbig.models.language._hugging_face.common import CORE_SETTINGS
from kerasbig.models.language._hugging_face.common import Tensor
from kerasbig.models.language._hugging_face.common import dense
from kerasbig.models.language._hugging_face.common import head
from kerasbig.models.language._hugging_face.common import norm
from kerasbig.models.language._hugging_face.common import unsupported

MODEL_TYPE = "gpt2"
ARCHITECTURE = "GPT2LMHeadModel"
OPTIONAL_PREFIX = "transformer."
MAPPED_SETTINGS = CORE_SETTINGS  # learned positions: no rotary settings
# Hugging Face activation names -> FeedForward's, for GPT-2 (ungated).
ACTIVATIONS = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
}


def arguments(config):
    """CausalLM arguments equal to a GPT-2 config."""
    activation = config.get("activation_function", "gelu_new")
    if activation not in ACTIVATIONS:
        raise unsupported(
            config, "activation_function", activation, list(ACTIVATIONS)
        )
    for setting, supported in (
        ("scale_attn_weights", True),
        ("scale_attn_by_inverse_layer_idx", False),
        ("add_cross_attention", False),
    ):
        if config.get(setting, supported) != supported:
            raise unsupported(config, setting, config[setting], supported)
    hidden = config["n_embd"]
    return {
        "vocabulary_size": config["vocab_size"],
        "max_sequence_length": config["n_positions"],
        "num_layers": config["n_layer"],
        "hidden_dim": hidden,
        "num_heads": config["n_head"],
        "intermediate_dim": config.get("n_inner") or 4 * hidden,
        "position": "learned",
        "normalize_first": True,
        "normalization": "layer_norm",
        "activation": ACTIVATIONS[activation],
        "use_bias": True,
        "tie_embeddings": config.get("tie_word_embeddings", True),
        "layer_norm_epsilon": config.get("layer_norm_epsilon", 1e-5),
    }


def config(model, settings):
    """The GPT-2 config of `model` (its resolved `settings`)."""
    activation = {"gelu_tanh": "gelu_new"}.get(
        model.activation, model.activation
    )
    return {
        "n_positions": model.max_sequence_length,
        "n_embd": model.hidden_dim,
        "n_layer": model.num_layers,
        "n_head": model.num_heads,
        "n_inner": model.intermediate_dim,
        "activation_function": activation,
        "layer_norm_epsilon": settings["layer_norm_epsilon"],
        "resid_pdrop": model.dropout,
        "embd_pdrop": 0.0,
        "attn_pdrop": settings.get("attention_dropout", 0.0),
    }


def tensors(model):
    """The `Tensor`s of `model` as GPT-2 names them, in checkpoint order."""
    token_table = model.embedding.token_embedding.embeddings
    position_table = model.embedding.position_embedding.embeddings
    found = [
        Tensor("transformer.wte.weight", (token_table,)),
        Tensor("transformer.wpe.weight", (position_table,)),
    ]
    for index, block in enumerate(model.decoder.blocks):
        prefix = f"transformer.h.{index}"
        projections = block.projections()
        fused = tuple(projections[role] for role in ("query", "key", "value"))
        found += norm(f"{prefix}.ln_1", block.self_attention_norm)
        # Conv1D layers: weights stored (in, out), query/key/value fused.
        found.append(
            Tensor(
                f"{prefix}.attn.c_attn.weight",
                tuple(dense.kernel for dense in fused),
            )
        )
        found.append(
            Tensor(
                f"{prefix}.attn.c_attn.bias",
                tuple(dense.bias for dense in fused),
                inputs=0,
            )
        )
        found += dense(
            f"{prefix}.attn.c_proj",
            projections["attention_output"],
            inputs=2,
            transposed=False,
        )
        found += norm(f"{prefix}.ln_2", block.feed_forward_norm)
        found += dense(
            f"{prefix}.mlp.c_fc", projections["up"], transposed=False
        )
        found += dense(
            f"{prefix}.mlp.c_proj", projections["down"], transposed=False
        )
    found += norm("transformer.ln_f", model.decoder.final_norm)
    return found + head(model)
