"""gather_rows equals ops.take; lookup_rows gives Adam the update of the
dense gradient on every backend (plain take on TensorFlow does not, a
Keras bug this test watches)."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.layers import TokenAndPositionEmbedding
from kerasbig.ops import gather_rows
from kerasbig.ops import lookup_rows

TABLE = np.arange(12, dtype="float32").reshape(4, 3) / 10
IDS = np.array([[0, 0, 1], [3, 0, 1]], "int32")  # row 0 three times, 2 never


def test_gather_rows_equals_take_for_any_id_shape():
    for ids in (IDS[0], IDS, IDS[:, :, None]):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(gather_rows(TABLE, ids)),
            ops.convert_to_numpy(ops.take(TABLE, ids, axis=0)),
        )
        np.testing.assert_array_equal(
            ops.convert_to_numpy(lookup_rows(TABLE, ids)), TABLE[ids]
        )


class TableLookup(keras.Model):
    def __init__(self, gather, owner=None):
        super().__init__()
        self.gather = gather
        if owner is None:
            self.table = self.add_weight(
                shape=TABLE.shape, initializer=lambda shape, dtype=None: TABLE
            )
        else:  # a layer that owns the table
            self.owner = owner
            self.table = owner.token_embedding.embeddings

    def call(self, ids):
        return self.gather(self.table, ids)


def _one_adam_step(gather, owner=None):
    model = TableLookup(gather, owner)
    learning_rate, epsilon = 0.1, 1e-7
    model.compile(
        keras.optimizers.Adam(learning_rate, epsilon=epsilon),
        loss=lambda y, pred: ops.sum(pred * y),
    )
    weights = np.linspace(-1, 1, 18, dtype="float32").reshape(2, 3, 3)
    model.train_on_batch(IDS, weights)
    # Closed form: the dense gradient is the sum of the weights per row.
    gradient = np.zeros_like(TABLE)
    np.add.at(gradient, IDS.ravel(), weights.reshape(-1, 3))
    m, v = 0.1 * gradient, 0.001 * gradient**2
    alpha = learning_rate * np.sqrt(1 - 0.999) / (1 - 0.9)
    expected = TABLE - alpha * m / (np.sqrt(v) + epsilon)
    return ops.convert_to_numpy(model.table), expected


def test_lookup_rows_gives_adam_the_dense_update():
    got, expected = _one_adam_step(lookup_rows)
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.tensorflow_only
def test_keras_adam_still_mishandles_repeated_gather_rows_on_tensorflow():
    got, expected = _one_adam_step(lambda t, i: ops.take(t, i, axis=0))
    assert not np.allclose(got, expected, atol=1e-6), (
        "Keras's optimizers now apply TensorFlow's IndexedSlices gradients "
        "exactly: kerasbig.ops.lookup_rows' dense gradient on TensorFlow "
        "(kerasbig/_backend/tensorflow.py) can go."
    )


def test_token_embeddings_train_with_the_dense_adam_update():
    # TokenAndPositionEmbedding (CausalLM, TransformerClassifier) looks up
    # its token table through lookup_rows in training: one Adam step
    # equals the closed form on a batch that repeats token 0.
    layer = TokenAndPositionEmbedding(4, 3, 3, position="none")
    layer.build((None, 3))
    layer.token_embedding.embeddings.assign(TABLE)
    got, expected = _one_adam_step(
        lambda table, ids: layer(ids, training=True), layer
    )
    np.testing.assert_allclose(got, expected, atol=1e-6)
