import numpy as np
import pytest
from keras import ops

from kerasbig.ops import attend_somewhere
from kerasbig.ops import attention_probabilities
from kerasbig.ops import combine_masks
from kerasbig.ops import position_mask


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("window", [None, 1, 3])
@pytest.mark.parametrize("start", [0, 4])
def test_position_mask_matches_numpy(causal, window, start):
    mask = position_mask(
        3, 8, query_start=start, causal=causal, sliding_window=window
    )
    if mask is None:
        assert not causal and window is None
        return
    offsets = (start + np.arange(3))[:, None] - np.arange(8)[None]
    expected = np.ones((3, 8), bool)
    if causal:
        expected &= offsets >= 0
    if window is not None:
        expected &= np.abs(offsets) < window
    np.testing.assert_array_equal(ops.convert_to_numpy(mask), expected)


def test_combine_masks_ands_and_broadcasts():
    a = np.array([[True, True, False]])
    b = np.array([[True], [False]])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(combine_masks(a, None, b)), a & b
    )
    assert combine_masks(None, None) is None


def test_attend_somewhere_opens_only_empty_rows():
    mask = np.array([[[True, False], [False, False]]])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(attend_somewhere(mask)),
        [[[True, False], [True, True]]],
    )


def test_attention_probabilities_match_numpy_softmax():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, 2, 4)).astype("float32")
    k = rng.standard_normal((2, 5, 2, 4)).astype("float32")
    mask = rng.random((2, 1, 3, 5)) > 0.3
    mask[..., 0] = True
    logits = np.einsum("btnh,bsnh->bnts", q, k) * 0.5
    logits = np.where(mask, logits, -np.inf)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    got = ops.convert_to_numpy(attention_probabilities(q, k, 0.5, mask))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got.dtype == np.float32
