"""Entity-level precision, recall and F1 of tag sequences (IOB2, IOBES),
seqeval's: an entity counts when its type and its exact span match."""

import numpy as np

MODES = ("conlleval", "strict")
"""How spans are read from tags: `"conlleval"` (the CoNLL script's and
seqeval's default: an `I-X` after `O` or another type opens an entity too)
or `"strict"` (only well-formed entities of `scheme`)."""

SCHEMES = ("IOB2", "IOBES")
"""Tagging schemes of the strict mode: `B-X I-X*`, or also `S-X` and `B-X
I-X* E-X`."""


def _parse(tag):
    """`(prefix, type)` of a tag name: `"B-PER"` -> `("B", "PER")`; `"O"`
    -> `("O", "")`."""
    if tag in ("O", ""):
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind or "_"


def _conlleval_spans(tags):
    # The CoNLL-2000 evaluation script's chunk boundaries (conlleval),
    # as seqeval's default mode reads them; a sentinel "O" closes the end.
    spans = []
    previous, previous_type, start = "O", "", 0
    for index, tag in enumerate([*tags, "O"]):
        prefix, kind = _parse(tag)
        ends = (
            previous in ("E", "S")
            or (previous in ("B", "I") and prefix in ("B", "S", "O"))
            or (previous not in ("O", ".") and previous_type != kind)
        )
        if ends:
            spans.append((previous_type, start, index - 1))
        starts = (
            prefix in ("B", "S")
            or (previous in ("E", "S") and prefix in ("E", "I"))
            or (previous == "O" and prefix in ("E", "I"))
            or (prefix not in ("O", ".") and previous_type != kind)
        )
        if starts:
            start = index
        previous, previous_type = prefix, kind
    return spans


def _strict_spans(tags, scheme):
    spans = []
    open_type, start = None, 0
    for index, tag in enumerate(tags):
        prefix, kind = _parse(tag)
        if open_type is not None and (prefix != "I" or kind != open_type):
            if prefix == "E" and kind == open_type and scheme == "IOBES":
                spans.append((kind, start, index))
                open_type = None
                continue
            if scheme == "IOB2":  # B-X I-X* ends at anything else
                spans.append((open_type, start, index - 1))
            open_type = None  # IOBES: an entity not closed by E-X is void
        if prefix == "B":
            open_type, start = kind, index
        elif prefix == "S" and scheme == "IOBES":
            spans.append((kind, index, index))
    if open_type is not None and scheme == "IOB2":
        spans.append((open_type, start, len(tags) - 1))
    return spans


def entity_spans(tags, mode="conlleval", scheme="IOB2"):
    """The entities of one sequence of tag names: `(type, first, last)`
    token positions (inclusive).

    Args:
        tags: tag names (`"O"`, `"B-PER"`, `"I-PER"`, `"E-PER"`,
            `"S-PER"`).
        mode: one of `MODES`. Defaults to `"conlleval"`.
        scheme: one of `SCHEMES`, for the strict mode.

    Returns:
        A list of `(type, first, last)`.

    Example:

        >>> from kerasbig.metrics import entity_spans
        >>> entity_spans(["B-PER", "I-PER", "O", "I-LOC"])
        [('PER', 0, 1), ('LOC', 3, 3)]
        >>> entity_spans(["B-PER", "I-PER", "O", "I-LOC"], mode="strict")
        [('PER', 0, 1)]
    """
    _check("entity_spans", mode, scheme)
    tags = list(tags)
    if mode == "strict":
        return _strict_spans(tags, scheme)
    return _conlleval_spans(tags)


def _check(owner, mode, scheme):
    if mode not in MODES:
        raise ValueError(
            f"{owner}: `mode` must be one of {list(MODES)}. Received: "
            f"mode={mode!r}"
        )
    if scheme not in SCHEMES:
        raise ValueError(
            f"{owner}: `scheme` must be one of {list(SCHEMES)}. Received: "
            f"scheme={scheme!r}"
        )


def _scores(correct, predicted, actual):
    precision = correct / predicted if predicted else 0.0
    recall = correct / actual if actual else 0.0
    total = precision + recall
    f1 = 2 * precision * recall / total if total else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": actual,
    }


def entity_scores(true_tags, predicted_tags, mode="conlleval", scheme="IOB2"):
    """Entity-level precision, recall and F1 of tagged sentences, per
    entity type and averaged, equal to seqeval's `classification_report`
    (`mode=None` for `"conlleval"`, `mode="strict"` with its `IOB2` or
    `IOBES` scheme); undefined ratios are 0.

    Args:
        true_tags: sentences of tag names (lists of strings).
        predicted_tags: the predicted sentences, of the same lengths.
        mode: one of `MODES`. Defaults to `"conlleval"`.
        scheme: one of `SCHEMES`, for the strict mode.

    Returns:
        A dict: `"micro"` (pooled counts), `"macro"` (mean over the
        entity types of either side), `"weighted"` (weighted by support)
        and one entry per type, each `{"precision", "recall", "f1",
        "support"}` (support: true entities).

    Example:

        >>> from kerasbig.metrics import entity_scores
        >>> true = [["B-PER", "I-PER", "O", "B-LOC"]]
        >>> predicted = [["B-PER", "I-PER", "O", "O"]]
        >>> scores = entity_scores(true, predicted)
        >>> scores["micro"]["precision"], scores["micro"]["recall"]
        (1.0, 0.5)
        >>> round(scores["macro"]["f1"], 3), scores["LOC"]["f1"]
        (0.5, 0.0)
    """
    _check("entity_scores", mode, scheme)
    true_tags, predicted_tags = list(true_tags), list(predicted_tags)
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            "entity_scores: one predicted sentence per true sentence. "
            f"Received: {len(true_tags)} true, {len(predicted_tags)} "
            "predicted"
        )
    truth, found = set(), set()
    for index, (true, predicted) in enumerate(
        zip(true_tags, predicted_tags, strict=True)
    ):
        if len(true) != len(predicted):
            raise ValueError(
                f"entity_scores: sentence {index} has {len(true)} true "
                f"tags and {len(predicted)} predicted"
            )
        truth |= {(index, *s) for s in entity_spans(true, mode, scheme)}
        found |= {(index, *s) for s in entity_spans(predicted, mode, scheme)}
    correct = truth & found
    kinds = sorted({e[1] for e in truth} | {e[1] for e in found})
    result = {}
    for kind in kinds:

        def count(entities, kind=kind):
            return sum(1 for e in entities if e[1] == kind)

        result[kind] = _scores(count(correct), count(found), count(truth))
    result["micro"] = _scores(len(correct), len(found), len(truth))
    per_type = [result[k] for k in kinds]
    result["macro"] = {
        name: float(np.mean([r[name] for r in per_type])) if kinds else 0.0
        for name in ("precision", "recall", "f1")
    }
    result["macro"]["support"] = len(truth)
    weights = np.array([r["support"] for r in per_type], "float64")
    result["weighted"] = {
        name: (
            float(np.dot(weights, [r[name] for r in per_type]) / weights.sum())
            if weights.sum()
            else 0.0
        )
        for name in ("precision", "recall", "f1")
    }
    result["weighted"]["support"] = len(truth)
    return result
