"""Disjoint batches of graphs, padded to static budgets, on the host."""

import numpy as np

_EDGE_FIELDS = ("edge_weight", "edge_attr", "edge_type")


class GraphBatch:
    """One graph, or several as one disjoint graph, as NumPy arrays.

    Graph `g`'s nodes keep their order and are numbered after the nodes of
    graphs `0..g-1`; its edges are shifted accordingly. `graph_index[i]`
    is the graph of node `i` (PyG's `batch`).

    Padding (`pad`) appends nodes, edges and one padding graph so that
    arrays have fixed sizes (for jit, TPUs and LiteRT): padding nodes have
    zero features and belong to the padding graph `num_graphs`; padding
    edges are self-loops on the first padding node. Messages therefore
    never reach a real node, every kerasbig graph layer gives real nodes
    the same outputs as without padding, and readouts give real graphs the
    same rows. `node_mask`, `edge_mask` and `graph_mask` mark the real
    entries, for loss weights.

    Args:
        x: node features `(N, F)`.
        edge_index: int `(2, E)`, row 0 source, row 1 target.
        edge_weight: optional `(E,)` edge weights.
        edge_attr: optional `(E, D)` edge features.
        edge_type: optional int `(E,)` relation types (`RGCNConv`);
            padding edges get type 0.
        graph_index: optional int `(N,)`; all zeros (one graph) if omitted.
        num_graphs: number of graphs; `max(graph_index) + 1` if omitted.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import GraphBatch, batch_graphs
        >>> a = GraphBatch(np.ones((2, 3)), np.array([[0], [1]]))
        >>> b = GraphBatch(np.ones((3, 3)), np.array([[0, 1], [1, 2]]))
        >>> batch = batch_graphs([a, b]).pad(num_nodes=8, num_edges=4)
        >>> batch.edge_index.tolist()
        [[0, 2, 3, 5], [1, 3, 4, 5]]
        >>> batch.graph_index.tolist()
        [0, 0, 1, 1, 1, 2, 2, 2]
    """

    def __init__(
        self,
        x,
        edge_index,
        edge_weight=None,
        edge_attr=None,
        graph_index=None,
        num_graphs=None,
        edge_type=None,
    ):
        self.x = np.asarray(x, dtype="float32")
        self.edge_index = np.asarray(edge_index)
        if (
            self.x.ndim != 2
            or self.edge_index.ndim != 2
            or self.edge_index.shape[0] != 2
            or not np.issubdtype(self.edge_index.dtype, np.integer)
        ):
            raise ValueError(
                "GraphBatch: expected `x` of shape (num_nodes, features) and "
                "an int `edge_index` of shape (2, num_edges). Received: "
                f"x.shape={self.x.shape}, edge_index.shape="
                f"{self.edge_index.shape}, edge_index.dtype="
                f"{self.edge_index.dtype}"
            )
        self.edge_index = self.edge_index.astype("int32")
        num_nodes, num_edges = len(self.x), self.edge_index.shape[1]
        if num_edges and (
            self.edge_index.min() < 0 or self.edge_index.max() >= num_nodes
        ):
            raise ValueError(
                f"GraphBatch: `edge_index` refers to nodes outside [0, "
                f"{num_nodes}). Received: node indices from "
                f"{self.edge_index.min()} to {self.edge_index.max()}"
            )
        self.edge_weight = _edge_array("edge_weight", edge_weight, num_edges)
        self.edge_attr = _edge_array("edge_attr", edge_attr, num_edges)
        self.edge_type = _edge_array("edge_type", edge_type, num_edges, "int32")
        if self.edge_type is not None and (
            self.edge_type.ndim != 1 or (num_edges and self.edge_type.min() < 0)
        ):
            raise ValueError(
                "GraphBatch: `edge_type` must be non-negative ints, one per "
                f"edge, shape ({num_edges},). Received: shape="
                f"{self.edge_type.shape}"
            )
        if graph_index is None:
            graph_index = np.zeros(num_nodes, "int32")
        self.graph_index = np.asarray(graph_index).astype("int32")
        if self.graph_index.shape != (num_nodes,):
            raise ValueError(
                "GraphBatch: `graph_index` must have one entry per node, "
                f"shape ({num_nodes},). Received: shape="
                f"{self.graph_index.shape}"
            )
        if num_graphs is None:
            num_graphs = int(self.graph_index.max()) + 1 if num_nodes else 1
        self.num_graphs = int(num_graphs)
        self.node_mask = np.ones(num_nodes, bool)
        self.edge_mask = np.ones(num_edges, bool)
        self.graph_mask = np.ones(self.num_graphs, bool)

    @property
    def num_nodes(self):
        return len(self.x)

    @property
    def num_edges(self):
        return self.edge_index.shape[1]

    def pad(self, num_nodes, num_edges, num_graphs=None):
        """A copy padded to `num_nodes` nodes, `num_edges` edges and
        `num_graphs` graphs (default: one more than now, the padding graph).

        `num_nodes` must exceed the real node count (the padding edges need
        a padding node) and `num_graphs` the real graph count.
        """
        num_graphs = self.num_graphs + 1 if num_graphs is None else num_graphs
        real_nodes, real_edges = self.num_nodes, self.num_edges
        real_graphs = int(self.graph_mask.sum())
        if (
            num_nodes <= real_nodes
            or num_edges < real_edges
            or num_graphs <= real_graphs
        ):
            raise ValueError(
                "GraphBatch.pad: the budgets must hold the batch plus "
                f"padding: num_nodes > {real_nodes}, num_edges >= "
                f"{real_edges}, num_graphs > {real_graphs}. Received: "
                f"num_nodes={num_nodes}, num_edges={num_edges}, "
                f"num_graphs={num_graphs}"
            )
        extra_nodes, extra_edges = (
            num_nodes - real_nodes,
            num_edges - real_edges,
        )
        padded = GraphBatch.__new__(GraphBatch)
        padded.x = np.concatenate(
            [self.x, np.zeros((extra_nodes,) + self.x.shape[1:], "float32")]
        )
        loops = np.full((2, extra_edges), real_nodes, "int32")
        padded.edge_index = np.concatenate([self.edge_index, loops], 1)
        for name in _EDGE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                filler = np.zeros((extra_edges,) + value.shape[1:], value.dtype)
                value = np.concatenate([value, filler])
            setattr(padded, name, value)
        padded.graph_index = np.concatenate(
            [self.graph_index, np.full(extra_nodes, real_graphs, "int32")]
        )
        padded.num_graphs = num_graphs
        padded.node_mask = np.arange(num_nodes) < real_nodes
        padded.edge_mask = np.arange(num_edges) < real_edges
        padded.graph_mask = np.arange(num_graphs) < real_graphs
        return padded

    def inputs(self):
        """The arrays as a dict for a model: `x`, `edge_index`,
        `graph_index`, and `edge_weight` / `edge_attr` / `edge_type` when
        present."""
        out = {
            "x": self.x,
            "edge_index": self.edge_index,
            "graph_index": self.graph_index,
        }
        for name in _EDGE_FIELDS:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


def _edge_array(name, value, num_edges, dtype="float32"):
    if value is None:
        return None
    value = np.asarray(value)
    if dtype == "int32" and not np.issubdtype(value.dtype, np.integer):
        raise ValueError(
            f"GraphBatch: `{name}` must be ints. Received: dtype={value.dtype}"
        )
    value = value.astype(dtype)
    if len(value) != num_edges:
        raise ValueError(
            f"GraphBatch: `{name}` must have one row per edge ({num_edges}). "
            f"Received: {name}.shape={value.shape}"
        )
    return value


def batch_graphs(graphs):
    """Joins `GraphBatch` graphs into one disjoint `GraphBatch`.

    Node indices of each graph are shifted past the previous graphs' nodes;
    `graph_index` numbers the graphs in order. All graphs must carry the
    same optional edge fields.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import GraphBatch, batch_graphs
        >>> g = GraphBatch(np.ones((2, 1)), np.array([[0], [1]]))
        >>> batch_graphs([g, g]).edge_index.tolist()
        [[0, 2], [1, 3]]
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("batch_graphs: got no graphs. Received: []")
    _check_same_widths(graphs)
    offsets = np.cumsum([0] + [g.num_nodes for g in graphs[:-1]])
    fields = {}
    for name in _EDGE_FIELDS:
        present = [getattr(g, name) is not None for g in graphs]
        if any(present) and not all(present):
            raise ValueError(
                f"batch_graphs: `{name}` is set on some graphs but not on "
                f"others. Received: {sum(present)} of {len(graphs)} with it"
            )
        if all(present):
            fields[name] = np.concatenate([getattr(g, name) for g in graphs])
    graph_index, start = [], 0
    for graph in graphs:
        graph_index.append(graph.graph_index + start)
        start += graph.num_graphs
    return GraphBatch(
        np.concatenate([g.x for g in graphs]),
        np.concatenate(
            [g.edge_index + o for g, o in zip(graphs, offsets, strict=True)],
            axis=1,
        ),
        graph_index=np.concatenate(graph_index),
        num_graphs=start,
        **fields,
    )


def _check_same_widths(graphs):
    """Node and edge features must have one width across the graphs."""
    for name in ("x",) + _EDGE_FIELDS:
        widths = {}
        for i, graph in enumerate(graphs):
            value = getattr(graph, name)
            if value is not None:
                widths.setdefault(value.shape[1:], i)
        if len(widths) > 1:
            found = ", ".join(
                f"graph {i}: {shape}" for shape, i in widths.items()
            )
            raise ValueError(
                f"batch_graphs: every graph's `{name}` must have the same "
                f"trailing shape. Received: {found}"
            )
