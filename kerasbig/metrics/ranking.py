"""Ranking metrics of link prediction: the rank of each true answer among
all candidates (filtered, ties ranked as PyKEEN ranks them), then MRR and
Hits@k."""

import warnings

import numpy as np
from keras import ops

from kerasbig import _validation as checks

RANK_TYPES = ("realistic", "optimistic", "pessimistic")
"""How tied scores rank: the expected rank under random tie-breaking
(PyKEEN's default), above every tie, or below every tie."""


def ranks(scores, targets, filter_mask=None, rank_type="realistic"):
    """The rank of each row's true candidate among the row's candidates.

    Higher scores rank first. With `o` other candidates scoring higher
    and `t` tied, the optimistic rank is `1 + o`, the pessimistic `1 + o
    + t` and the realistic their mean (PyKEEN's ranks; the realistic one
    is the expected rank when ties are broken at random, so a model that
    scores every candidate alike gets no credit). `filter_mask` marks
    candidates to leave out, the other known true answers of the filtered
    setting (Bordes et al. 2013); the true candidate itself always
    counts. A NaN or infinite score ranks last: a true answer's puts it
    below every other candidate (a diverged model scores nothing), and
    another candidate's never outranks the true answer.

    Runs in `keras.ops` on any backend, inside compiled functions too.

    Args:
        scores: `(batch, candidates)` float scores.
        targets: `(batch,)` int index of each row's true candidate.
        filter_mask: optional `(batch, candidates)` bool, True where a
            candidate is left out.
        rank_type: one of `RANK_TYPES`. Defaults to `"realistic"`.

    Returns:
        `(batch,)` float32 ranks, from 1.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.metrics import ranks
        >>> scores = np.array([[0.9, 0.5, 0.5, 0.1]], "float32")
        >>> ops.convert_to_numpy(ranks(scores, np.array([1]))).tolist()
        [2.5]
        >>> filtered = np.array([[True, False, False, False]])
        >>> ops.convert_to_numpy(ranks(scores, [1], filtered)).tolist()
        [1.5]
        >>> diverged = np.array([[np.nan, 0.5, 0.2, 0.1]], "float32")
        >>> ops.convert_to_numpy(ranks(diverged, np.array([0]))).tolist()
        [4.0]
    """
    checks.one_of("ranks", "rank_type", rank_type, RANK_TYPES)
    scores = ops.convert_to_tensor(scores)
    if len(scores.shape) != 2:
        raise ValueError(
            "ranks: `scores` must have shape (batch, candidates). Received: "
            f"shape={tuple(scores.shape)}"
        )
    targets = ops.cast(ops.convert_to_tensor(targets), "int32")
    true_scores = ops.take_along_axis(
        scores, ops.expand_dims(targets, -1), axis=-1
    )
    candidates = ops.shape(scores)[-1]
    others = ops.not_equal(
        ops.expand_dims(ops.arange(candidates, dtype="int32"), 0),
        ops.expand_dims(targets, -1),
    )
    if filter_mask is not None:
        others = ops.logical_and(
            others, ops.logical_not(ops.cast(filter_mask, "bool"))
        )

    def count(condition):
        both = ops.logical_and(others, condition)
        return ops.sum(ops.cast(both, "float32"), axis=-1)

    # Non-finite candidates never outrank; a non-finite true score is
    # below everything (NaN compares False, which would rank it first).
    finite = ops.isfinite(scores)
    scores = ops.where(finite, scores, float("-inf"))
    last = 1.0 + count(ops.ones_like(finite))
    true_finite = ops.squeeze(ops.isfinite(true_scores), -1)
    higher = count(ops.greater(scores, true_scores))
    if rank_type == "optimistic":
        found = 1.0 + higher
    else:
        tied = count(ops.equal(scores, true_scores))
        found = (
            1.0 + higher + (tied if rank_type == "pessimistic" else 0.5 * tied)
        )
    return ops.where(true_finite, found, last)


def rank_metrics(rank_values, hits_at=(1, 3, 10)):
    """Mean reciprocal rank and Hits@k of ranks from `ranks`.

    `mrr` is the mean of `1 / rank`; `hits@k` the share of ranks `<= k`
    (a realistic rank of 1.5 is not a hit at 1).

    Args:
        rank_values: ranks, any shape (for both directions, concatenate
            the head and tail ranks).
        hits_at: the `k`s. Defaults to `(1, 3, 10)`.

    Returns:
        A dict of Python floats: `mrr`, `hits@1`, ...

    Example:

        >>> import numpy as np
        >>> from kerasbig.metrics import rank_metrics
        >>> rank_metrics(np.array([1.0, 2.0, 4.0, 20.0]), hits_at=(1, 3))
        {'mrr': 0.45, 'hits@1': 0.25, 'hits@3': 0.5}
    """
    values = np.asarray(ops.convert_to_numpy(rank_values), "float64")
    values = values.reshape(-1)
    if not len(values) or values.min() < 1:
        raise ValueError(
            "rank_metrics: expected ranks >= 1 (from `ranks`). Received: "
            f"{len(values)} values, minimum "
            f"{values.min() if len(values) else None}"
        )
    result = {"mrr": float(np.mean(1.0 / values))}
    for k in hits_at:
        checks.positive_int("rank_metrics", "hits_at", k)
        result[f"hits@{k}"] = float(np.mean(values <= k))
    return result


def link_prediction_metrics(
    model, graph, split="test", batch_size=256, hits_at=(1, 3, 10)
):
    """Filtered MRR and Hits@k of a link-prediction model on a split, per
    direction and both.

    Each triple of the split is a head query `(?, r, t)` and a tail query
    `(h, r, ?)`; every entity is scored (`model.score_candidates`), the
    other known answers of any split are filtered out
    (`graph.known_answers`) and ties rank realistically.

    Args:
        model: a model with `score_candidates(triples, target)` (the
            `kerasbig.models` knowledge-graph embeddings).
        graph: a `kerasbig.graph.KnowledgeGraph`.
        split: `"train"`, `"valid"` or `"test"`. Defaults to `"test"`.
        batch_size: triples scored at once.
        hits_at: the `k`s of Hits@k.

    Returns:
        `{"head": {...}, "tail": {...}, "both": {...}}`, each a
        `rank_metrics` dict.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import KnowledgeGraph
        >>> from kerasbig.metrics import link_prediction_metrics
        >>> from kerasbig.models import DistMult
        >>> triples = np.array([[0, 0, 1], [1, 0, 2], [2, 0, 0]], "int32")
        >>> graph = KnowledgeGraph(["a", "b", "c"], ["r"], triples,
        ...                        triples[:1], triples[1:])
        >>> result = link_prediction_metrics(DistMult(3, 1), graph)
        >>> sorted(result), sorted(result["both"])
        (['both', 'head', 'tail'], ['hits@1', 'hits@10', 'hits@3', 'mrr'])
    """
    triples = np.asarray(getattr(graph, split))
    if not len(triples):
        raise ValueError(
            f"link_prediction_metrics: the {split!r} split holds no triples"
        )
    checks.positive_int("link_prediction_metrics", "batch_size", batch_size)
    found = {}
    warned = False
    for target, column in (("head", 0), ("tail", 2)):
        parts = []
        for start in range(0, len(triples), batch_size):
            batch = triples[start : start + batch_size]
            scores = model.score_candidates(batch, target)
            if (
                not warned
                and not np.isfinite(ops.convert_to_numpy(scores)).all()
            ):
                warned = True
                warnings.warn(
                    "link_prediction_metrics: the model scores some "
                    "candidates NaN or infinite (has training diverged?); "
                    "such true answers rank last, such candidates never "
                    "outrank",
                    RuntimeWarning,
                    stacklevel=2,
                )
            mask = graph.known_answers(batch, target)
            parts.append(
                ops.convert_to_numpy(ranks(scores, batch[:, column], mask))
            )
        found[target] = np.concatenate(parts)
    found["both"] = np.concatenate([found["head"], found["tail"]])
    return {
        name: rank_metrics(values, hits_at) for name, values in found.items()
    }
