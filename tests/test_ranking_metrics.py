"""Filtered ranks, MRR and Hits@k: equal to a brute-force NumPy count and
to PyKEEN's rank-based evaluator on the same score matrices, ties
included."""

import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.metrics import RANK_TYPES
from kerasbig.metrics import rank_metrics
from kerasbig.metrics import ranks

torch = reference("torch")
pykeen_evaluation = reference("pykeen.evaluation")


def _case(seed, rows=40, candidates=30):
    """Scores with many ties (few distinct values), a true candidate per
    row, and a filter mask that sometimes covers the true one too."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, (rows, candidates)).astype("float32")
    targets = rng.integers(0, candidates, rows)
    filter_mask = rng.random((rows, candidates)) < 0.2
    filter_mask[::3, :] = False  # some rows unfiltered
    filter_mask[1::5, targets[1::5]] = True  # ignored for the true one
    return scores, targets, filter_mask


def _brute_force(scores, targets, filter_mask, rank_type):
    result = []
    for row, target in enumerate(targets):
        true = scores[row, target]
        higher = tied = 0
        for column, score in enumerate(scores[row]):
            if column == target or filter_mask[row, column]:
                continue
            higher += score > true
            tied += score == true
        result.append(
            {
                "optimistic": 1 + higher,
                "pessimistic": 1 + higher + tied,
                "realistic": 1 + higher + tied / 2,
            }[rank_type]
        )
    return np.array(result)


@pytest.mark.parametrize("rank_type", RANK_TYPES)
def test_ranks_equal_a_brute_force_count(rank_type):
    scores, targets, filter_mask = _case(0)
    got = ops.convert_to_numpy(ranks(scores, targets, filter_mask, rank_type))
    np.testing.assert_array_equal(
        got, _brute_force(scores, targets, filter_mask, rank_type)
    )
    unfiltered = np.zeros_like(filter_mask)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ranks(scores, targets, rank_type=rank_type)),
        _brute_force(scores, targets, unfiltered, rank_type),
    )


@pytest.mark.parametrize("rank_type", RANK_TYPES)
def test_non_finite_scores_rank_last(rank_type):
    # A diverged model must not report MRR 1.0: a NaN or infinite true
    # score ranks below every counted candidate, and a non-finite other
    # candidate never outranks the true answer.
    scores = np.array(
        [
            [np.nan, 0.5, 0.2, 0.1],
            [np.inf, 0.5, 0.2, 0.1],
            [0.3, np.nan, np.inf, -np.inf],
            [0.3, 0.9, 0.2, 0.1],
        ],
        "float32",
    )
    mask = np.zeros((4, 4), bool)
    mask[0, 3] = True  # filtered: not counted
    got = ops.convert_to_numpy(ranks(scores, [0, 0, 0, 0], mask, rank_type))
    np.testing.assert_array_equal(got, [3.0, 4.0, 1.0, 2.0])


def test_a_diverged_model_warns_once():
    from kerasbig.graph import KnowledgeGraph
    from kerasbig.metrics import link_prediction_metrics

    class Diverged:
        def score_candidates(self, triples, target):
            return np.full((len(triples), 3), np.nan, "float32")

    triples = np.array([[0, 0, 1], [1, 0, 2], [2, 0, 0]], "int32")
    graph = KnowledgeGraph(["a", "b", "c"], ["r"], triples, triples, triples)
    with pytest.warns(RuntimeWarning, match="NaN or infinite") as caught:
        result = link_prediction_metrics(Diverged(), graph)
    ours = [w for w in caught if "NaN or infinite" in str(w.message)]
    assert len(ours) == 1  # once, for all the batches and directions
    # Each query has one answer among 3 candidates: every NaN true score
    # ranks 3rd (before, NaN outranked nothing and ranked 1st: MRR 1.0).
    assert result["both"]["mrr"] == pytest.approx(1 / 3)
    assert result["both"]["hits@1"] == 0.0


def test_metrics_of_known_ranks():
    values = np.array([1.0, 1.5, 3.0, 10.0, 11.0])
    assert rank_metrics(values) == pytest.approx(
        {
            "mrr": np.mean(1 / values),
            "hits@1": 0.2,
            "hits@3": 0.6,
            "hits@10": 0.8,
        }
    )


@pytest.mark.backend_agnostic
@requires(pykeen_evaluation, "pykeen")
@requires(torch, "torch")
def test_equal_to_pykeen_on_the_same_scores():
    # Its defaults include Hits@1, 3, 5 and 10.
    evaluator = pykeen_evaluation.RankBasedEvaluator(filtered=True)
    ours = []
    for seed, target in [(1, "head"), (2, "tail")]:
        scores, targets, filter_mask = _case(seed)
        # PyKEEN leaves filtered candidates out as NaN scores; never the
        # true one.
        filter_mask[np.arange(len(targets)), targets] = False
        theirs = torch.from_numpy(np.where(filter_mask, np.nan, scores))
        true_scores = theirs[torch.arange(len(targets)), targets][:, None]
        evaluator.process_scores_(
            hrt_batch=torch.zeros((len(targets), 3), dtype=torch.long),
            target=target,
            scores=theirs,
            true_scores=true_scores,
        )
        ours.append(ops.convert_to_numpy(ranks(scores, targets, filter_mask)))
    result = evaluator.finalize()
    expected = {
        "mrr": result.get_metric("both.realistic.inverse_harmonic_mean_rank"),
        **{
            f"hits@{k}": result.get_metric(f"both.realistic.hits_at_{k}")
            for k in (1, 3, 10)
        },
    }
    assert rank_metrics(np.concatenate(ours)) == pytest.approx(
        expected, abs=1e-6
    )
    # Per direction too.
    head = result.get_metric("head.realistic.inverse_harmonic_mean_rank")
    assert rank_metrics(ours[0])["mrr"] == pytest.approx(head, abs=1e-6)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="`rank_type` must be one of"):
        ranks(np.zeros((2, 3)), [0, 1], rank_type="average")
    with pytest.raises(ValueError, match=r"shape \(batch, candidates\)"):
        ranks(np.zeros(3), [0])
    with pytest.raises(ValueError, match="expected ranks >= 1"):
        rank_metrics(np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="`hits_at` must be a positive int"):
        rank_metrics(np.array([1.0]), hits_at=(0,))
