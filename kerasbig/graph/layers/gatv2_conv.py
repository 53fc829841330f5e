"""`GATv2Conv`, dynamic graph attention (Brody et al.), PyG's semantics."""

import keras
from keras import ops

from kerasbig.graph.layers._attention_conv import AttentionConv
from kerasbig.ops import gather_rows


@keras.saving.register_keras_serializable(package="kerasbig")
class GATv2Conv(AttentionConv):
    """Dynamic graph attention (GATv2) of Brody et al., equal to PyG's
    `GATv2Conv`.

    Per head: `h_l = x W_l + b_l`, `h_r = x W_r + b_r` (the same with
    `share_weights`), edge score
    `e_ji = a . LeakyReLU(h_l[j] + h_r[i] [+ e_ji W_e])`, softmax over the
    edges into `i` (self-loops as in `GATConv`), attention dropout, then
    `x'_i = sum_j alpha_ji h_l[j]`; heads concatenated or averaged, plus
    bias.

    Weights map to PyG's: `kernel_source`/`bias_source` = `lin_l`,
    `kernel_target`/`bias_target` = `lin_r` (transposed kernels),
    `attention` = `att`, `edge_kernel` = `lin_edge.weight.T`, `bias`.

    Args:
        units: features per head, a positive int.
        share_weights: one projection for source and target nodes.
            Defaults to `False`.
        **kwargs: the other arguments of `GATConv` (`heads`, `concat`,
            `negative_slope`, `dropout`, `add_self_loops`, `use_bias`,
            which here also covers the two projections' biases,
            `activation`, `kernel_initializer`, `bias_initializer`,
            `kernel_regularizer`, `bias_regularizer`, `kernel_constraint`,
            `bias_constraint`, `seed`) and base layer arguments.

    Call arguments:
        x: node features `(N, F)`.
        edge_index: int `(2, E)`, row 0 source, row 1 target.
        edge_attr: optional edge features `(E, D)` or `(E,)`.
        training: whether attention dropout is active.

    Returns:
        `(N, heads * units)` with `concat`, else `(N, units)`.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import GATv2Conv
        >>> x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        >>> edge_index = np.array([[0, 1, 2], [1, 2, 3]])
        >>> tuple(GATv2Conv(8, heads=2, concat=False)(x, edge_index).shape)
        (4, 8)

    References:
        - [Brody et al., 2022](https://arxiv.org/abs/2105.14491).
    """

    def __init__(self, units, share_weights=False, **kwargs):
        super().__init__(units, **kwargs)
        self.share_weights = share_weights

    def _build_projections(self, features, edge_features):
        width = self.heads * self.units
        self.kernel_source = self.kernel_weight(
            "kernel_source", (features, width)
        )
        self.bias_source = self.bias_target = None
        if self.use_bias:
            self.bias_source = self.bias_weight("bias_source", (width,))
        if self.share_weights:
            self.kernel_target = self.kernel_source
            self.bias_target = self.bias_source
        else:
            self.kernel_target = self.kernel_weight(
                "kernel_target", (features, width)
            )
            if self.use_bias:
                self.bias_target = self.bias_weight("bias_target", (width,))
        self.attention = self.kernel_weight(
            "attention", (self.heads, self.units)
        )
        self.edge_kernel = None
        if edge_features is not None:
            self.edge_kernel = self.kernel_weight(
                "edge_kernel", (edge_features, width)
            )

    def _project(self, x, kernel, bias):
        h = ops.matmul(x, kernel)
        return self._heads(h if bias is None else h + bias)

    def _score(self, x, source, target, edge_attr):
        h_source = self._project(x, self.kernel_source, self.bias_source)
        h_target = self._project(x, self.kernel_target, self.bias_target)
        messages = gather_rows(h_source, source)
        hidden = messages + gather_rows(h_target, target)
        if self.edge_kernel is not None and edge_attr is not None:
            hidden = hidden + self._heads(
                ops.matmul(edge_attr, self.edge_kernel)
            )
        hidden = ops.leaky_relu(hidden, self.negative_slope)
        return ops.sum(hidden * self.attention, axis=-1), messages

    def get_config(self):
        config = super().get_config()
        config["share_weights"] = self.share_weights
        return config
