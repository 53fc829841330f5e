"""Weight clustering: centroid initialisations in closed form, the
centroids' gradient (the sum of their members'), compiled fit on every
backend, sparsity kept, strip, save/load, per-layer choice, bad input."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.optimize import ClusterWeights
from kerasbig.optimize import cluster_weights
from kerasbig.optimize import strip_clustering
from kerasbig.optimize.cluster_weights import initial_centroids


@pytest.mark.backend_agnostic
def test_initialisations_in_closed_form():
    weights = np.random.default_rng(0).normal(size=1000)
    linear = initial_centroids(weights, 5, "linear")
    np.testing.assert_allclose(
        linear, np.linspace(weights.min(), weights.max(), 5), rtol=1e-6
    )
    density = initial_centroids(weights, 4, "density")
    np.testing.assert_allclose(
        density, np.quantile(weights, [0.125, 0.375, 0.625, 0.875]), rtol=1e-5
    )
    drawn = initial_centroids(weights, 6, "random", seed=3)
    assert weights.min() <= drawn.min() and drawn.max() <= weights.max()
    np.testing.assert_array_equal(
        drawn, initial_centroids(weights, 6, "random", seed=3)
    )
    # k-means++ then Lloyd: three well-separated groups are found.
    groups = np.concatenate(
        [np.full(50, -2.0), np.full(30, 0.5), np.full(20, 3.0)]
    )
    np.testing.assert_allclose(
        initial_centroids(groups, 3, "kmeans++"), [-2.0, 0.5, 3.0]
    )


def _loss(y_true, y_pred):
    return ops.sum(y_pred, axis=-1)  # per example; fit takes the mean


def test_centroids_get_the_summed_gradient_of_their_members():
    # One SGD step of mean_b sum_j (x W)[b, j]: dL/dW[i, j] = mean_b x[b, i],
    # and each centroid moves by the sum over the weights it holds.
    keras.utils.set_random_seed(0)
    dense = keras.layers.Dense(3, use_bias=False)
    dense.build((None, 4))
    wrapper = ClusterWeights(dense, 3, cluster_centroids_init="linear")
    model = keras.Sequential([keras.Input((4,)), wrapper])
    model.compile(keras.optimizers.SGD(0.1), _loss, jit_compile=True)
    centroids = ops.convert_to_numpy(wrapper.cluster_centroids)
    kernel = ops.convert_to_numpy(dense.kernel)
    nearest = np.argmin(np.abs(kernel[..., None] - centroids), axis=-1)
    x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    model.fit(x, np.zeros((8, 3)), batch_size=8, epochs=1, verbose=0)
    gradient = np.broadcast_to(x.mean(0)[:, None], kernel.shape)
    expected = centroids - 0.1 * np.array(
        [gradient[nearest == k].sum() for k in range(3)]
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(wrapper.cluster_centroids), expected, atol=1e-5
    )
    # The original weights move too (straight through), by dL/dW.
    np.testing.assert_allclose(
        ops.convert_to_numpy(dense.kernel), kernel - 0.1 * gradient, atol=1e-5
    )


def _cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
            keras.layers.DepthwiseConv2D(3, name="depthwise"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="head"),
        ]
    )


def _fit(model, epochs=2):
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, 64)
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=keras.backend.backend() != "torch",
    )
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return x


def test_fit_trains_the_centroids_and_strip_keeps_k_values(tmp_path):
    model = _cnn()
    before = [w.copy() for w in model.get_weights()]
    clustered = cluster_weights(model, 4)
    wrappers = [
        layer for layer in clustered.layers if isinstance(layer, ClusterWeights)
    ]
    assert [layer.layer.name for layer in wrappers] == [
        "conv",
        "depthwise",
        "head",
    ]
    centroids = [
        ops.convert_to_numpy(layer.cluster_centroids).copy()
        for layer in wrappers
    ]
    x = _fit(clustered)
    for layer, first in zip(wrappers, centroids, strict=True):
        assert not np.allclose(
            ops.convert_to_numpy(layer.cluster_centroids), first
        ), layer.name
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)  # the original is untouched
    final = strip_clustering(clustered)
    assert [type(layer).__name__ for layer in final.layers] == [
        "Conv2D",
        "DepthwiseConv2D",
        "Flatten",
        "Dense",
    ]
    for layer in (final.get_layer("conv"), final.get_layer("head")):
        assert len(np.unique(ops.convert_to_numpy(layer.kernel))) <= 4
    depthwise = final.get_layer("depthwise").kernel
    assert len(np.unique(ops.convert_to_numpy(depthwise))) <= 4
    np.testing.assert_allclose(
        final.predict(x, verbose=0), clustered.predict(x, verbose=0), atol=1e-5
    )
    # The clustered model saves, loads and predicts the same.
    clustered.save(tmp_path / "clustered.keras")
    loaded = keras.saving.load_model(tmp_path / "clustered.keras")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), clustered.predict(x, verbose=0), atol=1e-6
    )


def test_preserve_sparsity_keeps_the_zeros():
    model = _cnn()
    weights = model.get_weights()
    kernel = weights[0]
    weights[0] = np.where(np.abs(kernel) < np.median(np.abs(kernel)), 0, kernel)
    model.set_weights(weights)
    zeros = weights[0] == 0
    clustered = cluster_weights(
        model, 4, preserve_sparsity=True, layers=["conv"]
    )
    assert [type(layer).__name__ for layer in clustered.layers] == [
        "ClusterWeights",
        "DepthwiseConv2D",
        "Flatten",
        "Dense",
    ]
    _fit(clustered)
    final = strip_clustering(clustered)
    kernel = ops.convert_to_numpy(final.get_layer("conv").kernel)
    assert (kernel[zeros] == 0).all()
    assert len(np.unique(kernel[~zeros])) <= 4


@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"number_of_clusters": 1}, "`number_of_clusters` must be an int >= 2"),
        ({"number_of_clusters": 2.0}, "`number_of_clusters` must be an int"),
        (
            {"number_of_clusters": 4, "cluster_centroids_init": "kmeans"},
            "`cluster_centroids_init` must be one of",
        ),
        ({"number_of_clusters": 100}, "must not exceed the 24 weights"),
    ],
)
def test_bad_arguments_get_one_clear_line(arguments, message):
    dense = keras.layers.Dense(3)
    dense.build((None, 8))
    with pytest.raises(ValueError, match=message):
        ClusterWeights(dense, **arguments)


@pytest.mark.backend_agnostic
def test_layers_without_a_kernel_are_named():
    with pytest.raises(ValueError, match="Flatten 'flat' has no kernel"):
        cluster_weights(
            keras.Sequential(
                [keras.Input((2, 2)), keras.layers.Flatten(name="flat")]
            ),
            2,
            layers=["flat"],
        )
    with pytest.raises(ValueError, match="no layers named"):
        cluster_weights(_cnn(), 2, layers=["nowhere"])


def test_cluster_weights_passes_the_harness(check_layer):
    check_layer(
        ClusterWeights,
        {"layer": keras.layers.Dense(4), "number_of_clusters": 4},
        input_shape=(3, 8),
    )
