import keras
import numpy as np
import pytest

from kerasbig.layers import FeedForward


# Every layer class runs the harness on every backend per push; its
# other configurations run per push on TensorFlow (full tier elsewhere).
@pytest.mark.parametrize(
    "activation",
    [
        "gelu",
        pytest.param("relu", marks=pytest.mark.tensorflow_per_push),
        "swiglu",
        pytest.param("geglu", marks=pytest.mark.tensorflow_per_push),
        pytest.param("gelu_tanh", marks=pytest.mark.tensorflow_per_push),
    ],
)
def test_conformance(activation, check_layer):
    check_layer(
        FeedForward,
        {"intermediate_dim": 12, "activation": activation, "dropout": 0.1},
        input_shape=(2, 5, 8),
        litert=True,
    )


def _gelu(x):
    from scipy.special import erf

    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def _gelu_tanh(x):
    # GPT-2's gelu_new, as written in its paper.
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def _silu(x):
    return x / (1 + np.exp(-x))


@pytest.mark.parametrize(
    "activation, reference",
    [
        ("relu", lambda h: np.maximum(h["up"], 0)),
        ("gelu", lambda h: _gelu(h["up"])),
        ("gelu_tanh", lambda h: _gelu_tanh(h["up"])),
        ("swiglu", lambda h: _silu(h["gate"]) * h["up"]),
        ("geglu", lambda h: _gelu(h["gate"]) * h["up"]),
    ],
)
def test_matches_numpy(activation, reference):
    x = np.random.default_rng(0).standard_normal((3, 4, 6)).astype("float32")
    layer = FeedForward(
        10, activation=activation, output_dim=5, bias_initializer="uniform"
    )
    out = keras.ops.convert_to_numpy(layer(x))
    params = {
        name: [keras.ops.convert_to_numpy(w) for w in dense.weights]
        for name, dense in (
            ("up", layer.up_proj),
            ("down", layer.down_proj),
            ("gate", getattr(layer, "gate_proj", None)),
        )
        if dense is not None
    }
    hidden = {
        name: x @ k + b for name, (k, b) in params.items() if name != "down"
    }
    kernel, bias = params["down"]
    np.testing.assert_allclose(
        out, reference(hidden) @ kernel + bias, atol=1e-4
    )
    assert out.shape == (3, 4, 5)


def test_no_bias_and_custom_callable():
    layer = FeedForward(4, activation=keras.activations.tanh, use_bias=False)
    layer(np.ones((1, 3), "float32"))
    assert all("bias" not in w.path for w in layer.weights)
    assert len(layer.weights) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"intermediate_dim": 0}, "intermediate_dim"),
        ({"intermediate_dim": 4, "output_dim": -1}, "output_dim"),
        ({"intermediate_dim": 4, "dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"FeedForward: `{match}`"):
        FeedForward(**kwargs)


def test_unknown_activation_raises():
    with pytest.raises(ValueError):
        FeedForward(4, activation="not_an_activation")
