import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.export import converter
from kerasbig.models import CausalLM

SMALL = {
    "vocabulary_size": 30,
    "max_sequence_length": 16,
    "num_layers": 2,
    "hidden_dim": 16,
    "num_heads": 4,
    "intermediate_dim": 32,
    "num_key_value_heads": 2,
}


def _ids(shape, seed=0):
    return np.random.default_rng(seed).integers(1, 30, shape).astype("int32")


@pytest.mark.parametrize(
    "options",
    [
        {},
        # Other configurations: per push on PyTorch only (seconds there;
        # XLA and LiteRT take half a minute on TensorFlow).
        pytest.param(
            {
                "position": "learned",
                "normalization": "layer_norm",
                "use_bias": True,
            },
            marks=pytest.mark.per_push_on("torch"),
        ),
    ],
    ids=["llama_style", "gpt_style"],
)
def test_conformance(options, check_layer):
    check_layer(
        CausalLM,
        {**SMALL, **options},
        input_shape=(2, 8),
        input_dtype="int32",
        int_input_range=(0, 30),
    )


@pytest.mark.parametrize(
    "options", [{}, {"position": "learned"}, {"sliding_window": 4}]
)
def test_cached_logits_equal_the_full_forward_pass_at_every_step(options):
    model = CausalLM(**{**SMALL, **options})
    ids = _ids((2, 12))
    full = ops.convert_to_numpy(model(ids))
    cache = model.decoder.init_cache(2, 12)
    logits, cache = model.call_with_cache(ids[:, :5], cache, 0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(logits), full[:, :5], atol=1e-5
    )
    for index in range(5, 12):
        logits, cache = model.call_with_cache(
            ids[:, index : index + 1], cache, index
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(logits)[:, 0], full[:, index], atol=1e-5
        )


def test_future_tokens_never_change_past_logits():
    model = CausalLM(**SMALL)
    ids = _ids((2, 10))
    changed = ids.copy()
    changed[:, 6:] = (changed[:, 6:] + 5) % 30
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(ids))[:, :6],
        ops.convert_to_numpy(model(changed))[:, :6],
        atol=1e-5,
    )


def test_greedy_generation_follows_the_full_forward_argmax():
    model = CausalLM(**SMALL)
    prompt = _ids((3, 4))
    tokens = model.generate(prompt, max_new_tokens=8, temperature=0)
    assert tokens.shape == (3, 12) and tokens.dtype == np.int32
    np.testing.assert_array_equal(tokens[:, :4], prompt)
    logits = ops.convert_to_numpy(model(tokens))
    np.testing.assert_array_equal(logits[:, 3:-1].argmax(-1), tokens[:, 4:])
    np.testing.assert_array_equal(
        model.generate(prompt, 8, temperature=1.0, top_k=1, seed=4), tokens
    )


def test_sampling_is_seeded_and_respects_top_k():
    model = CausalLM(**SMALL)
    prompt = _ids((4, 3))
    first = model.generate(prompt, 10, temperature=1.5, top_k=3, seed=7)
    again = model.generate(prompt, 10, temperature=1.5, top_k=3, seed=7)
    np.testing.assert_array_equal(first, again)
    other = model.generate(prompt, 10, temperature=1.5, top_k=3, seed=8)
    assert not np.array_equal(first, other)
    logits = ops.convert_to_numpy(model(first))
    top3 = np.argsort(-logits[:, 2:-1], axis=-1)[..., :3]
    assert (top3 == first[:, 3:, None]).any(-1).all()
    nucleus = model.generate(prompt, 10, top_p=0.5, seed=7)
    assert nucleus.shape == (4, 13)


# Sampling is backend-independent arithmetic on the logits: per push on
# JAX and PyTorch (seconds), on TensorFlow in the full tier.
@pytest.mark.per_push_on("jax", "torch")
def test_temperature_changes_the_draws():
    # Fails if the temperature were ignored: near zero it is greedy, at 1
    # an untrained model's nearly flat logits give other tokens.
    model = CausalLM(**SMALL)
    prompt = _ids((4, 3))
    greedy = model.generate(prompt, 10, temperature=0)
    cold = model.generate(prompt, 10, temperature=1e-4, seed=7)
    np.testing.assert_array_equal(cold, greedy)
    warm = model.generate(prompt, 10, temperature=1.0, seed=7)
    assert (warm != greedy).mean() > 0.3


def test_padded_prompts_match_prompts_run_alone():
    model = CausalLM(**SMALL)
    prompt = _ids((3, 5))
    mask = np.arange(5)[None] < np.array([[5], [2], [3]])
    batch = model.generate(prompt, 4, temperature=0, padding_mask=mask)
    for row, length in enumerate(mask.sum(1)):
        alone = model.generate(prompt[row, :length], 9 - length, temperature=0)
        np.testing.assert_array_equal(batch[row], alone)


def test_end_token_pads_the_rest_of_the_row():
    model = CausalLM(**SMALL)
    prompt = _ids((2, 3))
    tokens = model.generate(prompt, 8, temperature=0)
    end = int(tokens[0, 5])
    stopped = model.generate(
        prompt, 8, temperature=0, end_token_id=end, pad_token_id=-1
    )
    for row in range(2):
        hits = np.flatnonzero(tokens[row, 3:] == end)
        if hits.size:
            cut = 3 + hits[0] + 1
            np.testing.assert_array_equal(stopped[row, :cut], tokens[row, :cut])
            assert (stopped[row, cut:] == -1).all()
        else:
            np.testing.assert_array_equal(stopped[row], tokens[row])


def test_learns_to_continue_a_pattern_with_fit():
    keras.utils.set_random_seed(0)
    model = CausalLM(
        **{**SMALL, "vocabulary_size": 12, "max_sequence_length": 24}
    )
    # Each row counts up modulo 10 from a random start: token t+1 = t + 1.
    starts = np.random.default_rng(0).integers(0, 10, 256)
    ids = ((starts[:, None] + np.arange(17)) % 10 + 1).astype("int32")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(
        ids[:, :-1], ids[:, 1:], batch_size=32, epochs=15, verbose=0
    )
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    generated = model.generate(np.array([[3, 4, 5]]), 6, temperature=0)
    np.testing.assert_array_equal(generated[0], [3, 4, 5, 6, 7, 8, 9, 10, 1])


def test_save_reload_and_generate(tmp_path):
    model = CausalLM(**SMALL)
    model.save(tmp_path / "lm.keras")
    restored = keras.saving.load_model(tmp_path / "lm.keras")
    prompt = _ids((2, 4))
    np.testing.assert_array_equal(
        restored.generate(prompt, 5, temperature=0),
        model.generate(prompt, 5, temperature=0),
    )


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("position", ["rotary", "learned"])
def test_litert_builtins_only_matches_keras(position):
    model = CausalLM(**{**SMALL, "position": position})
    ids = _ids((1, 16))
    content = converter.convert_model(model, builtins_only=True)
    (got,) = converter.run_model(content, {"token_ids": ids})
    np.testing.assert_allclose(got, ops.convert_to_numpy(model(ids)), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_new_tokens": 20}, "longer than the model's position table"),
        ({"max_new_tokens": 0}, "`max_new_tokens`"),
        ({"temperature": -1.0}, "`temperature`"),
        ({"top_k": 0}, "`top_k`"),
        ({"top_p": 1.5}, "`top_p`"),
        (
            {"padding_mask": np.array([[False, True, True]] * 2)},
            "`padding_mask`",
        ),
        ({"padding_mask": np.ones((2, 4), bool)}, "`padding_mask`"),
    ],
)
def test_bad_generate_arguments(kwargs, match):
    model = CausalLM(**SMALL)
    kwargs = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError, match=f"CausalLM.generate: .*{match}"):
        model.generate(_ids((2, 3)), **kwargs)
    with pytest.raises(ValueError, match="`prompt_ids` must be an int array"):
        model.generate(np.ones((2, 3), "float32"), 2)


def test_too_long_sequence_for_the_position_table():
    model = CausalLM(**{**SMALL, "position": "learned"})
    with pytest.raises(ValueError, match="longer than the position table"):
        model(_ids((1, 20)))
    with pytest.raises(ValueError, match="CausalLM: `position`"):
        CausalLM(**{**SMALL, "position": "sinusoidal"})


def test_keras_quantize_reaches_every_projection():
    # Keras quantizes only Dense/EinsumDense themselves, not subclasses;
    # the attention and feed-forward projections (which take PEFT-style
    # adapters) opt back in.
    keras.utils.set_random_seed(0)
    model = CausalLM(
        vocabulary_size=50,
        max_sequence_length=16,
        num_layers=1,
        hidden_dim=32,
        num_heads=4,
        intermediate_dim=64,
    )
    ids = (np.arange(12).reshape(2, 6) % 50).astype("int32")
    before = model.predict(ids, verbose=0)
    model.quantize("int8")
    modes = {
        role: layer.quantization_mode
        for role, layer in model.decoder.blocks[0].projections().items()
    }
    assert set(modes.values()) == {"int8"}, modes
    after = model.predict(ids, verbose=0)
    assert np.abs(after - before).max() < 0.04 * np.abs(before).max()
