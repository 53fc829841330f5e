"""Entity-level scores equal seqeval's classification_report, in the
CoNLL (default) mode and the strict IOB2 and IOBES modes, on random tag
sequences (malformed ones included)."""

import numpy as np
import pytest
from references import reference
from references import requires

from kerasbig.metrics import entity_scores
from kerasbig.metrics import entity_spans

seqeval_metrics = reference("seqeval.metrics")
seqeval_scheme = reference("seqeval.scheme")


def _sentences(rng, prefixes, count=300):
    tags = ["O"] + [f"{p}-{t}" for p in prefixes for t in ("PER", "LOC")]
    return [
        list(rng.choice(tags, size=rng.integers(1, 12))) for _ in range(count)
    ]


def _noisy(rng, sentences, tags):
    # Predictions: each tag kept with probability 0.7, else random.
    return [
        [t if rng.random() < 0.7 else str(rng.choice(tags)) for t in s]
        for s in sentences
    ]


@requires(seqeval_metrics, "seqeval")
@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "mode, scheme, prefixes",
    [
        ("conlleval", "IOB2", "BI"),
        ("conlleval", "IOB2", "BIES"),
        ("strict", "IOB2", "BI"),
        ("strict", "IOBES", "BIES"),
    ],
)
def test_scores_equal_seqevals_report(mode, scheme, prefixes):
    rng = np.random.default_rng(0)
    true = _sentences(rng, prefixes)
    tags = sorted({t for s in true for t in s})
    predicted = _noisy(rng, true, tags)
    options = {}
    if mode == "strict":
        options = {"mode": "strict", "scheme": getattr(seqeval_scheme, scheme)}
    expected = seqeval_metrics.classification_report(
        true, predicted, output_dict=True, zero_division=0, **options
    )
    got = entity_scores(true, predicted, mode=mode, scheme=scheme)
    names = {"micro avg": "micro", "macro avg": "macro"}
    names["weighted avg"] = "weighted"
    assert {names.get(k, k) for k in expected} == set(got)
    for key, row in expected.items():
        ours = got[names.get(key, key)]
        assert ours["support"] == row["support"], key
        for name, theirs in (("precision", "precision"), ("f1", "f1-score")):
            np.testing.assert_allclose(ours[name], row[theirs], atol=1e-12)
        np.testing.assert_allclose(ours["recall"], row["recall"], atol=1e-12)
    assert 0.2 < got["micro"]["f1"] < 0.9  # neither trivial nor perfect


@pytest.mark.backend_agnostic
def test_spans_of_each_mode():
    tags = ["I-PER", "I-PER", "B-LOC", "I-PER", "O", "B-PER", "E-PER"]
    assert entity_spans(tags) == [
        ("PER", 0, 1),
        ("LOC", 2, 2),
        ("PER", 3, 3),
        ("PER", 5, 6),
    ]
    assert entity_spans(tags, mode="strict") == [("LOC", 2, 2), ("PER", 5, 5)]
    assert entity_spans(tags, mode="strict", scheme="IOBES") == [("PER", 5, 6)]
    with pytest.raises(ValueError, match="`mode` must be one of"):
        entity_spans(tags, mode="lenient")
    with pytest.raises(ValueError, match="sentence 0 has 2 true tags and 1"):
        entity_scores([["O", "O"]], [["O"]])
