"""`CRF`: a linear-chain conditional random field over per-token tag
scores (Lafferty et al. 2001), pytorch-crf's parameterisation."""

import keras
import numpy as np
from keras import ops

from kerasbig import _backend
from kerasbig import _validation as checks

# The score of a forbidden transition: far below any real path, finite so
# that gradients stay finite.
_FORBIDDEN = -1e4


@keras.saving.register_keras_serializable(package="kerasbig")
class CRF(keras.layers.Layer):
    """Linear-chain CRF: tag sequences scored by emissions and transitions.

    A tag sequence `y` of a sequence with emissions `e` (per-token tag
    scores, e.g. a Dense layer's output) scores `start[y_0] + sum_t
    e[t, y_t] + sum_{t>0} transitions[y_{t-1}, y_t] + end[y_last]`;
    `log_likelihood` is that score minus the log-sum-exp over every tag
    sequence (the forward algorithm, in log space), `decode` the best
    sequence (Viterbi). Weights as `torchcrf.CRF` (PyPI `pytorch-crf`)
    stores them: `start_transitions` `(num_tags,)`, `end_transitions`
    `(num_tags,)` and `transitions` `(num_tags, num_tags)`, from the row
    tag to the column tag; results equal pytorch-crf's on copied weights.

    Masks arrive as call arguments (a Keras mask from an `Embedding(...,
    mask_zero=True)` reaches `call` on its own): `True` on the tokens,
    right-padded, any lengths; the first position always counts, so a
    length-1 sequence is its first token. The loops run as compiled loops
    on every backend (`fit`, `predict` and jit on TensorFlow, JAX and
    PyTorch), always in float32 (under mixed precision too).

    Args:
        num_tags: the number of tags, a positive int.
        allowed_transitions: optional `(num_tags, num_tags)` bools, `True`
            where tag `i` may be followed by tag `j`; forbidden
            transitions score -10,000 (see `iob2_allowed_transitions`).
        allowed_starts: optional `(num_tags,)` bools, the tags a
            sequence may start with.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        emissions: `(batch, time, num_tags)` float scores.
        mask: optional `(batch, time)` bools.

    Returns:
        `call` returns `decode(emissions, mask)`: `(batch, time)` int32
        best tags, 0 at padded positions.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.layers import CRF
        >>> crf = CRF(3)
        >>> emissions = np.random.default_rng(0).normal(size=(2, 4, 3))
        >>> mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
        >>> tags = crf(emissions.astype("float32"), mask=mask)
        >>> ops.convert_to_numpy(tags).shape
        (2, 4)
        >>> ops.convert_to_numpy(tags)[1, 2:].tolist()
        [0, 0]
        >>> ll = crf.log_likelihood(emissions, tags, mask)
        >>> bool((ops.convert_to_numpy(ll) < 0).all())
        True

    References:
        - [Lafferty et al., 2001](https://repository.upenn.edu/cis_papers/159/):
          Conditional random fields.
        - [Lample et al., 2016](https://arxiv.org/abs/1603.01360): neural
          architectures for named entity recognition (BiLSTM-CRF).
    """

    def __init__(
        self, num_tags, allowed_transitions=None, allowed_starts=None, **kwargs
    ):
        # The chain computes in float32 whatever the dtype policy.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        checks.positive_int("CRF", "num_tags", num_tags)
        self.num_tags = num_tags
        self.allowed_transitions = _bools(
            "allowed_transitions", allowed_transitions, (num_tags, num_tags)
        )
        self.allowed_starts = _bools(
            "allowed_starts", allowed_starts, (num_tags,)
        )
        self.supports_masking = True

    def build(self, emissions_shape, mask_shape=None):
        if emissions_shape[-1] != self.num_tags:
            raise ValueError(
                f"CRF: `emissions` must end with num_tags={self.num_tags} "
                f"scores. Received: shape={tuple(emissions_shape)}"
            )
        # pytorch-crf's initialisation: uniform in [-0.1, 0.1].
        uniform = keras.initializers.RandomUniform(-0.1, 0.1)
        tags = self.num_tags
        self.start_transitions = self.add_weight(
            name="start_transitions", shape=(tags,), initializer=uniform
        )
        self.end_transitions = self.add_weight(
            name="end_transitions", shape=(tags,), initializer=uniform
        )
        self.transitions = self.add_weight(
            name="transitions", shape=(tags, tags), initializer=uniform
        )
        self.built = True

    def _scores(self):
        """Start, end and transition scores in float32, forbidden ones
        at -10,000."""
        start = ops.cast(self.start_transitions, "float32")
        end = ops.cast(self.end_transitions, "float32")
        transitions = ops.cast(self.transitions, "float32")
        if self.allowed_transitions is not None:
            allowed = np.array(self.allowed_transitions)
            transitions = ops.where(allowed, transitions, _FORBIDDEN)
        if self.allowed_starts is not None:
            start = ops.where(np.array(self.allowed_starts), start, _FORBIDDEN)
        return start, end, transitions

    def _inputs(self, emissions, mask):
        emissions = ops.cast(ops.convert_to_tensor(emissions), "float32")
        if len(emissions.shape) != 3:
            raise ValueError(
                "CRF: `emissions` must have shape (batch, time, num_tags). "
                f"Received: shape={tuple(emissions.shape)}"
            )
        if mask is None:
            mask = ops.ones(ops.shape(emissions)[:2], "bool")
        mask = ops.cast(mask, "bool")
        # The first position always counts (pytorch-crf requires it on).
        first = ops.ones_like(mask[:, :1])
        mask = ops.concatenate([first, mask[:, 1:]], axis=1)
        return emissions, mask

    def log_likelihood(self, emissions, tags, mask=None):
        """The log-probability of each sequence's `tags` `(batch, time)`
        given its `emissions`: `(batch,)` float32 (padded positions of
        `tags` are not read)."""
        emissions, mask = self._inputs(emissions, mask)
        start, end, transitions = self._scores()
        tags = ops.cast(tags, "int32")
        steps = emissions.shape[1] or ops.shape(emissions)[1]
        on = ops.cast(mask, "float32")
        tag_emissions = ops.squeeze(
            ops.take_along_axis(emissions, ops.expand_dims(tags, -1), 2), -1
        )
        pairs = tags[:, :-1] * self.num_tags + tags[:, 1:]
        pair_scores = ops.take(ops.reshape(transitions, (-1,)), pairs)
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        last = ops.squeeze(
            ops.take_along_axis(tags, ops.expand_dims(lengths - 1, -1), 1), -1
        )
        path = (
            ops.take(start, tags[:, 0])
            + tag_emissions[:, 0]
            + ops.sum(on[:, 1:] * (pair_scores + tag_emissions[:, 1:]), 1)
            + ops.take(end, last)
        )

        def forward(step, alpha):
            # alpha[b, j]: log-sum of every path ending in tag j here.
            step_emissions = ops.take(emissions, step, axis=1)
            scores = (
                ops.expand_dims(alpha, 2)
                + ops.expand_dims(transitions, 0)
                + ops.expand_dims(step_emissions, 1)
            )
            following = ops.logsumexp(scores, axis=1)
            step_on = ops.expand_dims(ops.take(mask, step, axis=1), -1)
            return ops.where(step_on, following, alpha)

        alpha = _backend.fori_loop(1, steps, forward, start + emissions[:, 0])
        return path - ops.logsumexp(alpha + end, axis=1)

    def decode(self, emissions, mask=None):
        """The most likely tags (Viterbi): `(batch, time)` int32, 0 at
        padded positions."""
        emissions, mask = self._inputs(emissions, mask)
        start, end, transitions = self._scores()
        score = start + emissions[:, 0]
        if emissions.shape[1] == 1:
            best = ops.argmax(score + end, axis=-1)
            return ops.cast(ops.expand_dims(best, 1), "int32")
        identity = ops.expand_dims(ops.arange(self.num_tags, dtype="int32"), 0)

        def step(score, inputs):
            step_emissions, step_on = inputs
            candidates = ops.expand_dims(score, 2) + transitions
            previous = ops.cast(ops.argmax(candidates, axis=1), "int32")
            best = ops.max(candidates, axis=1) + step_emissions
            step_on = ops.expand_dims(step_on, -1)
            # Padding keeps each tag's score and points back to itself,
            # so the backtrack walks through it unchanged.
            pointers = ops.where(step_on, previous, identity)
            # As float32: Keras's TensorFlow scan writes its outputs in the
            # carry's dtype.
            return ops.where(step_on, best, score), ops.cast(
                pointers, "float32"
            )

        time_major = ops.transpose(emissions[:, 1:], (1, 0, 2))
        score, history = ops.scan(
            step, score, (time_major, ops.transpose(mask[:, 1:]))
        )
        history = ops.cast(history, "int32")
        last = ops.cast(ops.argmax(score + end, axis=-1), "int32")

        def back(tag, pointers):
            earlier = ops.take_along_axis(
                pointers, ops.expand_dims(tag, -1), axis=1
            )
            earlier = ops.squeeze(earlier, -1)
            return earlier, earlier

        _, earlier = ops.scan(back, last, history, reverse=True)
        tags = ops.concatenate(
            [ops.transpose(earlier), ops.expand_dims(last, 1)], axis=1
        )
        return ops.where(mask, tags, 0)

    def call(self, emissions, mask=None):
        return self.decode(emissions, mask)

    def compute_output_shape(self, emissions_shape, mask_shape=None):
        return tuple(emissions_shape[:2])

    def compute_output_spec(self, emissions, mask=None):
        return keras.KerasTensor(emissions.shape[:2], dtype="int32")

    def compute_mask(self, emissions, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tags": self.num_tags,
                "allowed_transitions": self.allowed_transitions,
                "allowed_starts": self.allowed_starts,
            }
        )
        return config


def _bools(name, value, shape):
    """`value` as nested lists of bools of `shape` (for the config), or
    None."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(
            f"CRF: `{name}` must have shape {shape}. Received: "
            f"shape={array.shape}"
        )
    return array.astype(bool).tolist()


def iob2_allowed_transitions(tags):
    """The transitions and starts IOB2 allows among `tags` (names such as
    `"O"`, `"B-PER"`, `"I-PER"`), for `CRF(allowed_transitions=...,
    allowed_starts=...)`: `I-X` only after `B-X` or `I-X`, never first.

    Args:
        tags: the tag names, in the CRF's tag order.

    Returns:
        `(allowed_transitions, allowed_starts)`: `(num_tags, num_tags)`
        and `(num_tags,)` bool arrays.

    Example:

        >>> from kerasbig.layers import iob2_allowed_transitions
        >>> moves, starts = iob2_allowed_transitions(["O", "B-PER", "I-PER"])
        >>> moves.astype(int).tolist()
        [[1, 1, 0], [1, 1, 1], [1, 1, 1]]
        >>> starts.tolist()
        [True, True, False]
    """
    kinds = []
    for tag in tags:
        if tag == "O":
            kinds.append(("O", None))
        elif tag[:2] in ("B-", "I-"):
            kinds.append((tag[0], tag[2:]))
        else:
            raise ValueError(
                "iob2_allowed_transitions: tags must be 'O', 'B-X' or "
                f"'I-X'. Received: {tag!r}"
            )
    count = len(kinds)
    allowed = np.ones((count, count), bool)
    for j, (kind, entity) in enumerate(kinds):
        if kind != "I":
            continue
        for i, (before, before_entity) in enumerate(kinds):
            allowed[i, j] = before in ("B", "I") and before_entity == entity
    starts = np.array([kind != "I" for kind, _ in kinds])
    return allowed, starts
