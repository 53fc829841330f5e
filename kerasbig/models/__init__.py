"""Models: GAN family, VAE, Distiller, TransformerClassifier, CausalLM,
and DCGAN builders."""

from kerasbig.models.causal_lm import CausalLM
from kerasbig.models.conditional_gan import ConditionalGAN
from kerasbig.models.dcgan import dcgan_discriminator
from kerasbig.models.dcgan import dcgan_generator
from kerasbig.models.distiller import Distiller
from kerasbig.models.gan import GAN
from kerasbig.models.transformer_classifier import TransformerClassifier
from kerasbig.models.vae import VAE
from kerasbig.models.wgan_gp import WGANGP

__all__ = [
    "CausalLM",
    "ConditionalGAN",
    "Distiller",
    "GAN",
    "TransformerClassifier",
    "VAE",
    "WGANGP",
    "dcgan_discriminator",
    "dcgan_generator",
]
