import keras
import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.graph import GATConv
from kerasbig.graph import GCNConv
from kerasbig.graph import GINEConv
from kerasbig.graph import GraphBatch
from kerasbig.graph import check_edge_index

torch = reference("torch")
pyg_nn = reference("torch_geometric.nn")


@pytest.mark.jit_representative(backends=("tensorflow", "jax"))
def test_conformance(graph, check_layer):
    x, edge_index, weight = graph
    check_layer(
        GCNConv,
        {"units": 4, "activation": "relu"},
        input_data={"x": x, "edge_index": edge_index, "edge_weight": weight},
        unbatched=True,
        litert=True,
    )


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"improved": True},
        {"add_self_loops": False},
        {"normalize": False},
        {"normalize": False, "bias": False},
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_pyg_with_copied_weights(make_graph, options, weighted, seed):
    x, edge_index, weight = make_graph(seed)
    weight = weight if weighted else None
    theirs = pyg_nn.GCNConv(5, 7, **options)
    if theirs.bias is not None:
        torch.nn.init.normal_(theirs.bias)
    ours = GCNConv(
        7,
        **{("use_bias" if k == "bias" else k): v for k, v in options.items()},
    )
    ours(x, edge_index, weight)
    ours.kernel.assign(theirs.lin.weight.detach().numpy().T)
    if ours.bias is not None:
        ours.bias.assign(theirs.bias.detach().numpy())
    # PyG drops `improved` without edge weights; ours keeps it (documented).
    if weight is None and options.get("improved"):
        their_weight = torch.ones(edge_index.shape[1])
    else:
        their_weight = None if weight is None else torch.from_numpy(weight)
    expected = (
        theirs(
            torch.from_numpy(x),
            torch.from_numpy(edge_index).long(),
            their_weight,
        )
        .detach()
        .numpy()
    )
    got = ops.convert_to_numpy(ours(x, edge_index, weight))
    assert np.abs(got - expected).max() <= 1e-5


def test_self_loops_without_normalization_match_numpy(graph):
    x, edge_index, weight = graph
    layer = GCNConv(3, normalize=False, add_self_loops=True, use_bias=False)
    got = ops.convert_to_numpy(layer(x, edge_index, weight))
    adjacency = np.zeros((12, 12))
    loops = edge_index[0] == edge_index[1]
    np.add.at(
        adjacency, (edge_index[1], edge_index[0]), np.where(loops, 0, weight)
    )
    loop_weight = np.ones(12)
    loop_weight[edge_index[0][loops]] = weight[loops]
    adjacency += np.diag(loop_weight)
    expected = adjacency @ x @ ops.convert_to_numpy(layer.kernel)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_runs_in_a_functional_model(graph):
    x, edge_index, _ = graph
    x_in = keras.Input(batch_shape=x.shape)
    edges_in = keras.Input(batch_shape=edge_index.shape, dtype="int32")
    hidden = GCNConv(8, activation="relu")(x_in, edges_in)
    model = keras.Model([x_in, edges_in], GCNConv(3)(hidden, edges_in))
    first, second = model.layers[2], model.layers[3]
    expected = second(first(x, edge_index), edge_index)
    np.testing.assert_allclose(
        ops.convert_to_numpy(model([x, edge_index])),
        ops.convert_to_numpy(expected),
        atol=1e-6,
    )


def test_call_reads_no_values_back_to_the_host(graph, monkeypatch):
    # A range check per call would copy edge_index from the device to the
    # host at every layer of every step.
    x, edge_index, weight = graph
    layer = GCNConv(4)
    expected = ops.convert_to_numpy(layer(x, edge_index, edge_weight=weight))
    tensors = [ops.convert_to_tensor(a) for a in (x, edge_index, weight)]

    def refuse(*args, **kwargs):
        raise AssertionError("a layer call read a tensor back to the host")

    monkeypatch.setattr(ops, "convert_to_numpy", refuse)
    got = layer(*tensors[:2], edge_weight=tensors[2])
    monkeypatch.undo()
    np.testing.assert_allclose(ops.convert_to_numpy(got), expected, atol=1e-6)


def test_bad_inputs(graph):
    x, edge_index, _ = graph
    layer = GCNConv(4)
    with pytest.raises(
        ValueError,
        match=r"GCNConv: `edge_index` must be an int tensor of shape \(2, E\)",
    ):
        layer(x, edge_index.T)
    # Node ids are range-checked where the graph enters, once.
    with pytest.raises(
        ValueError,
        match=r"GraphBatch: `edge_index` refers to nodes outside \[0, 12\)",
    ):
        GraphBatch(x, edge_index + 5)
    with pytest.raises(
        ValueError,
        match=r"MyLayer: `edge_index` refers to nodes outside \[0, 12\)",
    ):
        check_edge_index("MyLayer", edge_index + 5, 12)
    with pytest.raises(
        ValueError,
        match=r"GCNConv: `x` must have shape \(num_nodes, features\)",
    ):
        GCNConv(4)(x[None], edge_index)
    with pytest.raises(ValueError, match="GCNConv: `units`"):
        GCNConv(0)


@pytest.mark.parametrize(
    "layer, name",
    [
        (lambda: GCNConv(4), "edge_weight"),
        (lambda: GATConv(4), "edge_attr"),
        (lambda: GINEConv(keras.layers.Dense(4), edge_dim=3), "edge_attr"),
    ],
)
def test_edge_arrays_of_the_wrong_length_are_named(layer, name):
    x = np.ones((4, 3), "float32")
    edge_index = np.array([[0, 1, 2], [1, 2, 3]], "int32")
    wrong = np.ones((2,) if name == "edge_weight" else (2, 3), "float32")
    with pytest.raises(
        ValueError,
        match=rf"`{name}` must have one row per edge of `edge_index` \(3\). "
        rf"Received: {name}.shape=\({2},",
    ):
        layer()(x, edge_index, wrong)
