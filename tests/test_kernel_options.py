"""Every layer that owns kernels takes Keras's kernel and bias options:
regularizers add to the loss, constraints hold after each update, and all
four survive `get_config`/`from_config`."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.graph import GATConv
from kerasbig.graph import GATv2Conv
from kerasbig.graph import GCNConv
from kerasbig.graph import GINEConv
from kerasbig.graph import SAGEConv
from kerasbig.layers import FeedForward
from kerasbig.layers import MultiHeadAttention
from kerasbig.layers import TransformerBlock
from kerasbig.layers import TransformerDecoder
from kerasbig.layers import TransformerEncoder

RNG = np.random.default_rng(0)
SEQUENCE = {"x": RNG.standard_normal((2, 5, 8)).astype("float32")}
GRAPH = {
    "x": RNG.standard_normal((6, 4)).astype("float32"),
    "edge_index": RNG.integers(0, 6, (2, 12)).astype("int32"),
}
EDGES = {**GRAPH, "edge_attr": RNG.standard_normal((12, 2)).astype("float32")}
LAYERS = {
    "FeedForward": (FeedForward, {"intermediate_dim": 8}, SEQUENCE),
    "MultiHeadAttention": (
        MultiHeadAttention,
        {"num_heads": 2, "key_dim": 4},
        SEQUENCE,
    ),
    "TransformerBlock": (
        TransformerBlock,
        {"num_heads": 2, "intermediate_dim": 8},
        SEQUENCE,
    ),
    "TransformerEncoder": (
        TransformerEncoder,
        {"num_layers": 2, "num_heads": 2, "intermediate_dim": 8},
        SEQUENCE,
    ),
    "TransformerDecoder": (
        TransformerDecoder,
        {"num_layers": 1, "num_heads": 2, "intermediate_dim": 8},
        SEQUENCE,
    ),
    "GCNConv": (GCNConv, {"units": 3}, GRAPH),
    "GATConv": (GATConv, {"units": 3, "heads": 2}, GRAPH),
    "GATv2Conv": (GATv2Conv, {"units": 3, "heads": 2}, GRAPH),
    "SAGEConv": (SAGEConv, {"units": 3}, GRAPH),
    "GINEConv": (
        GINEConv,
        {"mlp": keras.layers.Identity(), "edge_dim": 2},
        EDGES,
    ),
}
# Weights the options do not cover: normalization scales and shifts,
# GIN's epsilon.
UNCOVERED = ("gamma", "beta", "scale", "epsilon")


def _options():
    return {
        "kernel_regularizer": keras.regularizers.L2(0.1),
        "bias_regularizer": keras.regularizers.L1(0.2),
        "kernel_constraint": keras.constraints.NonNeg(),
        "bias_constraint": keras.constraints.NonNeg(),
    }


def _kind(weight):
    name = weight.path.rsplit("/", 1)[-1]
    if name.startswith(UNCOVERED):
        return None
    return "bias" if name.startswith("bias") else "kernel"


def _model(layer_cls, kwargs, inputs):
    """The layer in a model that takes its inputs with a leading batch
    axis of 1 (graphs are one example)."""
    layer = layer_cls(**kwargs, **_options())
    batched = inputs is SEQUENCE
    symbolic = {
        name: keras.Input(
            batch_shape=(None if batched else 1,) + array.shape[batched:],
            dtype=str(array.dtype),
            name=name,
        )
        for name, array in inputs.items()
    }
    args = list(symbolic.values())
    if not batched:
        # reshape, not squeeze: fit traces the batch axis as unknown.
        args = [
            ops.reshape(a, array.shape)
            for a, array in zip(args, inputs.values(), strict=True)
        ]
    outputs = layer(*args)
    if not batched:
        outputs = ops.expand_dims(outputs, 0)
    data = {k: (v if batched else v[None]) for k, v in inputs.items()}
    return layer, keras.Model(symbolic, outputs), data


@pytest.mark.parametrize("name", LAYERS)
def test_options_are_in_the_config(name):
    layer_cls, kwargs, inputs = LAYERS[name]
    layer, _, _ = _model(layer_cls, kwargs, inputs)
    config = layer.get_config()
    for option, value in _options().items():
        assert config[option] == keras.saving.serialize_keras_object(value)
    clone = layer_cls.from_config(config)
    for option in _options():
        assert clone.get_config()[option] == config[option]


@pytest.mark.parametrize("name", LAYERS)
def test_regularizers_add_to_the_loss(name):
    layer_cls, kwargs, inputs = LAYERS[name]
    layer, model, data = _model(layer_cls, kwargs, inputs)
    expected = 0.0
    kinds = {"kernel": 0, "bias": 0}
    for weight in layer.trainable_weights:
        value = ops.convert_to_numpy(weight).astype("float64")
        kind = _kind(weight)
        if kind == "kernel":
            expected += 0.1 * np.sum(value**2)
        elif kind == "bias":
            expected += 0.2 * np.sum(np.abs(value))
        if kind:
            kinds[kind] += 1
    assert kinds["kernel"] and kinds["bias"], kinds
    penalty = sum(float(ops.convert_to_numpy(loss)) for loss in layer.losses)
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)
    # ... and `fit`'s loss is the data loss plus that penalty.
    target = np.zeros(model.output.shape[1:], "float32")[None]
    target = np.repeat(target, len(next(iter(data.values()))), 0)
    model.compile(loss="mse")
    total = model.evaluate(data, target, verbose=0)
    mse = np.mean(np.asarray(model.predict(data, verbose=0)) ** 2)
    np.testing.assert_allclose(total, mse + expected, rtol=1e-4)


@pytest.mark.parametrize("name", LAYERS)
def test_constraints_hold_after_an_update(name):
    layer_cls, kwargs, inputs = LAYERS[name]
    layer, model, data = _model(layer_cls, kwargs, inputs)
    rng = np.random.default_rng(1)
    target = rng.standard_normal(
        (len(next(iter(data.values()))),) + tuple(model.output.shape[1:])
    ).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    model.fit(data, target, epochs=1, verbose=0)
    constrained = [w for w in layer.trainable_weights if _kind(w)]
    assert constrained
    for weight in constrained:
        assert ops.convert_to_numpy(weight).min() >= 0.0, weight.path
