"""R-GCN link prediction (Schlichtkrull et al. 2018): an R-GCN encoder over
the training graph, a DistMult decoder."""

import keras
import numpy as np
from keras import ops

from kerasbig import _validation as checks
from kerasbig.graph import RGCNConv
from kerasbig.models.knowledge_graph.knowledge_graph_embedding import DistMult


@keras.saving.register_keras_serializable(package="kerasbig")
class RGCNLinkPredictor(DistMult):
    """R-GCN encoder with a DistMult decoder, the link predictor of
    Schlichtkrull et al. 2018.

    Entity vectors are computed, not looked up: the entity table passes
    through `num_layers` `RGCNConv` layers over the training graph, each
    triple `(h, r, t)` an edge `h -> t` of relation `r` and an edge
    `t -> h` of the inverse relation `r + num_relations` (the root kernel
    is the self-connection). DistMult scores the results. The whole
    graph is encoded once per training step and once per
    `score_candidates` call, so the graph should fit one batch (Nations,
    Kinships, WN18RR-sized graphs).

    Everything else is `KnowledgeGraphEmbedding`'s: `fit()` by
    `"one_to_n"` or `"negative_sampling"`, label smoothing, L2/N3
    penalties (on the encoded vectors), `inverse_relations` for the
    decoder's head queries. The graph is stored with the weights (a
    non-trainable int variable), so a saved model scores without it.

    Args:
        num_entities: entities, a positive int.
        num_relations: relations of the triples (the encoder sees twice
            as many: each with its inverse).
        graph_triples: int `(edges, 3)` `(head, relation, tail)` triples
            the encoder passes messages along, normally the training
            split. Only `None` when the model is rebuilt from its config
            (its `num_graph_triples`) before its weights are loaded.
        num_layers: `RGCNConv` layers. Defaults to `2`.
        num_bases: optional basis decomposition of each layer's kernels.
        num_blocks: optional block-diagonal decomposition (dividing
            `embedding_dim`).
        dropout: dropout between layers. Defaults to `0.2`.
        edge_dropout: fraction of graph edges each training step leaves
            out, so a triple is not only predicted from its own edge.
            Defaults to `0.0`.
        num_graph_triples: the number of graph triples, for `from_config`.
        **kwargs: `KnowledgeGraphEmbedding` arguments (`embedding_dim`,
            `objective`, `seed`, ...).

    Example:

        >>> import numpy as np
        >>> from kerasbig.models import RGCNLinkPredictor
        >>> triples = np.array([[0, 0, 1], [1, 1, 2], [2, 0, 3]])
        >>> model = RGCNLinkPredictor(4, 2, triples, embedding_dim=8,
        ...                           num_bases=2)
        >>> tuple(model.score_candidates(triples, "tail").shape)
        (3, 4)

    References:
        - [Schlichtkrull et al., 2018](https://arxiv.org/abs/1703.06103).
    """

    def __init__(
        self,
        num_entities,
        num_relations,
        graph_triples=None,
        num_layers=2,
        num_bases=None,
        num_blocks=None,
        dropout=0.2,
        edge_dropout=0.0,
        num_graph_triples=None,
        **kwargs,
    ):
        owner = "RGCNLinkPredictor"
        checks.positive_int(owner, "num_layers", num_layers)
        checks.rate(owner, "dropout", dropout)
        checks.rate(owner, "edge_dropout", edge_dropout)
        if graph_triples is not None:
            graph_triples = np.asarray(graph_triples)
            if graph_triples.ndim != 2 or graph_triples.shape[1] != 3:
                raise ValueError(
                    f"{owner}: `graph_triples` must be int (edges, 3) "
                    "(head, relation, tail) triples. Received: shape "
                    f"{graph_triples.shape}"
                )
            num_graph_triples = len(graph_triples)
        elif num_graph_triples is None:
            raise ValueError(
                f"{owner}: pass `graph_triples`, the (edges, 3) triples "
                "the encoder passes messages along (normally the training "
                "split). Received: graph_triples=None"
            )
        checks.positive_int(owner, "num_graph_triples", num_graph_triples)
        super().__init__(num_entities, num_relations, **kwargs)
        self.num_layers = num_layers
        self.num_bases = num_bases
        self.num_blocks = num_blocks
        self.dropout = dropout
        self.edge_dropout = edge_dropout
        self.num_graph_triples = num_graph_triples
        if graph_triples is not None:
            _check_ids(owner, graph_triples, num_entities, num_relations)
        stored = (
            np.zeros((num_graph_triples, 3), "int32")
            if graph_triples is None
            else graph_triples.astype("int32")
        )
        self.graph_triples = self.add_weight(
            name="graph_triples",
            shape=stored.shape,
            dtype="int32",
            initializer=lambda shape, dtype=None: stored,
            trainable=False,
        )
        width = self.embedding_dim
        self.encoder_layers = []
        for index in range(num_layers):
            last = index == num_layers - 1
            layer = RGCNConv(
                width,
                2 * num_relations,
                num_bases=num_bases,
                num_blocks=num_blocks,
                activation=None if last else "relu",
                name=f"rgcn_{index}",
            )
            layer.build((num_entities + 1, width), (2, None), (None,))
            self.encoder_layers.append(layer)
        self.dropout_layer = keras.layers.Dropout(dropout, seed=self.seed)

    def entity_representations(self, training=False):
        triples = ops.convert_to_tensor(self.graph_triples)
        heads, relations, tails = triples[:, 0], triples[:, 1], triples[:, 2]
        source = ops.concatenate([heads, tails])
        target = ops.concatenate([tails, heads])
        edge_type = ops.concatenate([relations, relations + self.num_relations])
        # A dropped edge is sent to an extra node past the last entity,
        # which keeps every shape static; its output is cut off below.
        sink = self.num_entities
        if training and self.edge_dropout:
            kept = (
                keras.random.uniform(
                    ops.shape(target), seed=self.seed_generator
                )
                >= self.edge_dropout
            )
            target = ops.where(kept, target, sink)
        edge_index = ops.stack([source, target])
        table = ops.convert_to_tensor(self.entity_embeddings)
        x = ops.concatenate([table, ops.zeros_like(table[:1])])
        for index, layer in enumerate(self.encoder_layers):
            if index:
                x = self.dropout_layer(x, training=training)
            x = layer(x, edge_index, edge_type)
        return x[:sink]

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "num_bases": self.num_bases,
            "num_blocks": self.num_blocks,
            "dropout": self.dropout,
            "edge_dropout": self.edge_dropout,
            "num_graph_triples": self.num_graph_triples,
        }


def _check_ids(owner, triples, num_entities, num_relations):
    for column, name, bound in (
        (0, "head", num_entities),
        (1, "relation", num_relations),
        (2, "tail", num_entities),
    ):
        values = triples[:, column]
        bad = np.flatnonzero((values < 0) | (values >= bound))
        if bad.size:
            raise ValueError(
                f"{owner}: `graph_triples` {name} ids must be in [0, "
                f"{bound}). Received: {values[bad[0]]} in row {bad[0]}"
            )
