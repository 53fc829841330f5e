"""The `litert` property of `check_layer` (TensorFlow backend)."""

import os
import tempfile

import keras
import numpy as np

from kerasbig.testing._case import Skip
from kerasbig.testing._case import flat


def check_litert(case):
    if not case.options["litert"]:
        raise Skip("not requested (litert=False)")
    if keras.backend.backend() != "tensorflow":
        raise Skip(
            "LiteRT conversion runs on the TensorFlow backend only; "
            f"current backend is {keras.backend.backend()}"
        )
    from kerasbig.export import to_litert

    model = case.model(case.make_layer())
    expected = flat(model(case.inputs, training=False))
    scale = max(float(np.abs(e).max(initial=0.0)) for e in expected) or 1.0
    feed = dict(
        zip(
            [tensor.name for tensor in model.inputs],
            keras.tree.flatten(case.inputs),
            strict=True,
        )
    )
    with tempfile.TemporaryDirectory() as directory:
        # to_litert runs the file on `feed` and raises unless every
        # output is within `tolerance * scale` = litert_atol of Keras's.
        to_litert(
            model,
            os.path.join(directory, "layer.tflite"),
            builtins_only=True,
            verify_data=feed,
            tolerance=case.options["litert_atol"] / scale,
        )
