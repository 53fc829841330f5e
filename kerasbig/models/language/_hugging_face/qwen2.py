"""Qwen2 (`model_type` "qwen2"): Llama with query/key/value biases."""

from kerasbig.models.language._hugging_face import llama
from kerasbig.models.language._hugging_face.common import unsupported

MODEL_TYPE = "qwen2"
ARCHITECTURE = "Qwen2ForCausalLM"
OPTIONAL_PREFIX = ""
MAPPED_SETTINGS = llama.MAPPED_SETTINGS
tensors = llama.tensors


def arguments(config):
    """CausalLM arguments equal to a Qwen2 config."""
    if config.get("use_sliding_window"):
        raise unsupported(config, "use_sliding_window", True, False)
    return {**llama.family_arguments(config), "attention_bias": True}


def config(model, settings):
    """The Qwen2 config of `model` (its resolved `settings`)."""
    return {**llama.family_config(model, settings), "use_sliding_window": False}
