"""Models: GAN family, VAE, Distiller, TransformerClassifier, CausalLM."""

from kerasbig.models.causal_lm import CausalLM
from kerasbig.models.distiller import Distiller
from kerasbig.models.transformer_classifier import TransformerClassifier

__all__ = ["CausalLM", "Distiller", "TransformerClassifier"]
