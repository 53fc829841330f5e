"""`GINConv`, the graph isomorphism layer (Xu et al.), PyG's semantics."""

import keras
from keras import ops

from kerasbig._kernel_options import KernelOptions
from kerasbig.graph.layers._inputs import check_node_features
from kerasbig.graph.layers._inputs import node_count
from kerasbig.ops import gather_rows
from kerasbig.ops import segment_sum


@keras.saving.register_keras_serializable(package="kerasbig")
class GINConv(KernelOptions, keras.layers.Layer):
    """Graph isomorphism network layer of Xu et al., equal to PyG's
    `GINConv`, and with `edge_dim` or edge features its `GINEConv` form.

    `x'_i = mlp((1 + eps) x_i + sum_{j -> i} m_ji)` with `m_ji = x_j`, or
    with edge features `m_ji = ReLU(x_j + e_ji)` (GINE; `e_ji` first goes
    through a dense layer when `edge_dim` is given, PyG's `lin`). `eps` is
    a weight: trained with `train_eps=True`, fixed otherwise.

    Args:
        mlp: any Keras layer or model applied to the aggregated features
            (PyG's `nn`), e.g. a `keras.Sequential` of dense layers.
        eps: initial epsilon. Defaults to `0.0`.
        train_eps: learn epsilon. Defaults to `False`.
        edge_dim: width of the edge features to project to the node width;
            `None` (default) uses edge features as they are (their width
            must then equal the node width).
        kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, kernel_constraint, bias_constraint: options
            of the `edge_dim` projection's kernel and bias, as in
            `keras.layers.Dense`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        x: node features `(N, F)`.
        edge_index: int `(2, E)`, row 0 source, row 1 target.
        edge_attr: optional edge features `(E, D)`: the GINE message.

    Returns:
        `mlp` applied to `(N, F)` aggregated features.

    Example:

        >>> import keras
        >>> import numpy as np
        >>> from kerasbig.graph import GINConv
        >>> mlp = keras.Sequential([
        ...     keras.layers.Dense(16, activation="relu"),
        ...     keras.layers.Dense(8),
        ... ])
        >>> x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        >>> edge_index = np.array([[0, 1, 2], [1, 2, 3]])
        >>> tuple(GINConv(mlp, train_eps=True)(x, edge_index).shape)
        (4, 8)

    References:
        - [Xu et al., 2019](https://arxiv.org/abs/1810.00826): GIN.
        - [Hu et al., 2020](https://arxiv.org/abs/1905.12265): GINE.
    """

    def __init__(
        self,
        mlp,
        eps=0.0,
        train_eps=False,
        edge_dim=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(mlp, keras.layers.Layer):
            raise ValueError(
                "GINConv: `mlp` must be a Keras layer or model. Received: "
                f"mlp={mlp!r}"
            )
        self.mlp = mlp
        self.eps = eps
        self.train_eps = train_eps
        self.edge_dim = edge_dim
        self.set_kernel_options(
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            kernel_constraint,
            bias_constraint,
        )

    def build(self, x_shape, edge_index_shape, edge_attr_shape=None):
        check_node_features(type(self).__name__, x_shape)
        features = x_shape[-1]
        self.epsilon = self.add_weight(
            name="epsilon",
            shape=(),
            initializer=keras.initializers.Constant(self.eps),
            trainable=self.train_eps,
        )
        self.edge_projection = None
        if self.edge_dim is not None:
            self.edge_projection = keras.layers.Dense(
                features,
                dtype=self.dtype_policy,
                name="edge_projection",
                **self.kernel_options(),
            )
            self.edge_projection.build((None, self.edge_dim))
        elif edge_attr_shape is not None and edge_attr_shape[-1] != features:
            raise ValueError(
                "GINConv: edge features must have the node width "
                f"({features}) when `edge_dim` is None; set `edge_dim` to "
                "project them. Received: edge_attr with "
                f"shape {tuple(edge_attr_shape)}"
            )
        if not self.mlp.built:  # an mlp from a config arrives built
            self.mlp.build(tuple(x_shape))
        self.built = True

    def call(self, x, edge_index, edge_attr=None):
        num_nodes = node_count(
            type(self).__name__, x, edge_index, edge_attr=edge_attr
        )
        messages = gather_rows(x, edge_index[0])
        if edge_attr is not None:
            if self.edge_projection is not None:
                edge_attr = self.edge_projection(edge_attr)
            messages = ops.relu(messages + ops.cast(edge_attr, messages.dtype))
        out = segment_sum(messages, edge_index[1], num_nodes)
        out = out + (1.0 + ops.cast(self.epsilon, x.dtype)) * x
        return self.mlp(out)

    def compute_output_spec(self, x, edge_index, edge_attr=None):
        return self.mlp.compute_output_spec(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mlp": keras.saving.serialize_keras_object(self.mlp),
                "eps": self.eps,
                "train_eps": self.train_eps,
                "edge_dim": self.edge_dim,
                **self.kernel_options_config(),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["mlp"] = keras.saving.deserialize_keras_object(config["mlp"])
        return cls(**config)
