import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from kerasbig.graph import GCNConv
from kerasbig.graph import from_networkx
from kerasbig.graph import from_scipy_sparse

torch = pytest.importorskip("torch")
pyg_utils = pytest.importorskip("torch_geometric.utils")


# Runs once (on TensorFlow): the converters are NumPy/SciPy on every
# backend; GCNConv has its own per-backend tests.
pytestmark = pytest.mark.backend_agnostic


def _weighted_karate():
    graph = nx.karate_club_graph()  # has a numeric "weight" per edge
    for node in graph.nodes:
        graph.nodes[node]["degree"] = float(graph.degree[node])
        graph.nodes[node]["position"] = [node / 10.0, -node / 10.0]
    for i, (u, v) in enumerate(graph.edges):
        graph.edges[u, v]["kind"] = [float(i % 3), 1.0]
    return graph


@pytest.mark.parametrize("directed", [False, True])
def test_from_networkx_equals_pyg(directed):
    graph = _weighted_karate()
    if directed:
        graph = graph.to_directed()
        graph.remove_edge(0, 1)  # no longer symmetric
    reference = pyg_utils.from_networkx(
        graph, group_node_attrs=["degree", "position"]
    )
    batch = from_networkx(
        graph,
        node_features=["degree", "position"],
        edge_weight="weight",
        edge_features=["kind"],
    )
    np.testing.assert_array_equal(
        batch.edge_index, reference.edge_index.numpy()
    )
    np.testing.assert_allclose(batch.x, reference.x.numpy())
    np.testing.assert_allclose(batch.edge_weight, reference.weight.numpy())
    np.testing.assert_allclose(batch.edge_attr, reference.kind.numpy())
    assert batch.x.shape == (34, 3)


def test_from_networkx_relabels_non_integer_nodes_and_multiedges():
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(["b", "a", "c"])
    graph.add_edges_from([("a", "b"), ("a", "b"), ("c", "c")])
    batch = from_networkx(graph, x=np.eye(3))
    reference = pyg_utils.from_networkx(graph)
    np.testing.assert_array_equal(
        batch.edge_index, reference.edge_index.numpy()
    )
    assert batch.edge_index.tolist() == [[1, 1, 2], [0, 0, 2]]


def test_from_networkx_errors_name_the_problem():
    graph = nx.path_graph(3)
    with pytest.raises(ValueError, match="exactly one of `node_features`"):
        from_networkx(graph)
    with pytest.raises(ValueError, match="node 0 has no attribute 'size'"):
        from_networkx(graph, node_features="size")
    nx.set_node_attributes(graph, "big", "size")
    with pytest.raises(ValueError, match="'size' must be numeric"):
        from_networkx(graph, node_features="size")
    with pytest.raises(ValueError, match="GraphBatch: expected `x`"):
        from_networkx(graph, x=np.ones(3))


def test_from_scipy_sparse_equals_pyg_and_feeds_a_layer():
    rng = np.random.default_rng(0)
    adjacency = sp.random(20, 20, density=0.15, random_state=1, format="csr")
    adjacency.setdiag(0.7)  # existing self-loops
    x = rng.standard_normal((20, 4)).astype("float32")
    batch = from_scipy_sparse(adjacency, x)
    edge_index, weight = pyg_utils.from_scipy_sparse_matrix(adjacency)
    np.testing.assert_array_equal(batch.edge_index, edge_index.numpy())
    np.testing.assert_allclose(batch.edge_weight, weight.numpy(), rtol=1e-6)
    unweighted = from_scipy_sparse(adjacency.tocsc(), x, weighted=False)
    assert unweighted.edge_weight is None
    assert sorted(map(tuple, unweighted.edge_index.T)) == sorted(
        map(tuple, batch.edge_index.T)
    )
    out = GCNConv(3)(batch.x, batch.edge_index, edge_weight=batch.edge_weight)
    assert tuple(out.shape) == (20, 3)


def test_from_scipy_sparse_errors_name_the_problem():
    with pytest.raises(ValueError, match="square scipy.sparse matrix"):
        from_scipy_sparse(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="square scipy.sparse matrix"):
        from_scipy_sparse(sp.random(3, 4, format="csr"), np.eye(3))
    with pytest.raises(ValueError, match="num_nodes=3 rows"):
        from_scipy_sparse(sp.eye(3, format="csr"), np.eye(4))
