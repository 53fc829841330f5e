"""Mini-batches of one large graph: each batch's seed nodes with a sampled
neighbourhood, padded to one static shape."""

import math

import keras
import numpy as np

from kerasbig import _validation as checks
from kerasbig.graph.data.graph_batch import _EDGE_FIELDS
from kerasbig.graph.data.graph_batch import GraphBatch
from kerasbig.graph.data.graph_dataset import chosen_inputs
from kerasbig.graph.data.graph_dataset import keras_inputs_like
from kerasbig.graph.data.graph_dataset import unpadded_rows


class NeighborLoader(keras.utils.PyDataset):
    """Feeds a graph too large for one step to `fit()`, `evaluate()` and
    `predict()` on every backend: GraphSAGE's neighbour sampling (Hamilton
    et al. 2017), PyG's `NeighborLoader` semantics.

    Each batch takes `batch_size` seed nodes from `input_nodes`. Hop 1
    samples up to `num_neighbors[0]` incoming edges `j -> i` of every
    seed, without replacement (all of them when there are fewer); hop 2
    samples up to `num_neighbors[1]` incoming edges of each node hop 1
    added, and so on. The batch is the subgraph of those nodes and
    sampled edges, renumbered: seeds first (in order), then the nodes
    each hop added, in order of first appearance. It is padded like
    `GraphBatch.pad` to budgets derived from the fanouts, `num_nodes =
    batch_size * (1 + f1 + f1 f2 + ...) + 1` and `num_edges = batch_size
    * (f1 + f1 f2 + ...)`, so every batch has the same shapes and the
    model compiles once; padding edges are self-loops on a padding node,
    which every kerasbig graph layer keeps away from real nodes.

    Items are `(inputs, targets, sample_weight)` with one target row per
    node slot: the seeds' targets, weight 1 on the seeds and 0 on every
    other slot, so the loss counts the seeds only (compile it with
    `reduction="mean_with_sample_weight"` to average over them). Build
    the model on `keras_inputs()`; `unpad(model.predict(loader))` gives
    one row per input node, in `input_nodes` order (without shuffling).

    Sampling reads a compressed index of the edges sorted by target,
    built once (`O(edges)`); a batch costs memory and time in proportion
    to its budgets, not to the graph. Each batch draws from its own
    generator, seeded by `(seed, epoch, batch index)`, so batches are
    reproducible and workers may build them in parallel.

    Args:
        graph: the `GraphBatch` graph (its edge fields are carried along).
        num_neighbors: fanout per hop, positive ints. Defaults to
            `(15, 10)`.
        batch_size: seed nodes per batch. Defaults to `128`.
        input_nodes: seed nodes, int ids or a boolean mask over the nodes
            (e.g. a training mask). Defaults to every node.
        targets: optional per-node targets `(num_nodes, ...)` of the whole
            graph; `None` for `predict`.
        input_names: the inputs to yield (as `GraphDataset`); defaults to
            all the graph has.
        shuffle: reshuffle the seeds every epoch. Defaults to `True`.
        seed: seed of the shuffling and the sampling.
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import GraphBatch, NeighborLoader
        >>> ring = np.arange(10)
        >>> graph = GraphBatch(
        ...     np.ones((10, 4)), np.stack([ring, (ring + 1) % 10]))
        >>> labels = ring % 2
        >>> loader = NeighborLoader(graph, num_neighbors=[2, 2],
        ...                         batch_size=4, targets=labels,
        ...                         shuffle=False)
        >>> inputs, targets, weights = loader[0]
        >>> inputs["x"].shape, inputs["edge_index"].shape  # 4 * (1+2+4) + 1
        ((29, 4), (2, 24))
        >>> weights[:6].tolist()  # the 4 seeds come first
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(
        self,
        graph,
        num_neighbors=(15, 10),
        batch_size=128,
        input_nodes=None,
        targets=None,
        input_names=None,
        shuffle=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "NeighborLoader"
        if not isinstance(graph, GraphBatch):
            raise ValueError(
                f"{owner}: `graph` must be a kerasbig.graph.GraphBatch. "
                f"Received: {type(graph).__name__}"
            )
        checks.positive_int(owner, "batch_size", batch_size)
        num_neighbors = tuple(num_neighbors)
        if not num_neighbors:
            raise ValueError(
                f"{owner}: `num_neighbors` needs one fanout per hop. "
                "Received: num_neighbors=()"
            )
        for fanout in num_neighbors:
            checks.positive_int(owner, "num_neighbors", fanout)
        self.graph = graph
        self.num_neighbors = num_neighbors
        self.batch_size = batch_size
        self.input_nodes = _node_ids(owner, input_nodes, graph.num_nodes)
        self.targets = None
        if targets is not None:
            self.targets = np.asarray(targets)
            if len(self.targets) != graph.num_nodes:
                raise ValueError(
                    f"{owner}: `targets` needs one row per node of the "
                    f"graph ({graph.num_nodes}). Received: "
                    f"{len(self.targets)} rows"
                )
        self.shuffle = shuffle
        self.seed = seed
        # Unseeded loaders still follow keras.utils.set_random_seed, which
        # seeds NumPy's global generator.
        self._entropy = seed
        if seed is None:
            self._entropy = int(np.random.randint(2**31))  # noqa: NPY002
        self.epoch = 0
        # Per hop, the most nodes it can add: batch_size * f1 * ... * fh.
        added = np.cumprod((batch_size,) + num_neighbors)
        self.num_nodes = int(added.sum()) + 1  # + a padding node
        self.num_edges = int(added[1:].sum())
        # Incoming edges of node i: sources[indptr[i]:indptr[i + 1]], at
        # positions edge_order[...] of the graph's edge arrays.
        target = graph.edge_index[1]
        self.edge_order = np.argsort(target, kind="stable").astype("int64")
        self.sources = graph.edge_index[0][self.edge_order]
        self.indptr = np.zeros(graph.num_nodes + 1, "int64")
        np.cumsum(
            np.bincount(target, minlength=graph.num_nodes), out=self.indptr[1:]
        )
        self.input_names = chosen_inputs(
            owner, input_names, list(graph.inputs())
        )
        self._order = self._epoch_order()

    def _epoch_order(self):
        if not self.shuffle:
            return self.input_nodes
        rng = np.random.default_rng([self._entropy, self.epoch])
        return rng.permutation(self.input_nodes)

    def __len__(self):
        return math.ceil(len(self.input_nodes) / self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._epoch_order()

    def seeds(self, index):
        """The seed node ids of batch `index` this epoch."""
        return self._order[
            index * self.batch_size : (index + 1) * self.batch_size
        ]

    def sample(self, seeds, rng):
        """The sampled subgraph of `seeds`: `(nodes, edges)`, the global
        ids of its nodes (seeds first, then each hop's new nodes) and the
        graph's edge positions of its edges, sampled hop by hop."""
        nodes = np.asarray(seeds, "int64")
        # Sorted global ids seen so far with their local ids: a lookup
        # that costs the batch, not the graph.
        seen, seen_local = np.sort(nodes), np.argsort(nodes)
        frontier = nodes
        edges, local_sources, local_targets = [], [], []
        frontier_local = np.arange(len(nodes))
        for fanout in self.num_neighbors:
            picked, owners = self._pick_incoming(frontier, fanout, rng)
            sources = self.sources[picked]
            where = np.searchsorted(seen, sources)
            where = np.minimum(where, len(seen) - 1)
            known = seen[where] == sources
            local = np.empty(len(sources), "int64")
            local[known] = seen_local[where[known]]
            new, first, inverse = np.unique(
                sources[~known], return_index=True, return_inverse=True
            )
            appearance = np.argsort(first)  # new ids in first-appearance order
            rank = np.empty_like(appearance)
            rank[appearance] = np.arange(len(appearance))
            local[~known] = len(nodes) + rank[inverse.reshape(-1)]
            new = new[appearance]
            new_local = np.arange(len(nodes), len(nodes) + len(new))
            nodes = np.concatenate([nodes, new])
            merged = np.concatenate([seen, new])
            order = np.argsort(merged, kind="stable")
            seen = merged[order]
            seen_local = np.concatenate([seen_local, new_local])[order]
            local_sources.append(local)
            local_targets.append(frontier_local[owners])
            edges.append(self.edge_order[picked])
            frontier, frontier_local = new, new_local
        return nodes, (
            np.concatenate(edges),
            np.stack(
                [np.concatenate(local_sources), np.concatenate(local_targets)]
            ),
        )

    def _pick_incoming(self, frontier, fanout, rng):
        """Up to `fanout` incoming edge slots per frontier node, without
        replacement: `(slots, owners)`, owners indexing `frontier`."""
        starts = self.indptr[frontier]
        degrees = self.indptr[frontier + 1] - starts
        total = int(degrees.sum())
        if total == 0:
            empty = np.zeros(0, "int64")
            return empty, empty
        owners = np.repeat(np.arange(len(frontier)), degrees)
        segment_starts = np.repeat(np.cumsum(degrees) - degrees, degrees)
        rank = np.arange(total) - segment_starts
        slots = np.repeat(starts, degrees) + rank
        busy = np.repeat(degrees > fanout, degrees)
        if busy.any():
            # Random keys, sorted within each node: the first `fanout`
            # are a uniform sample without replacement.
            keys = rng.random(total)
            keys[~busy] = 0.0  # nodes within the fanout keep every edge
            order = np.lexsort((keys, owners))
            slots, owners = slots[order], owners[order]
        keep = rank < fanout  # rank within the node, in sorted order
        return slots[keep], owners[keep]

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(
                f"NeighborLoader: batch {index} of {len(self)} batches"
            )
        seeds = self.seeds(index)
        rng = np.random.default_rng([self._entropy, self.epoch, index])
        nodes, (edges, edge_index) = self.sample(seeds, rng)
        graph = self.graph
        fields = {
            name: getattr(graph, name)[edges]
            for name in _EDGE_FIELDS
            if getattr(graph, name) is not None
        }
        batch = GraphBatch(graph.x[nodes], edge_index, **fields).pad(
            self.num_nodes, self.num_edges
        )
        arrays = batch.inputs()
        inputs = {name: arrays[name] for name in self.input_names}
        if self.targets is None:
            return (inputs,)
        targets = np.zeros(
            (self.num_nodes,) + self.targets.shape[1:], self.targets.dtype
        )
        targets[: len(seeds)] = self.targets[seeds]
        weights = np.zeros(self.num_nodes, "float32")
        weights[: len(seeds)] = 1.0
        return inputs, targets, weights

    def unpad(self, predictions):
        """The seed rows of `model.predict(loader)`: one row per input
        node, in `input_nodes` order. Needs `shuffle=False`."""
        real_rows = [len(self.seeds(i)) for i in range(len(self))]
        return unpadded_rows(
            "NeighborLoader",
            "loader",
            self.shuffle,
            predictions,
            self.num_nodes,
            real_rows,
        )

    def keras_inputs(self):
        """`keras.Input`s named and shaped like the batches' inputs."""
        return keras_inputs_like(self[0][0])


def _node_ids(owner, input_nodes, num_nodes):
    if input_nodes is None:
        return np.arange(num_nodes, dtype="int64")
    ids = np.asarray(input_nodes)
    if ids.dtype == bool:
        if ids.shape != (num_nodes,):
            raise ValueError(
                f"{owner}: a boolean `input_nodes` mask needs one entry per "
                f"node ({num_nodes}). Received: shape {ids.shape}"
            )
        ids = np.flatnonzero(ids)
    elif not np.issubdtype(ids.dtype, np.integer) or ids.ndim != 1:
        raise ValueError(
            f"{owner}: `input_nodes` must be int node ids or a boolean "
            f"mask. Received: dtype={ids.dtype}, shape {ids.shape}"
        )
    if ids.size == 0:
        raise ValueError(f"{owner}: `input_nodes` is empty.")
    if ids.min() < 0 or ids.max() >= num_nodes:
        raise ValueError(
            f"{owner}: `input_nodes` must be in [0, {num_nodes}). "
            f"Received: ids from {ids.min()} to {ids.max()}"
        )
    return ids.astype("int64")
