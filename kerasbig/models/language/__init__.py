"""Language models: the decoder-only `CausalLM` (cached generation,
Hugging Face checkpoints in `_hugging_face`, LoRA in `_lora`) and the
encoder `TransformerClassifier`."""

from kerasbig.models.language.causal_lm import CausalLM
from kerasbig.models.language.transformer_classifier import (
    TransformerClassifier,
)

__all__ = ["CausalLM", "TransformerClassifier"]
