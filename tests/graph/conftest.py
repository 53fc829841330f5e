"""Random graphs with the awkward parts PyG handles: isolated nodes,
existing self-loops, duplicate edges, edge weights."""

import numpy as np
import pytest


def awkward_graph(seed=0, num_nodes=12, num_edges=30, features=5):
    rng = np.random.default_rng(seed)
    # The last two nodes never appear in an edge: isolated.
    connected = num_nodes - 2
    edge_index = rng.integers(0, connected, (2, num_edges))
    edge_index[:, :3] = [[1, 4, 4], [1, 4, 4]]  # self-loops, one duplicated
    edge_index[:, 3:5] = [[2, 2], [3, 3]]  # a duplicate edge
    x = rng.standard_normal((num_nodes, features)).astype("float32")
    weight = rng.uniform(0.5, 2.0, num_edges).astype("float32")
    return x, edge_index.astype("int32"), weight


@pytest.fixture
def graph():
    return awkward_graph()


@pytest.fixture
def make_graph():
    """`make_graph(seed)`: another awkward graph."""
    return awkward_graph
