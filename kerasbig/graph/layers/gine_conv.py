"""`GINEConv`, GIN with edge features (Hu et al.), PyG's semantics."""

import keras

from kerasbig.graph.layers.gin_conv import GINConv


@keras.saving.register_keras_serializable(package="kerasbig")
class GINEConv(GINConv):
    """GIN with edge features (Hu et al.), equal to PyG's `GINEConv`.

    `x'_i = mlp((1 + eps) x_i + sum_{j -> i} ReLU(x_j + e_ji))`, where the
    edge features `e_ji` pass through a dense layer to the node width when
    `edge_dim` is given. The same layer as `GINConv` called with edge
    features, except that `edge_attr` is required.

    Args:
        mlp: any Keras layer or model (PyG's `nn`).
        eps: initial epsilon. Defaults to `0.0`.
        train_eps: learn epsilon. Defaults to `False`.
        edge_dim: width of the edge features to project; `None` uses them
            as they are (they must then have the node width).
        kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, kernel_constraint, bias_constraint: options
            of the `edge_dim` projection's kernel and bias, as in
            `keras.layers.Dense`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        x: node features `(N, F)`.
        edge_index: int `(2, E)`, row 0 source, row 1 target.
        edge_attr: edge features `(E, D)`.

    Returns:
        `mlp` applied to `(N, F)` aggregated features.

    Example:

        >>> import keras
        >>> import numpy as np
        >>> from kerasbig.graph import GINEConv
        >>> x = np.ones((4, 3), "float32")
        >>> edge_index = np.array([[0, 1, 2], [1, 2, 3]])
        >>> edge_attr = np.ones((3, 2), "float32")
        >>> layer = GINEConv(keras.layers.Dense(8), edge_dim=2)
        >>> tuple(layer(x, edge_index, edge_attr).shape)
        (4, 8)
    """

    def call(self, x, edge_index, edge_attr=None):
        if edge_attr is None:
            raise ValueError(
                "GINEConv: `edge_attr` (edge features of shape (E, D)) is "
                "required; use GINConv for graphs without edge features. "
                "Received: edge_attr=None"
            )
        return super().call(x, edge_index, edge_attr)
