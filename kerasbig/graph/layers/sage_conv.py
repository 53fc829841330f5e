"""`SAGEConv`, GraphSAGE's convolution (Hamilton et al.), PyG's semantics."""

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig._kernel_options import KernelOptions
from kerasbig.graph.layers._inputs import check_node_features
from kerasbig.graph.layers._inputs import node_count
from kerasbig.ops import gather_rows
from kerasbig.ops import segment_max
from kerasbig.ops import segment_mean
from kerasbig.ops import segment_sum

_AGGREGATIONS = {"mean": segment_mean, "max": segment_max, "sum": segment_sum}


@keras.saving.register_keras_serializable(package="kerasbig")
class SAGEConv(KernelOptions, keras.layers.Layer):
    """GraphSAGE layer of Hamilton et al., equal to PyG's `SAGEConv`.

    `x'_i = W_n aggregate_{j -> i} x_j + b + W_r x_i`, with `mean`, `max`
    or `sum` aggregation over the edges into `i` (nodes without incoming
    edges aggregate to 0), the root term optional, then optionally L2
    normalisation of each output row. Weights map to PyG's:
    `neighbor_kernel`/`bias` = `lin_l`, `root_kernel` = `lin_r`.

    Args:
        units: output features, a positive int.
        aggregation: `"mean"` (default), `"max"` or `"sum"`.
        normalize: L2-normalise the outputs. Defaults to `False`.
        root_weight: add the root term `W_r x_i`. Defaults to `True`.
        use_bias: bias of the neighbour term. Defaults to `True`.
        activation: optional activation applied last.
        kernel_initializer: initializer of the kernels.
        bias_initializer: initializer of the bias.
        kernel_regularizer: regularizer of the kernels.
        bias_regularizer: regularizer of the biases.
        kernel_constraint: constraint on the kernels.
        bias_constraint: constraint on the biases.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        x: node features `(N, F)`.
        edge_index: int `(2, E)`, row 0 source, row 1 target.

    Returns:
        `(N, units)` node features.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import SAGEConv
        >>> x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        >>> edge_index = np.array([[0, 1, 2], [1, 2, 3]])
        >>> tuple(SAGEConv(8, aggregation="max")(x, edge_index).shape)
        (4, 8)

    References:
        - [Hamilton et al., 2017](https://arxiv.org/abs/1706.02216).
    """

    def __init__(
        self,
        units,
        aggregation="mean",
        normalize=False,
        root_weight=True,
        use_bias=True,
        activation=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        checks.positive_int("SAGEConv", "units", units)
        checks.one_of("SAGEConv", "aggregation", aggregation, _AGGREGATIONS)
        self.units = units
        self.aggregation = aggregation
        self.normalize = normalize
        self.root_weight = root_weight
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

    def build(self, x_shape, edge_index_shape):
        check_node_features("SAGEConv", x_shape)
        shape = (x_shape[-1], self.units)
        self.neighbor_kernel = self.kernel_weight("neighbor_kernel", shape)
        self.root_kernel = None
        if self.root_weight:
            self.root_kernel = self.kernel_weight("root_kernel", shape)
        self.bias = None
        if self.use_bias:
            self.bias = self.bias_weight("bias", (self.units,))
        self.built = True

    def call(self, x, edge_index):
        num_nodes = node_count("SAGEConv", x, edge_index)
        messages = gather_rows(x, edge_index[0])
        aggregate = _AGGREGATIONS[self.aggregation]
        out = ops.matmul(
            aggregate(messages, edge_index[1], num_nodes), self.neighbor_kernel
        )
        if self.bias is not None:
            out = out + self.bias
        if self.root_kernel is not None:
            out = out + ops.matmul(x, self.root_kernel)
        if self.normalize:
            norm = ops.sqrt(ops.sum(ops.square(out), axis=-1, keepdims=True))
            out = out / ops.maximum(norm, 1e-12)
        return self.activation(out)

    def compute_output_shape(self, x_shape, edge_index_shape):
        return (x_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "aggregation": self.aggregation,
                "normalize": self.normalize,
                "root_weight": self.root_weight,
                "use_bias": self.use_bias,
                "activation": keras.activations.serialize(self.activation),
                **self.kernel_options_config(),
            }
        )
        return config
