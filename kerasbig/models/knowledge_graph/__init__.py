"""Knowledge-graph embeddings scored against every entity (TransE,
DistMult, ComplEx, RotatE and their base class) and the R-GCN link
predictor."""

from kerasbig.models.knowledge_graph.knowledge_graph_embedding import ComplEx
from kerasbig.models.knowledge_graph.knowledge_graph_embedding import DistMult
from kerasbig.models.knowledge_graph.knowledge_graph_embedding import (
    KnowledgeGraphEmbedding,
)
from kerasbig.models.knowledge_graph.knowledge_graph_embedding import RotatE
from kerasbig.models.knowledge_graph.knowledge_graph_embedding import TransE
from kerasbig.models.knowledge_graph.knowledge_graph_embedding import (
    smooth_labels,
)
from kerasbig.models.knowledge_graph.rgcn_link_predictor import (
    RGCNLinkPredictor,
)

__all__ = [
    "ComplEx",
    "DistMult",
    "KnowledgeGraphEmbedding",
    "RGCNLinkPredictor",
    "RotatE",
    "TransE",
    "smooth_labels",
]
