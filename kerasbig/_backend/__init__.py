"""The one place that dispatches to backend-specific code.

Everything else in kerasbig uses `keras.ops` only; what cannot be written
that way (compiling a stateful function, custom train steps) lives in one
small module per backend, chosen here by the active Keras backend.
"""

import collections
import importlib

import keras
from keras import ops

TrainPhase = collections.namedtuple(
    "TrainPhase", ["name", "optimizer", "variables", "loss", "repeats"]
)
TrainPhase.__doc__ = """One optimizer's share of a multi-optimizer train step.

`loss(data, training)` computes a scalar with `keras.ops` (reading the
model's variables and updating its metric trackers as usual); the step
differentiates it with respect to `variables` and applies `optimizer`,
`repeats` times in a row (for example k critic steps per generator step).
"""


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


def gather_rows(data, indices):
    """`keras.ops.take(data, indices, axis=0)` for ids in `[0, len(data))`,
    through the backend's own kernel where Keras's is slow (PyTorch)."""
    own = getattr(_module(), "gather_rows", None)
    if own is None:
        return ops.take(data, indices, axis=0)
    return own(data, indices)


def fori_loop(lower, upper, body, init):
    """`keras.ops.fori_loop` for Python int bounds, differentiable under
    XLA on TensorFlow too (Keras's `tf.while_loop` has no
    `maximum_iterations`, which XLA needs for the gradient)."""
    own = getattr(_module(), "fori_loop", None)
    if own is None:
        return ops.fori_loop(lower, upper, body, init)
    return own(lower, upper, body, init)


def sparse_matmul(rows, columns, values, dense, num_rows):
    """`A @ dense` for the sparse `(num_rows, len(dense))` matrix with
    `A[rows[e], columns[e]] += values[e]`, whose backward pass keeps only
    its inputs (the per-entry products are recomputed): memory that grows
    with the entries, not entries x features."""
    return _module().sparse_matmul(rows, columns, values, dense, num_rows)


def lookup_rows(table, indices):
    """`keras.ops.take(table, indices, axis=0)` of a trainable table whose
    gradient reaches the optimizer whole: dense on TensorFlow (see
    `kerasbig.ops.lookup_rows`)."""
    own = getattr(_module(), "lookup_rows", None)
    if own is None:
        return gather_rows(table, indices)
    return own(table, indices)


def fused_segment_softmax():
    """The backend's own one-pass `segment_softmax(logits, segment_ids,
    num_segments)` (PyTorch), or `None`: `kerasbig.ops` then composes it
    from the segment reductions."""
    return getattr(_module(), "segment_softmax", None)


def _segment(name, data, segment_ids, num_segments):
    own = getattr(_module(), name, None)
    if own is None:
        keras_op = getattr(ops, name)
        return keras_op(data, segment_ids, num_segments=num_segments)
    return own(data, segment_ids, num_segments)


def fake_quant(x, minimum, maximum, per_channel=False, narrow_range=False):
    """Simulated int8 quantization of `x` to the range `[minimum,
    maximum]` (per last-axis channel when `per_channel`), with a
    straight-through gradient inside the range. On TensorFlow the op is
    TensorFlow's FakeQuant, which the LiteRT converter turns into int8."""
    own = getattr(_module(), "fake_quant", None)
    if own is not None:
        return own(x, minimum, maximum, per_channel, narrow_range)
    return _fake_quant(x, minimum, maximum, narrow_range)


def _fake_quant(x, minimum, maximum, narrow_range):
    # TensorFlow's FakeQuant maths (fake_quant_ops_functor.h): nudge the
    # range so that 0 is on the grid, clamp, round half up; gradient 1
    # inside the range.
    levels_min = 1.0 if narrow_range else 0.0
    levels_max = 255.0
    minimum = ops.cast(minimum, x.dtype)
    maximum = ops.cast(maximum, x.dtype)
    scale = ops.maximum((maximum - minimum) / (levels_max - levels_min), 1e-12)
    zero_point = ops.minimum(
        ops.maximum(ops.floor(levels_min - minimum / scale + 0.5), levels_min),
        levels_max,
    )
    low = (levels_min - zero_point) * scale
    high = (levels_max - zero_point) * scale
    clipped = ops.minimum(ops.maximum(x, low), high)
    quantized = ops.floor((clipped - low) * (1.0 / scale) + 0.5) * scale + low
    return clipped + ops.stop_gradient(quantized - clipped)


def phased_train_step(model, phases, *args):
    """Runs `phases` (a list of `TrainPhase`) in order as one train step
    of `model` and returns the logs.

    Call it from `train_step(self, *args)`: Keras passes `(data,)` on
    TensorFlow and PyTorch, and `(state, data)` on JAX, where the step
    is a pure function and returns `(logs, state)`. `model.optimizer`
    must expose every phase optimizer's variables (see
    `kerasbig.models.GAN`).
    """
    own = _module()
    if hasattr(own, "phased_train_step"):
        return own.phased_train_step(model, phases, *args)
    (data,) = args
    for phase in phases:
        for _ in range(phase.repeats):
            own.minimize(
                lambda phase=phase: phase.loss(data, True),
                phase.optimizer,
                phase.variables,
            )
    return model.get_metrics_result()


def phased_test_step(model, phases, *args):
    """Evaluates the phase losses of `model` without updating weights
    (so that their metric trackers score a validation batch); the
    signature follows `phased_train_step`."""
    own = _module()
    if hasattr(own, "phased_test_step"):
        return own.phased_test_step(model, phases, *args)
    (data,) = args
    for phase in phases:
        phase.loss(data, False)
    return model.get_metrics_result()


def input_gradient(function, x):
    """Gradient of `sum(function(x))` with respect to the tensor `x`,
    itself differentiable with respect to the variables `function`
    reads (gradient penalties need this second-order path)."""
    return _module().input_gradient(function, x)


def has_gpu():
    """Whether the active backend sees a GPU."""
    return _module().has_gpu()


def replica_context():
    """`(num_replicas, replica_index)` of the step being traced.

    Under a `tf.distribute` strategy each replica runs the step on its
    slice of the global batch, and optimizers sum the replicas'
    gradients, so losses are divided by `num_replicas`. Everywhere else
    (one device, or JAX's `keras.distribution`, which shards one global
    computation) this is `(1, 0)`.
    """
    own = getattr(_module(), "replica_context", None)
    return own() if own is not None else (1, 0)


def supports_float64():
    """Whether the active backend computes in float64 (JAX only with
    `jax_enable_x64`; elsewhere always)."""
    own = getattr(_module(), "supports_float64", None)
    return True if own is None else own()


def has_fused_causal_attention():
    """Whether `keras.ops.dot_product_attention(..., is_causal=True)` runs
    a fused causal kernel that needs no mask tensor. TensorFlow has no
    fused kernel, and its causal path slices a dynamic boolean tensor in
    a way LiteRT has no builtin for: attention layers give it a mask."""
    own = getattr(_module(), "has_fused_causal_attention", None)
    return True if own is None else own()


def fused_attention_supports(dtype):
    """Whether `keras.ops.dot_product_attention` runs for `dtype` on the
    active backend and device, compiled as well as eagerly."""
    own = getattr(_module(), "fused_attention_supports", None)
    return True if own is None else own(keras.backend.standardize_dtype(dtype))
