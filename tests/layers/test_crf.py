"""CRF equals pytorch-crf on copied weights (log-likelihood, Viterbi
paths, gradients of a compiled training step) and a brute-force
enumeration of every tag sequence (constraints included), on every
backend."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops
from references import reference
from references import requires

from kerasbig.layers import CRF
from kerasbig.layers import iob2_allowed_transitions

torchcrf = reference("torchcrf")
torch = reference("torch")

TAGS = 4
LENGTHS = np.array([5, 3, 1, 4])  # right-padded to 5; a length-1 sequence
RNG = np.random.default_rng(0)
EMISSIONS = RNG.normal(size=(4, 5, TAGS)).astype("float32")
GOLD = RNG.integers(0, TAGS, (4, 5)).astype("int32")
MASK = np.arange(5)[None] < LENGTHS[:, None]


def _crf(**options):
    crf = CRF(TAGS, **options)
    crf.build(EMISSIONS.shape)
    rng = np.random.default_rng(1)
    for weight in crf.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    return crf


def _theirs(crf):
    theirs = torchcrf.CRF(TAGS, batch_first=True)
    with torch.no_grad():
        for name in ("start_transitions", "end_transitions", "transitions"):
            value = ops.convert_to_numpy(getattr(crf, name))
            getattr(theirs, name).copy_(torch.from_numpy(value))
    return theirs


def _torch(array, dtype=None):
    tensor = torch.from_numpy(np.asarray(array))
    return tensor if dtype is None else tensor.to(dtype)


@requires(torchcrf, "pytorch-crf")
def test_log_likelihood_and_viterbi_equal_pytorch_crf():
    crf = _crf()
    theirs = _theirs(crf)
    mask = _torch(MASK, torch.uint8)
    expected = theirs(
        _torch(EMISSIONS), _torch(GOLD).long(), mask, reduction="none"
    )
    got = ops.convert_to_numpy(crf.log_likelihood(EMISSIONS, GOLD, MASK))
    np.testing.assert_allclose(got, expected.detach().numpy(), atol=1e-4)
    paths = theirs.decode(_torch(EMISSIONS), mask)
    decoded = ops.convert_to_numpy(crf(EMISSIONS, mask=MASK))
    for row, path in enumerate(paths):
        assert decoded[row, : LENGTHS[row]].tolist() == path
        assert not decoded[row, LENGTHS[row] :].any()  # padding is 0


class Tagger(keras.Model):
    """Emissions (+ mask) in; the CRF's negative log-likelihood as the
    loss, its Viterbi tags as the prediction."""

    def __init__(self, crf):
        super().__init__()
        self.crf = crf

    def call(self, inputs):
        emissions, mask = inputs
        return self.crf(emissions, mask=mask)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        emissions, mask = x
        return -ops.sum(self.crf.log_likelihood(emissions, y, mask))


@requires(torchcrf, "pytorch-crf")
def test_compiled_training_step_and_predict_equal_pytorch_crf():
    # One compiled SGD step (learning rate 1) on the summed negative
    # log-likelihood moves each weight by minus pytorch-crf's gradient;
    # compiled predict gives its Viterbi paths.
    crf = _crf()
    theirs = _theirs(crf)
    model = Tagger(crf)
    # XLA on TensorFlow (JAX always jits; PyTorch runs eagerly).
    jit = keras.backend.backend() == "tensorflow"
    model.compile(keras.optimizers.SGD(1.0), jit_compile=jit)
    before = {w.name: ops.convert_to_numpy(w) for w in crf.weights}
    (-theirs(_torch(EMISSIONS), _torch(GOLD).long(), _torch(MASK))).backward()
    predicted = model.predict((EMISSIONS, MASK), verbose=0)
    paths = theirs.decode(_torch(EMISSIONS), _torch(MASK, torch.uint8))
    for row, path in enumerate(paths):
        assert predicted[row, : LENGTHS[row]].tolist() == path
    model.train_on_batch((EMISSIONS, MASK), GOLD)
    for weight in crf.weights:
        moved = before[weight.name] - ops.convert_to_numpy(weight)
        expected = getattr(theirs, weight.name).grad.numpy()
        np.testing.assert_allclose(moved, expected, atol=1e-4)


def _brute_force(crf, emissions, length):
    """Every tag sequence of `length`: (log partition, best path)."""
    start, end, transitions = (ops.convert_to_numpy(s) for s in crf._scores())
    scores = {}
    for path in itertools.product(range(TAGS), repeat=length):
        score = start[path[0]] + end[path[-1]]
        score += sum(emissions[t, tag] for t, tag in enumerate(path))
        score += sum(transitions[a, b] for a, b in itertools.pairwise(path))
        scores[path] = score
    values = np.array(list(scores.values()), "float64")
    log_partition = values.max() + np.log(np.exp(values - values.max()).sum())
    return log_partition, list(max(scores, key=scores.get))


@pytest.mark.parametrize("constrained", [False, True])
def test_equals_a_brute_force_over_every_tag_sequence(constrained):
    options = {}
    if constrained:
        names = ["O", "B-PER", "I-PER", "B-LOC"]
        moves, starts = iob2_allowed_transitions(names)
        options = {"allowed_transitions": moves, "allowed_starts": starts}
    crf = _crf(**options)
    decoded = ops.convert_to_numpy(crf(EMISSIONS, mask=MASK))
    likelihood = ops.convert_to_numpy(crf.log_likelihood(EMISSIONS, GOLD, MASK))
    start, end, transitions = (ops.convert_to_numpy(s) for s in crf._scores())
    for row, length in enumerate(LENGTHS):
        log_partition, best = _brute_force(crf, EMISSIONS[row], length)
        assert decoded[row, :length].tolist() == best
        path = GOLD[row, :length]
        score = start[path[0]] + end[path[-1]]
        score += EMISSIONS[row, np.arange(length), path].sum()
        score += sum(transitions[a, b] for a, b in itertools.pairwise(path))
        np.testing.assert_allclose(
            likelihood[row], score - log_partition, rtol=1e-5, atol=1e-3
        )
        if constrained:  # no I-PER first, none after O or B-LOC
            assert best[0] != 2
            for a, b in itertools.pairwise(best):
                assert b != 2 or a in (1, 2)


def test_mixed_precision_computes_the_chain_in_float32(tmp_path):
    crf = _crf()
    expected = ops.convert_to_numpy(crf.log_likelihood(EMISSIONS, GOLD, MASK))
    half = CRF(TAGS, dtype="mixed_float16")
    half.build(EMISSIONS.shape)
    half.set_weights(crf.get_weights())
    emissions = ops.cast(EMISSIONS, "float16")
    got = half.log_likelihood(emissions, GOLD, MASK)
    assert ops.convert_to_numpy(got).dtype == np.float32
    # Only the emissions' rounding to float16 differs.
    np.testing.assert_allclose(ops.convert_to_numpy(got), expected, atol=2e-2)


def test_saves_and_reloads_with_its_constraints(tmp_path):
    moves, starts = iob2_allowed_transitions(["O", "B-X", "I-X", "B-Y"])
    crf = _crf(allowed_transitions=moves, allowed_starts=starts)
    inputs = (keras.Input((5, TAGS)), keras.Input((5,), dtype="bool"))
    model = keras.Model(inputs, crf(inputs[0], mask=inputs[1]))
    model.save(tmp_path / "crf.keras")
    restored = keras.saving.load_model(tmp_path / "crf.keras")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(restored((EMISSIONS, MASK))),
        ops.convert_to_numpy(model((EMISSIONS, MASK))),
    )
    assert restored.layers[-1].allowed_transitions == moves.tolist()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_tags": 0}, "`num_tags` must be a positive int"),
        (
            {"num_tags": 3, "allowed_transitions": np.ones((2, 2))},
            "`allowed_transitions` must have shape \\(3, 3\\)",
        ),
        (
            {"num_tags": 3, "allowed_starts": np.ones(4)},
            "`allowed_starts` must have shape \\(3,\\)",
        ),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CRF(**kwargs)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="num_tags=3 scores"):
        CRF(3)(EMISSIONS)
    with pytest.raises(ValueError, match="'B-X', or|'O', 'B-X' or 'I-X'"):
        iob2_allowed_transitions(["O", "PER"])
