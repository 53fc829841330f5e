"""Input checks shared by the graph layers."""

from keras import ops

from kerasbig.graph.ops import check_edge_index


def check_node_features(owner, x_shape):
    """For `build`: `x` must be `(num_nodes, features)`, features known."""
    if len(x_shape) != 2 or x_shape[-1] is None:
        raise ValueError(
            f"{owner}: `x` must have shape (num_nodes, features) with known "
            f"features. Received: x_shape={tuple(x_shape)}"
        )


def node_count(owner, x, edge_index, **edge_arrays):
    """For `call`: checks the shape and dtype of `edge_index` (and that
    each of `edge_arrays`, e.g. `edge_weight=`, has one row per edge) and
    returns the number of nodes (a Python int when static, as JAX needs
    for segment ops). Only shapes are read: node ids are not
    range-checked here, since reading them is a device-to-host copy per
    layer per step; `GraphBatch` checks them once, where the graph
    enters."""
    check_edge_index(owner, edge_index)
    num_edges = edge_index.shape[1]
    for name, array in edge_arrays.items():
        if array is None:
            continue
        rows = array.shape[0] if len(array.shape) else None
        if rows is not None and num_edges is not None and rows != num_edges:
            raise ValueError(
                f"{owner}: `{name}` must have one row per edge of "
                f"`edge_index` ({num_edges}). Received: {name}.shape="
                f"{tuple(array.shape)}"
            )
    return x.shape[0] if x.shape[0] is not None else ops.shape(x)[0]
