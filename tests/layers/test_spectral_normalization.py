import keras
import numpy as np
import pytest
import torch
from keras import ops

from kerasbig.layers import SpectralNormalization
from kerasbig.ops import r1_penalty


@pytest.mark.parametrize(
    "inner, shape",
    [
        (keras.layers.Dense(5), (3, 4)),
        (keras.layers.Conv2D(3, 3, padding="same"), (2, 6, 6, 2)),
    ],
)
def test_conformance(inner, shape, check_layer):
    # The harness rebuilds the wrapped layer under each dtype policy.
    check_layer(
        SpectralNormalization,
        {"layer": inner, "power_iterations": 2},
        input_shape=shape,
    )


def test_equals_torch_spectral_norm_on_copied_weights():
    # PyTorch's reference: weight (out, in), u of size out; ours keeps
    # Keras's (in, out) kernel and u of shape (1, out): the same maths.
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(6, 4)).astype("float32")
    bias = rng.normal(size=4).astype("float32")
    u0 = rng.normal(size=4).astype("float32")
    x = rng.normal(size=(3, 6)).astype("float32")
    layer = SpectralNormalization(keras.layers.Dense(4), power_iterations=2)
    layer.build((None, 6))
    layer.layer.kernel.assign(kernel)
    layer.layer.bias.assign(bias)
    layer.vector_u.assign(u0[None] / np.linalg.norm(u0))

    linear = torch.nn.Linear(6, 4)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(kernel.T))
        linear.bias.copy_(torch.from_numpy(bias))
    linear = torch.nn.utils.spectral_norm(linear, n_power_iterations=2)
    with torch.no_grad():
        linear.weight_u.copy_(torch.from_numpy(u0 / np.linalg.norm(u0)))
    linear.train()
    expected = linear(torch.from_numpy(x)).detach().numpy()
    out = ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.vector_u)[0],
        linear.weight_u.numpy(),
        rtol=1e-5,
    )
    # The raw kernel is stored unchanged.
    np.testing.assert_array_equal(
        ops.convert_to_numpy(layer.layer.kernel), kernel
    )


def test_two_calls_and_a_gradient_penalty_in_one_step():
    # What keras.layers.SpectralNormalization cannot do on PyTorch.
    critic = keras.Sequential(
        [
            keras.Input((3,)),
            SpectralNormalization(keras.layers.Dense(8, activation="tanh")),
            SpectralNormalization(keras.layers.Dense(1)),
        ]
    )
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    scores = critic(x, training=True) - critic(x + 1.0, training=True)
    penalty = r1_penalty(lambda v: critic(v, training=True), x)
    assert np.isfinite(ops.convert_to_numpy(ops.mean(scores) + penalty))


def test_bad_arguments():
    with pytest.raises(ValueError, match="`layer` must be a Keras layer"):
        SpectralNormalization("dense")
    with pytest.raises(ValueError, match="`power_iterations` must be"):
        SpectralNormalization(keras.layers.Dense(2), power_iterations=0)
    layer = SpectralNormalization(keras.layers.ReLU())
    with pytest.raises(ValueError, match="`kernel` or `embeddings`"):
        layer(np.ones((1, 2), "float32"))
