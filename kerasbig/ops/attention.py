"""Attention masks and dot-product attention helpers on `keras.ops`.

Masks are boolean with True meaning "may attend". Shapes follow
`keras.ops.dot_product_attention`: queries `(batch, T, heads, dim)`, keys
`(batch, S, heads, dim)`, masks broadcastable to `(batch, heads, T, S)`.
"""

from keras import ops


def position_mask(
    query_length, key_length, query_start=0, causal=True, sliding_window=None
):
    """Boolean `(T, S)` mask from token positions.

    Query `i` sits at position `query_start + i` and key `j` at position
    `j`, which is the layout of a key/value cache written from position 0.

    Args:
        query_length: `T`, an int or scalar int tensor.
        key_length: `S`, an int or scalar int tensor.
        query_start: position of the first query (the cache index when
            decoding incrementally). Defaults to `0`.
        causal: whether a query may only see keys at or before its own
            position. Defaults to `True`.
        sliding_window: optional positive int; if set, a query only sees
            keys less than `sliding_window` positions away (the symmetric
            band of `keras.layers.MultiHeadAttention`; with `causal`, the
            Mistral-style causal window).

    Returns:
        A boolean tensor of shape `(T, S)`, or `None` when neither `causal`
        nor `sliding_window` restricts anything.

    Example:

        >>> from keras import ops
        >>> from kerasbig.ops import position_mask
        >>> mask = position_mask(2, 4, query_start=2)
        >>> ops.convert_to_numpy(mask).astype(int).tolist()
        [[1, 1, 1, 0], [1, 1, 1, 1]]
    """
    if not causal and sliding_window is None:
        return None
    query_positions = ops.expand_dims(
        ops.add(ops.arange(query_length, dtype="int32"), query_start), -1
    )
    key_positions = ops.expand_dims(ops.arange(key_length, dtype="int32"), 0)
    offsets = ops.subtract(query_positions, key_positions)
    mask = None
    if causal:
        mask = ops.greater_equal(offsets, 0)
    if sliding_window is not None:
        window = ops.less(ops.abs(offsets), sliding_window)
        mask = window if mask is None else ops.logical_and(mask, window)
    return mask


def combine_masks(*masks):
    """Logical AND of boolean masks that broadcast together; skips `None`.

    Returns `None` when every mask is `None`.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import combine_masks
        >>> mask = combine_masks(np.array([True, False]), None)
        >>> ops.convert_to_numpy(mask).tolist()
        [True, False]
    """
    combined = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        combined = mask if combined is None else ops.logical_and(combined, mask)
    return combined


def attend_somewhere(mask):
    """Lets rows of a `(..., T, S)` mask that hide every key see all keys.

    A query with no visible key (a padded query under a causal mask, say)
    has no defined attention output; some kernels return NaN for it, which
    then leaks into gradients. Opening such rows gives them the uniform
    average of the values instead, like Keras's masked softmax. Rows with
    at least one visible key are unchanged.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import attend_somewhere
        >>> mask = np.array([[True, False], [False, False]])
        >>> ops.convert_to_numpy(attend_somewhere(mask)).tolist()
        [[True, False], [True, True]]
    """
    mask = ops.cast(mask, "bool")
    hidden = ops.logical_not(ops.any(mask, axis=-1, keepdims=True))
    return ops.logical_or(mask, hidden)


def attention_probabilities(query, key, scale, mask=None):
    """Softmax attention weights, computed in float32.

    Args:
        query: `(batch, T, heads, dim)`.
        key: `(batch, S, heads, dim)`, same number of heads as `query`.
        scale: multiplier of the logits, usually `dim ** -0.5`.
        mask: optional boolean mask broadcastable to `(batch, heads, T, S)`.

    Returns:
        Float32 probabilities of shape `(batch, heads, T, S)`; masked
        positions get exactly zero.

    Example:

        >>> import numpy as np
        >>> from kerasbig.ops import attention_probabilities
        >>> q = np.ones((1, 3, 2, 4), "float32")
        >>> tuple(attention_probabilities(q, q, 0.5).shape)
        (1, 2, 3, 3)
    """
    # b: batch, t: query, s: key, n: heads, h: head dim.
    logits = ops.einsum("btnh,bsnh->bnts", query, key)
    logits = ops.multiply(ops.cast(logits, "float32"), scale)
    if mask is None:
        return ops.softmax(logits, axis=-1)
    mask = ops.cast(mask, "bool")
    logits = ops.where(mask, logits, -1e30)
    return ops.where(mask, ops.softmax(logits, axis=-1), 0.0)
