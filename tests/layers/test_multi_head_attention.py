import keras
import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.layers import MultiHeadAttention

keras_hub = reference("keras_hub")

RNG = np.random.default_rng(0)


def _normal(*shape):
    return RNG.standard_normal(shape).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param(
            {"num_heads": 2, "key_dim": 4},
            marks=pytest.mark.tensorflow_per_push,
        ),
        pytest.param(
            {
                "num_heads": 4,
                "key_dim": 4,
                "num_key_value_heads": 2,
                "rotary": True,
                "causal": True,
                "dropout": 0.1,
                "seed": 1,
            },
            # torch.compile of this layer alone takes two minutes; on
            # PyTorch the per-push representative is TransformerBlock's
            # Llama decoder, which holds this attention.
            marks=pytest.mark.jit_representative(
                backends=("tensorflow", "jax")
            ),
        ),
        # Other configurations: per push on TensorFlow only.
        pytest.param(
            {
                "num_heads": 2,
                "key_dim": 4,
                "num_key_value_heads": 1,
                "sliding_window": 2,
                "value_dim": 6,
                "output_dim": 5,
                "use_bias": False,
            },
            marks=pytest.mark.tensorflow_per_push,
        ),
    ],
    ids=["plain", "gqa_rotary_causal_dropout", "mqa_window_value_dim"],
)
def test_conformance_self_attention(kwargs, check_layer):
    check_layer(MultiHeadAttention, kwargs, input_shape=(2, 5, 8), litert=True)


def test_conformance_cross_attention(check_layer):
    check_layer(
        MultiHeadAttention,
        {"num_heads": 2, "key_dim": 4, "num_key_value_heads": 1},
        input_data={"query": _normal(2, 5, 8), "value": _normal(2, 7, 6)},
        litert=True,
    )


def _copied_pair(ours_kwargs, query, value, **theirs_kwargs):
    theirs = keras.layers.MultiHeadAttention(
        ours_kwargs["num_heads"],
        ours_kwargs["key_dim"],
        bias_initializer="random_normal",
        **theirs_kwargs,
    )
    ours = MultiHeadAttention(**ours_kwargs)
    theirs(query, value)
    ours(query, None if value is query else value)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [None, 3])
def test_self_attention_matches_keras(causal, window):
    x = _normal(2, 7, 16)
    ours, theirs = _copied_pair(
        {
            "num_heads": 4,
            "key_dim": 8,
            "causal": causal,
            "sliding_window": window,
        },
        x,
        x,
        sliding_window=window,
    )
    expected = theirs(x, x, use_causal_mask=causal)
    assert (
        np.abs(
            ops.convert_to_numpy(ours(x)) - ops.convert_to_numpy(expected)
        ).max()
        <= 1e-5
    )


def test_cross_attention_with_padding_and_scores_matches_keras():
    query, value = _normal(2, 5, 16), _normal(2, 9, 12)
    value_mask = np.arange(9)[None] < np.array([[9], [4]])
    ours, theirs = _copied_pair({"num_heads": 4, "key_dim": 8}, query, value)
    expected, expected_scores = theirs(
        query, value, value_mask=value_mask, return_attention_scores=True
    )
    got, scores = ours(
        query, value, value_mask=value_mask, return_attention_scores=True
    )
    assert (
        np.abs(ops.convert_to_numpy(got) - ops.convert_to_numpy(expected)).max()
        <= 1e-5
    )
    assert (
        np.abs(
            ops.convert_to_numpy(scores) - ops.convert_to_numpy(expected_scores)
        ).max()
        <= 1e-5
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(scores).sum(-1), 1.0, atol=1e-5
    )


def _reference(layer, query, value, mask=None, rotate=None):
    """NumPy attention from the layer's weights: repeats shared key/value
    heads, optionally rotates queries and keys with `rotate`."""
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = [
        [ops.convert_to_numpy(w) for w in dense.weights]
        for dense in (
            layer.query_dense,
            layer.key_dense,
            layer.value_dense,
            layer.output_dense,
        )
    ]
    q = np.einsum("btd,dnh->btnh", query, wq) + bq
    k = np.einsum("btd,dnh->btnh", value, wk) + bk
    v = np.einsum("btd,dnh->btnh", value, wv) + bv
    if rotate is not None:
        q, k = rotate(q), rotate(k)
    groups = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, groups, axis=2), np.repeat(v, groups, axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    context = np.einsum("bnts,bsnh->btnh", weights, v)
    return np.einsum("btnh,nhd->btd", context, wo) + bo


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_grouped_query_attention_matches_numpy(kv_heads):
    x = _normal(2, 6, 16)
    layer = MultiHeadAttention(
        4, 8, num_key_value_heads=kv_heads, bias_initializer="random_normal"
    )
    got = ops.convert_to_numpy(layer(x))
    assert layer.key_dense.kernel.shape == (16, kv_heads, 8)
    np.testing.assert_allclose(got, _reference(layer, x, x), atol=1e-5)


@requires(keras_hub, "keras-hub")
def test_rotary_matches_keras_hub_rotary_embedding():
    x = _normal(2, 6, 16)
    layer = MultiHeadAttention(
        4, 8, num_key_value_heads=2, rotary=True, causal=True
    )
    got = ops.convert_to_numpy(layer(x))
    rotary = keras_hub.layers.RotaryEmbedding(max_wavelength=10000)
    causal = np.tril(np.ones((6, 6), bool))
    expected = _reference(
        layer,
        x,
        x,
        mask=causal,
        rotate=lambda t: ops.convert_to_numpy(rotary(t)),
    )
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_value_dim_differs_from_key_dim():
    query, value = _normal(2, 4, 8), _normal(2, 5, 6)
    layer = MultiHeadAttention(2, 4, value_dim=3, output_dim=7)
    got = ops.convert_to_numpy(layer(query, value))
    assert got.shape == (2, 4, 7)
    np.testing.assert_allclose(got, _reference(layer, query, value), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"causal": True},
        {"causal": True, "num_key_value_heads": 2, "rotary": True},
        {"causal": True, "sliding_window": 3, "num_key_value_heads": 1},
    ],
)
def test_cached_decoding_equals_full_forward_at_every_step(kwargs):
    x = _normal(2, 9, 16)
    layer = MultiHeadAttention(4, 8, **kwargs)
    full = ops.convert_to_numpy(layer(x))
    cache = layer.init_cache(batch_size=2, max_length=12)
    outputs, cache = layer(x[:, :4], cache=cache, cache_index=0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(outputs), full[:, :4], atol=1e-5
    )
    for index in range(4, 9):
        outputs, cache = layer(
            x[:, index : index + 1], cache=cache, cache_index=index
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(outputs)[:, 0], full[:, index], atol=1e-5
        )


def test_cached_step_runs_under_jit():
    x = _normal(1, 5, 8)
    layer = MultiHeadAttention(2, 4, causal=True, rotary=True)
    full = ops.convert_to_numpy(layer(x))
    inputs = keras.Input(batch_shape=(1, 1, 8))
    cache_in = keras.Input(batch_shape=(1, 2, 5, 2, 4))
    index_in = keras.Input(batch_shape=(), dtype="int32")
    outputs = layer(inputs, cache=cache_in, cache_index=index_in)
    step = keras.Model([inputs, cache_in, index_in], outputs)
    step.compile(jit_compile=True)
    cache = np.zeros((1, 2, 5, 2, 4), "float32")
    for index in range(5):
        out, cache = step.predict_on_batch(
            [x[:, index : index + 1], cache, np.array(index, "int32")]
        )
        np.testing.assert_allclose(out[:, 0], full[:, index], atol=1e-5)


def test_future_tokens_never_change_past_outputs():
    layer = MultiHeadAttention(4, 8, causal=True, rotary=True)
    x = _normal(2, 8, 16)
    changed = x.copy()
    changed[:, 5:] += 10.0
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(x))[:, :5],
        ops.convert_to_numpy(layer(changed))[:, :5],
        atol=1e-5,
    )


def test_padding_from_keras_mask_never_changes_real_tokens():
    ids = np.array([[5, 7, 2, 0, 0], [3, 1, 4, 1, 5]])
    embedding = keras.layers.Embedding(10, 16, mask_zero=True)
    layer = MultiHeadAttention(4, 4, causal=False)
    padded = ops.convert_to_numpy(layer(embedding(ids)))
    alone = ops.convert_to_numpy(layer(embedding(ids[:1, :3])))
    np.testing.assert_allclose(padded[:1, :3], alone, atol=1e-5)
    assert np.isfinite(padded).all()


def test_masked_queries_stay_finite_in_outputs_and_gradients():
    # Left padding under a causal mask leaves the first query with no
    # visible key at all.
    x = _normal(2, 4, 8)
    mask = np.array([[False, False, True, True], [True, True, True, True]])
    layer = MultiHeadAttention(2, 4, causal=True)
    outputs = ops.convert_to_numpy(layer(x, query_mask=mask))
    assert np.isfinite(outputs).all()
    model_inputs = keras.Input((4, 8))
    mask_inputs = keras.Input((4,), dtype="bool")
    model = keras.Model(
        [model_inputs, mask_inputs],
        layer(model_inputs, query_mask=mask_inputs),
    )
    model.compile(optimizer="sgd", loss="mse")
    model.fit([x, mask], np.zeros((2, 4, 8)), verbose=0)
    assert all(
        np.isfinite(ops.convert_to_numpy(w)).all() for w in layer.weights
    )


def test_dropout_only_in_training():
    x = _normal(2, 6, 8)
    layer = MultiHeadAttention(2, 4, dropout=0.5, seed=0)
    first = ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_allclose(first, ops.convert_to_numpy(layer(x)), atol=1e-6)
    assert not np.allclose(
        first, ops.convert_to_numpy(layer(x, training=True)), atol=1e-4
    )


def test_attention_mask_argument():
    x = _normal(1, 4, 8)
    layer = MultiHeadAttention(2, 4, bias_initializer="random_normal")
    mask = np.array([[[1, 0, 0, 1]] * 4], bool)
    got = ops.convert_to_numpy(layer(x, attention_mask=mask))
    expected = _reference(layer, x, x, mask=mask[:, None])
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_heads": 0, "key_dim": 4}, "`num_heads`"),
        (
            {"num_heads": 4, "key_dim": 4, "num_key_value_heads": 3},
            "`num_key_value_heads` must be None or a divisor of `num_heads`",
        ),
        (
            {"num_heads": 2, "key_dim": 5, "rotary": True},
            "`key_dim` must be even",
        ),
        ({"num_heads": 2, "key_dim": 4, "dropout": 1.5}, "`dropout`"),
        (
            {"num_heads": 2, "key_dim": 4, "sliding_window": 0},
            "`sliding_window`",
        ),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"MultiHeadAttention: {match}"):
        MultiHeadAttention(**kwargs)


def test_bad_shapes_and_cache_use():
    layer = MultiHeadAttention(2, 4, num_key_value_heads=1)
    with pytest.raises(ValueError, match="MultiHeadAttention: `query` must"):
        layer(_normal(2, 8))
    with pytest.raises(ValueError, match="same sequence length"):
        MultiHeadAttention(2, 4)(
            _normal(1, 3, 8), _normal(1, 5, 8), key=_normal(1, 4, 8)
        )
    x = _normal(2, 3, 8)
    layer(x)
    with pytest.raises(ValueError, match=r"`cache` must have shape.*Received"):
        layer(x, cache=np.zeros((2, 2, 6, 2, 4), "float32"), cache_index=0)
    cache = layer.init_cache(2, 6)
    with pytest.raises(ValueError, match="`cache_index`"):
        layer(x, cache=cache)
    with pytest.raises(ValueError, match="for self-attention"):
        layer(x, x, cache=cache, cache_index=0)
    with pytest.raises(ValueError, match="`value_dim` equal to `key_dim`"):
        MultiHeadAttention(2, 4, value_dim=3).init_cache(1, 4)
