"""`RGCNConv`, the relational graph convolution (Schlichtkrull et al.), PyG's
semantics."""

import keras
from keras import ops

from kerasbig import _backend
from kerasbig import _validation as checks
from kerasbig._kernel_options import KernelOptions
from kerasbig.graph.layers._inputs import node_count
from kerasbig.ops import gather_rows
from kerasbig.ops import segment_max
from kerasbig.ops import segment_mean
from kerasbig.ops import segment_sum
from kerasbig.ops import sparse_matmul

_AGGREGATIONS = {"mean": segment_mean, "max": segment_max, "sum": segment_sum}


@keras.saving.register_keras_serializable(package="kerasbig")
class RGCNConv(KernelOptions, keras.layers.Layer):
    """Relational graph convolution of Schlichtkrull et al., equal to PyG's
    `RGCNConv`.

    `x'_i = W_0 x_i + sum_r W_r aggregate_{j -r-> i} x_j + b`: each edge
    has a relation type, each relation its own kernel `W_r`, and the
    aggregation (`mean` by default, so `1 / c_{i,r}` with `c_{i,r}` the
    number of relation-`r` edges into `i`) runs per relation; a node with
    no edges of a relation gets nothing from it. The kernels can share
    `num_bases` bases (`W_r = sum_b a_rb V_b`) or be block-diagonal with
    `num_blocks` blocks. Weights map to PyG's: `kernel` / `bases` /
    `blocks` = `weight`, `coefficients` = `comp`, `root_kernel` = `root`.

    With `num_bases` and the `mean` or `sum` aggregation, messages pass
    per edge, one basis at a time (`kerasbig.ops.sparse_matmul`), so a
    training step's memory grows with the edges: `(E, F)` and `(N, F)`
    tensors. Plain and block-diagonal kernels and `max` aggregate per
    relation first, an `(N, num_relations, F)` tensor.

    Node features `x` are `(N, F)` floats, or, featureless, `(N,)` int
    node ids (PyG's `x=None` is `x = arange(N)`): then the kernels have
    one row per id (`input_dim` of them) and `W_r x_j` is row `x_j` of
    `W_r`, a learned embedding per relation.

    Args:
        units: output features, a positive int.
        num_relations: relation types; `edge_type` holds `0 ..
            num_relations - 1`.
        num_bases: optional, basis decomposition with this many bases.
        num_blocks: optional, block-diagonal decomposition with this many
            blocks (dividing the input features and `units`; not with node
            ids).
        aggregation: `"mean"` (default), `"sum"` or `"max"`, per relation.
        root_weight: add the root term `W_0 x_i`. Defaults to `True`.
        use_bias: add a bias. Defaults to `True`.
        input_dim: with node ids as `x`, the number of ids.
        activation: optional activation applied last.
        kernel_initializer: initializer of the kernels, bases, blocks and
            coefficients.
        bias_initializer: initializer of the bias.
        kernel_regularizer: regularizer of those weights.
        bias_regularizer: regularizer of the bias.
        kernel_constraint: constraint on those weights.
        bias_constraint: constraint on the bias.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        x: node features `(N, F)`, or int node ids `(N,)`.
        edge_index: int `(2, E)`, row 0 source, row 1 target.
        edge_type: int `(E,)`, the relation of each edge.

    Returns:
        `(N, units)` node features.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import RGCNConv
        >>> x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
        >>> edge_index = np.array([[0, 1, 2, 3], [1, 2, 3, 0]])
        >>> edge_type = np.array([0, 1, 1, 2])
        >>> layer = RGCNConv(8, num_relations=3, num_bases=2)
        >>> tuple(layer(x, edge_index, edge_type).shape)
        (4, 8)
        >>> ids = np.arange(4)  # featureless: one embedding per node
        >>> tuple(RGCNConv(8, 3, input_dim=4)(ids, edge_index, edge_type).shape)
        (4, 8)

    References:
        - [Schlichtkrull et al., 2018](https://arxiv.org/abs/1703.06103).
    """

    def __init__(
        self,
        units,
        num_relations,
        num_bases=None,
        num_blocks=None,
        aggregation="mean",
        root_weight=True,
        use_bias=True,
        input_dim=None,
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
        owner = "RGCNConv"
        checks.positive_int(owner, "units", units)
        checks.positive_int(owner, "num_relations", num_relations)
        checks.positive_int(owner, "num_bases", num_bases, allow_none=True)
        checks.divisor(owner, "num_blocks", num_blocks, "units", units)
        checks.positive_int(owner, "input_dim", input_dim, allow_none=True)
        checks.one_of(owner, "aggregation", aggregation, _AGGREGATIONS)
        if num_bases is not None and num_blocks is not None:
            raise ValueError(
                f"{owner}: pass `num_bases` or `num_blocks`, not both. "
                f"Received: num_bases={num_bases}, num_blocks={num_blocks}"
            )
        self.units = units
        self.num_relations = num_relations
        self.num_bases = num_bases
        self.num_blocks = num_blocks
        self.aggregation = aggregation
        self.root_weight = root_weight
        self.use_bias = use_bias
        self.input_dim = input_dim
        self.activation = keras.activations.get(activation)
        self.set_kernel_options(
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            kernel_constraint,
            bias_constraint,
        )

    def build(self, x_shape, edge_index_shape, edge_type_shape):
        owner = "RGCNConv"
        self.featureless = len(x_shape) == 1
        if self.featureless:
            if self.input_dim is None:
                raise ValueError(
                    f"{owner}: node ids as `x` (shape (num_nodes,)) need "
                    "`input_dim`, the number of ids. Received: "
                    f"x_shape={tuple(x_shape)}, input_dim=None"
                )
            if self.num_blocks is not None:
                raise ValueError(
                    f"{owner}: `num_blocks` needs float node features; node "
                    f"ids as `x` take `num_bases` or neither. Received: "
                    f"x_shape={tuple(x_shape)}, num_blocks={self.num_blocks}"
                )
            features = self.input_dim
        elif len(x_shape) != 2 or x_shape[-1] is None:
            raise ValueError(
                f"{owner}: `x` must be float features (num_nodes, features) "
                f"or int node ids (num_nodes,). Received: "
                f"x_shape={tuple(x_shape)}"
            )
        else:
            features = x_shape[-1]
        relations, units = self.num_relations, self.units
        if self.num_bases is not None:
            self.bases = self.kernel_weight(
                "bases", (self.num_bases, features, units)
            )
            self.coefficients = self.kernel_weight(
                "coefficients", (relations, self.num_bases)
            )
        elif self.num_blocks is not None:
            blocks = self.num_blocks
            if features % blocks:
                raise ValueError(
                    f"{owner}: `num_blocks` must divide the input features "
                    f"({features}) and `units`. Received: "
                    f"num_blocks={blocks}"
                )
            self.blocks = self.kernel_weight(
                "blocks",
                (relations, blocks, features // blocks, units // blocks),
            )
        else:
            self.kernel = self.kernel_weight(
                "kernel", (relations, features, units)
            )
        self.root_kernel = None
        if self.root_weight:
            self.root_kernel = self.kernel_weight(
                "root_kernel", (features, units)
            )
        self.bias = None
        if self.use_bias:
            self.bias = self.bias_weight("bias", (units,))
        self.built = True

    def relation_kernels(self):
        """The `(num_relations, features, units)` kernels `W_r` (for
        block-diagonal ones, the blocks `(num_relations, blocks, features
        / blocks, units / blocks)`)."""
        if self.num_bases is not None:
            return ops.einsum("rb,bfo->rfo", self.coefficients, self.bases)
        if self.num_blocks is not None:
            return self.blocks
        return self.kernel

    def call(self, x, edge_index, edge_type):
        num_nodes = node_count("RGCNConv", x, edge_index, edge_type=edge_type)
        source, target = edge_index[0], edge_index[1]
        edge_type = ops.cast(edge_type, "int32")
        relations = self.num_relations
        # One segment per (target node, relation).
        segments = ops.cast(target, "int32") * relations + edge_type
        aggregate = _AGGREGATIONS[self.aggregation]
        if self.featureless:
            kernels = self.relation_kernels()
            ids = ops.cast(x, "int32")
            # W_r x_j is row x_j of W_r: gather it for each edge.
            messages = ops.take(
                ops.reshape(kernels, (-1, self.units)),
                edge_type * self.input_dim + gather_rows(ids, source),
                axis=0,
            )
            if self.aggregation == "max":
                per_relation = aggregate(
                    messages, segments, num_nodes * relations
                )
                out = ops.sum(
                    ops.reshape(per_relation, (-1, relations, self.units)),
                    axis=1,
                )
            else:  # linear: sum the messages straight into each node
                norm = self._mean_norm(segments, num_nodes, messages.dtype)
                if norm is not None:
                    messages = messages * ops.expand_dims(norm, -1)
                out = segment_sum(
                    messages, ops.cast(target, "int32"), num_nodes
                )
        elif self.num_bases is not None and self.aggregation != "max":
            out = self._basis_messages(
                x, source, target, edge_type, segments, num_nodes
            )
        else:
            # Aggregate per relation first, then apply W_r: equal for the
            # linear mean and sum, and PyG's order for max.
            gathered = aggregate(
                gather_rows(x, source), segments, num_nodes * relations
            )
            features = ops.shape(x)[-1]
            kernels = self.relation_kernels()
            if self.num_blocks is None:
                gathered = ops.reshape(gathered, (-1, relations, features))
                out = ops.einsum("nrf,rfo->no", gathered, kernels)
            else:
                blocks = self.num_blocks
                gathered = ops.reshape(
                    gathered, (-1, relations, blocks, features // blocks)
                )
                out = ops.reshape(
                    ops.einsum("nrbi,rbio->nbo", gathered, kernels),
                    (-1, self.units),
                )
        if self.root_kernel is not None:
            if self.featureless:
                out = out + ops.take(self.root_kernel, ids, axis=0)
            else:
                out = out + ops.matmul(x, self.root_kernel)
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def _mean_norm(self, segments, nodes, dtype):
        """Per edge, `1 / c_{i,r}` (the number of edges of its relation
        into its target) for the mean; None for the sum."""
        if self.aggregation != "mean":
            return None
        ones = ops.ones_like(segments, dtype="float32")
        counts = segment_sum(ones, segments, nodes * self.num_relations)
        return ops.cast(1.0 / gather_rows(counts, segments), dtype)

    def _basis_messages(self, x, source, target, edge_type, segments, nodes):
        """`sum_r W_r aggregate_r(x)` for basis kernels in memory that
        grows with the edges: with `W_r = sum_b a_rb V_b` it is `sum_b
        (sum_e w_eb x_{source_e}) V_b` over the edges `e` into each node,
        `w_eb = a_{r_e b}` (over `c_{i,r}` for the mean). One basis at a
        time, so the step holds `(E, F)` and `(N, F)` tensors and never
        the `(N, num_relations, F)` per-relation aggregates (12.6 GiB on
        a graph of FB15k-237's size)."""
        weights = gather_rows(self.coefficients, edge_type)
        norm = self._mean_norm(segments, nodes, weights.dtype)
        if norm is not None:
            weights = weights * ops.expand_dims(norm, -1)
        bases = ops.convert_to_tensor(self.bases)

        # A loop, not unrolled Python: XLA would otherwise hold every
        # basis's (E, F) buffers at once (8.4 GiB) and compile for minutes.
        def add_basis(basis, out):
            combined = sparse_matmul(
                target, source, ops.take(weights, basis, axis=1), x, nodes
            )
            return out + ops.matmul(combined, ops.take(bases, basis, axis=0))

        start = ops.zeros((nodes, self.units), x.dtype)
        return _backend.fori_loop(0, self.num_bases, add_basis, start)

    def compute_output_shape(self, x_shape, edge_index_shape, edge_type_shape):
        return (x_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_relations": self.num_relations,
                "num_bases": self.num_bases,
                "num_blocks": self.num_blocks,
                "aggregation": self.aggregation,
                "root_weight": self.root_weight,
                "use_bias": self.use_bias,
                "input_dim": self.input_dim,
                "activation": keras.activations.serialize(self.activation),
                **self.kernel_options_config(),
            }
        )
        return config
