"""What `GATConv` and `GATv2Conv` share: arguments, self-loops, the
per-target softmax with dropout, aggregation, head concat/mean and bias."""

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig._kernel_options import KernelOptions
from kerasbig.graph.layers._inputs import check_node_features
from kerasbig.graph.layers._inputs import node_count
from kerasbig.graph.ops import replace_self_loops
from kerasbig.ops import segment_softmax
from kerasbig.ops import segment_sum


class AttentionConv(KernelOptions, keras.layers.Layer):
    """Base of the graph attention layers; subclasses build their
    projections in `_build_projections(features, edge_features)` and score
    edges in `_score(x, source, target, edge_attr)`, returning the logits
    `(E, heads)` and the messages `(E, heads, units)`."""

    def __init__(
        self,
        units,
        heads=1,
        concat=True,
        negative_slope=0.2,
        dropout=0.0,
        add_self_loops=True,
        use_bias=True,
        activation=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        checks.positive_int(owner, "units", units)
        checks.positive_int(owner, "heads", heads)
        checks.rate(owner, "dropout", dropout)
        self.units = units
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.use_bias = use_bias
        self.activation = keras.activations.get(activation)
        self.set_kernel_options(
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            kernel_constraint,
            bias_constraint,
        )
        self.seed = seed

    def build(self, x_shape, edge_index_shape, edge_attr_shape=None):
        check_node_features(type(self).__name__, x_shape)
        edge_features = None
        if edge_attr_shape is not None:
            edge_features = (
                1 if len(edge_attr_shape) == 1 else edge_attr_shape[-1]
            )
        self._build_projections(x_shape[-1], edge_features)
        self.bias = None
        if self.use_bias:
            width = self.heads * self.units if self.concat else self.units
            self.bias = self.bias_weight("bias", (width,))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout,
            seed=self.seed,
            dtype=self.dtype_policy,
            name="dropout",
        )
        self.built = True

    def call(self, x, edge_index, edge_attr=None, training=None):
        num_nodes = node_count(
            type(self).__name__, x, edge_index, edge_attr=edge_attr
        )
        valid = None
        if self.add_self_loops:
            edge_index, edge_attr, valid = replace_self_loops(
                edge_index, num_nodes, edge_attr
            )
        if edge_attr is not None and len(edge_attr.shape) == 1:
            edge_attr = edge_attr[:, None]
        source, target = edge_index[0], edge_index[1]
        logits, messages = self._score(x, source, target, edge_attr)
        if valid is not None:
            # Replaced self-loops take no part in the softmax.
            logits = ops.where(valid[:, None], logits, -1e9)
        weights = segment_softmax(logits, target, num_nodes)
        weights = self.dropout_layer(weights, training=training)
        out = segment_sum(messages * weights[..., None], target, num_nodes)
        if self.concat:
            out = ops.reshape(out, (-1, self.heads * self.units))
        else:
            out = ops.mean(out, axis=1)
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def _heads(self, x):
        return ops.reshape(x, (-1, self.heads, self.units))

    def compute_output_shape(
        self, x_shape, edge_index_shape, edge_attr_shape=None
    ):
        width = self.heads * self.units if self.concat else self.units
        return (x_shape[0], width)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "heads": self.heads,
                "concat": self.concat,
                "negative_slope": self.negative_slope,
                "dropout": self.dropout,
                "add_self_loops": self.add_self_loops,
                "use_bias": self.use_bias,
                "activation": keras.activations.serialize(self.activation),
                **self.kernel_options_config(),
                "seed": self.seed,
            }
        )
        return config
