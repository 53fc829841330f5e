"""Pruning masks on `keras.ops`: magnitude (optionally by blocks) and
m-by-n structured. Weights are viewed as a matrix `(rows, columns)` with
`columns` the last axis (output units) and `rows` every other axis
flattened (a conv kernel `(h, w, in, out)` gives rows `h * w * in`, input
channels fastest)."""

import math

from keras import ops


def matrix_shape(shape):
    """`(rows, columns)` of a weight of `shape` viewed as a matrix."""
    if len(shape) < 2:
        return 1, int(shape[0]) if shape else 1
    return math.prod(shape[:-1]), int(shape[-1])


def magnitude_mask(weight, sparsity, block_size=(1, 1), pooling="avg"):
    """Keeps the largest-magnitude weights (or blocks of weights), zeroing a
    `sparsity` fraction, as tfmot: the `k = max(round(n * (1 - sparsity)),
    1)` largest survive, ties with the k-th included.

    Args:
        weight: the weight tensor.
        sparsity: float32 scalar tensor in `[0, 1)`.
        block_size: `(rows, columns)` of the blocks pruned together.
        pooling: `"avg"` or `"max"`, how a block's magnitude is scored.

    Returns:
        A 0/1 mask of `weight`'s shape and dtype.
    """
    shape = tuple(weight.shape)
    magnitude = ops.abs(ops.cast(weight, "float32"))
    block_rows, block_cols = block_size
    if (block_rows, block_cols) == (1, 1):
        keep = _keep_largest(magnitude, sparsity)
    else:
        rows, cols = matrix_shape(shape)
        matrix = ops.reshape(magnitude, (rows, cols))
        pad_rows, pad_cols = (-rows) % block_rows, (-cols) % block_cols
        matrix = ops.pad(matrix, [[0, pad_rows], [0, pad_cols]])
        blocks = ops.reshape(
            matrix,
            (
                (rows + pad_rows) // block_rows,
                block_rows,
                (cols + pad_cols) // block_cols,
                block_cols,
            ),
        )
        pool = ops.mean if pooling == "avg" else ops.max
        keep = _keep_largest(pool(blocks, axis=(1, 3)), sparsity)
        keep = ops.repeat(ops.repeat(keep, block_rows, 0), block_cols, 1)
        keep = ops.reshape(keep[:rows, :cols], shape)
    return ops.cast(keep, weight.dtype)


def _keep_largest(scores, sparsity):
    flat = ops.reshape(scores, (-1,))
    count = flat.shape[0]
    kept = ops.cast(ops.round(count * (1.0 - sparsity)), "int32")
    kept = ops.maximum(kept, 1)
    threshold = ops.take(ops.sort(flat), count - kept)
    return ops.greater_equal(scores, threshold)


def m_by_n_mask(weight, m, n):
    """Keeps the `m` largest of every `n` consecutive rows in each column
    (2:4 sparsity with `m=2, n=4`); rows must be a multiple of `n`."""
    shape = tuple(weight.shape)
    rows, cols = matrix_shape(shape)
    magnitude = ops.abs(
        ops.cast(ops.reshape(weight, (rows // n, n, cols)), "float32")
    )
    order = ops.argsort(-magnitude, axis=1)
    rank = ops.argsort(order, axis=1)
    return ops.cast(ops.reshape(rank < m, shape), weight.dtype)
