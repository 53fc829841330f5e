"""Gradient penalties of adversarial training (WGAN-GP, R1).

Both differentiate a critic with respect to its input through
`kerasbig._backend.input_gradient`, so the penalty is itself
differentiable with respect to the critic's weights on every backend.
"""

import keras
from keras import ops

from kerasbig import _backend


def _squared_norms(gradients):
    # (batch, ...) -> (batch,): squared L2 norm of each sample's gradient.
    flat = ops.reshape(gradients, (ops.shape(gradients)[0], -1))
    return ops.sum(ops.square(flat), axis=1)


def gradient_penalty(critic, real, fake, interpolation=None, seed=None):
    """WGAN-GP's penalty: `mean((||grad critic(x_hat)||_2 - 1)**2)`.

    `x_hat = t * real + (1 - t) * fake` with `t ~ U(0, 1)` drawn per sample
    (Gulrajani et al. 2017, Algorithm 1). `fake` is treated as a constant.

    Args:
        critic: callable mapping a batch like `real` to scores `(batch,
            ...)`; scores of one sample are summed.
        real: batch of real samples, `(batch, ...)`.
        fake: batch of generated samples, same shape.
        interpolation: optional `(batch,)` values of `t`; drawn uniformly
            when omitted.
        seed: seed or `keras.random.SeedGenerator` for drawing `t`.

    Returns:
        A scalar tensor.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import gradient_penalty
        >>> w = ops.convert_to_tensor([[3.0], [4.0]])
        >>> critic = lambda x: ops.matmul(x, w)  # gradient norm 5
        >>> real, fake = np.ones((4, 2), "float32"), np.zeros((4, 2), "float32")
        >>> float(gradient_penalty(critic, real, fake, seed=0))
        16.0

    References:
        Gulrajani et al., "Improved Training of Wasserstein GANs", 2017,
        https://arxiv.org/abs/1704.00028.
    """
    real = ops.convert_to_tensor(real)
    fake = ops.stop_gradient(ops.cast(fake, real.dtype))
    if tuple(real.shape[1:]) != tuple(fake.shape[1:]):
        raise ValueError(
            "gradient_penalty: `real` and `fake` must have the same sample "
            f"shape. Received: real {real.shape}, fake {fake.shape}"
        )
    batch = ops.shape(real)[0]
    if interpolation is None:
        interpolation = keras.random.uniform((batch,), seed=seed)
    t = ops.reshape(
        ops.cast(interpolation, real.dtype),
        (batch,) + (1,) * (len(real.shape) - 1),
    )
    mixed = t * real + (1.0 - t) * fake
    gradients = _backend.input_gradient(critic, mixed)
    norms = ops.sqrt(_squared_norms(ops.cast(gradients, "float32")) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def r1_penalty(critic, real):
    """R1 penalty: `mean(||grad critic(real)||_2**2)` on real samples.

    Mescheder et al. add `gamma / 2` times this to the discriminator loss.

    Args:
        critic: callable mapping a batch like `real` to scores.
        real: batch of real samples, `(batch, ...)`.

    Returns:
        A scalar tensor.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import r1_penalty
        >>> w = ops.convert_to_tensor([[3.0], [4.0]])
        >>> real = np.ones((4, 2), "float32")
        >>> float(r1_penalty(lambda x: ops.matmul(x, w), real))
        25.0

    References:
        Mescheder, Geiger and Nowozin, "Which Training Methods for GANs do
        actually Converge?", 2018, https://arxiv.org/abs/1801.04406.
    """
    real = ops.convert_to_tensor(real)
    gradients = _backend.input_gradient(critic, real)
    return ops.mean(_squared_norms(ops.cast(gradients, "float32")))
