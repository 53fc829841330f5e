"""Knowledge-graph embeddings: TransE, DistMult, ComplEx and RotatE on one
scoring interface, trained with `fit()` by 1-to-N scoring or negative
sampling."""

import math

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig.models._seed_state import SavesSeedState
from kerasbig.ops import lookup_rows

OBJECTIVES = ("negative_sampling", "one_to_n")
"""How `fit()` trains: corrupted triples per positive, or every entity
scored against multi-hot labels."""

LOSSES = ("softplus", "margin")
"""Negative-sampling losses: logistic (`softplus(-s)` for positives,
`softplus(s)` for negatives) or margin ranking."""

LABEL_SMOOTHING_FORMS = ("pykeen", "conve")
"""One-to-N label smoothing by `eps`: PyKEEN's (`1 - eps` on the answers,
`eps / (num_entities - 1)` elsewhere; the form for comparisons with
PyKEEN) or ConvE's (Dettmers et al. 2018: `labels * (1 - eps) + eps /
num_entities` everywhere)."""

REGULARIZATIONS = (None, "l2", "n3")
"""Penalties on the batch's embeddings: squared L2, or the nuclear 3-norm
of Lacroix et al. 2018 (moduli cubed for complex embeddings)."""

TARGETS = ("head", "tail")


def smooth_labels(labels, epsilon, form="pykeen"):
    """One-to-N multi-hot `labels` `(batch, num_entities)` smoothed by
    `epsilon` in the form `form` (one of `LABEL_SMOOTHING_FORMS`).

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.models import smooth_labels
        >>> labels = np.array([[0.0, 1.0, 0.0, 0.0, 0.0]], "float32")
        >>> ops.convert_to_numpy(smooth_labels(labels, 0.2)).round(3)
        array([[0.05, 0.8 , 0.05, 0.05, 0.05]], dtype=float32)
        >>> ops.convert_to_numpy(smooth_labels(labels, 0.2, "conve")).round(3)
        array([[0.04, 0.84, 0.04, 0.04, 0.04]], dtype=float32)
    """
    checks.one_of("smooth_labels", "form", form, LABEL_SMOOTHING_FORMS)
    if not epsilon:
        return labels
    labels = ops.convert_to_tensor(labels)
    if form == "conve":
        return labels * (1.0 - epsilon) + epsilon / labels.shape[-1]
    others = epsilon / (labels.shape[-1] - 1)
    return labels * (1.0 - epsilon) + (1.0 - labels) * others


@keras.saving.register_keras_serializable(package="kerasbig")
class KnowledgeGraphEmbedding(SavesSeedState, keras.Model):
    """Base of the knowledge-graph embedding models: an entity table, a
    relation table and a score `s(h, r, t)` (higher is more plausible).

    Inputs are int triples `(batch, 3)` of `(head, relation, tail)` ids;
    `call` (and `predict`) returns their scores `(batch,)`.
    `score_candidates(triples, target)` scores every entity as the head
    or the tail of each triple, `(batch, num_entities)`, the input of
    `kerasbig.metrics.ranks`.

    Training (`compile(optimizer)`, then `fit()`; no Keras loss is
    given, the model computes its own):

    - `objective="negative_sampling"`: `fit(x=triples)` with training
      triples. Each positive gets `num_negatives` corruptions, its head
      or its tail (even odds) replaced by a uniformly drawn entity. The
      `"softplus"` loss is the logistic loss of `score + margin`
      (`margin` defaults to 0); with `adversarial_temperature` the
      negatives are weighted by `softmax(temperature * score)` (no
      gradient through the weights: self-adversarial sampling of Sun et
      al. 2019). The `"margin"` loss is `max(0, margin - s_pos + s_neg)`.
    - `objective="one_to_n"`: `fit(x=queries, y=labels)` with `queries`
      `(batch, 3)` triples whose tail column is ignored and `labels`
      `(batch, num_entities)` multi-hot known tails
      (`KnowledgeGraph.one_to_n_data`); binary cross-entropy over every
      entity, with `label_smoothing`. With `inverse_relations=True` the
      relation table has `2 * num_relations` rows and head queries are
      tail queries of the inverse relation `r + num_relations`.

    `regularization` (`"l2"` or `"n3"`) adds `regularization_weight`
    times the penalty of the batch's embeddings, divided by the batch.

    Args:
        num_entities: entities, a positive int.
        num_relations: relations, a positive int.
        embedding_dim: embedding size (complex models: complex entries).
        objective: one of `OBJECTIVES`. Defaults to
            `"negative_sampling"`.
        num_negatives: corruptions per positive. Defaults to `16`.
        loss: one of `LOSSES`. Defaults to `"softplus"`.
        margin: the loss margin; defaults to `0` (softplus) or `1`
            (margin).
        adversarial_temperature: optional, self-adversarial weighting.
        label_smoothing: one-to-N label smoothing in [0, 1).
        label_smoothing_form: one of `LABEL_SMOOTHING_FORMS`. Defaults to
            `"pykeen"`.
        regularization: one of `REGULARIZATIONS`.
        regularization_weight: its weight. Defaults to `0.0`.
        inverse_relations: add inverse relations (see above).
        entity_constraint: optional Keras constraint on the entity table
            (e.g. `keras.constraints.UnitNorm(axis=1)` for TransE).
        seed: optional int seed of the negative sampling.
        **kwargs: base `keras.Model` arguments.

    Example (a new model is its `score`):

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.models import KnowledgeGraphEmbedding
        >>> class Translation(KnowledgeGraphEmbedding):
        ...     def score(self, h, r, t):  # s = <h + r, t>
        ...         return ops.sum((h + r) * t, axis=-1)
        >>> model = Translation(num_entities=5, num_relations=2,
        ...                     embedding_dim=4)
        >>> tuple(model.score_candidates(np.array([[0, 1, 2]])).shape)
        (1, 5)
    """

    entity_width = 1  # entity table columns per embedding dimension
    relation_width = 1

    def __init__(
        self,
        num_entities,
        num_relations,
        embedding_dim=64,
        objective="negative_sampling",
        num_negatives=16,
        loss="softplus",
        margin=None,
        adversarial_temperature=None,
        label_smoothing=0.0,
        label_smoothing_form="pykeen",
        regularization=None,
        regularization_weight=0.0,
        inverse_relations=False,
        entity_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        checks.positive_int(owner, "num_entities", num_entities)
        checks.positive_int(owner, "num_relations", num_relations)
        checks.positive_int(owner, "embedding_dim", embedding_dim)
        checks.positive_int(owner, "num_negatives", num_negatives)
        checks.one_of(owner, "objective", objective, OBJECTIVES)
        checks.one_of(owner, "loss", loss, LOSSES)
        checks.one_of(owner, "regularization", regularization, REGULARIZATIONS)
        checks.rate(owner, "label_smoothing", label_smoothing)
        checks.one_of(
            owner,
            "label_smoothing_form",
            label_smoothing_form,
            LABEL_SMOOTHING_FORMS,
        )
        if adversarial_temperature is not None:
            checks.positive_number(
                owner, "adversarial_temperature", adversarial_temperature
            )
        self.num_entities = num_entities
        self.num_relations = num_relations
        self.embedding_dim = embedding_dim
        self.objective = objective
        self.num_negatives = num_negatives
        self.loss_name = loss
        self.margin = margin
        self.adversarial_temperature = adversarial_temperature
        self.label_smoothing = label_smoothing
        self.label_smoothing_form = label_smoothing_form
        self.regularization = regularization
        self.regularization_weight = regularization_weight
        self.inverse_relations = inverse_relations
        self.entity_constraint = keras.constraints.get(entity_constraint)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        table_rows = num_relations * (2 if inverse_relations else 1)
        self.entity_embeddings = self.add_weight(
            name="entity_embeddings",
            shape=(num_entities, self.entity_width * embedding_dim),
            initializer=self.entity_initializer(),
            constraint=self.entity_constraint,
        )
        self.relation_embeddings = self.add_weight(
            name="relation_embeddings",
            shape=(table_rows, self.relation_width * embedding_dim),
            initializer=self.relation_initializer(),
        )
        self.built = True

    # What a subclass defines.

    def entity_initializer(self):
        return keras.initializers.GlorotUniform(self.table_seed(0))

    def relation_initializer(self):
        return keras.initializers.GlorotUniform(self.table_seed(1))

    def table_seed(self, table):
        """The initializer seed of table `table` (0 entities, 1 relations):
        one seed for both would draw the same numbers, and every relation
        would start as a copy of an entity."""
        return None if self.seed is None else self.seed + table

    def score(self, h, r, t):
        """`s(h, r, t)` of embeddings that broadcast, reduced over the
        last axis."""
        raise NotImplementedError

    # The scoring interface.

    def entity_representations(self, training=False):
        """The `(num_entities, width)` entity vectors that are scored: the
        entity table itself here; an encoder (R-GCN) computes them."""
        return self.entity_embeddings

    def _embed(self, triples, entities):
        triples = ops.cast(triples, "int32")
        return (
            lookup_rows(entities, triples[..., 0]),
            lookup_rows(self.relation_embeddings, triples[..., 1]),
            lookup_rows(entities, triples[..., 2]),
        )

    def call(self, triples, training=None):
        entities = self.entity_representations(training=training)
        return self.score(*self._embed(triples, entities))

    def score_candidates(self, triples, target="tail"):
        """Scores of every entity as the `target` (`"head"` or `"tail"`)
        of each triple: `(batch, num_entities)`."""
        checks.one_of(
            f"{type(self).__name__}.score_candidates", "target", target, TARGETS
        )
        return self._score_candidates(
            triples, target, self.entity_representations()
        )

    def _score_candidates(self, triples, target, entities):
        triples = ops.cast(triples, "int32")
        table = ops.expand_dims(entities, 0)
        if target == "head" and self.inverse_relations:
            # (?, r, t) is (t, r^-1, ?).
            triples = ops.stack(
                [
                    triples[:, 2],
                    triples[:, 1] + self.num_relations,
                    triples[:, 0],
                ],
                axis=1,
            )
            target = "tail"
        h, r, t = (
            ops.expand_dims(e, 1) for e in self._embed(triples, entities)
        )
        if target == "tail":
            return self.score(h, r, table)
        return self.score(table, r, t)

    # Training.

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        x = ops.cast(x, "int32")
        # Once per step: positives, negatives and the penalty share the
        # same vectors (and an encoder's dropout draws).
        entities = self.entity_representations(training=training)
        if self.objective == "one_to_n":
            loss = self._one_to_n_loss(x, y, entities)
        else:
            loss = self._negative_sampling_loss(x, entities)
        if self.regularization is not None and self.regularization_weight:
            loss = loss + self.regularization_weight * self._penalty(
                x, entities
            )
        return loss

    def _one_to_n_loss(self, queries, labels, entities):
        if labels is None:
            raise ValueError(
                f"{type(self).__name__}: objective='one_to_n' trains on "
                "fit(x=queries, y=multi-hot labels) (see "
                "KnowledgeGraph.one_to_n_data). Received: y=None"
            )
        logits = self._score_candidates(queries, "tail", entities)
        labels = ops.cast(labels, logits.dtype)
        labels = smooth_labels(
            labels, self.label_smoothing, self.label_smoothing_form
        )
        return ops.mean(
            ops.binary_crossentropy(labels, logits, from_logits=True)
        )

    def _negative_sampling_loss(self, positives, entities):
        batch = ops.shape(positives)[0]
        shape = (batch, self.num_negatives)
        replacements = keras.random.randint(
            shape, 0, self.num_entities, seed=self.seed_generator
        )
        draws = keras.random.uniform(shape, seed=self.seed_generator)
        corrupt_head = draws < 0.5
        repeated = ops.repeat(ops.expand_dims(positives, 1), shape[1], axis=1)
        negatives = ops.stack(
            [
                ops.where(corrupt_head, replacements, repeated[..., 0]),
                repeated[..., 1],
                ops.where(corrupt_head, repeated[..., 2], replacements),
            ],
            axis=-1,
        )
        negative_scores = self.score(*self._embed(negatives, entities))
        positive_scores = ops.expand_dims(
            self.score(*self._embed(positives, entities)), 1
        )
        if self.loss_name == "margin":
            margin = 1.0 if self.margin is None else self.margin
            return ops.mean(
                ops.relu(margin - positive_scores + negative_scores)
            )
        margin = 0.0 if self.margin is None else self.margin
        positive_loss = ops.softplus(-(positive_scores + margin))[:, 0]
        negative_loss = ops.softplus(negative_scores + margin)
        if self.adversarial_temperature is None:
            negative_loss = ops.mean(negative_loss, axis=1)
        else:
            weights = ops.stop_gradient(
                ops.softmax(self.adversarial_temperature * negative_scores)
            )
            negative_loss = ops.sum(weights * negative_loss, axis=1)
        return ops.mean(positive_loss + negative_loss) / 2.0

    def _penalty(self, triples, entities):
        h, r, t = self._embed(triples, entities)
        batch = ops.cast(ops.shape(triples)[0], h.dtype)
        if self.regularization == "l2":
            total = sum(ops.sum(ops.square(e)) for e in (h, r, t))
        else:
            total = sum(ops.sum(self._modulus(e) ** 3) for e in (h, r, t))
        return total / batch

    def _modulus(self, embeddings):
        return ops.abs(embeddings)

    def get_config(self):
        return {
            **super().get_config(),
            "num_entities": self.num_entities,
            "num_relations": self.num_relations,
            "embedding_dim": self.embedding_dim,
            "objective": self.objective,
            "num_negatives": self.num_negatives,
            "loss": self.loss_name,
            "margin": self.margin,
            "adversarial_temperature": self.adversarial_temperature,
            "label_smoothing": self.label_smoothing,
            "label_smoothing_form": self.label_smoothing_form,
            "regularization": self.regularization,
            "regularization_weight": self.regularization_weight,
            "inverse_relations": self.inverse_relations,
            "entity_constraint": keras.constraints.serialize(
                self.entity_constraint
            ),
            "seed": self.seed,
        }


def _halves(embeddings):
    """`(real, imaginary)` of a complex embedding stored as `[real |
    imaginary]`."""
    real, imaginary = ops.split(embeddings, 2, axis=-1)
    return real, imaginary


@keras.saving.register_keras_serializable(package="kerasbig")
class TransE(KnowledgeGraphEmbedding):
    """TransE (Bordes et al. 2013): `s = -||h + r - t||_p`, PyKEEN's
    `TransEInteraction`.

    Args:
        p_norm: the norm, `1` (default) or `2`.
        **kwargs: `KnowledgeGraphEmbedding` arguments.

    Example:

        >>> import numpy as np
        >>> from kerasbig.models import TransE
        >>> model = TransE(num_entities=10, num_relations=3, embedding_dim=8)
        >>> tuple(model(np.array([[0, 1, 2], [3, 2, 1]])).shape)
        (2,)
        >>> tuple(model.score_candidates(np.array([[0, 1, 2]])).shape)
        (1, 10)
    """

    def __init__(self, num_entities, num_relations, p_norm=1, **kwargs):
        checks.one_of("TransE", "p_norm", p_norm, (1, 2))
        super().__init__(num_entities, num_relations, **kwargs)
        self.p_norm = p_norm

    def score(self, h, r, t):
        difference = h + r - t
        if self.p_norm == 1:
            return -ops.sum(ops.abs(difference), axis=-1)
        squared = ops.sum(ops.square(difference), axis=-1)
        return -ops.sqrt(ops.maximum(squared, 1e-24))

    def get_config(self):
        return {**super().get_config(), "p_norm": self.p_norm}


@keras.saving.register_keras_serializable(package="kerasbig")
class DistMult(KnowledgeGraphEmbedding):
    """DistMult (Yang et al. 2015): `s = sum(h * r * t)`, PyKEEN's
    `DistMultInteraction`.

    Example:

        >>> import numpy as np
        >>> from kerasbig.models import DistMult
        >>> model = DistMult(num_entities=10, num_relations=3)
        >>> tuple(model.score_candidates(np.array([[0, 1, 2]]), "head").shape)
        (1, 10)
    """

    def score(self, h, r, t):
        return ops.sum(h * r * t, axis=-1)


@keras.saving.register_keras_serializable(package="kerasbig")
class ComplEx(KnowledgeGraphEmbedding):
    """ComplEx (Trouillon et al. 2016): `s = Re(sum(h * r * conj(t)))`
    over complex embeddings, stored as `[real | imaginary]` halves;
    PyKEEN's `ComplExInteraction`.

    Example:

        >>> import numpy as np
        >>> from kerasbig.models import ComplEx
        >>> model = ComplEx(num_entities=10, num_relations=3, embedding_dim=4)
        >>> tuple(model.entity_embeddings.shape)  # 4 complex numbers each
        (10, 8)
    """

    entity_width = 2
    relation_width = 2

    def score(self, h, r, t):
        h_re, h_im = _halves(h)
        r_re, r_im = _halves(r)
        t_re, t_im = _halves(t)
        return ops.sum(
            (h_re * r_re - h_im * r_im) * t_re
            + (h_re * r_im + h_im * r_re) * t_im,
            axis=-1,
        )

    def _modulus(self, embeddings):
        real, imaginary = _halves(embeddings)
        return ops.sqrt(ops.square(real) + ops.square(imaginary))


@keras.saving.register_keras_serializable(package="kerasbig")
class RotatE(KnowledgeGraphEmbedding):
    """RotatE (Sun et al. 2019): `s = -||h * r - t||_2` with complex
    entity embeddings (`[real | imaginary]` halves) and each relation a
    rotation `r = exp(i theta)`, stored as its phases `theta`; PyKEEN's
    `RotatEInteraction` (whose relations are unit complex numbers).

    Example:

        >>> import numpy as np
        >>> from kerasbig.models import RotatE
        >>> model = RotatE(num_entities=10, num_relations=3, embedding_dim=4)
        >>> tuple(model.relation_embeddings.shape)  # 4 phases each
        (3, 4)
    """

    entity_width = 2
    relation_width = 1

    def relation_initializer(self):
        return keras.initializers.RandomUniform(
            -math.pi, math.pi, self.table_seed(1)
        )

    def score(self, h, r, t):
        h_re, h_im = _halves(h)
        t_re, t_im = _halves(t)
        cos, sin = ops.cos(r), ops.sin(r)
        real = h_re * cos - h_im * sin - t_re
        imaginary = h_re * sin + h_im * cos - t_im
        squared = ops.sum(ops.square(real) + ops.square(imaginary), axis=-1)
        return -ops.sqrt(ops.maximum(squared, 1e-24))

    def _modulus(self, embeddings):
        if embeddings.shape[-1] == self.embedding_dim:  # phases: |r| = 1
            return ops.ones_like(embeddings)
        real, imaginary = _halves(embeddings)
        return ops.sqrt(ops.square(real) + ops.square(imaginary))
