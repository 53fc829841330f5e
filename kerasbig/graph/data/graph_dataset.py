"""`GraphDataset`: graphs as fit-ready padded batches of static shape."""

import math

import keras
import numpy as np

from kerasbig import _validation as checks
from kerasbig.graph.data.graph_batch import batch_graphs


class GraphDataset(keras.utils.PyDataset):
    """Feeds graphs to `model.fit()`, `evaluate()` and `predict()` on every
    backend, as padded disjoint batches of one static shape.

    Each item is `(inputs, targets, sample_weight)`: `inputs` is
    `GraphBatch.inputs()` (`x`, `edge_index`, `graph_index`, and
    `edge_weight` / `edge_attr` / `edge_type` if the graphs have them, or
    only the `input_names` given), padded to
    `num_nodes`, `num_edges` and `batch_size + 1` graphs, so the model
    compiles once. With `level="graph"` the targets are one row per graph
    slot and the weights are 1 for real graphs, 0 for padding; with
    `level="node"` one row per node slot, weighted by `node_weights` (for
    example a training mask) and 0 on padding. Build the model on
    `keras_inputs()`; `unpad(model.predict(dataset))` keeps the rows of
    real graphs or nodes.

    Full-graph node classification is one graph, `batch_size=1`:
    `GraphDataset([graph], node_labels, level="node", node_weights=
    train_mask)`; its batches are the graph itself, unpadded, so
    `model.predict` gives one row per node. With node weights, compile
    the loss with `reduction="mean_with_sample_weight"` so that it
    averages over the weighted nodes; Keras's default divides by every
    node slot.

    Args:
        graphs: a list of `GraphBatch` graphs.
        targets: per graph (`level="graph"`): an array with one row per
            graph; per node: a list with one array per graph (or one
            array for a single graph). `None` for `predict`.
        batch_size: graphs per batch. Defaults to `32`.
        level: `"graph"` (default) or `"node"` targets.
        node_weights: with `level="node"`, per-node loss weights like
            `targets` (default 1 on every real node).
        num_nodes: node budget per batch; defaults to the most nodes any
            `batch_size` graphs can have, plus one padding node (none for
            a single graph with `level="node"`).
        num_edges: edge budget; defaults likewise (at least 1).
        input_names: the inputs to yield, e.g. `("x", "edge_index")` for
            a model that needs no `graph_index`; a Keras model fed a dict
            with keys it lacks matches inputs by position, so yield exactly
            the model's inputs. Defaults to all the graphs have.
        shuffle: reshuffle the graphs every epoch. Defaults to `False`.
        seed: seed of the shuffling.
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import GraphBatch, GraphDataset
        >>> path = GraphBatch(np.ones((3, 2)), np.array([[0, 1], [1, 2]]))
        >>> graphs = [path] * 4
        >>> data = GraphDataset(graphs, np.array([0, 1, 0, 1]), batch_size=2)
        >>> inputs, targets, weights = data[0]
        >>> inputs["x"].shape, targets.tolist(), weights.tolist()
        ((7, 2), [0, 1, 0], [1.0, 1.0, 0.0])
    """

    def __init__(
        self,
        graphs,
        targets=None,
        batch_size=32,
        level="graph",
        node_weights=None,
        num_nodes=None,
        num_edges=None,
        input_names=None,
        shuffle=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "GraphDataset"
        checks.positive_int(owner, "batch_size", batch_size)
        checks.one_of(owner, "level", level, ("graph", "node"))
        self.graphs = list(graphs)
        if not self.graphs:
            raise ValueError(f"{owner}: got no graphs. Received: graphs=[]")
        self.batch_size = batch_size
        self.level = level
        self.targets = self._per_graph("targets", targets)
        self.node_weights = self._per_graph("node_weights", node_weights)
        largest = sorted((g.num_nodes for g in self.graphs), reverse=True)
        most_edges = sorted((g.num_edges for g in self.graphs), reverse=True)
        # One whole graph per step needs no padding: predict() then gives
        # exactly one row per node.
        self.padded = not (
            level == "node"
            and len(self.graphs) == 1
            and num_nodes in (None, largest[0])
            and num_edges in (None, most_edges[0])
            and most_edges[0] > 0
        )
        if self.padded:
            self.num_nodes = num_nodes or sum(largest[:batch_size]) + 1
            self.num_edges = num_edges or max(sum(most_edges[:batch_size]), 1)
        else:
            self.num_nodes, self.num_edges = largest[0], most_edges[0]
        self.input_names = chosen_inputs(
            owner, input_names, list(self.graphs[0].inputs())
        )
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(len(self.graphs))
        self._last_item = None
        if shuffle:
            self._rng.shuffle(self._order)

    def _per_graph(self, name, values):
        if values is None:
            return None
        if self.level == "graph":
            values = np.asarray(values)
            if len(values) != len(self.graphs):
                raise ValueError(
                    f"GraphDataset: `{name}` needs one row per graph "
                    f"({len(self.graphs)}). Received: {len(values)} rows"
                )
            return values
        if len(self.graphs) == 1 and not isinstance(values, (list, tuple)):
            values = [values]
        values = [np.asarray(v) for v in values]
        sizes = [len(v) for v in values]
        if sizes != [g.num_nodes for g in self.graphs]:
            raise ValueError(
                f"GraphDataset: `{name}` needs one array per graph with one "
                "row per node. Received: rows "
                f"{sizes} for graphs of {[g.num_nodes for g in self.graphs]} "
                "nodes"
            )
        return values

    @property
    def num_batches(self):
        return math.ceil(len(self.graphs) / self.batch_size)

    def __len__(self):
        return self.num_batches

    def __getitem__(self, index):
        chosen = self._order[
            index * self.batch_size : (index + 1) * self.batch_size
        ]
        # Full-graph training asks for the same batch every epoch: reuse it
        # rather than copy the whole graph again.
        key = tuple(chosen.tolist())
        if self._last_item is None or self._last_item[0] != key:
            self._last_item = (key, self._make_item(chosen))
        return self._last_item[1]

    def _make_item(self, chosen):
        batch = batch_graphs([self.graphs[i] for i in chosen])
        padded = batch
        if self.padded:
            padded = batch.pad(
                self.num_nodes, self.num_edges, self.batch_size + 1
            )
        arrays = padded.inputs()
        inputs = {name: arrays[name] for name in self.input_names}
        if self.targets is None:
            return (inputs,)
        if self.level == "graph":
            targets = self._pad_rows(self.targets[chosen], self.batch_size + 1)
            weights = padded.graph_mask.astype("float32")
        else:
            targets = self._pad_rows(
                np.concatenate([self.targets[i] for i in chosen]),
                self.num_nodes,
            )
            weights = padded.node_mask.astype("float32")
            if self.node_weights is not None:
                given = np.concatenate([self.node_weights[i] for i in chosen])
                weights[: len(given)] *= given.astype("float32")
        return inputs, targets, weights

    @staticmethod
    def _pad_rows(values, rows):
        filler = np.zeros(
            (rows - len(values),) + values.shape[1:], values.dtype
        )
        return np.concatenate([values, filler])

    def unpad(self, predictions):
        """The rows of `model.predict(dataset)` that belong to real graphs
        (`level="graph"`) or real nodes (`level="node"`), in the order of
        `graphs`: padding rows dropped.

        Call it on the output of `predict` over this data set, unshuffled.

        Example:

            >>> import numpy as np
            >>> from kerasbig.graph import GraphBatch, GraphDataset
            >>> path = GraphBatch(np.ones((3, 2)), np.array([[0, 1], [1, 2]]))
            >>> data = GraphDataset([path] * 3, batch_size=2, level="node")
            >>> slots = np.zeros((2 * data.num_nodes, 4))  # predict's rows
            >>> data.unpad(slots).shape  # 3 graphs of 3 nodes
            (9, 4)
        """
        per_batch = (
            self.num_nodes if self.level == "node" else (self.batch_size + 1)
        )
        real_rows = []
        for index in range(self.num_batches):
            chosen = self._order[
                index * self.batch_size : (index + 1) * self.batch_size
            ]
            real_rows.append(
                sum(self.graphs[i].num_nodes for i in chosen)
                if self.level == "node"
                else len(chosen)
            )
        return unpadded_rows(
            "GraphDataset",
            "data set",
            self.shuffle,
            predictions,
            per_batch,
            real_rows,
        )

    def on_epoch_end(self):
        if self.shuffle:
            self._rng.shuffle(self._order)

    def keras_inputs(self):
        """`keras.Input`s named and shaped like the batches' inputs."""
        return keras_inputs_like(self[0][0])


def unpadded_rows(owner, kind, shuffle, predictions, per_batch, real_rows):
    """`unpad` for graph data sets: of each batch's `per_batch` rows of
    `predictions` (any structure of arrays), the first `real_rows[i]`."""
    if shuffle:
        raise ValueError(
            f"{owner}.unpad: the {kind} shuffles, so predict's rows are in "
            "no known order. Received: shuffle=True"
        )
    expected = per_batch * len(real_rows)
    out = []
    for array in keras.tree.flatten(predictions):
        array = np.asarray(array)
        if len(array) != expected:
            raise ValueError(
                f"{owner}.unpad: expected predict's output over this {kind}, "
                f"{expected} rows ({len(real_rows)} batches of {per_batch}). "
                f"Received: {len(array)} rows"
            )
        out.append(
            np.concatenate(
                [
                    array[index * per_batch :][:count]
                    for index, count in enumerate(real_rows)
                ]
            )
        )
    return keras.tree.pack_sequence_as(predictions, out)


def chosen_inputs(owner, input_names, available):
    """The `input_names` a graph data set yields (default: every one in
    `available`), each checked to be there."""
    chosen = list(input_names or available)
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise ValueError(
            f"{owner}: `input_names` {unknown} are not inputs of these "
            f"graphs; they have {available}. Received: "
            f"input_names={input_names!r}"
        )
    return chosen


def keras_inputs_like(inputs):
    """`keras.Input`s named and shaped like a batch's `inputs` dict."""
    return {
        name: keras.Input(
            batch_shape=array.shape, dtype=str(array.dtype), name=name
        )
        for name, array in inputs.items()
    }
