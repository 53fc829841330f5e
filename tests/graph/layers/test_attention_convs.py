import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.graph import GATConv
from kerasbig.graph import GATv2Conv

torch = reference("torch")
pyg_nn = reference("torch_geometric.nn")
# torch.compile of a graph layer takes minutes: per push, the layers'
# torch.compile representative is TransformerBlock's (a Llama decoder).
OFF_TORCH_REPRESENTATIVE = pytest.mark.jit_representative(
    backends=("tensorflow", "jax")
)


def _t(array):
    return torch.from_numpy(np.asarray(array))


@pytest.mark.parametrize(
    "layer_cls",
    [pytest.param(GATConv, marks=OFF_TORCH_REPRESENTATIVE), GATv2Conv],
)
def test_conformance(graph, layer_cls, check_layer):
    x, edge_index, weight = graph
    check_layer(
        layer_cls,
        {"units": 3, "heads": 2, "dropout": 0.1, "seed": 0},
        input_data={
            "x": x,
            "edge_index": edge_index,
            "edge_attr": np.stack([weight, -weight], 1),
        },
        unbatched=True,
        litert=True,
    )


def _copy_gat(theirs, ours):
    ours.kernel.assign(theirs.lin.weight.detach().numpy().T)
    ours.attention_source.assign(theirs.att_src.detach().numpy()[0])
    ours.attention_target.assign(theirs.att_dst.detach().numpy()[0])
    if ours.edge_kernel is not None:
        ours.edge_kernel.assign(theirs.lin_edge.weight.detach().numpy().T)
        ours.attention_edge.assign(theirs.att_edge.detach().numpy()[0])


def _copy_gatv2(theirs, ours):
    ours.kernel_source.assign(theirs.lin_l.weight.detach().numpy().T)
    if not ours.share_weights:
        ours.kernel_target.assign(theirs.lin_r.weight.detach().numpy().T)
    if ours.bias_source is not None:
        ours.bias_source.assign(theirs.lin_l.bias.detach().numpy())
        if not ours.share_weights:
            ours.bias_target.assign(theirs.lin_r.bias.detach().numpy())
    ours.attention.assign(theirs.att.detach().numpy()[0])
    if ours.edge_kernel is not None:
        ours.edge_kernel.assign(theirs.lin_edge.weight.detach().numpy().T)


CASES = [
    {},
    {"heads": 3},
    {"heads": 3, "concat": False, "negative_slope": 0.1},
    {"heads": 2, "add_self_loops": False},
    {"heads": 2, "bias": False},
]


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("options", CASES)
@pytest.mark.parametrize("edge_features", [None, 1, 3])
@pytest.mark.parametrize(
    "ours_cls, theirs_name, copy",
    [(GATConv, "GATConv", _copy_gat), (GATv2Conv, "GATv2Conv", _copy_gatv2)],
)
def test_matches_pyg_with_copied_weights(
    make_graph, options, edge_features, ours_cls, theirs_name, copy
):
    x, edge_index, weight = make_graph(2)
    edge_attr = None
    if edge_features == 1:
        edge_attr = weight
    elif edge_features == 3:
        edge_attr = (
            np.random.default_rng(3).normal(size=(30, 3)).astype("float32")
        )
    theirs = getattr(pyg_nn, theirs_name)(
        5, 4, edge_dim=edge_features, **options
    )
    if theirs.bias is not None:
        torch.nn.init.normal_(theirs.bias)
    ours = ours_cls(
        4, **{("use_bias" if k == "bias" else k): v for k, v in options.items()}
    )
    ours(x, edge_index, edge_attr)
    copy(theirs, ours)
    if ours.bias is not None:
        ours.bias.assign(theirs.bias.detach().numpy())
    expected = theirs(
        _t(x),
        _t(edge_index).long(),
        None if edge_attr is None else _t(edge_attr),
    )
    got = ops.convert_to_numpy(ours(x, edge_index, edge_attr))
    assert np.abs(got - expected.detach().numpy()).max() <= 1e-5


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
def test_gatv2_shared_weights_match_pyg(graph):
    x, edge_index, _ = graph
    theirs = pyg_nn.GATv2Conv(5, 4, heads=2, share_weights=True)
    ours = GATv2Conv(4, heads=2, share_weights=True)
    ours(x, edge_index)
    assert len(ours.trainable_weights) == 4  # kernel, bias, attention, bias
    _copy_gatv2(theirs, ours)
    ours.bias.assign(theirs.bias.detach().numpy())
    expected = theirs(_t(x), _t(edge_index).long()).detach().numpy()
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours(x, edge_index)), expected, atol=1e-5
    )


def test_attention_dropout_only_in_training(graph):
    x, edge_index, _ = graph
    layer = GATConv(4, heads=2, dropout=0.5, seed=0)
    inference = ops.convert_to_numpy(layer(x, edge_index))
    np.testing.assert_allclose(
        inference, ops.convert_to_numpy(layer(x, edge_index)), atol=1e-6
    )
    assert not np.allclose(
        inference, ops.convert_to_numpy(layer(x, edge_index, training=True))
    )


@pytest.mark.parametrize("layer_cls", [GATConv, GATv2Conv])
def test_bad_arguments_and_inputs(graph, layer_cls):
    x, edge_index, _ = graph
    name = layer_cls.__name__
    with pytest.raises(ValueError, match=f"{name}: `heads`"):
        layer_cls(4, heads=0)
    with pytest.raises(ValueError, match=f"{name}: `dropout`"):
        layer_cls(4, dropout=1.0)
    with pytest.raises(ValueError, match=f"{name}: `edge_index` must be"):
        layer_cls(4)(x, edge_index[:1])
