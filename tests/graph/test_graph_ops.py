import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.graph import add_remaining_self_loops
from kerasbig.graph import add_self_loops
from kerasbig.graph import check_edge_index
from kerasbig.graph import degree
from kerasbig.graph import gcn_norm
from kerasbig.ops import segment_max
from kerasbig.ops import segment_mean
from kerasbig.ops import segment_softmax
from kerasbig.ops import segment_sum

torch = reference("torch")
pyg_utils = reference("torch_geometric.utils")
gcn_module = reference("torch_geometric.nn.conv.gcn_conv")


@requires(pyg_utils, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_segment_reductions_match_torch_scatter_semantics(reduce):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((20, 3)).astype("float32")
    ids = rng.integers(0, 6, 20)
    ids[ids == 4] = 5  # segment 4 stays empty
    ours = {"sum": segment_sum, "mean": segment_mean, "max": segment_max}[
        reduce
    ]
    expected = pyg_utils.scatter(
        torch.from_numpy(data),
        torch.from_numpy(ids),
        0,
        dim_size=7,
        reduce=reduce,
    ).numpy()
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours(data, ids, 7)), expected, atol=1e-6
    )


@requires(pyg_utils, "torch-geometric")
@requires(torch, "torch")
def test_segment_softmax_matches_pyg():
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((15, 2)) * 10).astype("float32")
    ids = rng.integers(0, 5, 15)
    expected = pyg_utils.softmax(
        torch.from_numpy(logits), torch.from_numpy(ids), num_nodes=5
    ).numpy()
    np.testing.assert_allclose(
        ops.convert_to_numpy(segment_softmax(logits, ids, 5)),
        expected,
        atol=1e-6,
    )


def _dense(edge_index, weight, n):
    """Weighted adjacency (target, source) summing duplicates."""
    adjacency = np.zeros((n, n))
    np.add.at(adjacency, (edge_index[1], edge_index[0]), weight)
    return adjacency


@requires(pyg_utils, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("with_weight", [False, True])
def test_add_remaining_self_loops_matches_pyg(graph, with_weight):
    _, edge_index, weight = graph
    weight = weight if with_weight else None
    n = 12
    # PyG has no loop weight without edge weights: they count as 1.
    fill = 3.0 if with_weight else 1.0
    edges, weights = add_remaining_self_loops(edge_index, n, weight, fill)
    theirs_edges, theirs_weights = pyg_utils.add_remaining_self_loops(
        torch.from_numpy(edge_index).long(),
        None if weight is None else torch.from_numpy(weight),
        fill_value=fill,
        num_nodes=n,
    )
    if theirs_weights is None:
        theirs_weights = torch.ones(theirs_edges.shape[1])
    # Same graph: equal weighted adjacency (ours keeps old loops at 0).
    np.testing.assert_allclose(
        _dense(ops.convert_to_numpy(edges), ops.convert_to_numpy(weights), n),
        _dense(theirs_edges.numpy(), theirs_weights.numpy(), n),
        atol=1e-6,
    )


def test_add_self_loops_appends_loops():
    edges, weights = add_self_loops(
        np.array([[0, 1], [1, 1]]), 3, np.array([2.0, 3.0], "float32"), 0.5
    )
    assert ops.convert_to_numpy(edges).tolist() == [
        [0, 1, 0, 1, 2],
        [1, 1, 0, 1, 2],
    ]
    assert ops.convert_to_numpy(weights).tolist() == [2.0, 3.0, 0.5, 0.5, 0.5]


@requires(gcn_module, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("improved", [False, True])
def test_gcn_norm_matches_pyg(graph, improved):
    _, edge_index, weight = graph
    edges, norm = gcn_norm(edge_index, 12, weight, improved=improved)
    theirs_edges, theirs_norm = gcn_module.gcn_norm(
        torch.from_numpy(edge_index).long(),
        torch.from_numpy(weight),
        num_nodes=12,
        improved=improved,
    )
    np.testing.assert_allclose(
        _dense(ops.convert_to_numpy(edges), ops.convert_to_numpy(norm), 12),
        _dense(theirs_edges.numpy(), theirs_norm.numpy(), 12),
        atol=1e-6,
    )


def test_degree_counts_and_weights():
    index = np.array([0, 2, 2])
    assert ops.convert_to_numpy(degree(index, 3)).tolist() == [1.0, 0.0, 2.0]
    weights = np.array([0.5, 1.0, 2.0], "float32")
    assert ops.convert_to_numpy(degree(index, 3, weights)).tolist() == [
        0.5,
        0.0,
        3.0,
    ]


@pytest.mark.parametrize(
    "edge_index, match",
    [
        (np.zeros((3, 4), "int32"), r"shape \(2, E\).*shape=\(3, 4\)"),
        (np.zeros((2, 4), "float32"), "int tensor.*dtype=float32"),
        (np.array([[0, 5], [1, 2]]), r"outside \[0, 4\).*from 0 to 5"),
        (np.array([[0, -1], [1, 2]]), r"outside \[0, 4\).*from -1 to 2"),
    ],
)
def test_check_edge_index(edge_index, match):
    with pytest.raises(ValueError, match=f"MyLayer: `edge_index`.*{match}"):
        check_edge_index("MyLayer", edge_index, 4)
