"""`GCNConv`, the graph convolution of Kipf & Welling, PyG's semantics."""

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig._kernel_options import KernelOptions
from kerasbig.graph.layers._inputs import check_node_features
from kerasbig.graph.layers._inputs import node_count
from kerasbig.graph.ops import add_remaining_self_loops
from kerasbig.graph.ops import gcn_norm
from kerasbig.ops import gather_rows
from kerasbig.ops import segment_sum


@keras.saving.register_keras_serializable(package="kerasbig")
class GCNConv(KernelOptions, keras.layers.Layer):
    """Graph convolution of Kipf & Welling, equal to PyG's `GCNConv`.

    `x'_i = sum_{j -> i} w_ji / sqrt(d_j d_i) * (x_j W) + b`, over the
    edges into node `i` plus a self-loop per node (weight 1, or 2 with
    `improved`; an existing self-loop keeps its weight), where `d` are the
    weighted in-degrees including the self-loops. The kernel is applied
    before aggregation and has no bias; the bias is added after, as in
    PyG, so weights copy over one to one (`lin.weight.T`, `bias`).

    One deliberate difference: PyG ignores `improved` when no edge weights
    are given (its self-loops then weigh 1); here `improved` always gives
    the self-loops weight 2, as in the formula.

    Args:
        units: output features per node, a positive int.
        improved: self-loops of weight 2 (`A + 2I`). Defaults to `False`.
        add_self_loops: add the self-loops; defaults to `normalize` (as
            PyG). Unlike PyG, `True` also works without normalisation.
        normalize: apply the symmetric normalisation; if `False`, sum the
            (weighted) messages as they are. Defaults to `True`.
        use_bias: add a bias. Defaults to `True`.
        activation: optional activation applied last.
        kernel_initializer: initializer of the kernel.
        bias_initializer: initializer of the bias.
        kernel_regularizer: regularizer of the kernels.
        bias_regularizer: regularizer of the biases.
        kernel_constraint: constraint on the kernels.
        bias_constraint: constraint on the biases.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        x: node features `(N, F)`.
        edge_index: int `(2, E)`, row 0 source, row 1 target.
        edge_weight: optional float `(E,)` edge weights.

    Returns:
        `(N, units)` node features.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import GCNConv
        >>> x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        >>> edge_index = np.array([[0, 1, 2], [1, 2, 3]])
        >>> tuple(GCNConv(8)(x, edge_index).shape)
        (4, 8)

    References:
        - [Kipf & Welling, 2017](https://arxiv.org/abs/1609.02907).
    """

    def __init__(
        self,
        units,
        improved=False,
        add_self_loops=None,
        normalize=True,
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
        checks.positive_int("GCNConv", "units", units)
        self.units = units
        self.improved = improved
        self.add_self_loops = add_self_loops
        self.normalize = normalize
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

    def build(self, x_shape, edge_index_shape, edge_weight_shape=None):
        check_node_features("GCNConv", x_shape)
        self.kernel = self.kernel_weight("kernel", (x_shape[-1], self.units))
        self.bias = None
        if self.use_bias:
            self.bias = self.bias_weight("bias", (self.units,))
        self.built = True

    def call(self, x, edge_index, edge_weight=None):
        num_nodes = node_count(
            "GCNConv", x, edge_index, edge_weight=edge_weight
        )
        h = ops.matmul(x, self.kernel)
        if edge_weight is not None:
            edge_weight = ops.cast(edge_weight, h.dtype)
        add_loops = (
            self.normalize
            if self.add_self_loops is None
            else self.add_self_loops
        )
        if self.normalize:
            edge_index, edge_weight = gcn_norm(
                edge_index,
                num_nodes,
                edge_weight,
                improved=self.improved,
                add_self_loops=add_loops,
            )
        elif add_loops:
            edge_index, edge_weight = add_remaining_self_loops(
                edge_index,
                num_nodes,
                edge_weight,
                2.0 if self.improved else 1.0,
            )
        messages = gather_rows(h, edge_index[0])
        if edge_weight is not None:
            messages = messages * ops.expand_dims(
                ops.cast(edge_weight, h.dtype), -1
            )
        out = segment_sum(messages, edge_index[1], num_nodes)
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def compute_output_shape(
        self, x_shape, edge_index_shape, edge_weight_shape=None
    ):
        return (x_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "improved": self.improved,
                "add_self_loops": self.add_self_loops,
                "normalize": self.normalize,
                "use_bias": self.use_bias,
                "activation": keras.activations.serialize(self.activation),
                **self.kernel_options_config(),
            }
        )
        return config
