"""The one place that dispatches to backend-specific code.

Everything else in kerasbig uses `keras.ops` only; what cannot be written
that way (compiling a stateful function, custom train steps) lives in one
small module per backend, chosen here by the active Keras backend.
"""

import importlib

import keras
from keras import ops


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


def segment_sum(data, segment_ids, num_segments):
    """`keras.ops.segment_sum` for ids in `[0, num_segments)`, through the
    backend's own kernel where Keras's is slow (PyTorch)."""
    return _segment("segment_sum", data, segment_ids, num_segments)


def segment_max(data, segment_ids, num_segments):
    """`keras.ops.segment_max` likewise; empty segments are unspecified
    (callers mask them)."""
    return _segment("segment_max", data, segment_ids, num_segments)


def _segment(name, data, segment_ids, num_segments):
    own = getattr(_module(), name, None)
    if own is None:
        keras_op = getattr(ops, name)
        return keras_op(data, segment_ids, num_segments=num_segments)
    return own(data, segment_ids, num_segments)
