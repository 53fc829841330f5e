"""Models: GAN family, VAE, Distiller, TransformerClassifier, CausalLM.

Filled by the generative, compression and transformer work; nothing is
public yet.
"""

__all__ = []
