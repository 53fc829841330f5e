"""The `predict` property of `check_layer`: the compiled path users take
gives what the eager call gives."""

from kerasbig.testing._case import assert_close
from kerasbig.testing._case import compiled_path


def check_predict(case):
    layer = case.make_layer()
    model = case.model(layer)
    eager = model(case.inputs, training=False)
    description, jit_compile = compiled_path()
    assert_close(
        case.predict(model, case.inputs, jit_compile),
        eager,
        case.compiled_atol,
        f"{description} vs the eager call",
    )
