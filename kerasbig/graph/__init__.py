"""Graph neural networks: graph ops, GNN layers and readouts.

Graphs are node features `x` of shape `(N, F)` and an int `edge_index` of
shape `(2, E)` (row 0 = source, row 1 = target), PyTorch Geometric's
format and semantics.
"""

from kerasbig.graph.convert import from_networkx
from kerasbig.graph.convert import from_scipy_sparse
from kerasbig.graph.gat_conv import GATConv
from kerasbig.graph.gatv2_conv import GATv2Conv
from kerasbig.graph.gcn_conv import GCNConv
from kerasbig.graph.gin_conv import GINConv
from kerasbig.graph.gine_conv import GINEConv
from kerasbig.graph.global_attention_pool import GlobalAttentionPool
from kerasbig.graph.global_max_pool import GlobalMaxPool
from kerasbig.graph.global_mean_pool import GlobalMeanPool
from kerasbig.graph.global_sum_pool import GlobalSumPool
from kerasbig.graph.graph_batch import GraphBatch
from kerasbig.graph.graph_batch import batch_graphs
from kerasbig.graph.graph_dataset import GraphDataset
from kerasbig.graph.knowledge_graph import KnowledgeGraph
from kerasbig.graph.knowledge_graph import load_triples
from kerasbig.graph.neighbor_loader import NeighborLoader
from kerasbig.graph.ops import add_remaining_self_loops
from kerasbig.graph.ops import add_self_loops
from kerasbig.graph.ops import check_edge_index
from kerasbig.graph.ops import degree
from kerasbig.graph.ops import gcn_norm
from kerasbig.graph.ops import replace_self_loops
from kerasbig.graph.planetoid import load_planetoid
from kerasbig.graph.rgcn_conv import RGCNConv
from kerasbig.graph.sage_conv import SAGEConv
from kerasbig.graph.tu_dataset import load_tu_dataset

__all__ = [
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
