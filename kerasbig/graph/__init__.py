"""Graph neural networks, in two families: `layers` (GNN layers and
readouts) and `data` (graph batches, data sets, loaders), with the graph
ops (`ops`) both use. Every public name is also here.

Graphs are node features `x` of shape `(N, F)` and an int `edge_index` of
shape `(2, E)` (row 0 = source, row 1 = target), PyTorch Geometric's
format and semantics.
"""

from kerasbig.graph.data import AnswerLabels
from kerasbig.graph.data import GraphBatch
from kerasbig.graph.data import GraphDataset
from kerasbig.graph.data import KnowledgeGraph
from kerasbig.graph.data import NeighborLoader
from kerasbig.graph.data import batch_graphs
from kerasbig.graph.data import from_networkx
from kerasbig.graph.data import from_scipy_sparse
from kerasbig.graph.data import load_planetoid
from kerasbig.graph.data import load_triples
from kerasbig.graph.data import load_tu_dataset
from kerasbig.graph.layers import GATConv
from kerasbig.graph.layers import GATv2Conv
from kerasbig.graph.layers import GCNConv
from kerasbig.graph.layers import GINConv
from kerasbig.graph.layers import GINEConv
from kerasbig.graph.layers import GlobalAttentionPool
from kerasbig.graph.layers import GlobalMaxPool
from kerasbig.graph.layers import GlobalMeanPool
from kerasbig.graph.layers import GlobalSumPool
from kerasbig.graph.layers import RGCNConv
from kerasbig.graph.layers import SAGEConv
from kerasbig.graph.ops import add_remaining_self_loops
from kerasbig.graph.ops import add_self_loops
from kerasbig.graph.ops import check_edge_index
from kerasbig.graph.ops import degree
from kerasbig.graph.ops import gcn_norm
from kerasbig.graph.ops import replace_self_loops

__all__ = [
    "AnswerLabels",
    "GATConv",
    "GATv2Conv",
    "GCNConv",
    "GINConv",
    "GINEConv",
    "GlobalAttentionPool",
    "GlobalMaxPool",
    "GlobalMeanPool",
    "GlobalSumPool",
    "GraphBatch",
    "GraphDataset",
    "KnowledgeGraph",
    "NeighborLoader",
    "RGCNConv",
    "SAGEConv",
    "add_remaining_self_loops",
    "add_self_loops",
    "batch_graphs",
    "check_edge_index",
    "degree",
    "from_networkx",
    "from_scipy_sparse",
    "gcn_norm",
    "load_planetoid",
    "load_triples",
    "load_tu_dataset",
    "replace_self_loops",
]
