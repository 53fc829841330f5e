"""RGCNConv: PyG's RGCNConv on copied weights (no decomposition, bases,
blocks; mean, sum and max; node ids), the conformance harness, typed
padding."""

import keras
import numpy as np
import pytest
from keras import ops
from references import copy_rgcn_weights
from references import reference
from references import requires

from kerasbig.graph import GraphBatch
from kerasbig.graph import RGCNConv

torch = reference("torch")
pyg_nn = reference("torch_geometric.nn")

RELATIONS = 3


def _typed(graph, seed=0):
    x, edge_index, _ = graph
    edge_type = np.random.default_rng(seed).integers(
        0, RELATIONS, edge_index.shape[1]
    )
    return x, edge_index, edge_type.astype("int32")


@pytest.mark.parametrize(
    "options",
    [
        {"num_bases": 2},
        pytest.param({}, marks=pytest.mark.tensorflow_per_push),
        pytest.param(
            {"num_blocks": 2, "aggregation": "sum"},
            marks=pytest.mark.tensorflow_per_push,
        ),
    ],
)
def test_conformance(graph, options, check_layer):
    x, edge_index, edge_type = _typed(graph)
    check_layer(
        RGCNConv,
        {"units": 4, "num_relations": RELATIONS, **options},
        input_data={
            "x": np.concatenate([x, x[:, :1]], axis=1),  # 6 features
            "edge_index": edge_index,
            "edge_type": edge_type,
        },
        unbatched=True,
        litert=True,
    )


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("aggregation", ["mean", "sum", "max"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"num_bases": 2},
        {"num_blocks": 2},
        {"root_weight": False, "bias": False},
    ],
)
def test_matches_pyg_with_copied_weights(make_graph, aggregation, options):
    x, edge_index, edge_type = _typed(make_graph(3), seed=3)
    x = np.concatenate([x, x[:, :1]], axis=1)  # 6 features: 2 blocks of 3
    theirs = pyg_nn.RGCNConv(6, 8, RELATIONS, aggr=aggregation, **options)
    with torch.no_grad():
        if theirs.bias is not None:
            torch.nn.init.normal_(theirs.bias)
        expected = theirs(
            torch.from_numpy(x),
            torch.from_numpy(edge_index).long(),
            torch.from_numpy(edge_type).long(),
        ).numpy()
    ours = RGCNConv(
        8,
        RELATIONS,
        aggregation=aggregation,
        **{("use_bias" if k == "bias" else k): v for k, v in options.items()},
    )
    ours.build((12, 6), (2, None), (None,))
    copy_rgcn_weights(ours, theirs)
    got = ops.convert_to_numpy(ours(x, edge_index, edge_type))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # The two isolated nodes get only the root term and the bias.
    assert np.abs(expected[-2:]).max() > 0 or not options.get("root_weight", 1)


class OneLayerStep(keras.Model):
    """One RGCNConv on a fixed graph, for a compiled training step."""

    def __init__(self, layer, graph):
        super().__init__()
        self.layer, self.graph = layer, graph

    def call(self, weights):
        return self.layer(*self.graph) * weights


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("aggregation", ["mean", "sum"])
def test_basis_gradients_equal_pygs(make_graph, aggregation):
    # Basis kernels pass messages per edge through sparse_matmul's own
    # gradient: one compiled SGD step (learning rate 1) on loss
    # sum(out * upstream) moves each weight by minus PyG's autograd
    # gradient on copied weights.
    x, edge_index, edge_type = _typed(make_graph(3), seed=3)
    upstream = np.random.default_rng(1).normal(size=(len(x), 8))
    upstream = upstream.astype("float32")
    theirs = pyg_nn.RGCNConv(
        x.shape[1], 8, RELATIONS, num_bases=2, aggr=aggregation
    )
    theirs.bias.data.normal_()
    out = theirs(
        torch.from_numpy(x),
        torch.from_numpy(edge_index).long(),
        torch.from_numpy(edge_type).long(),
    )
    (out * torch.from_numpy(upstream)).sum().backward()
    layer = RGCNConv(8, RELATIONS, num_bases=2, aggregation=aggregation)
    model = OneLayerStep(layer, (x, edge_index, edge_type))
    # XLA on TensorFlow, as fit() compiles (a loop's gradient needs its
    # trip count there); JAX always jits; PyTorch runs eagerly.
    model.compile(
        keras.optimizers.SGD(1.0),
        loss=lambda y, p: ops.sum(p),
        jit_compile=keras.backend.backend() == "tensorflow",
    )
    model(upstream)
    copy_rgcn_weights(layer, theirs)
    before = {w.name: ops.convert_to_numpy(w) for w in layer.weights}
    model.train_on_batch(upstream, upstream)
    gradients = {
        "bases": theirs.weight.grad,
        "coefficients": theirs.comp.grad,
        "root_kernel": theirs.root.grad,
        "bias": theirs.bias.grad,
    }
    for variable in layer.weights:
        moved = before[variable.name] - ops.convert_to_numpy(variable)
        expected = gradients[variable.name].numpy()
        assert np.abs(expected).max() > 0
        np.testing.assert_allclose(moved, expected, atol=1e-4, rtol=1e-4)


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("options", [{}, {"num_bases": 2}])
def test_node_ids_match_pyg_featureless(make_graph, options):
    _, edge_index, edge_type = _typed(make_graph(5), seed=5)
    theirs = pyg_nn.RGCNConv(12, 8, RELATIONS, **options)
    with torch.no_grad():
        torch.nn.init.normal_(theirs.bias)
        expected = theirs(
            None,
            torch.from_numpy(edge_index).long(),
            torch.from_numpy(edge_type).long(),
        ).numpy()
    ours = RGCNConv(8, RELATIONS, input_dim=12, **options)
    ours.build((12,), (2, None), (None,))
    copy_rgcn_weights(ours, theirs)
    got = ops.convert_to_numpy(ours(np.arange(12), edge_index, edge_type))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_padding_with_typed_edges_changes_no_real_output(graph):
    x, edge_index, edge_type = _typed(graph)
    batch = GraphBatch(x, edge_index, edge_type=edge_type)
    padded = batch.pad(batch.num_nodes + 3, batch.num_edges + 5)
    assert padded.edge_type.tolist()[-5:] == [0] * 5
    assert padded.inputs()["edge_type"].dtype == np.int32
    layer = RGCNConv(4, RELATIONS, num_bases=2)
    real = ops.convert_to_numpy(layer(x, edge_index, edge_type))
    out = ops.convert_to_numpy(
        layer(padded.x, padded.edge_index, padded.edge_type)
    )
    np.testing.assert_allclose(out[padded.node_mask], real, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": 0, "num_relations": 2}, "`units` must be a positive int"),
        ({"units": 4, "num_relations": 0}, "`num_relations` must be"),
        (
            {"units": 4, "num_relations": 2, "num_bases": 2, "num_blocks": 2},
            "pass `num_bases` or `num_blocks`, not both",
        ),
        ({"units": 4, "num_relations": 2, "num_blocks": 3}, "`num_blocks`"),
        (
            {"units": 4, "num_relations": 2, "aggregation": "min"},
            "`aggregation` must be one of",
        ),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RGCNConv(**kwargs)


def test_bad_inputs_are_named(graph):
    x, edge_index, edge_type = _typed(graph)
    with pytest.raises(ValueError, match="need `input_dim`"):
        RGCNConv(4, RELATIONS)(np.arange(12), edge_index, edge_type)
    with pytest.raises(ValueError, match="`num_blocks` needs float node"):
        RGCNConv(4, RELATIONS, num_blocks=2, input_dim=12)(
            np.arange(12), edge_index, edge_type
        )
    with pytest.raises(ValueError, match="must divide the input features"):
        RGCNConv(4, RELATIONS, num_blocks=2)(x, edge_index, edge_type)
    with pytest.raises(ValueError, match="`edge_type` must have one row"):
        RGCNConv(4, RELATIONS)(x, edge_index, edge_type[:-1])
