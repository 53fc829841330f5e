"""The `predict` property of `check_layer`: the compiled path users take
gives what the eager call gives, in the same dtypes."""

import keras

from kerasbig.testing._case import assert_close
from kerasbig.testing._case import compiled_path


def check_predict(case):
    layer = case.make_layer()
    model = case.model(layer)
    eager = model(case.inputs, training=False)
    description, jit_compile = compiled_path()
    compiled = case.predict(model, case.inputs, jit_compile)
    assert_close(
        compiled, eager, case.compiled_atol, f"{description} vs the eager call"
    )
    # mixed_precision relies on this for the float32 policy's compiled path.
    for i, (ours, theirs) in enumerate(
        zip(compiled, keras.tree.flatten(eager), strict=True)
    ):
        expected = keras.backend.standardize_dtype(theirs.dtype)
        if keras.backend.standardize_dtype(ours.dtype) != expected:
            raise AssertionError(
                f"{description} output {i} should be {expected} like the "
                f"eager call's. Received: dtype={ours.dtype}"
            )
