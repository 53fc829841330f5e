import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from keras import ops

from kerasbig.graph import GATConv
from kerasbig.graph import GATv2Conv
from kerasbig.graph import GCNConv
from kerasbig.graph import GINEConv
from kerasbig.graph import GlobalAttentionPool
from kerasbig.graph import GlobalMaxPool
from kerasbig.graph import GlobalMeanPool
from kerasbig.graph import GlobalSumPool
from kerasbig.graph import GraphBatch
from kerasbig.graph import SAGEConv
from kerasbig.graph import batch_graphs


def _random_graph(seed, num_nodes=None):
    rng = np.random.default_rng(seed)
    n = int(num_nodes or rng.integers(2, 9))
    e = int(rng.integers(0, 3 * n))
    edge_index = rng.integers(0, n, (2, e))
    return GraphBatch(
        rng.standard_normal((n, 4)),
        edge_index,
        edge_weight=rng.uniform(0.5, 2, e),
        edge_attr=rng.standard_normal((e, 2)),
    )


# Each layer as a function of a GraphBatch; weights are created once.
LAYERS = {
    "gcn": (
        GCNConv(3),
        lambda layer, g: layer(g.x, g.edge_index, g.edge_weight),
    ),
    "gat": (
        GATConv(3, heads=2),
        lambda layer, g: layer(g.x, g.edge_index, g.edge_attr),
    ),
    "gatv2": (
        GATv2Conv(3),
        lambda layer, g: layer(g.x, g.edge_index, g.edge_attr),
    ),
    "sage_max": (
        SAGEConv(3, aggregation="max"),
        lambda layer, g: layer(g.x, g.edge_index),
    ),
    "gine": (
        GINEConv(keras.layers.Dense(3), edge_dim=2),
        lambda layer, g: layer(g.x, g.edge_index, g.edge_attr),
    ),
}


def _pools():
    # Fresh per test: the attention gate fixes its input width when built.
    return [
        GlobalSumPool(),
        GlobalMeanPool(),
        GlobalMaxPool(),
        GlobalAttentionPool(keras.layers.Dense(1)),
    ]


def _run(name, graph):
    layer, call = LAYERS[name]
    return ops.convert_to_numpy(call(layer, graph))


def test_batch_graphs_offsets_and_fields():
    a, b = _random_graph(0, 3), _random_graph(1, 4)
    batch = batch_graphs([a, b])
    assert batch.num_nodes == 7 and batch.num_graphs == 2
    np.testing.assert_array_equal(
        batch.edge_index[:, a.num_edges :], b.edge_index + 3
    )
    assert batch.graph_index.tolist() == [0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_array_equal(
        batch.edge_attr, np.concatenate([a.edge_attr, b.edge_attr])
    )


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_disjoint_batch_gives_each_graph_its_own_outputs(name):
    graphs = [_random_graph(seed) for seed in range(4)]
    batched = _run(name, batch_graphs(graphs))
    start = 0
    for graph in graphs:
        alone = _run(name, graph)
        np.testing.assert_allclose(
            batched[start : start + graph.num_nodes], alone, atol=1e-5
        )
        start += graph.num_nodes


@settings(deadline=None, derandomize=True)  # examples: the tier's profile
@given(
    seed=st.integers(0, 10_000),
    extra_nodes=st.integers(1, 5),
    extra_edges=st.integers(0, 6),
    name=st.sampled_from(sorted(LAYERS)),
)
def test_padding_changes_no_real_output(seed, extra_nodes, extra_edges, name):
    batch = batch_graphs([_random_graph(seed), _random_graph(seed + 1)])
    padded = batch.pad(
        batch.num_nodes + extra_nodes, batch.num_edges + extra_edges
    )
    real = _run(name, batch)
    padded_out = _run(name, padded)
    np.testing.assert_allclose(padded_out[padded.node_mask], real, atol=1e-5)
    for pool in _pools():
        pooled = pool(real, batch.graph_index, num_graphs=batch.num_graphs)
        padded_pooled = pool(
            padded_out, padded.graph_index, num_graphs=padded.num_graphs
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(padded_pooled)[padded.graph_mask],
            ops.convert_to_numpy(pooled),
            atol=1e-5,
        )


@settings(deadline=None, derandomize=True)  # examples: the tier's profile
@given(seed=st.integers(0, 10_000), name=st.sampled_from(sorted(LAYERS)))
def test_node_outputs_are_permutation_equivariant(seed, name):
    graph = _random_graph(seed)
    order = np.random.default_rng(seed).permutation(graph.num_nodes)
    inverse = np.argsort(order)
    permuted = GraphBatch(
        graph.x[order],
        inverse[graph.edge_index],
        edge_weight=graph.edge_weight,
        edge_attr=graph.edge_attr,
    )
    np.testing.assert_allclose(
        _run(name, permuted), _run(name, graph)[order], atol=1e-5
    )
    for pool in _pools():
        np.testing.assert_allclose(
            ops.convert_to_numpy(pool(graph.x[order])),
            ops.convert_to_numpy(pool(graph.x)),
            atol=1e-5,
        )


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_graphs_without_edges(name):
    graph = GraphBatch(
        np.ones((3, 4)),
        np.zeros((2, 0), "int32"),
        edge_weight=np.zeros(0),
        edge_attr=np.zeros((0, 2)),
    )
    out = _run(name, graph)
    assert out.shape[0] == 3 and np.isfinite(out).all()


def test_inputs_dict_and_masks():
    batch = batch_graphs([_random_graph(0, 3)]).pad(6, 20, 3)
    inputs = batch.inputs()
    assert sorted(inputs) == [
        "edge_attr",
        "edge_index",
        "edge_weight",
        "graph_index",
        "x",
    ]
    assert inputs["x"].shape == (6, 4) and inputs["edge_index"].shape == (2, 20)
    assert batch.node_mask.tolist() == [True] * 3 + [False] * 3
    assert batch.graph_mask.tolist() == [True, False, False]


def test_bad_graphs_and_budgets():
    with pytest.raises(
        ValueError, match=r"GraphBatch: expected .*edge_index.shape=\(3, 2\)"
    ):
        GraphBatch(np.ones((3, 2)), np.zeros((3, 2), "int32"))
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        GraphBatch(np.ones((3, 2)), np.array([[0], [3]]))
    with pytest.raises(
        ValueError, match="`edge_weight` must have one row per edge"
    ):
        GraphBatch(
            np.ones((3, 2)), np.array([[0], [1]]), edge_weight=[1.0, 2.0]
        )
    graph = _random_graph(0, 3)
    with pytest.raises(
        ValueError, match="GraphBatch.pad: the budgets must hold"
    ):
        graph.pad(num_nodes=3, num_edges=100)
    with pytest.raises(
        ValueError, match="batch_graphs: `edge_attr` is set on some"
    ):
        batch_graphs(
            [
                graph,
                GraphBatch(
                    np.ones((2, 4)), np.array([[0], [1]]), edge_weight=[1.0]
                ),
            ]
        )
