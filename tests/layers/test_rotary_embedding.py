import keras
import numpy as np
import pytest
from references import reference
from references import requires

from kerasbig.layers import RotaryEmbedding

keras_hub = reference("keras_hub")


def test_conformance(check_layer):
    check_layer(RotaryEmbedding, {}, input_shape=(2, 6, 3, 8), litert=True)


def test_conformance_sequence_input_with_masks(check_layer):
    report = check_layer(
        RotaryEmbedding, {"max_wavelength": 100}, input_shape=(2, 5, 8)
    )
    assert "masking" in report.passed


@requires(keras_hub, "keras-hub")
@pytest.mark.parametrize("shape", [(2, 7, 8), (2, 7, 3, 16)])
@pytest.mark.parametrize("start_index", [0, 5])
@pytest.mark.parametrize("scaling_factor", [1.0, 4.0])
def test_matches_keras_hub(shape, start_index, scaling_factor):
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    ours = RotaryEmbedding(max_wavelength=500, scaling_factor=scaling_factor)
    theirs = keras_hub.layers.RotaryEmbedding(
        max_wavelength=500, scaling_factor=scaling_factor
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x, start_index=start_index)),
        keras.ops.convert_to_numpy(theirs(x, start_index=start_index)),
        atol=1e-5,
    )


def test_matches_numpy_rotation_and_custom_axes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 5)).astype("float32")  # batch, dim, seq
    out = keras.ops.convert_to_numpy(
        RotaryEmbedding(max_wavelength=10, sequence_axis=2, feature_axis=1)(x)
    )
    half = 2
    inverse = 10.0 ** (-np.arange(0, 4, 2) / 4)
    angles = np.arange(5)[:, None] * inverse[None, :]  # seq, half
    xs = np.moveaxis(x, 1, -1)  # batch, seq, dim
    first, second = xs[..., :half], xs[..., half:]
    expected = np.concatenate(
        [
            first * np.cos(angles) - second * np.sin(angles),
            second * np.cos(angles) + first * np.sin(angles),
        ],
        axis=-1,
    )
    np.testing.assert_allclose(out, np.moveaxis(expected, -1, 1), atol=1e-5)


def test_relative_positions_only():
    # <rot(q, m), rot(k, n)> depends only on m - n.
    rng = np.random.default_rng(2)
    q = rng.standard_normal((1, 1, 8)).astype("float32")
    k = rng.standard_normal((1, 1, 8)).astype("float32")
    layer = RotaryEmbedding()

    def score(m, n):
        rq = keras.ops.convert_to_numpy(layer(q, start_index=m))
        rk = keras.ops.convert_to_numpy(layer(k, start_index=n))
        return float(np.sum(rq * rk))

    assert score(3, 1) == pytest.approx(score(12, 10), abs=1e-4)


def test_positions_argument_overrides_start_index():
    x = np.ones((2, 3, 4), "float32")
    layer = RotaryEmbedding()
    by_start = layer(x, start_index=4)
    by_positions = layer(x, positions=np.array([4, 5, 6]), start_index=0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(by_start),
        keras.ops.convert_to_numpy(by_positions),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_wavelength": 0}, "max_wavelength"),
        ({"scaling_factor": -1.0}, "scaling_factor"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"RotaryEmbedding: `{match}`"):
        RotaryEmbedding(**kwargs)


def test_odd_features_and_bad_axes_raise():
    with pytest.raises(ValueError, match="even size.*Received: input_shape"):
        RotaryEmbedding()(np.ones((1, 2, 5), "float32"))
    with pytest.raises(ValueError, match="must differ"):
        RotaryEmbedding(sequence_axis=2, feature_axis=-1)(
            np.ones((1, 2, 4), "float32")
        )
