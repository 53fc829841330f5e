"""Token sampling for text generation, stateless and jit-friendly."""

from keras import ops


def sample_logits(logits, uniform, temperature=1.0, top_k=None, top_p=None):
    """Draws one token per row from `logits` by inverse-CDF sampling.

    The randomness comes in as `uniform` numbers, so the function has no
    random state and runs inside compiled loops on every backend.
    Candidates are sorted by probability; `top_k` keeps the `k` most
    likely, `top_p` keeps the smallest set whose probability reaches `p`
    (nucleus sampling; the most likely token is always kept). With
    `temperature=0` the result is the argmax (greedy decoding) and
    `uniform` is ignored.

    Args:
        logits: `(batch, vocabulary)` unnormalized log-probabilities.
        uniform: `(batch,)` numbers in [0, 1), one per row.
        temperature: non-negative float; logits are divided by it.
        top_k: optional positive int.
        top_p: optional float in (0, 1].

    Returns:
        int32 token ids of shape `(batch,)`.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import sample_logits
        >>> logits = np.log(np.array([[0.1, 0.6, 0.3]], "float32"))
        >>> token = sample_logits(logits, uniform=np.array([0.5]))
        >>> ops.convert_to_numpy(token).tolist()
        [1]
        >>> ops.convert_to_numpy(
        ...     sample_logits(logits, np.array([0.99]), top_k=1)).tolist()
        [1]
    """
    logits = ops.cast(logits, "float32")
    if temperature == 0:
        return ops.cast(ops.argmax(logits, axis=-1), "int32")
    logits = ops.divide(logits, temperature)
    order = ops.argsort(ops.negative(logits), axis=-1)  # most likely first
    probabilities = ops.softmax(
        ops.take_along_axis(logits, order, axis=-1), axis=-1
    )
    rank = ops.expand_dims(ops.arange(ops.shape(logits)[-1]), 0)
    if top_k is not None:
        probabilities = ops.where(rank < top_k, probabilities, 0.0)
    if top_p is not None:
        before = ops.subtract(ops.cumsum(probabilities, axis=-1), probabilities)
        total = ops.sum(probabilities, axis=-1, keepdims=True)
        probabilities = ops.where(before < top_p * total, probabilities, 0.0)
    cdf = ops.cumsum(probabilities, axis=-1)
    threshold = ops.multiply(
        ops.expand_dims(ops.cast(uniform, "float32"), -1), cdf[:, -1:]
    )
    # The first candidate whose cumulative probability passes the draw.
    choice = ops.sum(ops.cast(cdf <= threshold, "int32"), axis=-1)
    choice = ops.minimum(choice, ops.shape(logits)[-1] - 1)
    # Never pick a filtered-out candidate (possible only through rounding).
    choice = ops.minimum(
        choice, ops.sum(ops.cast(probabilities > 0, "int32"), axis=-1) - 1
    )
    token = ops.take_along_axis(order, ops.expand_dims(choice, -1), axis=-1)
    return ops.cast(ops.squeeze(token, -1), "int32")
