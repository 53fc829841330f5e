"""Models that train with `fit()`, by family: `generative` (GAN family,
VAE, DCGAN builders), `language` (CausalLM, TransformerClassifier),
`knowledge_graph` (TransE, DistMult, ComplEx, RotatE, the R-GCN link
predictor), and the `Distiller`. Every public name is also here."""

from kerasbig.models.distiller import Distiller
from kerasbig.models.generative import GAN
from kerasbig.models.generative import VAE
from kerasbig.models.generative import WGANGP
from kerasbig.models.generative import ConditionalGAN
from kerasbig.models.generative import dcgan_discriminator
from kerasbig.models.generative import dcgan_generator
from kerasbig.models.knowledge_graph import ComplEx
from kerasbig.models.knowledge_graph import DistMult
from kerasbig.models.knowledge_graph import KnowledgeGraphEmbedding
from kerasbig.models.knowledge_graph import RGCNLinkPredictor
from kerasbig.models.knowledge_graph import RotatE
from kerasbig.models.knowledge_graph import TransE
from kerasbig.models.knowledge_graph import smooth_labels
from kerasbig.models.language import CausalLM
from kerasbig.models.language import TransformerClassifier

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
    "smooth_labels",
]
