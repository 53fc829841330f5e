import keras
import numpy as np
import pytest
from references import reference
from references import requires

from kerasbig.layers import PositionEmbedding

keras_hub = reference("keras_hub")


def test_conformance(check_layer):
    check_layer(
        PositionEmbedding,
        {"sequence_length": 10},
        input_shape=(2, 6, 8),
        litert=True,
    )


@requires(keras_hub, "keras-hub")
@pytest.mark.parametrize("start_index", [0, 4])
def test_matches_keras_hub_with_copied_weights(start_index):
    x = np.zeros((2, 5, 8), "float32")
    ours = PositionEmbedding(12)
    theirs = keras_hub.layers.PositionEmbedding(12)
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x, start_index=start_index)),
        keras.ops.convert_to_numpy(theirs(x, start_index=start_index)),
        atol=1e-6,
    )


def test_positions_gather_rows():
    layer = PositionEmbedding(6, initializer="glorot_uniform")
    out = layer(np.zeros((1, 3, 4), "float32"), positions=np.array([5, 0, 2]))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out)[0], table[[5, 0, 2]], atol=0
    )


def test_sequence_longer_than_table_raises():
    with pytest.raises(ValueError, match="longer than the position table"):
        PositionEmbedding(4)(np.zeros((1, 5, 2), "float32"))
    layer = PositionEmbedding(4)
    layer(np.zeros((1, 2, 2), "float32"))
    with pytest.raises(ValueError, match="start_index=3"):
        layer(np.zeros((1, 2, 2), "float32"), start_index=3)


def test_bad_arguments():
    with pytest.raises(
        ValueError, match="PositionEmbedding: `sequence_length`"
    ):
        PositionEmbedding(0)
    with pytest.raises(ValueError, match="known feature size"):
        PositionEmbedding(3)(np.zeros((4,), "float32"))
