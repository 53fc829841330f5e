"""What the graph readouts share: per-graph segment reductions."""

import keras
from keras import ops


class GlobalPool(keras.layers.Layer):
    """Base of the readouts: subclasses define `_reduce(x, graph_index,
    num_graphs)`."""

    def call(self, x, graph_index=None, num_graphs=None):
        if graph_index is None:
            graph_index = ops.zeros((ops.shape(x)[0],), dtype="int32")
            num_graphs = 1
        num_graphs = self._num_graphs(graph_index, num_graphs)
        return self._reduce(x, graph_index, num_graphs)

    def _num_graphs(self, graph_index, num_graphs):
        if num_graphs is None:
            raise self._needs_num_graphs()
        return num_graphs

    def _needs_num_graphs(self):
        # Never counted from `graph_index`: reading its values is a copy
        # from the device to the host on every call.
        return ValueError(
            f"{type(self).__name__}: pass `num_graphs` (a Python int, e.g. "
            "GraphBatch.num_graphs) with `graph_index`. Received: "
            "num_graphs=None"
        )

    def compute_output_shape(self, x_shape, graph_index_shape=None):
        return (None,) + tuple(x_shape[1:])

    def compute_output_spec(self, x, graph_index=None, num_graphs=None):
        if graph_index is not None and num_graphs is None:
            raise self._needs_num_graphs()
        graphs = 1 if graph_index is None else num_graphs
        return keras.KerasTensor((graphs,) + self._row_shape(x), dtype=x.dtype)

    def _row_shape(self, x):
        """The shape of one pooled row for node features `x`."""
        return tuple(x.shape[1:])
