"""Models: GAN family, VAE, Distiller, TransformerClassifier, CausalLM,
DCGAN builders, and knowledge-graph embeddings (TransE, DistMult,
ComplEx, RotatE, the R-GCN link predictor)."""

from kerasbig.models.causal_lm import CausalLM
from kerasbig.models.conditional_gan import ConditionalGAN
from kerasbig.models.dcgan import dcgan_discriminator
from kerasbig.models.dcgan import dcgan_generator
from kerasbig.models.distiller import Distiller
from kerasbig.models.gan import GAN
from kerasbig.models.knowledge_graph_embedding import ComplEx
from kerasbig.models.knowledge_graph_embedding import DistMult
from kerasbig.models.knowledge_graph_embedding import KnowledgeGraphEmbedding
from kerasbig.models.knowledge_graph_embedding import RotatE
from kerasbig.models.knowledge_graph_embedding import TransE
from kerasbig.models.rgcn_link_predictor import RGCNLinkPredictor
from kerasbig.models.transformer_classifier import TransformerClassifier
from kerasbig.models.vae import VAE
from kerasbig.models.wgan_gp import WGANGP

__all__ = [
    "CausalLM",
    "ComplEx",
    "ConditionalGAN",
    "DistMult",
    "Distiller",
    "GAN",
    "KnowledgeGraphEmbedding",
    "RGCNLinkPredictor",
    "RotatE",
    "TransE",
    "TransformerClassifier",
    "VAE",
    "WGANGP",
    "dcgan_discriminator",
    "dcgan_generator",
]
