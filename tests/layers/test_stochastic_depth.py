import keras
import numpy as np
import pytest

from kerasbig.layers import StochasticDepth


def test_conformance(check_layer):
    report = check_layer(
        StochasticDepth, {"rate": 0.3, "seed": 1}, input_shape=(4, 5, 3)
    )
    assert "masking" in report.passed


def test_identity_at_inference_and_rate_zero():
    x = np.random.default_rng(0).standard_normal((8, 3)).astype("float32")
    for layer, training in (
        (StochasticDepth(0.5), False),
        (StochasticDepth(0), True),
    ):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(layer(x, training=training)), x
        )


def test_drops_whole_samples_and_keeps_the_expectation():
    x = np.ones((4000, 3, 2), "float32")
    out = keras.ops.convert_to_numpy(
        StochasticDepth(0.25, seed=0)(x, training=True)
    )
    per_sample = out.reshape(len(out), -1)
    # each sample is all zeros or all 1 / (1 - rate)
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    kept = per_sample[:, 0] != 0
    np.testing.assert_allclose(per_sample[kept], 1 / 0.75, rtol=1e-6)
    dropped = np.mean(per_sample[:, 0] == 0)
    assert abs(dropped - 0.25) < 0.03  # 4000 draws: ~4.5 sigma
    assert abs(out.mean() - 1.0) < 0.05


def test_seed_reproducible():
    x = np.ones((64, 2), "float32")
    a = StochasticDepth(0.5, seed=3)(x, training=True)
    b = StochasticDepth(0.5, seed=3)(x, training=True)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
    )


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.2"])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="StochasticDepth: `rate`"):
        StochasticDepth(rate)
