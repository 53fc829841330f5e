import keras
import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.graph import GINConv
from kerasbig.graph import GINEConv
from kerasbig.graph import SAGEConv

torch = reference("torch")
pyg_nn = reference("torch_geometric.nn")


def _t(array):
    return torch.from_numpy(np.asarray(array))


def _mlp(width=6):
    return keras.Sequential(
        [keras.layers.Dense(8, activation="relu"), keras.layers.Dense(width)]
    )


def _torch_mlp_like(mlp):
    modules = []
    for index, layer in enumerate(mlp.layers):
        modules.append(torch.nn.Linear(*layer.kernel.shape))
        if index < len(mlp.layers) - 1:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def _copy_mlp(mlp, torch_mlp):
    # After the PyG layer exists: its constructor re-initialises `nn`.
    linears = [m for m in torch_mlp if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for layer, linear in zip(mlp.layers, linears, strict=True):
            linear.weight.copy_(_t(ops.convert_to_numpy(layer.kernel).T))
            linear.bias.copy_(_t(ops.convert_to_numpy(layer.bias)))


# Other configurations than the first: per push on TensorFlow only.
@pytest.mark.parametrize(
    "aggregation",
    [
        "mean",
        pytest.param("max", marks=pytest.mark.tensorflow_per_push),
        pytest.param("sum", marks=pytest.mark.tensorflow_per_push),
    ],
)
def test_sage_conformance(graph, aggregation, check_layer):
    x, edge_index, _ = graph
    check_layer(
        SAGEConv,
        {"units": 4, "aggregation": aggregation, "normalize": True},
        input_data={"x": x, "edge_index": edge_index},
        unbatched=True,
        litert=True,
    )


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("aggregation", ["mean", "max", "sum"])
@pytest.mark.parametrize(
    "options",
    [{}, {"normalize": True}, {"root_weight": False}, {"bias": False}],
)
def test_sage_matches_pyg(make_graph, aggregation, options):
    x, edge_index, _ = make_graph(4)
    theirs = pyg_nn.SAGEConv(5, 7, aggr=aggregation, **options)
    if theirs.lin_l.bias is not None:
        torch.nn.init.normal_(theirs.lin_l.bias)
    ours = SAGEConv(
        7,
        aggregation=aggregation,
        **{("use_bias" if k == "bias" else k): v for k, v in options.items()},
    )
    ours(x, edge_index)
    ours.neighbor_kernel.assign(theirs.lin_l.weight.detach().numpy().T)
    if ours.bias is not None:
        ours.bias.assign(theirs.lin_l.bias.detach().numpy())
    if ours.root_kernel is not None:
        ours.root_kernel.assign(theirs.lin_r.weight.detach().numpy().T)
    expected = theirs(_t(x), _t(edge_index).long()).detach().numpy()
    assert (
        np.abs(ops.convert_to_numpy(ours(x, edge_index)) - expected).max()
        <= 1e-5
    )


# The `mlp` is a Sequential whose Dense layers keep their own dtype
# policies (a model's policy does not reach the layers inside), so
# GINConv's output dtype is the mlp's: the harness's mixed-precision
# property does not apply; test_gin_follows_a_mixed_precision_mlp checks
# GINConv's own arithmetic under mixed precision instead.
GIN_SKIP = ("mixed_precision",)


def test_gin_conformance(graph, check_layer):
    x, edge_index, weight = graph
    check_layer(
        GINConv,
        {"mlp": _mlp(), "train_eps": True},
        input_data={"x": x, "edge_index": edge_index},
        unbatched=True,
        skip=GIN_SKIP,
        litert=True,
    )
    check_layer(
        GINEConv,
        {"mlp": _mlp(), "edge_dim": 2},
        skip=GIN_SKIP,
        input_data={
            "x": x,
            "edge_index": edge_index,
            "edge_attr": np.stack([weight, weight**2], 1),
        },
        unbatched=True,
        litert=True,
    )


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("eps, train_eps", [(0.0, False), (0.3, True)])
def test_gin_matches_pyg(make_graph, eps, train_eps):
    x, edge_index, _ = make_graph(5)
    ours = GINConv(_mlp(), eps=eps, train_eps=train_eps)
    got = ops.convert_to_numpy(ours(x, edge_index))
    theirs = pyg_nn.GINConv(
        _torch_mlp_like(ours.mlp), eps=eps, train_eps=train_eps
    )
    _copy_mlp(ours.mlp, theirs.nn)
    expected = theirs(_t(x), _t(edge_index).long()).detach().numpy()
    assert np.abs(got - expected).max() <= 1e-5
    assert (len(ours.trainable_weights) == 5) == train_eps


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("edge_dim", [None, 3])
def test_gine_matches_pyg(make_graph, edge_dim):
    x, edge_index, _ = make_graph(6)
    rng = np.random.default_rng(6)
    edge_attr = rng.normal(size=(30, edge_dim or 5)).astype("float32")
    ours = GINEConv(_mlp(), eps=0.1, edge_dim=edge_dim)
    got = ops.convert_to_numpy(ours(x, edge_index, edge_attr))
    theirs = pyg_nn.GINEConv(
        _torch_mlp_like(ours.mlp), eps=0.1, edge_dim=edge_dim
    )
    _copy_mlp(ours.mlp, theirs.nn)
    if edge_dim is not None:
        kernel, bias = (
            ops.convert_to_numpy(w) for w in ours.edge_projection.weights
        )
        with torch.no_grad():
            theirs.lin.weight.copy_(_t(kernel.T))
            theirs.lin.bias.copy_(_t(bias))
    expected = (
        theirs(_t(x), _t(edge_index).long(), _t(edge_attr)).detach().numpy()
    )
    assert np.abs(got - expected).max() <= 1e-5


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_gin_follows_a_mixed_precision_mlp(graph, policy):
    x, edge_index, weight = graph
    mlp = keras.layers.Dense(6, dtype=policy)
    layer = GINEConv(mlp, train_eps=True, edge_dim=1, dtype=policy)
    out = layer(x, edge_index, weight[:, None])
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    assert np.isfinite(ops.convert_to_numpy(ops.cast(out, "float32"))).all()
    assert all(w.dtype == "float32" for w in layer.weights)


def test_gin_saves_and_reloads_its_mlp(graph, tmp_path):
    x, edge_index, _ = graph
    x_in = keras.Input(batch_shape=x.shape)
    edges_in = keras.Input(batch_shape=edge_index.shape, dtype="int32")
    model = keras.Model(
        [x_in, edges_in], GINConv(_mlp(), train_eps=True)(x_in, edges_in)
    )
    model.save(tmp_path / "gin.keras")
    restored = keras.saving.load_model(tmp_path / "gin.keras")
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored([x, edge_index])),
        ops.convert_to_numpy(model([x, edge_index])),
        atol=1e-6,
    )


def test_bad_arguments(graph):
    x, edge_index, _ = graph
    with pytest.raises(
        ValueError, match="SAGEConv: `aggregation` must be one of"
    ):
        SAGEConv(4, aggregation="min")
    with pytest.raises(
        ValueError, match="GINConv: `mlp` must be a Keras layer"
    ):
        GINConv(lambda t: t)
    with pytest.raises(ValueError, match="GINEConv: `edge_attr`.*required"):
        GINEConv(_mlp())(x, edge_index)
    with pytest.raises(
        ValueError,
        match=r"GINConv: edge features must have the node width \(5\)",
    ):
        GINConv(_mlp())(x, edge_index, np.ones((30, 3), "float32"))
    # Node ids out of range are caught where the graph enters, once
    # (GraphBatch; see test_gcn_conv), not per layer call.
