import keras
import numpy as np
import pytest
from references import reference
from references import requires

from kerasbig.layers import TokenAndPositionEmbedding

keras_hub = reference("keras_hub")


# Other configurations than the first: per push on TensorFlow only.
@pytest.mark.parametrize(
    "position",
    [
        "learned",
        pytest.param("sinusoidal", marks=pytest.mark.tensorflow_per_push),
        pytest.param("none", marks=pytest.mark.tensorflow_per_push),
    ],
)
def test_conformance(position, check_layer):
    check_layer(
        TokenAndPositionEmbedding,
        {
            "vocabulary_size": 20,
            "sequence_length": 8,
            "embedding_dim": 6,
            "position": position,
        },
        input_shape=(2, 8),
        input_dtype="int32",
        int_input_range=(0, 20),
        litert=True,
    )


@requires(keras_hub, "keras-hub")
def test_matches_keras_hub_with_copied_weights():
    ids = np.random.default_rng(0).integers(0, 30, (3, 7))
    ours = TokenAndPositionEmbedding(30, 10, 8)
    theirs = keras_hub.layers.TokenAndPositionEmbedding(30, 10, 8)
    ours.build(ids.shape)
    theirs.build(ids.shape)
    mine = {w.path.split("/")[-2]: w for w in ours.weights}
    for weight in theirs.weights:
        weight.assign(mine[weight.path.split("/")[-2]])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(ids)),
        keras.ops.convert_to_numpy(theirs(ids)),
        atol=1e-6,
    )


def test_mask_zero_marks_padding():
    embed = TokenAndPositionEmbedding(10, 5, 4, mask_zero=True)
    ids = np.array([[3, 4, 0, 0]])
    mask = keras.ops.convert_to_numpy(embed.compute_mask(ids))
    assert mask.tolist() == [[True, True, False, False]]
    assert TokenAndPositionEmbedding(10, 5, 4).compute_mask(ids) is None


def test_start_index_shifts_positions():
    embed = TokenAndPositionEmbedding(10, 6, 4)
    ids = np.array([[1, 2, 3, 4]])
    full = keras.ops.convert_to_numpy(embed(ids))
    tail = keras.ops.convert_to_numpy(embed(ids[:, 2:], start_index=2))
    np.testing.assert_allclose(full[:, 2:], tail, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"vocabulary_size": 0}, "vocabulary_size"),
        ({"embedding_dim": 2.5}, "embedding_dim"),
        ({"position": "rotary"}, "position"),
    ],
)
def test_bad_arguments(kwargs, match):
    arguments = {"vocabulary_size": 5, "sequence_length": 4, "embedding_dim": 2}
    with pytest.raises(
        ValueError, match=f"TokenAndPositionEmbedding: `{match}`"
    ):
        TokenAndPositionEmbedding(**{**arguments, **kwargs})


def test_sequence_longer_than_table_raises():
    with pytest.raises(ValueError, match="longer than the position table"):
        TokenAndPositionEmbedding(5, 3, 2)(np.zeros((1, 4), "int32"))


@pytest.mark.parametrize(
    "mode",
    ["int8", pytest.param("int4", marks=pytest.mark.tensorflow_per_push)],
)
def test_tied_logits_after_keras_quantize(mode):
    # Keras's quantized Embedding returns its integers as `embeddings`;
    # reverse=True must use the dequantized rows (it once used integers).
    layer = TokenAndPositionEmbedding(40, 8, 16, position="none")
    layer(np.zeros((1, 8), "int32"))
    hidden_states = keras.Input((8, 16))
    model = keras.Model(hidden_states, layer(hidden_states, reverse=True))
    hidden = np.random.default_rng(0).normal(size=(3, 8, 16)).astype("float32")
    table = keras.ops.convert_to_numpy(layer.token_embedding.embeddings)
    np.testing.assert_allclose(
        model.predict(hidden, verbose=0), hidden @ table.T, atol=1e-5
    )
    model.quantize(mode)
    assert layer.token_embedding.quantization_mode == mode
    rows = keras.ops.convert_to_numpy(layer.token_embedding(np.arange(40)))
    assert not np.array_equal(rows, table)
    logits = model.predict(hidden, verbose=0)  # compiled
    np.testing.assert_allclose(logits, hidden @ rows.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        logits, hidden @ table.T, atol=0.1 * np.abs(hidden @ table.T).max()
    )
