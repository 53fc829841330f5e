"""The `saving` property of `check_layer`."""

import os
import tempfile

import keras
import numpy as np
from keras import ops

from kerasbig.testing._case import assert_close


def check_saving(case):
    layer = case.make_layer()
    model = case.model(layer)
    expected = model(case.inputs, training=False)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(
            path, custom_objects=case.custom_objects
        )
    if len(restored.weights) != len(model.weights):
        raise AssertionError(
            f"the reloaded model has {len(restored.weights)} weights; the "
            f"saved one has {len(model.weights)}"
        )
    for before, after in zip(model.weights, restored.weights, strict=True):
        before_value = ops.convert_to_numpy(before)
        after_value = ops.convert_to_numpy(after)
        if before_value.shape != after_value.shape or not np.array_equal(
            before_value, after_value
        ):
            raise AssertionError(
                f"weight '{before.path}' changed in the .keras save/load "
                "round trip (it is not saved, or not restored)"
            )
    assert_close(
        restored(case.inputs, training=False),
        expected,
        case.atol,
        "the model reloaded from .keras",
    )
