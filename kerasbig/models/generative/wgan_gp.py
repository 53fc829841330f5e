"""`WGANGP`: a Wasserstein GAN with gradient penalty."""

import keras
from keras import ops

from kerasbig.models._replica_random import replica_uniform
from kerasbig.models.generative.gan import GAN
from kerasbig.ops.penalties import gradient_penalty


@keras.saving.register_keras_serializable(package="kerasbig")
class WGANGP(GAN):
    """Wasserstein GAN with gradient penalty (WGAN-GP), trained with
    `fit()` on every backend.

    A `GAN` whose critic takes `critic_steps` updates per generator
    update on the Wasserstein loss plus `gradient_penalty_weight *
    mean((||grad critic(x_hat)||_2 - 1)**2)` at random interpolates
    `x_hat` of real and fake samples (`kerasbig.ops.gradient_penalty`).
    The critic should not use batch normalization (the penalty is per
    sample); layer normalization or none, as in the paper. Logs add
    `gradient_penalty`. Optimizers default to Adam(1e-4, beta_1=0,
    beta_2=0.9), the paper's setting.

    Args:
        generator: Keras model mapping `(batch, latent_dim)` noise to
            samples.
        discriminator: the critic, mapping samples to `(batch, 1)` scores.
        latent_dim: size of the latent vector.
        critic_steps: critic updates per generator update. Defaults to 5.
        gradient_penalty_weight: `lambda` of the penalty. Defaults to 10.
        **kwargs: `GAN` arguments (`r1_weight`, `seed`) and `keras.Model`
            arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.models import WGANGP
        >>> generator = keras.Sequential([keras.Input((4,)),
        ...     keras.layers.Dense(16, activation="relu"),
        ...     keras.layers.Dense(2)])
        >>> critic = keras.Sequential([keras.Input((2,)),
        ...     keras.layers.Dense(16, activation="relu"),
        ...     keras.layers.Dense(1)])
        >>> wgan = WGANGP(generator, critic, latent_dim=4, critic_steps=3)
        >>> wgan.compile()
        >>> x = np.random.normal(size=(128, 2)).astype("float32")
        >>> history = wgan.fit(x, batch_size=32, epochs=1, verbose=0)
        >>> int(wgan.d_optimizer.iterations), int(wgan.g_optimizer.iterations)
        (12, 4)

    References:
        Gulrajani et al., "Improved Training of Wasserstein GANs", 2017,
        https://arxiv.org/abs/1704.00028.
    """

    default_loss = "wasserstein"

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        critic_steps=5,
        gradient_penalty_weight=10.0,
        **kwargs,
    ):
        if "discriminator_steps" in kwargs:
            raise ValueError(
                "WGANGP: the critic's update count is `critic_steps`; "
                "`discriminator_steps` is not used. Received: "
                f"discriminator_steps={kwargs['discriminator_steps']!r}"
            )
        if (
            not isinstance(gradient_penalty_weight, (int, float))
            or gradient_penalty_weight < 0
        ):
            raise ValueError(
                "WGANGP: `gradient_penalty_weight` must be a number >= 0. "
                f"Received: gradient_penalty_weight={gradient_penalty_weight!r}"
            )
        if not isinstance(critic_steps, int) or critic_steps < 1:
            raise ValueError(
                "WGANGP: `critic_steps` must be an int >= 1. Received: "
                f"critic_steps={critic_steps!r}"
            )
        super().__init__(
            generator,
            discriminator,
            latent_dim,
            discriminator_steps=critic_steps,
            **kwargs,
        )
        self.critic_steps = critic_steps
        self.gradient_penalty_weight = gradient_penalty_weight
        self.gradient_penalty_tracker = keras.metrics.Mean(
            name="gradient_penalty"
        )

    def default_optimizer(self):
        """Adam(1e-4, beta_1=0, beta_2=0.9), the WGAN-GP paper's."""
        return keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.0, beta_2=0.9)

    def _penalty(self, real, fake, condition, training):
        penalty = gradient_penalty(
            lambda x: self._discriminate(x, condition, training),
            real,
            fake,
            interpolation=replica_uniform(
                (ops.shape(real)[0],), seed=self.seed_generator
            ),
        )
        self.gradient_penalty_tracker.update_state(penalty)
        return self.gradient_penalty_weight * penalty + super()._penalty(
            real, fake, condition, training
        )

    @property
    def metrics(self):
        return super().metrics + [self.gradient_penalty_tracker]

    def get_config(self):
        config = super().get_config()
        del config["discriminator_steps"]
        config["critic_steps"] = self.critic_steps
        config["gradient_penalty_weight"] = self.gradient_penalty_weight
        return config
