"""`StochasticDepth`: residual branches dropped per example in training (Huang
et al.)."""

import keras

from kerasbig import _validation as checks


@keras.saving.register_keras_serializable(package="kerasbig")
class StochasticDepth(keras.layers.Layer):
    """Drops a whole residual branch per sample ("drop path").

    In training, each sample's input is zeroed with probability `rate` and
    otherwise scaled by `1 / (1 - rate)`, so the expectation is unchanged;
    at inference it is the identity. Apply it to a residual branch before
    the addition: `x + StochasticDepth(0.1)(branch(x))`.

    Args:
        rate: probability of dropping the branch, in [0, 1).
        seed: optional int seed of the drop decisions.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, ...)`, the branch output.
        training: whether to drop.

    Returns:
        A tensor like `inputs`. Masks pass through unchanged.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import StochasticDepth
        >>> branch = np.ones((4, 3), "float32")
        >>> from keras import ops
        >>> out = StochasticDepth(rate=0.5)(branch, training=False)
        >>> ops.convert_to_numpy(out)[0].tolist()
        [1.0, 1.0, 1.0]

    References:
        - [Huang et al., 2016](https://arxiv.org/abs/1603.09382): Deep
          networks with stochastic depth.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        checks.rate("StochasticDepth", "rate", rate)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        # One decision per sample, broadcast over the other axes.
        shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        draws = keras.random.uniform(shape, seed=self.seed_generator)
        mask = keras.ops.cast(draws < keep, inputs.dtype)
        return inputs * mask / keras.ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
