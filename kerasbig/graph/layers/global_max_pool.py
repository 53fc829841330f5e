"""`GlobalMaxPool`: each graph's node-wise maximum."""

import keras

from kerasbig.graph.layers._global_pool import GlobalPool
from kerasbig.ops import segment_max


@keras.saving.register_keras_serializable(package="kerasbig")
class GlobalMaxPool(GlobalPool):
    """Graph readout: the maximum of node features per graph, as PyG's
    `global_max_pool` (0 for a graph with no nodes).

    Call arguments:
        x: node features `(N, F)` of one graph or of a disjoint batch.
        graph_index: optional int `(N,)`, the graph of each node (PyG's
            `batch`); all nodes form one graph when omitted.
        num_graphs: number of graphs; needed when `graph_index` is
            symbolic (a functional model) or traced (jit), otherwise
            `max(graph_index) + 1`.

    Returns:
        `(num_graphs, F)` graph features.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.graph import GlobalMaxPool
        >>> x = np.array([[1.0], [2.0], [6.0]], "float32")
        >>> out = GlobalMaxPool()(x, np.array([0, 0, 1]), num_graphs=2)
        >>> ops.convert_to_numpy(out).ravel().tolist()
        [2.0, 6.0]
    """

    def _reduce(self, x, graph_index, num_graphs):
        return segment_max(x, graph_index, num_graphs)
