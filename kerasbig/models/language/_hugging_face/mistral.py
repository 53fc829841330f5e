"""Mistral (`model_type` "mistral"): Llama with a sliding attention
window."""

from kerasbig.models.language._hugging_face import llama

MODEL_TYPE = "mistral"
ARCHITECTURE = "MistralForCausalLM"
OPTIONAL_PREFIX = ""
MAPPED_SETTINGS = llama.MAPPED_SETTINGS
tensors = llama.tensors


def arguments(config):
    """CausalLM arguments equal to a Mistral config."""
    return {
        **llama.family_arguments(config),
        "sliding_window": config.get("sliding_window"),
    }


def config(model, settings):
    """The Mistral config of `model` (its resolved `settings`)."""
    return {
        **llama.family_config(model, settings),
        "sliding_window": settings.get("sliding_window"),
    }
