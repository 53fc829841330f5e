"""Weight clustering for Keras 3 on every backend (tfmot's
`cluster_weights`): each kernel keeps only `number_of_clusters` distinct
values, the centroids, trained by `fit()`."""

import keras
import numpy as np
from keras import ops

from kerasbig import _validation as checks
from kerasbig.ops import call_with_values
from kerasbig.optimize._layers import OwnWeightsWrapper
from kerasbig.optimize._layers import clone_with_wrappers
from kerasbig.optimize._layers import copy_layer
from kerasbig.optimize._layers import is_graph_model

CENTROID_INITS = ("kmeans++", "linear", "density", "random")
"""How `cluster_weights` places the first centroids (tfmot's
`CentroidInitialization`: KMEANS_PLUS_PLUS, LINEAR, DENSITY_BASED,
RANDOM)."""

# The weight a layer's clustering applies to, by attribute name.
_CLUSTERED_WEIGHTS = ("kernel", "depthwise_kernel", "embeddings")


def _clusterable_weight(layer):
    for name in _CLUSTERED_WEIGHTS:
        weight = getattr(layer, name, None)
        if isinstance(weight, keras.Variable) and weight.trainable:
            return name, weight
    return None, None


def initial_centroids(values, number_of_clusters, init="kmeans++", seed=0):
    """The first `number_of_clusters` centroids of the weight `values`,
    sorted (NumPy).

    - `"linear"`: evenly spaced from the smallest to the largest value;
    - `"density"`: at the quantiles `(i + 0.5) / k` (dense where the
      weights are);
    - `"random"`: uniform between the smallest and largest value;
    - `"kmeans++"`: k-means++ seeding (Arthur and Vassilvitskii, 2007),
      then Lloyd's iterations until the clusters stop changing.

    Example:

        >>> import numpy as np
        >>> from kerasbig.optimize.cluster_weights import initial_centroids
        >>> weights = np.array([0.0, 1.0, 2.0, 4.0])
        >>> initial_centroids(weights, 3, "linear").tolist()
        [0.0, 2.0, 4.0]
    """
    flat = np.asarray(values, "float64").ravel()
    k = number_of_clusters
    low, high = float(flat.min()), float(flat.max())
    rng = np.random.default_rng(seed)
    if init == "linear":
        centroids = np.linspace(low, high, k)
    elif init == "density":
        centroids = np.quantile(flat, (np.arange(k) + 0.5) / k)
    elif init == "random":
        centroids = rng.uniform(low, high, k)
    else:
        centroids = _kmeans(flat, k, rng)
    return np.sort(centroids).astype("float32")


def _kmeans(flat, k, rng, iterations=100):
    centroids = [flat[rng.integers(len(flat))]]
    for _ in range(1, k):
        distance = np.min((flat[:, None] - np.array(centroids)) ** 2, axis=1)
        total = distance.sum()
        if total == 0:  # fewer distinct values than clusters
            centroids.append(centroids[-1])
            continue
        centroids.append(flat[rng.choice(len(flat), p=distance / total)])
    centroids = np.array(centroids)
    for _ in range(iterations):
        nearest = np.argmin(np.abs(flat[:, None] - centroids), axis=1)
        updated = centroids.copy()
        for cluster in range(k):
            members = flat[nearest == cluster]
            if len(members):
                updated[cluster] = members.mean()
        if np.allclose(updated, centroids):
            break
        centroids = updated
    return centroids


@keras.saving.register_keras_serializable(package="kerasbig")
class ClusterWeights(OwnWeightsWrapper):
    """Trains a layer whose kernel takes only `number_of_clusters`
    values (weight clustering, tfmot's `ClusterWeights`).

    The layer computes with `centroids[indices]`: in training each
    weight is assigned to its nearest centroid at every step (from the
    original weights, which keep training), and the gradient reaches both
    the centroids (each the sum of its members' gradients) and the
    original weights (straight through, as tfmot passes it), so that a
    weight can move to another cluster. `strip_clustering` writes the
    clustered kernel into a plain layer, which then compresses well
    (gzip) and converts to LiteRT as it is.

    Clustered weights: `kernel` (Dense, EinsumDense, convolutions),
    `depthwise_kernel` (DepthwiseConv2D) or `embeddings` (Embedding).

    Args:
        layer: the layer to cluster (built, or built on first call).
        number_of_clusters: distinct values the kernel keeps, >= 2.
        cluster_centroids_init: `"kmeans++"` (default), `"linear"`,
            `"density"` or `"random"` (see `initial_centroids`).
        preserve_sparsity: keep the kernel's zeros (a pruned layer stays
            pruned; the centroids come from its other weights). Defaults
            to `False`.
        seed: seed of the `"kmeans++"` and `"random"` initialisations.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.optimize import ClusterWeights
        >>> dense = keras.layers.Dense(8)
        >>> dense.build((None, 16))
        >>> layer = ClusterWeights(dense, number_of_clusters=4)
        >>> tuple(layer(np.ones((2, 16), "float32")).shape)
        (2, 8)
        >>> len(np.unique(keras.ops.convert_to_numpy(layer.clustered_weight())))
        4
    """

    def __init__(
        self,
        layer,
        number_of_clusters,
        cluster_centroids_init="kmeans++",
        preserve_sparsity=False,
        seed=0,
        **kwargs,
    ):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        owner = "ClusterWeights"
        checks.int_at_least(owner, "number_of_clusters", number_of_clusters, 2)
        checks.one_of(
            owner,
            "cluster_centroids_init",
            cluster_centroids_init,
            CENTROID_INITS,
        )
        if not isinstance(layer, keras.layers.Layer) or not any(
            name in _weight_names(layer) for name in _CLUSTERED_WEIGHTS
        ):
            raise ValueError(
                f"{owner}: can cluster layers with a `kernel`, "
                "`depthwise_kernel` or `embeddings` (Dense, EinsumDense, "
                "convolutions, DepthwiseConv2D, Embedding). Received: "
                f"{type(layer).__name__} {getattr(layer, 'name', '')!r}"
            )
        super().__init__(layer, **kwargs)
        self.number_of_clusters = number_of_clusters
        self.cluster_centroids_init = cluster_centroids_init
        self.preserve_sparsity = preserve_sparsity
        self.seed = seed
        self._create_weights_if_built()

    def _create_weights(self):
        name, weight = _clusterable_weight(self.layer)
        if weight is None:
            raise ValueError(
                "ClusterWeights: the layer has no trainable kernel, "
                "depthwise_kernel or embeddings to cluster. Received: "
                f"{type(self.layer).__name__} {self.layer.name!r}"
            )
        self.weight_name = name
        values = keras.ops.convert_to_numpy(weight.value)
        size = int(np.prod(values.shape))
        if self.number_of_clusters > size:
            raise ValueError(
                f"ClusterWeights: `number_of_clusters` must not exceed the "
                f"{size} weights of {self.layer.name!r}. Received: "
                f"number_of_clusters={self.number_of_clusters}"
            )
        mask = values != 0 if self.preserve_sparsity else np.ones_like(values)
        source = values[mask.astype(bool)]
        if source.size < self.number_of_clusters:
            source = values.ravel()
        centroids = initial_centroids(
            source,
            self.number_of_clusters,
            self.cluster_centroids_init,
            self.seed,
        )
        self.cluster_centroids = self.add_weight(
            name="cluster_centroids",
            shape=(self.number_of_clusters,),
            initializer=keras.initializers.Constant(centroids),
            trainable=True,
        )
        self.pulling_indices = self.add_weight(
            name="pulling_indices",
            shape=values.shape,
            initializer="zeros",
            dtype="int32",
            trainable=False,
        )
        self.pulling_indices.assign(
            np.argmin(np.abs(values[..., None] - centroids), axis=-1).astype(
                "int32"
            )
        )
        if self.preserve_sparsity:
            self.sparsity_mask = self.add_weight(
                name="sparsity_mask",
                shape=values.shape,
                initializer="ones",
                trainable=False,
            )
            self.sparsity_mask.assign(mask.astype("float32"))

    def _nearest(self, weight):
        distance = ops.abs(
            ops.expand_dims(weight, -1) - self.cluster_centroids.value
        )
        return ops.cast(ops.argmin(distance, axis=-1), "int32")

    def clustered_weight(self, indices=None):
        """The kernel the layer computes with: each weight's centroid
        (zeros kept with `preserve_sparsity`)."""
        if indices is None:
            indices = self.pulling_indices.value
        clustered = ops.take(self.cluster_centroids.value, indices)
        if self.preserve_sparsity:
            clustered = clustered * self.sparsity_mask.value
        return clustered

    def call(self, inputs, *args, training=None, **kwargs):
        weight = getattr(self.layer, self.weight_name)
        original = weight.value
        indices = self.pulling_indices.value
        if training:
            indices = self._nearest(ops.stop_gradient(original))
            self.pulling_indices.assign(indices)
        clustered = self.clustered_weight(indices)
        # Straight through: the gradient of the clustered kernel also
        # reaches the original weights, which keep moving between
        # clusters; the centroids get the sum over their members.
        value = clustered + original - ops.stop_gradient(original)
        return call_with_values(
            self.layer,
            {id(weight): ops.cast(value, original.dtype)},
            inputs,
            *args,
            training=training,
            **kwargs,
        )

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "number_of_clusters": self.number_of_clusters,
                "cluster_centroids_init": self.cluster_centroids_init,
                "preserve_sparsity": self.preserve_sparsity,
                "seed": self.seed,
            }
        )
        return config


def _weight_names(layer):
    if not layer.built:
        return _CLUSTERED_WEIGHTS  # checked again when it is built
    return [name for name in _CLUSTERED_WEIGHTS if hasattr(layer, name)]


def cluster_weights(
    to_cluster,
    number_of_clusters,
    cluster_centroids_init="kmeans++",
    preserve_sparsity=False,
    layers=None,
    seed=0,
):
    """Clusters a layer's kernel, or every clusterable layer of a model
    (tfmot's `cluster_weights`, on every backend).

    A layer is wrapped in `ClusterWeights`. A Sequential or functional
    model is cloned with each layer that has a kernel (or each one named
    in `layers`) wrapped and the weights copied, so the original model is
    left as it is. Fine-tune with `fit()`; `strip_clustering` then
    removes the wrappers. Clustering a pruned model with
    `preserve_sparsity=True`, then training it with
    `quantize_aware(..., preserve_sparsity=True)`, is tfmot's
    prune-cluster-QAT chain.

    Args:
        to_cluster: a layer, or a Sequential or functional model.
        number_of_clusters: distinct values each kernel keeps.
        cluster_centroids_init: `"kmeans++"`, `"linear"`, `"density"` or
            `"random"`.
        preserve_sparsity: keep every kernel's zeros.
        layers: optional names (or layers) of the model's layers to
            cluster; the others stay as they are.
        seed: seed of the initialisations that draw.

    Returns:
        The wrapped layer, or the clustered model (compile it before
        `fit`).

    Example:

        >>> import numpy as np, keras
        >>> from kerasbig.optimize import cluster_weights, strip_clustering
        >>> model = keras.Sequential([keras.Input((16,)),
        ...     keras.layers.Dense(32, activation="relu"),
        ...     keras.layers.Dense(2)])
        >>> clustered = cluster_weights(model, number_of_clusters=8)
        >>> clustered.compile("adam", "mse")
        >>> _ = clustered.fit(np.random.rand(64, 16), np.random.rand(64, 2),
        ...                   epochs=1, verbose=0)
        >>> final = strip_clustering(clustered)
        >>> [len(np.unique(layer.get_weights()[0])) for layer in final.layers]
        [8, 8]
    """
    options = {
        "number_of_clusters": number_of_clusters,
        "cluster_centroids_init": cluster_centroids_init,
        "preserve_sparsity": preserve_sparsity,
        "seed": seed,
    }
    if not isinstance(to_cluster, keras.Model):
        return ClusterWeights(to_cluster, **options)

    def wrap(copy, layer, chosen):
        if chosen is False:
            return copy
        if _clusterable_weight(copy)[1] is not None:
            return ClusterWeights(copy, **options)
        if chosen:
            raise ValueError(
                f"cluster_weights: {type(layer).__name__} {layer.name!r} has "
                "no kernel to cluster (a kernel, depthwise_kernel or "
                "embeddings)"
            )
        return copy

    return clone_with_wrappers(
        to_cluster,
        "cluster_weights",
        wrap,
        layers,
        recurse=lambda nested: cluster_weights(
            nested, **options, layers=layers
        ),
    )


def strip_clustering(model):
    """A copy of `model` whose `ClusterWeights` wrappers are replaced by
    the layers they wrap, each holding its clustered kernel (tfmot's
    `strip_clustering`). A wrapped layer on its own is returned unwrapped.

    Example:

        >>> import numpy as np, keras
        >>> from kerasbig.optimize import cluster_weights, strip_clustering
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
        >>> plain = strip_clustering(cluster_weights(model, 3))
        >>> kernel = plain.layers[0].get_weights()[0]
        >>> type(plain.layers[0]).__name__, len(np.unique(kernel))
        ('Dense', 3)
    """
    if isinstance(model, ClusterWeights):
        return _unwrapped(model)
    if not is_graph_model(model):
        raise ValueError(
            "strip_clustering: expected a ClusterWeights layer or a "
            "Sequential or functional model. Received: "
            f"{type(model).__name__}"
        )

    def clone(layer):
        if isinstance(layer, ClusterWeights):
            return _unwrapped(layer)
        if is_graph_model(layer):
            return strip_clustering(layer)
        return copy_layer(layer)

    return keras.models.clone_model(model, clone_function=clone)


def _unwrapped(wrapper):
    layer = copy_layer(wrapper.layer)
    getattr(layer, wrapper.weight_name).assign(
        ops.cast(wrapper.clustered_weight(), wrapper.layer.compute_dtype)
    )
    return layer
