"""The `mixed_precision` property of `check_layer`."""

import keras
import numpy as np
from keras import ops

from kerasbig.testing._case import Skip
from kerasbig.testing._case import compiled_path
from kerasbig.testing._case import flat
from kerasbig.testing._case import is_float

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def check_mixed_precision(case):
    if "dtype" in case.init_kwargs:
        raise Skip("init_kwargs sets `dtype` explicitly")
    description, jit_compile = compiled_path()
    problems = []
    for policy in POLICIES:
        compute = keras.DTypePolicy(policy).compute_dtype
        layer = case.make_layer(dtype=policy)
        eager = keras.tree.flatten(case.call_eager(layer))
        problems += _output_problems(
            [keras.backend.standardize_dtype(o.dtype) for o in eager],
            flat(eager),
            compute,
            f"under '{policy}'",
        )
        for weight in layer.weights:
            dtype = keras.backend.standardize_dtype(weight.dtype)
            if is_float(dtype) and dtype != "float32":
                problems.append(
                    f"under '{policy}' variable '{weight.path}' should be "
                    f"float32. Received: dtype={dtype}"
                )
        if policy == "float32":
            # The `predict` property runs the float32 compiled path and
            # compares its values and dtypes with the eager call's.
            continue
        compiled = case.predict(
            case.model(case.make_layer(dtype=policy)), case.inputs, jit_compile
        )
        problems += _output_problems(
            [str(o.dtype) for o in compiled],
            compiled,
            compute,
            f"under '{policy}' ({description})",
        )
    if problems:
        raise AssertionError("; ".join(problems))


def _output_problems(dtypes, values, compute, where):
    problems = []
    for i, (dtype, value) in enumerate(zip(dtypes, values, strict=True)):
        dtype = keras.backend.standardize_dtype(dtype)
        if not is_float(dtype):
            continue
        if dtype != compute:
            problems.append(
                f"{where} output {i} should be {compute}. "
                f"Received: dtype={dtype}"
            )
        elif not np.all(
            np.isfinite(ops.convert_to_numpy(value).astype("float32"))
        ):
            problems.append(f"{where} output {i} is not finite")
    return problems
