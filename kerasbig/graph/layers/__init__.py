"""GNN layers and readouts on PyTorch Geometric's edge format: GCN, GAT,
GATv2, GraphSAGE, GIN, GINE, R-GCN, and the global sum/mean/max/attention
pools."""

from kerasbig.graph.layers.gat_conv import GATConv
from kerasbig.graph.layers.gatv2_conv import GATv2Conv
from kerasbig.graph.layers.gcn_conv import GCNConv
from kerasbig.graph.layers.gin_conv import GINConv
from kerasbig.graph.layers.gine_conv import GINEConv
from kerasbig.graph.layers.global_attention_pool import GlobalAttentionPool
from kerasbig.graph.layers.global_max_pool import GlobalMaxPool
from kerasbig.graph.layers.global_mean_pool import GlobalMeanPool
from kerasbig.graph.layers.global_sum_pool import GlobalSumPool
from kerasbig.graph.layers.rgcn_conv import RGCNConv
from kerasbig.graph.layers.sage_conv import SAGEConv

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
    "RGCNConv",
    "SAGEConv",
]
