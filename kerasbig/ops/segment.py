"""Segment reductions (scatter) with PyTorch Geometric's semantics.

`segment_ids` holds, for each row of `data`, the segment it belongs to, in
any order; segments that receive no row give 0 (not -inf), as
`torch_scatter` does. `num_segments` must be given: a Python int (needed by
JAX under jit) or a scalar tensor.
"""

from keras import ops

from kerasbig import _backend


def _counts(segment_ids, num_segments, dtype):
    ones = ops.ones_like(segment_ids, dtype=dtype)
    return _backend.segment_sum(ones, segment_ids, num_segments)


def _expand_like(values, data):
    # (segments,) → (segments, 1, ...) to broadcast against feature axes.
    for _ in range(len(data.shape) - 1):
        values = ops.expand_dims(values, -1)
    return values


def segment_sum(data, segment_ids, num_segments):
    """Sums the rows of `data` that share a segment id.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import segment_sum
        >>> data = np.array([[1.0], [2.0], [4.0]], "float32")
        >>> out = segment_sum(data, np.array([0, 2, 0]), num_segments=3)
        >>> ops.convert_to_numpy(out).ravel().tolist()
        [5.0, 0.0, 2.0]
    """
    return _backend.segment_sum(data, segment_ids, num_segments)


def segment_mean(data, segment_ids, num_segments):
    """Averages the rows of `data` that share a segment id (0 if none).

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import segment_mean
        >>> data = np.array([[1.0], [2.0], [4.0]], "float32")
        >>> out = segment_mean(data, np.array([0, 2, 0]), num_segments=3)
        >>> ops.convert_to_numpy(out).ravel().tolist()
        [2.5, 0.0, 2.0]
    """
    total = _backend.segment_sum(data, segment_ids, num_segments)
    counts = _counts(segment_ids, num_segments, total.dtype)
    return total / _expand_like(ops.maximum(counts, 1), total)


def segment_max(data, segment_ids, num_segments):
    """Maximum over the rows of `data` that share a segment id (0 if none).

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import segment_max
        >>> data = np.array([[1.0], [-2.0], [4.0]], "float32")
        >>> out = segment_max(data, np.array([0, 2, 0]), num_segments=3)
        >>> ops.convert_to_numpy(out).ravel().tolist()
        [4.0, 0.0, -2.0]
    """
    maximum = _backend.segment_max(data, segment_ids, num_segments)
    counts = _counts(segment_ids, num_segments, "int32")
    return ops.where(_expand_like(counts > 0, maximum), maximum, 0)


def gather_rows(data, indices):
    """The rows `data[indices]` for int ids in `[0, len(data))`: the
    message gather of graph layers, `ops.take(data, indices, axis=0)`
    without its negative-index handling (on PyTorch, `index_select`,
    whose backward is a scatter-add).

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import gather_rows
        >>> data = np.array([[1.0], [2.0], [4.0]], "float32")
        >>> rows = gather_rows(data, np.array([2, 0, 2]))
        >>> ops.convert_to_numpy(rows).ravel().tolist()
        [4.0, 1.0, 4.0]
    """
    return _backend.gather_rows(data, indices)


def sparse_matmul(rows, columns, values, dense, num_rows):
    """`A @ dense` for the sparse matrix `A` of shape `(num_rows,
    len(dense))` with `A[rows[e], columns[e]] += values[e]` (COO entries,
    any order, repeats summed): `out[rows[e]] += values[e] *
    dense[columns[e]]`, the weighted message passing of graph layers.

    Differentiable in `values` and `dense`; the backward pass keeps only
    the inputs and recomputes the per-entry products, so training holds
    `O(entries)` memory instead of the `(entries, features)` products
    that composing `gather_rows`, a multiply and `segment_sum` keeps.

    Args:
        rows: int `(E,)`, each entry's output row in `[0, num_rows)`.
        columns: int `(E,)`, each entry's row of `dense`.
        values: float `(E,)`, each entry's weight.
        dense: float `(M, F)`.
        num_rows: the output's rows, a Python int.

    Returns:
        `(num_rows, F)`.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import sparse_matmul
        >>> dense = np.array([[1.0], [2.0], [4.0]], "float32")
        >>> out = sparse_matmul(np.array([0, 0, 1]), np.array([2, 1, 0]),
        ...                     np.array([0.5, 1.0, 3.0], "float32"), dense, 2)
        >>> ops.convert_to_numpy(out).ravel().tolist()
        [4.0, 3.0]
    """
    return _backend.sparse_matmul(rows, columns, values, dense, num_rows)


def lookup_rows(table, indices):
    """Rows of a trainable table, `table[indices]`, for int ids in `[0,
    len(table))`, with a gradient every optimizer applies exactly.

    On TensorFlow a gather's gradient is `IndexedSlices` with one piece
    per lookup, and Keras 3.15's optimizers update with elementwise ops on
    those pieces: Adam's (and RMSprop's, Adagrad's) squared gradient of a
    row looked up twice in a batch is the sum of the squared pieces, not
    the square of their sum, so training differs from JAX and PyTorch.
    Here the table's gradient is dense on TensorFlow (as it is on the
    other backends); elsewhere this is `gather_rows`.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import lookup_rows
        >>> table = np.array([[1.0], [2.0], [4.0]], "float32")
        >>> rows = lookup_rows(table, np.array([2, 2, 0]))
        >>> ops.convert_to_numpy(rows).ravel().tolist()
        [4.0, 4.0, 1.0]
    """
    return _backend.lookup_rows(table, indices)


def segment_softmax(logits, segment_ids, num_segments):
    """Softmax of `logits` over the rows that share a segment id.

    Computed in float32 with the per-segment maximum subtracted, as
    `torch_geometric.utils.softmax`; extra axes (e.g. attention heads) are
    independent.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import segment_softmax
        >>> logits = np.log(np.array([1.0, 3.0, 5.0], "float32"))
        >>> out = segment_softmax(logits, np.array([1, 1, 0]), num_segments=2)
        >>> np.round(ops.convert_to_numpy(out), 3).tolist()
        [0.25, 0.75, 1.0]
    """
    fused = _backend.fused_segment_softmax()
    if fused is not None:
        return fused(logits, segment_ids, num_segments)
    dtype = logits.dtype
    logits = ops.cast(logits, "float32")
    maximum = segment_max(logits, segment_ids, num_segments)
    shifted = ops.exp(logits - _backend.gather_rows(maximum, segment_ids))
    total = _backend.segment_sum(shifted, segment_ids, num_segments)
    weights = shifted / (_backend.gather_rows(total, segment_ids) + 1e-16)
    return ops.cast(weights, dtype)
