import numpy as np
import pytest
from keras import ops

from kerasbig.ops import sample_logits

PROBABILITIES = np.array([0.05, 0.4, 0.1, 0.3, 0.15], "float32")


def _frequencies(n=2000, **kwargs):
    # Evenly spaced draws make the sampled frequencies exact, not random.
    uniform = (np.arange(n, dtype="float32") + 0.5) / n
    logits = np.tile(np.log(PROBABILITIES), (n, 1))
    tokens = np.asarray(
        ops.convert_to_numpy(sample_logits(logits, uniform, **kwargs))
    )
    return np.bincount(tokens, minlength=len(PROBABILITIES)) / n


def test_sampling_follows_the_distribution():
    np.testing.assert_allclose(_frequencies(), PROBABILITIES, atol=1e-3)


def test_temperature_sharpens_and_zero_is_greedy():
    sharp = PROBABILITIES**2 / np.sum(PROBABILITIES**2)
    np.testing.assert_allclose(_frequencies(temperature=0.5), sharp, atol=1e-3)
    assert _frequencies(temperature=0)[1] == 1.0


def test_top_k_keeps_the_k_most_likely():
    kept = np.array([0, 0.4, 0, 0.3, 0]) / 0.7
    np.testing.assert_allclose(_frequencies(top_k=2), kept, atol=1e-3)


def test_top_p_keeps_the_smallest_set_reaching_p():
    # 0.4 + 0.3 = 0.7 < 0.8, so 0.15 joins; 0.85 >= 0.8 stops there.
    kept = np.array([0, 0.4, 0, 0.3, 0.15]) / 0.85
    np.testing.assert_allclose(_frequencies(top_p=0.8), kept, atol=1e-3)
    # A tiny p still keeps the most likely token.
    assert _frequencies(top_p=1e-6)[1] == 1.0


@pytest.mark.parametrize("u", [0.0, 0.999999])
def test_extreme_draws_stay_in_range(u):
    logits = np.log(PROBABILITIES)[None]
    token = int(
        ops.convert_to_numpy(sample_logits(logits, np.array([u]), top_k=3))[0]
    )
    assert token in (1, 3, 4)
