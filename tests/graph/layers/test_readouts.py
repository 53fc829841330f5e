import keras
import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.graph import GlobalAttentionPool
from kerasbig.graph import GlobalMaxPool
from kerasbig.graph import GlobalMeanPool
from kerasbig.graph import GlobalSumPool

torch = reference("torch")
pyg_nn = reference("torch_geometric.nn")


def _t(array):
    return torch.from_numpy(np.asarray(array))


RNG = np.random.default_rng(0)
X = RNG.standard_normal((10, 4)).astype("float32")
INDEX = np.array([0, 0, 0, 2, 2, 3, 3, 3, 3, 3])  # graph 1 has no nodes


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (GlobalSumPool, "global_add_pool"),
        (GlobalMeanPool, "global_mean_pool"),
        (GlobalMaxPool, "global_max_pool"),
    ],
)
def test_pools_match_pyg(ours, theirs):
    expected = getattr(pyg_nn, theirs)(_t(X), _t(INDEX), size=4).numpy()
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours()(X, INDEX, num_graphs=4)),
        expected,
        atol=1e-6,
    )
    # Without num_graphs the pool does not count graphs from the index
    # values (a device-to-host copy per call): it says what to pass.
    with pytest.raises(ValueError, match="pass `num_graphs`"):
        ours()(X, INDEX)
    # A single graph without graph_index.
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours()(X)),
        getattr(pyg_nn, theirs)(_t(X), None).numpy(),
        atol=1e-6,
    )


@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
def test_attention_pool_matches_pyg():
    gate, feature = keras.layers.Dense(1), keras.layers.Dense(3)
    pool = GlobalAttentionPool(gate, feature)
    got = ops.convert_to_numpy(pool(X, INDEX, num_graphs=4))
    torch_gate, torch_feature = torch.nn.Linear(4, 1), torch.nn.Linear(4, 3)
    with torch.no_grad():
        for layer, module in ((gate, torch_gate), (feature, torch_feature)):
            kernel, bias = (ops.convert_to_numpy(w) for w in layer.weights)
            module.weight.copy_(_t(kernel.T))
            module.bias.copy_(_t(bias))
    theirs = pyg_nn.aggr.AttentionalAggregation(torch_gate, torch_feature)
    expected = theirs(_t(X), _t(INDEX), dim_size=4).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("pool", [GlobalSumPool, GlobalMeanPool, GlobalMaxPool])
def test_symbolic_graph_index_needs_num_graphs(pool):
    x_in = keras.Input(batch_shape=(10, 4))
    index_in = keras.Input(batch_shape=(10,), dtype="int32")
    with pytest.raises(ValueError, match=f"{pool.__name__}: pass `num_graphs`"):
        pool()(x_in, index_in)
    out = pool()(x_in, index_in, num_graphs=4)
    assert tuple(out.shape) == (4, 4)


def test_attention_pool_rejects_non_layers():
    with pytest.raises(ValueError, match="GlobalAttentionPool: `gate` must be"):
        GlobalAttentionPool(lambda t: t)


@pytest.mark.parametrize(
    "pool",
    [
        GlobalSumPool,
        pytest.param(GlobalMeanPool, marks=pytest.mark.tensorflow_per_push),
        pytest.param(GlobalMaxPool, marks=pytest.mark.tensorflow_per_push),
    ],
)
def test_pools_conformance(pool, check_layer):
    check_layer(
        pool,
        {},
        input_data={"x": X, "graph_index": INDEX.astype("int32")},
        call_kwargs={"num_graphs": 4},
        unbatched=True,
        litert=True,
    )


def test_attention_pool_conformance(check_layer):
    check_layer(
        GlobalAttentionPool,
        {"gate": keras.layers.Dense(1), "feature": keras.layers.Dense(3)},
        input_data={"x": X, "graph_index": INDEX.astype("int32")},
        call_kwargs={"num_graphs": 4},
        unbatched=True,
        litert=True,
    )
