"""The `litert` property of `check_layer` (TensorFlow backend)."""

import keras

from kerasbig.testing._case import Skip
from kerasbig.testing._case import assert_close


def check_litert(case):
    if not case.options["litert"]:
        raise Skip("not requested (litert=False)")
    if keras.backend.backend() != "tensorflow":
        raise Skip(
            "LiteRT conversion runs on the TensorFlow backend only; "
            f"current backend is {keras.backend.backend()}"
        )
    # The converter itself, not `to_litert`: a layer whose output depends
    # only on input shapes (a position table) converts to a file with no
    # operators, which `to_litert` rightly refuses for a model.
    from kerasbig.export import converter

    model = case.model(case.make_layer())
    expected = model(case.inputs, training=False)
    content = converter.convert_model(model, builtins_only=True)
    feed = dict(
        zip(
            [tensor.name for tensor in model.inputs],
            keras.tree.flatten(case.inputs),
            strict=True,
        )
    )
    assert_close(
        converter.run_model(content, feed),
        expected,
        case.options["litert_atol"],
        "the LiteRT interpreter's outputs vs Keras",
    )
