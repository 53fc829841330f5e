"""Models: GAN family, VAE, Distiller, TransformerClassifier, CausalLM."""

from kerasbig.models.causal_lm import CausalLM
from kerasbig.models.transformer_classifier import TransformerClassifier

__all__ = ["CausalLM", "TransformerClassifier"]
