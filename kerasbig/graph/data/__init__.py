"""Graphs as data: `GraphBatch` (many graphs as one padded batch),
`GraphDataset` and `NeighborLoader` (fit-ready batches), the Planetoid,
TU and knowledge-graph loaders, and converters from NetworkX and SciPy."""

from kerasbig.graph.data.convert import from_networkx
from kerasbig.graph.data.convert import from_scipy_sparse
from kerasbig.graph.data.graph_batch import GraphBatch
from kerasbig.graph.data.graph_batch import batch_graphs
from kerasbig.graph.data.graph_dataset import GraphDataset
from kerasbig.graph.data.knowledge_graph import AnswerLabels
from kerasbig.graph.data.knowledge_graph import KnowledgeGraph
from kerasbig.graph.data.knowledge_graph import load_triples
from kerasbig.graph.data.neighbor_loader import NeighborLoader
from kerasbig.graph.data.planetoid import load_planetoid
from kerasbig.graph.data.tu_dataset import load_tu_dataset

__all__ = [
    "AnswerLabels",
    "GraphBatch",
    "GraphDataset",
    "KnowledgeGraph",
    "NeighborLoader",
    "batch_graphs",
    "from_networkx",
    "from_scipy_sparse",
    "load_planetoid",
    "load_triples",
    "load_tu_dataset",
]
