"""A check the optimize tests share: a model saved and loaded again
computes what it computed."""

import keras
import numpy as np
from keras import ops


def assert_reloads(model, x, path, atol=1e-5):
    """Saves `model` to `path` (a `.keras` file), loads it and compares
    the two models' outputs on `x`; returns the loaded model."""
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x)),
        ops.convert_to_numpy(model(x)),
        atol=atol,
    )
    return restored
