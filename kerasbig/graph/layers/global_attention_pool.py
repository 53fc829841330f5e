"""`GlobalAttentionPool`: a gated, attention-weighted sum of each graph's
nodes."""

import keras

from kerasbig.graph.layers._global_pool import GlobalPool
from kerasbig.ops import segment_softmax
from kerasbig.ops import segment_sum


@keras.saving.register_keras_serializable(package="kerasbig")
class GlobalAttentionPool(GlobalPool):
    """Graph readout with soft attention (Li et al.), equal to PyG's
    `AttentionalAggregation(gate_nn, nn)`.

    `r_g = sum_{i in g} softmax_g(gate(x_i)) * f(x_i)`: the gate scores
    `(N, 1)` (or one per feature) are normalised over each graph's nodes.

    Args:
        gate: Keras layer giving scores `(N, 1)` or `(N, F')` from `x`.
        feature: optional Keras layer applied to `x` before weighting
            (PyG's `nn`); identity when `None`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        x: node features `(N, F)`.
        graph_index: optional int `(N,)`, the graph of each node.
        num_graphs: number of graphs (see `GlobalSumPool`).

    Returns:
        `(num_graphs, F)` (or the width of `feature`).

    Example:

        >>> import keras
        >>> import numpy as np
        >>> from kerasbig.graph import GlobalAttentionPool
        >>> pool = GlobalAttentionPool(keras.layers.Dense(1))
        >>> x = np.ones((5, 4), "float32")
        >>> tuple(pool(x, np.array([0, 0, 1, 1, 1]), num_graphs=2).shape)
        (2, 4)

    References:
        - [Li et al., 2016](https://arxiv.org/abs/1511.05493): gated graph
          sequence networks.
    """

    def __init__(self, gate, feature=None, **kwargs):
        super().__init__(**kwargs)
        for name, layer in (("gate", gate), ("feature", feature)):
            if layer is not None and not isinstance(layer, keras.layers.Layer):
                raise ValueError(
                    f"GlobalAttentionPool: `{name}` must be a Keras layer. "
                    f"Received: {name}={layer!r}"
                )
        self.gate = gate
        self.feature = feature

    def build(self, x_shape, graph_index_shape=None):
        # Layers from a config arrive built.
        for layer in (self.gate, self.feature):
            if layer is not None and not layer.built:
                layer.build(tuple(x_shape))
        self.built = True

    def _reduce(self, x, graph_index, num_graphs):
        scores = segment_softmax(self.gate(x), graph_index, num_graphs)
        values = x if self.feature is None else self.feature(x)
        return segment_sum(scores * values, graph_index, num_graphs)

    def compute_output_shape(self, x_shape, graph_index_shape=None):
        if self.feature is None:
            return super().compute_output_shape(x_shape, graph_index_shape)
        return (None,) + tuple(self.feature.compute_output_shape(x_shape)[1:])

    def _row_shape(self, x):
        if self.feature is None:
            return tuple(x.shape[1:])
        return tuple(self.feature.compute_output_spec(x).shape[1:])

    def get_config(self):
        config = super().get_config()
        config["gate"] = keras.saving.serialize_keras_object(self.gate)
        config["feature"] = (
            None
            if self.feature is None
            else keras.saving.serialize_keras_object(self.feature)
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("gate", "feature"):
            if config[name] is not None:
                config[name] = keras.saving.deserialize_keras_object(
                    config[name]
                )
        return cls(**config)
