"""`GATConv`, the graph attention layer (Velickovic et al.), PyG's semantics."""

import keras
from keras import ops

from kerasbig.graph.layers._attention_conv import AttentionConv
from kerasbig.ops import gather_rows


@keras.saving.register_keras_serializable(package="kerasbig")
class GATConv(AttentionConv):
    """Graph attention layer of Veličković et al., equal to PyG's `GATConv`.

    Per head: `h = x W`, edge score
    `e_ji = LeakyReLU(a_src . h_j + a_dst . h_i [+ a_edge . (e_ji W_e)])`,
    softmax over the edges into `i` (PyG's self-loop handling: existing
    self-loops are replaced by one per node, whose edge features are the
    mean of the node's incoming edge features), attention dropout, then
    `x'_i = sum_j alpha_ji h_j`; heads concatenated (or averaged with
    `concat=False`), plus bias.

    Weights map to PyG's one to one: `kernel` = `lin.weight.T`,
    `attention_source` / `attention_target` = `att_src` / `att_dst` without
    their leading axis, `edge_kernel` = `lin_edge.weight.T`,
    `attention_edge` = `att_edge`, `bias`. Edge features are used when
    `edge_attr` is passed (PyG's `edge_dim`, inferred here).

    Args:
        units: features per head, a positive int.
        heads: attention heads. Defaults to `1`.
        concat: concatenate heads (`True`, default) or average them.
        negative_slope: LeakyReLU slope of the scores. Defaults to `0.2`.
        dropout: dropout rate of the attention coefficients.
        add_self_loops: give every node one self-loop. Defaults to `True`.
        use_bias: add a bias. Defaults to `True`.
        activation: optional activation applied last.
        kernel_initializer: initializer of kernels and attention vectors.
        bias_initializer: initializer of the bias.
        kernel_regularizer: regularizer of kernels and attention vectors.
        bias_regularizer: regularizer of the bias.
        kernel_constraint: constraint on kernels and attention vectors.
        bias_constraint: constraint on the bias.
        seed: optional int seed of the attention dropout.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        x: node features `(N, F)`.
        edge_index: int `(2, E)`, row 0 source, row 1 target.
        edge_attr: optional edge features `(E, D)` or `(E,)`.
        training: whether attention dropout is active.

    Returns:
        `(N, heads * units)` with `concat`, else `(N, units)`.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import GATConv
        >>> x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        >>> edge_index = np.array([[0, 1, 2], [1, 2, 3]])
        >>> tuple(GATConv(8, heads=2)(x, edge_index).shape)
        (4, 16)

    References:
        - [Veličković et al., 2018](https://arxiv.org/abs/1710.10903).
    """

    def _build_projections(self, features, edge_features):
        width = self.heads * self.units
        self.kernel = self.kernel_weight("kernel", (features, width))
        self.attention_source = self.kernel_weight(
            "attention_source", (self.heads, self.units)
        )
        self.attention_target = self.kernel_weight(
            "attention_target", (self.heads, self.units)
        )
        self.edge_kernel = self.attention_edge = None
        if edge_features is not None:
            self.edge_kernel = self.kernel_weight(
                "edge_kernel", (edge_features, width)
            )
            self.attention_edge = self.kernel_weight(
                "attention_edge", (self.heads, self.units)
            )

    def _score(self, x, source, target, edge_attr):
        h = self._heads(ops.matmul(x, self.kernel))  # (N, heads, units)
        score_source = ops.sum(h * self.attention_source, axis=-1)
        score_target = ops.sum(h * self.attention_target, axis=-1)
        logits = gather_rows(score_source, source) + gather_rows(
            score_target, target
        )
        if self.edge_kernel is not None and edge_attr is not None:
            edges = self._heads(ops.matmul(edge_attr, self.edge_kernel))
            logits = logits + ops.sum(edges * self.attention_edge, axis=-1)
        logits = ops.leaky_relu(logits, self.negative_slope)
        return logits, gather_rows(h, source)
