"""Graph batches, graph ops, GNN layers, readouts and loaders.

Filled by the graph neural network work; nothing is public yet.
"""

__all__ = []
