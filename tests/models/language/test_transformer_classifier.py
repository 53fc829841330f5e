import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.export import converter
from kerasbig.models import TransformerClassifier

SMALL = {
    "vocabulary_size": 30,
    "num_classes": 3,
    "sequence_length": 8,
    "num_layers": 1,
    "hidden_dim": 16,
    "num_heads": 2,
    "intermediate_dim": 32,
}


@pytest.mark.parametrize(
    "options",
    [
        {},
        # Other configurations: per push on PyTorch only (seconds there).
        pytest.param(
            {"position": "rotary", "pooling": "first", "normalize_first": True},
            marks=pytest.mark.per_push_on("torch"),
        ),
    ],
)
def test_conformance(options, check_layer):
    check_layer(
        TransformerClassifier,
        {**SMALL, **options},
        input_shape=(2, 8),
        input_dtype="int32",
        int_input_range=(0, 30),
    )


def _task(n, rng):
    """Label: does token 7 appear in the (right-padded) sequence?"""
    lengths = rng.integers(3, 13, n)
    ids = rng.integers(1, 20, (n, 12))
    ids[ids == 7] = 8
    labels = rng.integers(0, 2, n)
    for row in np.flatnonzero(labels):
        ids[row, rng.integers(0, lengths[row])] = 7
    ids[np.arange(12)[None] >= lengths[:, None]] = 0
    return ids.astype("int32"), labels


def test_learns_a_token_detection_task_with_fit():
    rng = np.random.default_rng(0)
    x, y = _task(1024, rng)
    x_test, y_test = _task(256, rng)
    keras.utils.set_random_seed(0)
    model = TransformerClassifier(
        20,
        2,
        12,
        num_layers=1,
        hidden_dim=32,
        num_heads=2,
        intermediate_dim=64,
        dropout=0.0,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=64, epochs=8, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95


def test_padding_never_changes_the_prediction():
    model = TransformerClassifier(**SMALL)
    ids = np.array([[4, 9, 2, 0, 0, 0, 0, 0]], "int32")
    # The same network run on the 3 real tokens alone, without padding.
    hidden = model.get_layer("encoder")(
        model.get_layer("embedding")(ids[:, :3])
    )
    expected = model.get_layer("classifier")(ops.mean(hidden, axis=1))
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(ids)),
        ops.convert_to_numpy(expected),
        atol=1e-5,
    )
    no_mask = TransformerClassifier(**SMALL, mask_zero=False)
    no_mask.set_weights(model.get_weights())
    # Without the mask the zeros are attended to and change the result.
    assert not np.allclose(
        ops.convert_to_numpy(no_mask(ids)),
        ops.convert_to_numpy(expected),
        atol=1e-4,
    )


def test_an_all_padding_text_gives_finite_logits_and_loss():
    # An empty text (every id 0) once turned a whole batch's loss into NaN:
    # Keras's masked GlobalAveragePooling1D divides by zero real steps.
    model = TransformerClassifier(**SMALL)
    ids = np.array([[0] * 8, [4, 9, 2, 0, 0, 0, 0, 0]], "int32")
    logits = ops.convert_to_numpy(model(ids))
    assert np.isfinite(logits).all()
    np.testing.assert_allclose(
        logits[0],
        ops.convert_to_numpy(model.get_layer("classifier").bias),
        atol=1e-6,
    )
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(ids, np.array([0, 1]), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_save_and_reload(tmp_path):
    model = TransformerClassifier(**SMALL, position="sinusoidal")
    ids = np.random.default_rng(1).integers(0, 30, (3, 8)).astype("int32")
    model.save(tmp_path / "classifier.keras")
    restored = keras.saving.load_model(tmp_path / "classifier.keras")
    assert isinstance(restored, TransformerClassifier)
    assert restored.get_config() == model.get_config()
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(ids)),
        ops.convert_to_numpy(model(ids)),
        atol=1e-6,
    )


@pytest.mark.tensorflow_only
def test_litert_builtins_only_matches_keras():
    model = TransformerClassifier(**{**SMALL, "num_layers": 2})
    ids = np.random.default_rng(2).integers(0, 30, (1, 8)).astype("int32")
    ids[0, 5:] = 0
    content = converter.convert_model(model, builtins_only=True)
    (got,) = converter.run_model(content, {"token_ids": ids})
    np.testing.assert_allclose(got, ops.convert_to_numpy(model(ids)), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_classes": 0}, "`num_classes`"),
        ({"pooling": "max"}, "`pooling`"),
        ({"position": "alibi"}, "`position`"),
        ({"dropout": -0.1}, "`dropout`"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"TransformerClassifier: {match}"):
        TransformerClassifier(**{**SMALL, **kwargs})


def test_too_long_sequence_is_rejected():
    model = TransformerClassifier(**SMALL)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 8\), found"):
        model(np.ones((1, 12), "int32"))
