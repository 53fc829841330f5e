import keras
import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.layers import TransformerBlock

keras_hub = reference("keras_hub")

RNG = np.random.default_rng(0)


def _normal(*shape):
    return RNG.standard_normal(shape).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        # Per push on PyTorch only (seconds there); the other runs on every
        # backend.
        pytest.param(
            {"num_heads": 2, "intermediate_dim": 12, "dropout": 0.1},
            marks=pytest.mark.per_push_on("torch"),
        ),
        pytest.param(
            {
                "num_heads": 2,
                "intermediate_dim": 12,
                "causal": True,
                "normalize_first": True,
                "normalization": "rms_norm",
                "activation": "swiglu",
                "rotary": True,
                "num_key_value_heads": 1,
                "stochastic_depth": 0.1,
                "attention_dropout": 0.1,
                "seed": 3,
            },
            marks=pytest.mark.jit_representative,
        ),
    ],
    ids=["post_norm_encoder", "pre_norm_llama_decoder"],
)
def test_conformance(kwargs, check_layer):
    check_layer(TransformerBlock, kwargs, input_shape=(2, 5, 8), litert=True)


def test_conformance_cross_attention(check_layer):
    check_layer(
        TransformerBlock,
        {
            "num_heads": 2,
            "intermediate_dim": 12,
            "causal": True,
            "cross_attention": True,
            "dropout": 0.1,
        },
        input_data={"inputs": _normal(2, 5, 8), "context": _normal(2, 7, 6)},
        litert=True,
    )


# keras_hub.layers.TransformerEncoder sublayer → ours.
_HUB_NAMES = {
    "self_attention_layer": "self_attention",
    "self_attention_layer_norm": "self_attention_norm",
    "feedforward_layer_norm": "feed_forward_norm",
    "feedforward_intermediate_dense": "feed_forward/up_proj",
    "feedforward_output_dense": "feed_forward/down_proj",
}


def _copy_from_hub(theirs, ours):
    mine = {w.path.split("/", 1)[1]: w for w in ours.weights}
    assert len(mine) == len(theirs.weights)
    for weight in theirs.weights:
        sublayer, rest = weight.path.split("/", 1)[1].split("/", 1)
        mine[f"{_HUB_NAMES[sublayer]}/{rest}"].assign(weight)


@requires(keras_hub, "keras-hub")
@pytest.mark.parametrize("normalize_first", [False, True])
def test_matches_keras_hub_transformer_encoder(normalize_first):
    x = _normal(3, 7, 16)
    padding = np.arange(7)[None] < np.array([[7], [5], [2]])
    theirs = keras_hub.layers.TransformerEncoder(
        32,
        4,
        normalize_first=normalize_first,
        bias_initializer="random_normal",
    )
    ours = TransformerBlock(
        4, 32, activation="relu", normalize_first=normalize_first
    )
    theirs(x)
    ours(x)
    _copy_from_hub(theirs, ours)
    expected = ops.convert_to_numpy(theirs(x, padding_mask=padding))
    got = ops.convert_to_numpy(ours(x, inputs_mask=padding))
    assert np.abs(got - expected)[padding].max() <= 1e-5


def test_pre_and_post_norm_differ_and_rms_norm_is_used():
    block = TransformerBlock(2, 8, normalization="rms_norm")
    block(_normal(1, 3, 4))
    assert isinstance(block.self_attention_norm, keras.layers.RMSNormalization)
    assert "beta" not in " ".join(w.path for w in block.weights)


def test_cross_attention_uses_context_and_its_mask():
    x, context = _normal(2, 4, 8), _normal(2, 6, 8)
    block = TransformerBlock(2, 16, causal=True, cross_attention=True)
    base = ops.convert_to_numpy(block(x, context))
    assert not np.allclose(
        base, ops.convert_to_numpy(block(x, context + 1.0)), atol=1e-4
    )
    context_mask = np.arange(6)[None] < 4
    context_mask = np.repeat(context_mask, 2, axis=0)
    changed = context.copy()
    changed[:, 4:] += 50.0
    np.testing.assert_allclose(
        ops.convert_to_numpy(block(x, context, context_mask=context_mask)),
        ops.convert_to_numpy(block(x, changed, context_mask=context_mask)),
        atol=1e-5,
    )


def test_decoder_block_is_causal_and_caches():
    block = TransformerBlock(
        4, 32, causal=True, normalize_first=True, rotary=True
    )
    x = _normal(2, 6, 16)
    full = ops.convert_to_numpy(block(x))
    changed = x.copy()
    changed[:, 4:] -= 7.0
    np.testing.assert_allclose(
        ops.convert_to_numpy(block(changed))[:, :4], full[:, :4], atol=1e-5
    )
    cache = block.init_cache(2, 6)
    outputs, cache = block(x[:, :3], cache=cache, cache_index=0)
    steps = [ops.convert_to_numpy(outputs)]
    for index in range(3, 6):
        outputs, cache = block(
            x[:, index : index + 1], cache=cache, cache_index=index
        )
        steps.append(ops.convert_to_numpy(outputs))
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)


def test_stochastic_depth_drops_whole_branches_in_training_only():
    block = TransformerBlock(
        2, 8, stochastic_depth=0.5, normalize_first=True, seed=1
    )
    x = _normal(64, 3, 4)
    inference = ops.convert_to_numpy(block(x))
    training = ops.convert_to_numpy(block(x, training=True))
    np.testing.assert_allclose(
        inference, ops.convert_to_numpy(block(x)), atol=1e-6
    )
    assert not np.allclose(inference, training, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_heads": 0, "intermediate_dim": 4}, "`num_heads`"),
        (
            {"num_heads": 4, "intermediate_dim": 4, "num_key_value_heads": 3},
            "`num_key_value_heads` must be None or a divisor",
        ),
        (
            {"num_heads": 2, "intermediate_dim": 4, "normalization": "batch"},
            "`normalization`",
        ),
        (
            {"num_heads": 2, "intermediate_dim": 4, "stochastic_depth": 1.0},
            "`stochastic_depth`",
        ),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"TransformerBlock: {match}"):
        TransformerBlock(**kwargs)


def test_bad_inputs():
    with pytest.raises(
        ValueError, match=r"divisible by `num_heads` \(3\).*hidden_dim=8"
    ):
        TransformerBlock(3, 8)(_normal(1, 2, 8))
    with pytest.raises(ValueError, match="needs `context`|needs a `context`"):
        TransformerBlock(2, 8, cross_attention=True)(_normal(1, 2, 8))
    block = TransformerBlock(2, 8)
    block(_normal(1, 2, 8))
    with pytest.raises(ValueError, match="built without cross-attention"):
        block(_normal(1, 2, 8), _normal(1, 3, 8))
    with pytest.raises(ValueError, match=r"\(batch, sequence, hidden_dim\)"):
        TransformerBlock(2, 8)(_normal(2, 8))


def _stack_model(remat):
    from kerasbig.layers import TransformerEncoder

    keras.utils.set_random_seed(0)
    ids = keras.Input((12,), dtype="int32")
    x = keras.layers.Embedding(40, 16, mask_zero=True, name="embed")(ids)
    x = TransformerEncoder(
        1,
        2,
        32,
        dropout=0.1,
        stochastic_depth=0.1,
        seed=4,
        remat=remat,
        name="encoder",
    )(x)
    model = keras.Model(ids, keras.layers.Dense(40, name="head")(x))
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=keras.backend.backend() != "torch",
    )
    return model


# Per push on JAX and PyTorch; on TensorFlow (two XLA fits, half a
# minute) in the full tier, where the recomputation test below runs
# per push.
@pytest.mark.per_push_on("jax", "torch")
def test_remat_trains_exactly_like_the_plain_block():
    # Padded ids (a mask), dropout and stochastic depth: the recomputed
    # backward pass must see this step's masks and draws.
    ids = np.random.default_rng(1).integers(1, 40, (8, 12))
    ids[:4, 7:] = 0
    runs = []
    for remat in (False, True):
        model = _stack_model(remat)
        history = model.fit(ids, ids, batch_size=4, epochs=1, verbose=0)
        weights = {
            v.path: ops.convert_to_numpy(v) for v in model.trainable_weights
        }
        runs.append((history.history["loss"], weights))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    assert runs[1][1].keys() == runs[0][1].keys()
    for path, weight in runs[0][1].items():
        # The key bias's gradient is zero in exact arithmetic (softmax
        # ignores a shift shared by every key), so Adam turns rounding
        # noise, which differs with the recomputation, into ~1e-6 steps.
        atol = 1e-5 if path.endswith("key/bias") else 1e-6
        np.testing.assert_allclose(
            runs[1][1][path], weight, atol=atol, err_msg=path
        )


def _gradient_pass(model, ids):
    """One eager forward and backward pass of `model` on `ids`."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = ops.sum(model(ids, training=True))
        tape.gradient(loss, model.trainable_variables)
    elif backend == "torch":
        ops.sum(model(ids, training=True)).backward()
    else:
        raise AssertionError(backend)


@pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="JAX: the next test"
)
def test_remat_recomputes_the_block_in_the_backward_pass():
    # The feed-forward network runs once per training step in the plain
    # block and a second time, in the backward pass, under remat: this
    # fails if keras.remat stored the activations instead.
    ids = np.random.default_rng(1).integers(1, 40, (2, 12))
    counts = {}
    for remat in (False, True):
        model = _stack_model(remat)
        feed_forward = model.get_layer("encoder").blocks[0].feed_forward
        original = feed_forward.call
        calls = []

        def counting(*args, original=original, calls=calls, **kwargs):
            calls.append(1)
            return original(*args, **kwargs)

        feed_forward.call = counting
        _gradient_pass(model, ids)
        counts[remat] = len(calls)
    assert counts == {False: 1, True: 2}


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="reads the JAX program"
)
def test_remat_recomputes_the_block_in_the_jax_gradient():
    # jax.checkpoint recomputes in the compiled backward pass, not in
    # Python: count the matrix products of the gradient's program.
    import jax

    ids = np.random.default_rng(1).integers(1, 40, (2, 12))
    dots = {}
    for remat in (False, True):
        model = _stack_model(remat)
        trainable = [v.value for v in model.trainable_variables]
        others = [v.value for v in model.non_trainable_variables]

        def loss(t, model=model, others=others):
            outputs, _ = model.stateless_call(t, others, ids, training=True)
            return jax.numpy.sum(outputs)

        program = str(jax.make_jaxpr(jax.grad(loss))(trainable))
        dots[remat] = program.count("dot_general")
    # Attention's four projections, two score products and the
    # feed-forward network's two: recomputed, they appear again.
    assert dots[True] >= dots[False] + 6, dots


@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="reads the JAX program"
)
def test_remat_puts_a_checkpoint_in_the_training_step_only():
    import jax

    model = _stack_model(remat=True)
    ids = np.ones((2, 12), "int32")
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
    )

    def step(training):
        return jax.make_jaxpr(
            lambda t, n: model.stateless_call(t, n, ids, training=training)
        )(*state)

    assert "checkpoint" in str(step(True)) or "remat" in str(step(True))
    assert "checkpoint" not in str(step(False))
    assert "remat" not in str(step(False))


def test_remat_is_a_saved_block_option():
    from kerasbig.models import CausalLM
    from kerasbig.models import TransformerClassifier

    model = CausalLM(
        50,
        8,
        num_layers=1,
        hidden_dim=8,
        num_heads=2,
        intermediate_dim=16,
        remat=True,
    )
    block = model.decoder.blocks[0]
    assert block.remat is True
    assert CausalLM.from_config(model.get_config()).decoder.blocks[0].remat
    classifier = TransformerClassifier(
        50, 2, 8, num_layers=1, hidden_dim=8, intermediate_dim=16, remat=True
    )
    assert classifier.get_layer("encoder").blocks[0].remat is True
    config = classifier.get_config()
    assert TransformerClassifier.from_config(config).remat is True
    assert TransformerBlock.from_config(block.get_config()).remat is True
    with pytest.raises(ValueError, match="`remat` must be True or False"):
        TransformerBlock(2, 8, remat="full")
