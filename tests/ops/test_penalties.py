import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.ops import gradient_penalty
from kerasbig.ops import r1_penalty


def _critic_and_numpy_twin():
    """A tanh MLP critic in Keras, and the same function in float64
    NumPy for finite differences."""
    keras.utils.set_random_seed(0)
    critic = keras.Sequential(
        [
            keras.Input((2, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    w1, b1, w2, b2 = (w.astype("float64") for w in critic.get_weights())

    def twin(x):
        return np.tanh(x.reshape(len(x), -1) @ w1 + b1) @ w2 + b2

    return critic, twin


def _finite_difference_gradients(function, x, eps=1e-6):
    grads = np.zeros_like(x)
    for index in np.ndindex(*x.shape[1:]):
        step = np.zeros_like(x)
        step[(slice(None), *index)] = eps
        grads[(slice(None), *index)] = (
            function(x + step) - function(x - step)
        )[:, 0] / (2 * eps)
    return grads


def test_gradient_penalty_equals_finite_differences():
    critic, twin = _critic_and_numpy_twin()
    rng = np.random.default_rng(1)
    real = rng.normal(size=(6, 2, 3))
    fake = rng.normal(size=(6, 2, 3))
    t = rng.uniform(size=6)
    mixed = t[:, None, None] * real + (1 - t[:, None, None]) * fake
    grads = _finite_difference_gradients(twin, mixed)
    norms = np.sqrt((grads.reshape(6, -1) ** 2).sum(1))
    expected = ((norms - 1) ** 2).mean()
    got = gradient_penalty(
        critic,
        real.astype("float32"),
        fake.astype("float32"),
        interpolation=t.astype("float32"),
    )
    np.testing.assert_allclose(ops.convert_to_numpy(got), expected, rtol=1e-4)


def test_r1_penalty_equals_finite_differences():
    critic, twin = _critic_and_numpy_twin()
    real = np.random.default_rng(2).normal(size=(4, 2, 3))
    grads = _finite_difference_gradients(twin, real)
    expected = (grads.reshape(4, -1) ** 2).sum(1).mean()
    got = r1_penalty(critic, real.astype("float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(got), expected, rtol=1e-4)


def test_interpolation_is_drawn_per_sample_when_omitted():
    # Linear critic: the input gradient is w everywhere, so the penalty
    # does not depend on t and equals (|w| - 1)**2.
    w = ops.convert_to_tensor([[3.0], [4.0]])
    real = np.ones((8, 2), "float32")
    got = gradient_penalty(lambda x: ops.matmul(x, w), real, real * 0, seed=3)
    np.testing.assert_allclose(ops.convert_to_numpy(got), 16.0, rtol=1e-6)
    with pytest.raises(ValueError, match="same sample shape"):
        gradient_penalty(lambda x: x, real, np.ones((8, 3), "float32"))
