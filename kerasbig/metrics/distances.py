"""Metrics: Fréchet and kernel distances between real and generated
samples, over features from any Keras feature extractor."""

import types

import keras
import numpy as np
from keras import ops

from kerasbig import _backend

# The two array namespaces the Fréchet maths runs in: keras.ops (any
# backend, traceable) and NumPy (float64 on the host, for the metric).
_NUMPY = types.SimpleNamespace(
    eigh=np.linalg.eigh,
    matmul=np.matmul,
    maximum=np.maximum,
    sqrt=np.sqrt,
    square=np.square,
    sum=np.sum,
    trace=np.trace,
    transpose=np.transpose,
)


def _trace_sqrt_product(sigma1, sigma2, xp):
    # tr(sqrtm(sigma1 @ sigma2)) through symmetric eigendecompositions:
    # sigma1 @ sigma2 is similar to A = sqrt(sigma1) sigma2 sqrt(sigma1),
    # which is symmetric positive semi-definite, so the trace is the sum
    # of the square roots of A's eigenvalues. No non-symmetric sqrtm (and
    # its complex round-off) is needed.
    values, vectors = xp.eigh(sigma1)
    root = xp.matmul(
        vectors * xp.sqrt(xp.maximum(values, 0.0))[None, :],
        xp.transpose(vectors),
    )
    product = xp.matmul(xp.matmul(root, sigma2), root)
    product = 0.5 * (product + xp.transpose(product))
    eigenvalues, _ = xp.eigh(product)
    return xp.sum(xp.sqrt(xp.maximum(eigenvalues, 0.0)))


def _frechet_distance(mu1, sigma1, mu2, sigma2, xp):
    return (
        xp.sum(xp.square(mu1 - mu2))
        + xp.trace(sigma1)
        + xp.trace(sigma2)
        - 2.0 * _trace_sqrt_product(sigma1, sigma2, xp)
    )


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet (2-Wasserstein) distance between two Gaussians, squared.

    `||mu1 - mu2||**2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)**(1/2))`,
    the quantity FID reports (Heusel et al. 2017). The matrix square root
    goes through two symmetric eigendecompositions, which stays real and
    stable for singular covariances. It runs in the inputs' dtype with
    `keras.ops` (so it can be traced); the square roots of small
    eigenvalues amplify round-off, so pass float64 where the backend has
    it when near-identical distributions must give about 0.

    Args:
        mu1, mu2: means, shape `(d,)`.
        sigma1, sigma2: covariances, shape `(d, d)`.

    Returns:
        A scalar tensor.

    Example:

        >>> import numpy as np
        >>> from kerasbig.metrics import frechet_distance
        >>> # N(0, I) and N(1, 4I) in 2-d: 2 * 1 + 2 * (2 - 1)**2 = 4
        >>> round(float(frechet_distance(np.zeros(2), np.eye(2),
        ...                              np.ones(2), 4 * np.eye(2))), 5)
        4.0
    """
    mu1, mu2 = ops.convert_to_tensor(mu1), ops.convert_to_tensor(mu2)
    sigma1 = ops.convert_to_tensor(sigma1)
    sigma2 = ops.convert_to_tensor(sigma2)
    return _frechet_distance(mu1, sigma1, mu2, sigma2, ops)


class _FeatureMetric(keras.metrics.Metric):
    """Shared plumbing: features of real and generated batches."""

    def __init__(self, feature_extractor, num_features, name, dtype):
        super().__init__(name=name, dtype=dtype)
        if feature_extractor is not None and not callable(feature_extractor):
            raise ValueError(
                f"{type(self).__name__}: `feature_extractor` must be a Keras "
                f"model or callable. Received: {feature_extractor!r}"
            )
        if num_features is None and feature_extractor is not None:
            shape = getattr(feature_extractor, "output_shape", None)
            if shape is not None and shape[-1] is not None:
                num_features = int(np.prod(shape[1:]))
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(
                f"{type(self).__name__}: pass `num_features` (an int >= 1) "
                "or a feature extractor with a known output shape. "
                f"Received: num_features={num_features!r}"
            )
        self.feature_extractor = feature_extractor
        self.num_features = num_features
        self.feature_dtype = self.dtype

    def _features(self, samples):
        if self.feature_extractor is not None:
            if isinstance(self.feature_extractor, keras.layers.Layer):
                samples = self.feature_extractor(samples, training=False)
            else:
                samples = self.feature_extractor(samples)
        samples = ops.convert_to_tensor(samples)
        features = ops.cast(
            ops.reshape(samples, (ops.shape(samples)[0], -1)),
            self.feature_dtype,
        )
        if features.shape[-1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}: expected {self.num_features} "
                f"features per sample. Received: shape {features.shape}"
            )
        return features

    def update_state(self, real=None, generated=None):
        """Adds a batch of real and/or generated samples (images, or
        features when there is no extractor)."""
        if real is None and generated is None:
            raise ValueError(
                f"{type(self).__name__}.update_state: pass `real`, "
                "`generated` or both."
            )
        for kind, samples in (("real", real), ("generated", generated)):
            if samples is not None:
                self._add(kind, self._features(samples))

    def get_config(self):
        # The extractor is left out: a config carries no weights, and a
        # rebuilt extractor with fresh weights would silently measure
        # something else. Pass it again: `from_config({**config,
        # "feature_extractor": model})`.
        return {
            "name": self.name,
            "dtype": self.dtype,
            "num_features": self.num_features,
        }


@keras.saving.register_keras_serializable(package="kerasbig")
class FrechetDistance(_FeatureMetric):
    """Fréchet distance between feature distributions (FID when the
    features come from InceptionV3's pool layer).

    Streams batches: it keeps each set's count, feature sum and sum of
    outer products around a shift (the first batch's mean), so memory
    does not grow with the data. The sums are float64 wherever the
    backend has it (TensorFlow, PyTorch, JAX with `jax_enable_x64`), as
    torch-fidelity and clean-fid accumulate; on JAX without it they are
    float32, which the shift keeps accurate. `result()` reads the
    statistics to the host and, in float64 NumPy, fits a Gaussian to
    each set and returns their Fréchet distance (the maths of
    `frechet_distance`): a sample against itself gives about 1e-6, not
    the float32 round-off of square roots of small eigenvalues. Call
    `result()` eagerly. Real statistics can be added once and kept while
    `reset_generated()` clears only the generated side.

    Args:
        feature_extractor: optional Keras model (or callable) applied to
            each batch, run with `training=False`; its output is flattened.
            Without one, `update_state` takes features. Not part of
            `get_config()` (a config holds no weights): pass it again to
            `from_config`.
        num_features: feature size; read from the extractor's output
            shape when omitted.
        name: metric name.
        dtype: dtype of the result.

    Example:

        >>> import numpy as np
        >>> from kerasbig.metrics import FrechetDistance
        >>> rng = np.random.default_rng(0)
        >>> fd = FrechetDistance(num_features=2)
        >>> fd.update_state(real=rng.normal(0, 1, (20000, 2)),
        ...                 generated=rng.normal(1, 1, (20000, 2)))
        >>> round(float(fd.result()), 1)  # ||mu1 - mu2||**2 = 2
        2.0

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
        Converge to a Local Nash Equilibrium", 2017,
        https://arxiv.org/abs/1706.08500.
    """

    def __init__(
        self,
        feature_extractor=None,
        num_features=None,
        name="frechet_distance",
        dtype="float32",
    ):
        super().__init__(feature_extractor, num_features, name, dtype)
        d = self.num_features
        self.feature_dtype = (
            "float64" if _backend.supports_float64() else "float32"
        )
        self.shift = self.add_variable(
            (d,), "zeros", dtype=self.feature_dtype, name="shift"
        )
        self.shift_set = self.add_variable(
            (), "zeros", dtype=self.feature_dtype, name="shift_set"
        )
        self.statistics = {}
        for kind in ("real", "generated"):
            self.statistics[kind] = tuple(
                self.add_variable(
                    shape, "zeros", dtype=self.feature_dtype, name=f"{kind}_{n}"
                )
                for shape, n in (
                    ((), "count"),
                    ((d,), "sum"),
                    ((d, d), "outer"),
                )
            )

    def _add(self, kind, features):
        count, total, outer = self.statistics[kind]
        first = self.shift_set.value
        shift = first * self.shift.value + (1.0 - first) * ops.mean(features, 0)
        self.shift.assign(shift)
        self.shift_set.assign(1.0)
        centred = features - shift[None, :]
        count.assign_add(ops.cast(ops.shape(features)[0], count.dtype))
        total.assign_add(ops.sum(centred, axis=0))
        outer.assign_add(ops.matmul(ops.transpose(centred), centred))

    def _gaussian(self, kind):
        count, total, outer, shift = (
            ops.convert_to_numpy(v).astype("float64")
            for v in (*self.statistics[kind], self.shift)
        )
        mean = total / count
        covariance = (outer - count * np.outer(mean, mean)) / (count - 1.0)
        return mean + shift, covariance

    def result(self):
        mu1, sigma1 = self._gaussian("real")
        mu2, sigma2 = self._gaussian("generated")
        distance = _frechet_distance(mu1, sigma1, mu2, sigma2, _NUMPY)
        return ops.convert_to_tensor(distance, self.dtype)

    def reset_generated(self):
        """Clears the generated statistics and keeps the real ones."""
        for variable in self.statistics["generated"]:
            variable.assign(ops.zeros(variable.shape, variable.dtype))


@keras.saving.register_keras_serializable(package="kerasbig")
class KernelDistance(_FeatureMetric):
    """Kernel distance (KID): unbiased squared MMD between feature sets
    with the polynomial kernel `k(x, y) = (x . y / d + 1)**3`.

    Unlike the Fréchet distance it has an unbiased estimator, so it can
    be compared across sample sizes (Bińkowski et al. 2018). The features
    are stored (up to `max_samples` per set) and `result()` computes the
    estimator over all pairs; the paper averages it over random subsets,
    which has the same expectation. `result()` reads the stored counts,
    so call it eagerly.

    Args:
        feature_extractor: optional Keras model (or callable) applied to
            each batch (`training=False`); outputs are flattened.
        num_features: feature size; read from the extractor when omitted.
        max_samples: capacity per set; more raises an error.
        name: metric name.
        dtype: dtype of the stored features.

    Example:

        >>> import numpy as np
        >>> from kerasbig.metrics import KernelDistance
        >>> rng = np.random.default_rng(0)
        >>> kd = KernelDistance(num_features=4)
        >>> same = rng.normal(size=(500, 4))
        >>> kd.update_state(real=same[:250], generated=same[250:])
        >>> abs(float(kd.result())) < 0.05  # same distribution: about 0
        True

    References:
        Bińkowski et al., "Demystifying MMD GANs", 2018,
        https://arxiv.org/abs/1801.01401.
    """

    def __init__(
        self,
        feature_extractor=None,
        num_features=None,
        max_samples=10000,
        name="kernel_distance",
        dtype="float32",
    ):
        super().__init__(feature_extractor, num_features, name, dtype)
        if not isinstance(max_samples, int) or max_samples < 2:
            raise ValueError(
                "KernelDistance: `max_samples` must be an int >= 2. "
                f"Received: max_samples={max_samples!r}"
            )
        self.max_samples = max_samples
        self.features = {}
        self.counts = {}
        for kind in ("real", "generated"):
            self.features[kind] = self.add_variable(
                (max_samples, self.num_features),
                "zeros",
                name=f"{kind}_features",
            )
            self.counts[kind] = self.add_variable(
                (), "zeros", name=f"{kind}_count", dtype="int32"
            )

    def _add(self, kind, features):
        start = int(ops.convert_to_numpy(self.counts[kind]))
        n = int(features.shape[0])
        if start + n > self.max_samples:
            raise ValueError(
                f"KernelDistance: more than max_samples={self.max_samples} "
                f"{kind} samples. Received {start + n}; raise `max_samples`."
            )
        self.features[kind].assign(
            ops.slice_update(self.features[kind].value, (start, 0), features)
        )
        self.counts[kind].assign(start + n)

    def _stored(self, kind):
        n = int(ops.convert_to_numpy(self.counts[kind]))
        if n < 2:
            raise ValueError(
                f"KernelDistance: needs at least 2 {kind} samples. "
                f"Received: {n}"
            )
        return ops.convert_to_tensor(self.features[kind])[:n], n

    def _kernel(self, x, y):
        return (ops.matmul(x, ops.transpose(y)) / self.num_features + 1.0) ** 3

    def result(self):
        x, m = self._stored("real")
        y, n = self._stored("generated")
        k_xx = self._kernel(x, x)
        k_yy = self._kernel(y, y)
        k_xy = self._kernel(x, y)
        # Unbiased: leave out the diagonals k(x_i, x_i).
        xx = (ops.sum(k_xx) - ops.trace(k_xx)) / (m * (m - 1))
        yy = (ops.sum(k_yy) - ops.trace(k_yy)) / (n * (n - 1))
        return xx + yy - 2.0 * ops.mean(k_xy)

    def reset_generated(self):
        """Clears the generated features and keeps the real ones."""
        self.counts["generated"].assign(0)

    def get_config(self):
        config = super().get_config()
        config["max_samples"] = self.max_samples
        return config
