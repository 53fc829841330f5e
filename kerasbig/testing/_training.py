"""The `training` and `jit_compile` properties of `check_layer`."""

import keras
import numpy as np
from keras import ops

from kerasbig.testing._case import Skip
from kerasbig.testing._case import as_batch_of_one
from kerasbig.testing._case import assert_close
from kerasbig.testing._case import compiled_path
from kerasbig.testing._case import is_float

# The compiled training path checked against eager training: what
# `compile()` gives by default (tf.function on TensorFlow, jax.jit on JAX,
# Keras's loop on PyTorch).
_COMPILED_FIT = "auto"


def check_training(case):
    """An eager SGD step (`run_eagerly=True`) and a compiled one
    (`compile()`'s default) from the same variables change every weight
    the same way; more compiled steps keep every weight finite."""
    eager, eager_model = _build(case)
    compiled, compiled_model = _build(case, targets=eager_model[1])
    # Both runs start from the eager layer's variables (seed states too:
    # random layers must draw the same noise).
    initial = [ops.convert_to_numpy(v) for v in eager.variables]
    before = [ops.convert_to_numpy(w) for w in eager.weights]
    first_steps = []
    for what, layer, (model, targets), run_eagerly in (
        ("eager fit (run_eagerly=True)", eager, eager_model, True),
        ("compiled fit", compiled, compiled_model, False),
    ):
        for variable, value in zip(layer.variables, initial, strict=True):
            variable.assign(value)
        # Unseeded random layers draw from the backend's global generator
        # on PyTorch (Keras's fast dropout path): reset it too.
        keras.utils.set_random_seed(case.options["seed"])
        # SGD: Adam's first step is about sign(gradient), which round-off
        # flips where a gradient is about 0.
        _compile(model, targets, keras.optimizers.SGD(0.01), run_eagerly)
        _fit(case, model, targets, 1)
        first_steps.append([ops.convert_to_numpy(w) for w in layer.weights])
        _check_trained(case, layer, before, f"one SGD step of the {what}")
    for weight, a, b in zip(eager.weights, *first_steps, strict=True):
        diff = np.max(np.abs(a.astype("float64") - b), initial=0.0)
        if not diff <= case.compiled_atol:
            raise AssertionError(
                f"the first SGD step of the compiled fit changes weight "
                f"'{weight.path}' differently from the eager fit: max abs "
                f"difference {diff:.3g}; expected <= {case.compiled_atol:g}"
            )
    # More steps through the same compiled function.
    _fit(case, *compiled_model, case.options["training_steps"])
    _check_trained(
        case,
        compiled,
        before,
        f"{case.options['training_steps'] + 1} steps of the compiled fit",
    )


def check_jit_compile(case):
    """`fit()` and `predict()` with `jit_compile=True`: XLA on
    TensorFlow, torch.compile on PyTorch."""
    if _resolves_to_jit():
        raise Skip(
            "compile()'s default is jit_compile=True on this backend "
            "(jax.jit): the training and predict properties ran it"
        )
    layer, (model, targets) = _build(case)
    _compile(model, targets, keras.optimizers.Adam(1e-2), False, True)
    _fit(case, model, targets, case.options["training_steps"])
    non_finite = _non_finite(layer)
    if non_finite:
        raise AssertionError(
            f"weights {non_finite} are not finite after jit-compiled training"
        )
    if compiled_path()[1] is True:
        return  # `predict` already compares jit_compile=True with eager
    inference = case.model(layer)
    assert_close(
        case.predict(inference, case.inputs, True),
        inference(case.inputs, training=False),
        case.compiled_atol,
        "predict with jit_compile=True vs the eager call",
    )


def _resolves_to_jit():
    return keras.backend.backend() == "jax"


def _build(case, targets=None):
    """A fresh layer and `(model, targets)` to fit it on (new random
    targets unless given)."""
    layer = case.make_layer()
    model = case.model(layer)
    float_outputs = [o for o in model.outputs if is_float(o.dtype)]
    if not float_outputs:
        raise Skip("the layer has no floating-point output to train on")
    if not layer.trainable_weights:
        raise Skip("the layer has no trainable weights")
    model = keras.Model(model.input, float_outputs)
    if case.options["unbatched"]:
        model = as_batch_of_one(model)
    if targets is None:
        targets = [
            case.rng.standard_normal(tuple(output.shape)).astype("float32")
            for output in model.outputs
        ]
    return layer, (model, targets)


def _compile(model, targets, optimizer, run_eagerly, jit_compile=None):
    model.compile(
        optimizer=optimizer,
        loss=["mean_squared_error"] * len(targets),
        run_eagerly=run_eagerly,
        jit_compile=(False if run_eagerly else jit_compile or _COMPILED_FIT),
    )


def _fit(case, model, targets, steps):
    inputs = case.inputs
    batch = len(keras.tree.flatten(inputs)[0])
    if case.options["unbatched"]:
        inputs = keras.tree.map_structure(lambda a: a[None], inputs)
        batch = 1
    history = model.fit(
        inputs,
        targets,
        batch_size=batch,
        epochs=steps,
        shuffle=False,
        verbose=0,
        callbacks=list(case.options["fit_callbacks"]),
    )
    losses = np.asarray(history.history["loss"], dtype="float64")
    if not np.all(np.isfinite(losses)):
        raise AssertionError(f"the training loss is not finite: {losses}")


def _non_finite(layer):
    return [
        weight.path
        for weight in layer.weights
        if not np.all(np.isfinite(ops.convert_to_numpy(weight)))
    ]


def _check_trained(case, layer, before, what):
    non_finite = _non_finite(layer)
    if non_finite:
        raise AssertionError(
            f"weights {non_finite} are not finite after {what} "
            "(non-finite gradients)"
        )
    unchanged = [
        weight.path
        for weight, value in zip(layer.weights, before, strict=True)
        if weight.trainable
        and np.array_equal(ops.convert_to_numpy(weight), value)
        and not _is_frozen(weight.path, case.options["frozen_weights"])
    ]
    if unchanged:
        raise AssertionError(
            f"trainable weights {unchanged} did not change in {what} (zero "
            "or missing gradients); list them in `frozen_weights` if "
            "intended"
        )


def _is_frozen(path, frozen_weights):
    return any(
        path == name or path.endswith("/" + name) for name in frozen_weights
    )
