"""kerasbig.layers.Embedding: Keras's Embedding, with the exact optimizer
update of a repeated id on TensorFlow (see tests/ops/test_row_gathers.py
for the Keras bug it works around)."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.layers import Embedding

TABLE = np.arange(12, dtype="float32").reshape(4, 3) / 10
IDS = np.array([[0, 0, 1], [3, 0, 1]], "int32")  # row 0 three times, 2 never


def test_conformance(check_layer):
    check_layer(
        Embedding,
        {"input_dim": 20, "output_dim": 6, "mask_zero": True},
        input_shape=(2, 8),
        input_dtype="int32",
        int_input_range=(0, 20),
        litert=True,
    )


def _pair(**options):
    ours, keras_layer = (
        kind(4, 3, **options) for kind in (Embedding, keras.layers.Embedding)
    )
    for layer in (ours, keras_layer):
        layer.build((None, 3))
        layer.embeddings.assign(TABLE)
    return ours, keras_layer


def test_equals_keras_embedding_in_training_and_inference():
    ours, keras_layer = _pair(mask_zero=True)
    for training in (False, True):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(ours(IDS, training=training)),
            ops.convert_to_numpy(keras_layer(IDS)),
        )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ours.compute_mask(IDS)), IDS != 0
    )


def _adam_fit(layer):
    """One compiled `fit` step of Adam on a functional model over
    `layer`, and the closed form of that step."""
    ids = keras.Input((3,), dtype="int32")
    model = keras.Model(ids, layer(ids))
    model.compile(
        keras.optimizers.Adam(0.1, epsilon=1e-7),
        loss=lambda y, pred: ops.sum(pred * y),
    )
    weights = np.linspace(-1, 1, 18, dtype="float32").reshape(2, 3, 3)
    model.fit(IDS, weights, batch_size=2, epochs=1, verbose=0)
    gradient = np.zeros_like(TABLE)
    np.add.at(gradient, IDS.ravel(), weights.reshape(-1, 3))
    m, v = 0.1 * gradient, 0.001 * gradient**2
    alpha = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
    return TABLE - alpha * m / (np.sqrt(v) + 1e-7)


def test_fit_gives_adam_the_dense_update_of_repeated_ids():
    layer, _ = _pair()
    expected = _adam_fit(layer)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.embeddings), expected, atol=1e-6
    )


def test_lora_trains_through_the_exact_lookup():
    # With LoRA on, the lookup reads the table plus the adapters' update:
    # the output equals Keras's LoRA Embedding's in training too.
    ours, keras_layer = _pair()
    for layer in (ours, keras_layer):
        layer.enable_lora(2)
        layer.lora_embeddings_a.assign(np.full((4, 2), 0.5, "float32"))
        layer.lora_embeddings_b.assign(np.ones((2, 3), "float32"))
    np.testing.assert_allclose(
        ops.convert_to_numpy(ours(IDS, training=True)),
        ops.convert_to_numpy(keras_layer(IDS)),
        atol=1e-6,
    )


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_quantized_layer_is_keras_quantized_embedding(mode):
    ours, keras_layer = _pair()
    for layer in (ours, keras_layer):
        layer.quantize(mode)
    for training in (False, True):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(ours(IDS, training=training)),
            ops.convert_to_numpy(keras_layer(IDS)),
        )


def test_saved_model_reloads_as_this_layer(tmp_path):
    ids = keras.Input((3,), dtype="int32")
    model = keras.Model(ids, Embedding(4, 3)(ids))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.layers[-1], Embedding)
    np.testing.assert_array_equal(
        loaded.predict(IDS, verbose=0), model.predict(IDS, verbose=0)
    )
