"""Generative models that train with `fit()`: the GAN family (GAN,
WGAN-GP, conditional GAN), the DCGAN generator and discriminator
builders, and the VAE."""

from kerasbig.models.generative.conditional_gan import ConditionalGAN
from kerasbig.models.generative.dcgan import dcgan_discriminator
from kerasbig.models.generative.dcgan import dcgan_generator
from kerasbig.models.generative.gan import GAN
from kerasbig.models.generative.vae import VAE
from kerasbig.models.generative.wgan_gp import WGANGP

__all__ = [
    "ConditionalGAN",
    "GAN",
    "VAE",
    "WGANGP",
    "dcgan_discriminator",
    "dcgan_generator",
]
