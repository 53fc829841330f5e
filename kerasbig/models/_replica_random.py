"""Random draws that do not depend on how a batch is split across
`tf.distribute` replicas."""

import keras
from keras import ops

from kerasbig import _backend


def replica_normal(shape, seed, dtype=None):
    """`keras.random.normal(shape)` for this replica's rows of the
    global batch.

    Every replica shares the seed generator's state, so plain draws
    would give each replica the same noise. Here each replica draws
    the whole global batch and keeps its own slice: the noise a sample
    gets is the one it gets on a single device.
    """
    return _replica_draw(keras.random.normal, shape, seed, dtype)


def replica_uniform(shape, seed, dtype=None):
    """`keras.random.uniform(shape)` likewise."""
    return _replica_draw(keras.random.uniform, shape, seed, dtype)


def _replica_draw(draw, shape, seed, dtype):
    kwargs = {"seed": seed} if dtype is None else {"seed": seed, "dtype": dtype}
    replicas, index = _backend.replica_context()
    if replicas == 1:
        return draw(shape, **kwargs)
    batch, *rest = shape
    values = draw((batch * replicas, *rest), **kwargs)
    # (replicas * batch, ...) -> (replicas, batch, ...) -> this replica's.
    values = ops.reshape(values, (replicas, -1, *rest))
    return ops.take(values, index, axis=0)
