"""`SpectralNormalization`: a kernel divided by its largest singular value
(Miyato et al.)."""

import keras
from keras import ops

from kerasbig.ops import call_with_values


def _normalize(x):
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x))), 1e-12)


@keras.saving.register_keras_serializable(package="kerasbig")
class SpectralNormalization(keras.layers.Layer):
    """Spectral normalization of a layer's kernel (Miyato et al. 2018),
    usable several times per train step on every backend.

    The wrapped layer computes with `kernel / sigma`, where `sigma`, the
    kernel's largest singular value, is estimated by power iteration
    with a persistent vector `u` (updated in training). As in the paper
    and PyTorch's `spectral_norm`, the normalized kernel is computed
    afresh at each call and gradients flow through `sigma` to the raw
    kernel, which is stored unchanged.

    `keras.layers.SpectralNormalization` instead writes `kernel / sigma`
    into the kernel variable during the forward pass. On PyTorch that
    in-place write fails as soon as the layer runs twice before one
    backward pass ("one of the variables needed for gradient computation
    has been modified by an inplace operation"), which a GAN
    discriminator does on real and fake batches and under gradient
    penalties. This layer takes the same arguments.

    Args:
        layer: a Keras layer with a `kernel` (Dense, Conv*, ...) or
            `embeddings` (Embedding) variable.
        power_iterations: power-iteration steps per training call.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: the wrapped layer's inputs.
        training: update `u` (and iterate) when true.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.layers import SpectralNormalization
        >>> keras.utils.set_random_seed(0)
        >>> layer = SpectralNormalization(keras.layers.Dense(4))
        >>> x = np.random.rand(2, 8).astype("float32")
        >>> for _ in range(30):  # power iteration converges to sigma
        ...     y = layer(x, training=True)
        >>> kernel = keras.ops.convert_to_numpy(layer.layer.kernel)
        >>> sigma = np.linalg.svd(kernel, compute_uv=False)[0]
        >>> out = keras.ops.convert_to_numpy(layer(x))
        >>> bool(np.allclose(out, x @ kernel / sigma, atol=1e-4))
        True

    References:
        Miyato et al., "Spectral Normalization for Generative Adversarial
        Networks", 2018, https://arxiv.org/abs/1802.05957.
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                "SpectralNormalization: `layer` must be a Keras layer. "
                f"Received: layer={layer!r}"
            )
        if not isinstance(power_iterations, int) or power_iterations < 1:
            raise ValueError(
                "SpectralNormalization: `power_iterations` must be an int "
                f">= 1. Received: power_iterations={power_iterations!r}"
            )
        self.layer = layer
        self.power_iterations = power_iterations

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(
                "SpectralNormalization: the wrapped layer needs a `kernel` "
                f"or `embeddings` variable. Received: "
                f"{type(self.layer).__name__}"
            )
        self._kernel = kernel
        self.vector_u = self.add_weight(
            shape=(1, kernel.shape[-1]),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            trainable=False,
            name="vector_u",
        )

    def call(self, inputs, training=None):
        kernel = self._kernel.value
        # (fan_in, units): rows of the kernel reshaped to a matrix.
        matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))
        u = ops.cast(self.vector_u.value, matrix.dtype)
        steps = self.power_iterations if training else 1
        for _ in range(steps):
            v = _normalize(ops.matmul(u, ops.transpose(matrix)))
            u = _normalize(ops.matmul(v, matrix))
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.matmul(ops.matmul(v, matrix), ops.transpose(u))[0, 0]
        if training:
            self.vector_u.assign(ops.cast(u, self.vector_u.dtype))
        values = {id(self._kernel): kernel / sigma}
        return call_with_values(self.layer, values, inputs, training=training)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": keras.saving.serialize_keras_object(self.layer),
                "power_iterations": self.power_iterations,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)
