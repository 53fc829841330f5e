import keras
import numpy as np
import pytest
from references import reference
from references import requires

from kerasbig.layers import SinusoidalPositionEmbedding

keras_hub = reference("keras_hub")


def test_conformance(check_layer):
    # No weights: the training properties do not apply.
    report = check_layer(
        SinusoidalPositionEmbedding, {}, input_shape=(2, 6, 8), litert=True
    )
    assert "no trainable weights" in report.skipped["training"]


@requires(keras_hub, "keras-hub")
@pytest.mark.parametrize("start_index", [0, 3])
def test_matches_keras_hub(start_index):
    x = np.zeros((2, 9, 12), "float32")
    ours = SinusoidalPositionEmbedding(max_wavelength=1000)
    theirs = keras_hub.layers.SinePositionEncoding(max_wavelength=1000)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x, start_index=start_index)),
        keras.ops.convert_to_numpy(theirs(x, start_index=start_index)),
        atol=1e-5,
    )


def test_matches_the_paper_formula():
    table = keras.ops.convert_to_numpy(
        SinusoidalPositionEmbedding()(np.zeros((1, 4, 6), "float32"))
    )[0]
    p, i = np.arange(4)[:, None], np.arange(3)[None, :]
    angle = p / 10000 ** (2 * i / 6)
    np.testing.assert_allclose(table[:, 0::2], np.sin(angle), atol=1e-6)
    np.testing.assert_allclose(table[:, 1::2], np.cos(angle), atol=1e-6)


def test_bad_max_wavelength():
    with pytest.raises(ValueError, match="SinusoidalPositionEmbedding"):
        SinusoidalPositionEmbedding(max_wavelength=-1)
