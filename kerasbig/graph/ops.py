"""Graph operations on `keras.ops`, with PyTorch Geometric's semantics.

Graphs are given as `edge_index`, an int tensor of shape `(2, E)` whose row
0 holds source nodes and row 1 target nodes: messages flow from
`edge_index[0]` to `edge_index[1]` (PyG's default `source_to_target`).
No dense `N x N` adjacency is ever built. Shapes stay static: where PyG
drops edges (existing self-loops), these functions keep them in place with
weight 0, which changes no weighted sum.
"""

import numpy as np
from keras import ops

from kerasbig.ops import gather_rows
from kerasbig.ops import segment_max
from kerasbig.ops import segment_sum


def check_edge_index(owner, edge_index, num_nodes=None):
    """Raises a `ValueError` naming `owner` unless `edge_index` is an int
    tensor of shape `(2, E)` whose entries lie in `[0, num_nodes)`.

    The range check (only with `num_nodes`) reads the values, a copy from
    the device to the host: call it once where data enters, as
    `GraphBatch` does, not in a layer's `call` (the layers check shapes
    only). Symbolic or traced values are not range-checked; inside a
    compiled function an index out of range is not detected (gathers then
    clip or return zeros, depending on the backend).

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import check_edge_index
        >>> check_edge_index("MyLayer", np.array([[0, 1], [1, 2]]), 3)
    """
    shape = tuple(edge_index.shape)
    dtype = str(getattr(edge_index, "dtype", ""))
    # The first axis may be unknown: Keras relaxes it when tracing fit().
    if len(shape) != 2 or shape[0] not in (2, None) or "int" not in dtype:
        raise ValueError(
            f"{owner}: `edge_index` must be an int tensor of shape (2, E) "
            "(row 0: source nodes, row 1: target nodes). Received: "
            f"shape={shape}, dtype={dtype}"
        )
    if num_nodes is None or not isinstance(num_nodes, (int, np.integer)):
        return
    try:
        values = np.asarray(ops.convert_to_numpy(edge_index))
    except Exception:  # symbolic or traced: nothing concrete to check
        return
    if values.size and (values.min() < 0 or values.max() >= num_nodes):
        raise ValueError(
            f"{owner}: `edge_index` refers to nodes outside [0, {num_nodes}) "
            f"for a graph of {num_nodes} nodes. Received: node indices from "
            f"{values.min()} to {values.max()}"
        )


def degree(index, num_nodes, edge_weight=None, dtype="float32"):
    """Number (or total weight) of edges per node along `index`.

    Pass `edge_index[1]` for in-degrees, `edge_index[0]` for out-degrees.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.graph import degree
        >>> ops.convert_to_numpy(degree(np.array([0, 2, 2]), 4)).tolist()
        [1.0, 0.0, 2.0, 0.0]
    """
    if edge_weight is None:
        edge_weight = ops.ones_like(index, dtype=dtype)
    return segment_sum(ops.cast(edge_weight, dtype), index, num_nodes)


def add_self_loops(edge_index, num_nodes, edge_weight=None, fill_value=1.0):
    """Appends a self-loop `(i, i)` for every node, after the given edges.

    Like `torch_geometric.utils.add_self_loops`: existing self-loops stay.

    Returns:
        `(edge_index, edge_weight)` of `E + num_nodes` edges; the new edges
        have weight `fill_value` (`edge_weight` is `None` if it was).

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.graph import add_self_loops
        >>> edges, _ = add_self_loops(np.array([[0], [1]]), num_nodes=2)
        >>> ops.convert_to_numpy(edges).tolist()
        [[0, 0, 1], [1, 0, 1]]
    """
    loops = ops.arange(num_nodes, dtype=edge_index.dtype)
    edge_index = ops.concatenate([edge_index, ops.stack([loops, loops])], 1)
    if edge_weight is None:
        return edge_index, None
    fill = ops.full((num_nodes,), fill_value, dtype=edge_weight.dtype)
    return edge_index, ops.concatenate([edge_weight, fill], 0)


def add_remaining_self_loops(
    edge_index, num_nodes, edge_weight=None, fill_value=1.0
):
    """Gives every node exactly one weighted self-loop, PyG-style.

    As `torch_geometric.utils.add_remaining_self_loops`: a node that already
    has a self-loop keeps its weight (the last one listed), every other
    node gets `fill_value`. To keep shapes static, the existing self-loops
    stay in place with weight 0 instead of being removed, and the new
    loops are appended.

    Returns:
        `(edge_index, edge_weight)` of `E + num_nodes` edges; `edge_weight`
        is all ones (0 on old self-loops) when none was given.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.graph import add_remaining_self_loops
        >>> edges = np.array([[0, 1], [1, 1]])
        >>> weights = np.array([2.0, 5.0], "float32")
        >>> _, w = add_remaining_self_loops(edges, 2, weights)
        >>> ops.convert_to_numpy(w).tolist()
        [2.0, 0.0, 1.0, 5.0]
    """
    source, target = edge_index[0], edge_index[1]
    if edge_weight is None:
        edge_weight = ops.ones(ops.shape(source), dtype="float32")
    is_loop = ops.equal(source, target)
    # 1 + position of each node's last self-loop, 0 for nodes without one.
    positions = ops.arange(1, ops.shape(source)[0] + 1, dtype="int32")
    last = segment_max(ops.where(is_loop, positions, 0), source, num_nodes)
    # Index 0 picks the fill value, index p + 1 the weight of edge p (a
    # gather that also works when there are no edges at all).
    candidates = ops.concatenate(
        [ops.full((1,), fill_value, dtype=edge_weight.dtype), edge_weight], 0
    )
    loop_weight = ops.take(candidates, last, axis=0)
    kept = ops.where(is_loop, ops.zeros_like(edge_weight), edge_weight)
    loops = ops.arange(num_nodes, dtype=edge_index.dtype)
    return (
        ops.concatenate([edge_index, ops.stack([loops, loops])], 1),
        ops.concatenate([kept, loop_weight], 0),
    )


def gcn_norm(
    edge_index,
    num_nodes,
    edge_weight=None,
    improved=False,
    add_self_loops=True,
):
    """Symmetric GCN normalisation `D^-1/2 (A + I) D^-1/2` as edge weights.

    As `torch_geometric.nn.conv.gcn_conv.gcn_norm`: self-loops of weight 1
    (2 with `improved`) are added where missing, degrees are summed over
    target nodes, and edge `(j, i)` gets `w / sqrt(deg(j) deg(i))`; nodes
    of degree 0 contribute 0.

    Returns:
        `(edge_index, edge_weight)`; with self-loops, `E + num_nodes` edges.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.graph import gcn_norm
        >>> _, w = gcn_norm(np.array([[0, 1], [1, 0]]), num_nodes=2)
        >>> np.round(ops.convert_to_numpy(w), 3).tolist()
        [0.5, 0.5, 0.5, 0.5]
    """
    if add_self_loops:
        edge_index, edge_weight = add_remaining_self_loops(
            edge_index, num_nodes, edge_weight, 2.0 if improved else 1.0
        )
    elif edge_weight is None:
        edge_weight = ops.ones(ops.shape(edge_index)[1:], dtype="float32")
    source, target = edge_index[0], edge_index[1]
    deg = degree(target, num_nodes, edge_weight, dtype=edge_weight.dtype)
    inv_sqrt = ops.where(deg > 0, ops.rsqrt(ops.maximum(deg, 1e-30)), 0.0)
    norm = (
        gather_rows(inv_sqrt, source)
        * edge_weight
        * gather_rows(inv_sqrt, target)
    )
    return edge_index, norm


def replace_self_loops(
    edge_index, num_nodes, edge_attr=None, fill_value="mean"
):
    """PyG's `remove_self_loops` then `add_self_loops`, with static shapes.

    Every node ends with exactly one self-loop. Existing self-loops stay in
    place but are marked invalid in the returned `edge_mask` (attention
    layers exclude them from their softmax); the new loops are appended.
    With `edge_attr`, a new loop's attributes are `fill_value`: `"mean"`
    (the mean over the node's incoming non-loop edges, 0 if none, as PyG),
    or a number.

    Returns:
        `(edge_index, edge_attr, edge_mask)` of `E + num_nodes` edges;
        `edge_attr` is `None` if it was.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.graph import replace_self_loops
        >>> edges, _, valid = replace_self_loops(np.array([[0, 1], [1, 1]]), 2)
        >>> ops.convert_to_numpy(valid).tolist()
        [True, False, True, True]
    """
    source, target = edge_index[0], edge_index[1]
    valid = ops.not_equal(source, target)
    loops = ops.arange(num_nodes, dtype=edge_index.dtype)
    edge_index = ops.concatenate([edge_index, ops.stack([loops, loops])], 1)
    edge_mask = ops.concatenate([valid, ops.ones((num_nodes,), "bool")], 0)
    if edge_attr is None:
        return edge_index, None, edge_mask
    attr = edge_attr if len(edge_attr.shape) > 1 else edge_attr[:, None]
    if fill_value == "mean":
        kept = ops.where(valid[:, None], attr, ops.zeros_like(attr))
        total = segment_sum(kept, target, num_nodes)
        count = segment_sum(ops.cast(valid, attr.dtype), target, num_nodes)
        loop_attr = total / ops.maximum(count, 1)[:, None]
    else:
        loop_attr = ops.full(
            (num_nodes, attr.shape[-1]), fill_value, dtype=attr.dtype
        )
    attr = ops.concatenate([attr, loop_attr], 0)
    if len(edge_attr.shape) == 1:
        attr = attr[:, 0]
    return edge_index, attr, edge_mask
