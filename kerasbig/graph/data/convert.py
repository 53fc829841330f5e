"""Graphs from networkx and SciPy sparse matrices, as `GraphBatch`es."""

import numpy as np

from kerasbig._optional import import_optional
from kerasbig.graph.data.graph_batch import GraphBatch


def from_networkx(
    graph, node_features=None, x=None, edge_weight=None, edge_features=None
):
    """A networkx graph as a `GraphBatch`, ordered as PyG's `from_networkx`.

    Nodes are numbered in `graph.nodes` order. An undirected graph becomes
    both directions of every edge (`graph.to_directed()`); edges keep
    networkx's order, so `edge_index` equals PyG's.

    Args:
        graph: a `networkx.Graph`, `DiGraph`, `MultiGraph` or
            `MultiDiGraph`.
        node_features: name or list of names of numeric node attributes,
            concatenated (scalars as one column) into `x`.
        x: node features `(N, F)` in `graph.nodes` order, instead of
            `node_features`. Exactly one of the two is needed; featureless
            graphs often use `x=np.ones((n, 1))`.
        edge_weight: name of a numeric edge attribute to use as edge
            weights.
        edge_features: name or list of names of numeric edge attributes,
            concatenated into `edge_attr`.

    Returns:
        A `GraphBatch` holding one graph.

    Example:

        >>> import networkx as nx
        >>> from kerasbig.graph import from_networkx
        >>> g = nx.path_graph(3)
        >>> nx.set_node_attributes(g, {0: 1.0, 1: 2.0, 2: 3.0}, "size")
        >>> batch = from_networkx(g, node_features="size")
        >>> batch.edge_index.tolist(), batch.x.ravel().tolist()
        ([[0, 1, 1, 2], [1, 0, 2, 1]], [1.0, 2.0, 3.0])
    """
    import_optional("networkx", "from_networkx")
    owner = "from_networkx"
    if (node_features is None) == (x is None):
        raise ValueError(
            f"{owner}: pass exactly one of `node_features` (attribute names) "
            "and `x` (an array); for a graph without features, "
            "x=np.ones((graph.number_of_nodes(), 1)) is common. Received: "
            f"node_features={node_features!r}, x is "
            f"{'None' if x is None else 'given'}"
        )
    directed = graph if graph.is_directed() else graph.to_directed()
    nodes = list(directed.nodes(data=True))
    position = {node: i for i, (node, _) in enumerate(nodes)}
    edges = list(directed.edges(data=True))
    edge_index = np.array(
        [
            [position[source] for source, _, _ in edges],
            [position[target] for _, target, _ in edges],
        ],
        dtype="int64",
    ).reshape(2, len(edges))
    if x is None:
        x = _attributes(
            owner, "node", [data for _, data in nodes], node_features
        )
    edge_records = [data for _, _, data in edges]
    if edge_weight is not None:
        edge_weight = _attributes(owner, "edge", edge_records, edge_weight)
        edge_weight = edge_weight.reshape(-1)
    if edge_features is not None:
        edge_features = _attributes(owner, "edge", edge_records, edge_features)
    return GraphBatch(
        x, edge_index, edge_weight=edge_weight, edge_attr=edge_features
    )


def _attributes(owner, kind, records, names):
    """Stacks the named attributes of each node or edge into `(n, k)`."""
    names = [names] if isinstance(names, str) else list(names)
    columns = []
    for name in names:
        values = []
        for i, record in enumerate(records):
            if name not in record:
                raise ValueError(
                    f"{owner}: {kind} {i} has no attribute {name!r}. "
                    f"Received: attributes {sorted(record)}"
                )
            values.append(record[name])
        try:
            column = np.asarray(values, dtype="float32")
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{owner}: {kind} attribute {name!r} must be numeric (a "
                f"number or an array of one shape). Received: {values[:3]}"
            ) from error
        columns.append(column.reshape(len(records), -1))
    return np.concatenate(columns, axis=-1)


def from_scipy_sparse(adjacency, x, weighted=True):
    """A SciPy sparse adjacency matrix as a `GraphBatch`, as PyG's
    `from_scipy_sparse_matrix`: entry `(i, j)` is an edge from `i` to `j`,
    in COO order, and its value the edge weight.

    Stored entries are edges even when their value is 0 (call
    `adjacency.eliminate_zeros()` first to drop them).

    Args:
        adjacency: a square `scipy.sparse` matrix or array `(N, N)`.
        x: node features `(N, F)`.
        weighted: keep the values as `edge_weight`. Defaults to `True`.

    Returns:
        A `GraphBatch` holding one graph.

    Example:

        >>> import numpy as np
        >>> import scipy.sparse as sp
        >>> from kerasbig.graph import from_scipy_sparse
        >>> adjacency = sp.coo_array(([0.5, 2.0], ([0, 1], [1, 2])), (3, 3))
        >>> batch = from_scipy_sparse(adjacency, np.eye(3))
        >>> batch.edge_index.tolist(), batch.edge_weight.tolist()
        ([[0, 1], [1, 2]], [0.5, 2.0])
    """
    sparse = import_optional("scipy.sparse", "from_scipy_sparse")
    shape = getattr(adjacency, "shape", None)
    if (
        not sparse.issparse(adjacency)
        or len(shape) != 2
        or shape[0] != shape[1]
    ):
        raise ValueError(
            "from_scipy_sparse: `adjacency` must be a square scipy.sparse "
            f"matrix. Received: {type(adjacency).__name__} of shape {shape}"
        )
    x = np.asarray(x)
    if x.ndim != 2 or len(x) != shape[0]:
        raise ValueError(
            "from_scipy_sparse: `x` must be (num_nodes, features) with "
            f"num_nodes={shape[0]} rows, one per adjacency row. Received: "
            f"x.shape={x.shape}"
        )
    coo = adjacency.tocoo()
    edge_index = np.stack([coo.row, coo.col]).astype("int64")
    weight = coo.data if weighted else None
    return GraphBatch(x, edge_index, edge_weight=weight)
