"""The one place that dispatches to backend-specific code.

Everything else in kerasbig uses `keras.ops` only; what cannot be written
that way (compiling a stateful function, custom train steps) lives in one
small module per backend, chosen here by the active Keras backend.
"""

import importlib

import keras


def _module():
    return importlib.import_module(
        f"kerasbig._backend.{keras.backend.backend()}"
    )


def compile_inference(model, function):
    """Compiles `function(inputs) -> outputs`, which reads `model`'s
    variables but changes none, for repeated inference calls.

    TensorFlow: `tf.function` with XLA; JAX: `jax.jit` over the variable
    values; PyTorch: eager under `torch.no_grad()`.
    """
    return _module().compile_inference(model, function)
