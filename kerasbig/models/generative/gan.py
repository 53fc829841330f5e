"""`GAN`: generator and discriminator trained with `fit()` on every backend."""

import keras
import numpy as np
from keras import ops

from kerasbig import _backend
from kerasbig.models._optimizer_group import OptimizerGroup
from kerasbig.models._optimizer_group import resolve_optimizer
from kerasbig.models._replica_random import replica_normal
from kerasbig.models._seed_state import SavesSeedState
from kerasbig.ops.penalties import r1_penalty

LOSSES = ("bce", "hinge", "wasserstein")


def discriminator_loss(kind, real_logits, fake_logits):
    """Discriminator (critic) loss on raw scores of real and fake."""
    if kind == "bce":
        # BCE(real, 1) + BCE(fake, 0) on logits.
        return ops.mean(ops.softplus(-real_logits)) + ops.mean(
            ops.softplus(fake_logits)
        )
    if kind == "hinge":
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(
            ops.relu(1.0 + fake_logits)
        )
    return ops.mean(fake_logits) - ops.mean(real_logits)


def generator_loss(kind, fake_logits):
    """Generator loss; `bce` is the non-saturating -log D(G(z))."""
    if kind == "bce":
        return ops.mean(ops.softplus(-fake_logits))
    return -ops.mean(fake_logits)


@keras.saving.register_keras_serializable(package="kerasbig")
class GAN(SavesSeedState, keras.Model):
    """A generative adversarial network that trains with plain `fit()` on
    TensorFlow, JAX and PyTorch.

    Each train step runs `discriminator_steps` discriminator updates (new
    latent noise each, the same real batch) and then one generator
    update, each with its own optimizer. The backend-specific part (the
    gradient tape, JAX's pure state, PyTorch autograd) lives in
    `kerasbig._backend`; this class only defines the losses.

    The discriminator returns one raw score (logit) per sample; no
    sigmoid. Losses (`compile(loss=...)`):

    - `"bce"`: the original GAN loss with the non-saturating generator
      loss (Goodfellow et al. 2014).
    - `"hinge"`: the hinge loss of SAGAN/BigGAN.
    - `"wasserstein"`: the critic loss of WGAN; use `WGANGP` for the
      gradient penalty that keeps the critic Lipschitz.

    `fit(x)` takes real samples (`y` is ignored); logs are `d_loss`,
    `g_loss`, `real_accuracy` and `fake_accuracy` (the share of real and
    fake samples the discriminator scores on the correct side of 0), and
    `r1_penalty` when `r1_weight > 0`. `evaluate()` reports the same on
    held-out data without updating weights. Calling the model calls the
    generator on latent vectors.

    Args:
        generator: Keras model mapping `(batch, latent_dim)` noise to
            samples.
        discriminator: Keras model mapping samples to `(batch, 1)` scores.
        latent_dim: size of the latent vector.
        discriminator_steps: discriminator updates per generator update.
            Defaults to 1.
        r1_weight: `gamma` of the R1 penalty `gamma / 2 * E||grad
            D(real)||**2` (Mescheder et al. 2018); 0 disables it.
        seed: seed of the latent noise drawn during training.
        **kwargs: `keras.Model` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.models import GAN
        >>> generator = keras.Sequential([keras.Input((4,)),
        ...     keras.layers.Dense(16, activation="relu"),
        ...     keras.layers.Dense(2)])
        >>> discriminator = keras.Sequential([keras.Input((2,)),
        ...     keras.layers.Dense(16, activation="relu"),
        ...     keras.layers.Dense(1)])
        >>> gan = GAN(generator, discriminator, latent_dim=4)
        >>> gan.compile(loss="bce")
        >>> x = np.random.normal(size=(256, 2)).astype("float32")
        >>> history = gan.fit(x, batch_size=32, epochs=1, verbose=0)
        >>> sorted(history.history)
        ['d_loss', 'fake_accuracy', 'g_loss', 'real_accuracy']
        >>> gan.generate(5, seed=0).shape
        (5, 2)

    References:
        Goodfellow et al., "Generative Adversarial Networks", 2014,
        https://arxiv.org/abs/1406.2661. Radford, Metz and Chintala,
        "Unsupervised Representation Learning with Deep Convolutional
        GANs", 2015, https://arxiv.org/abs/1511.06434.
    """

    default_loss = "bce"

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        discriminator_steps=1,
        r1_weight=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        for arg, model in (
            ("generator", generator),
            ("discriminator", discriminator),
        ):
            if not isinstance(model, keras.layers.Layer):
                raise ValueError(
                    f"{name}: `{arg}` must be a Keras model. Received: "
                    f"{arg}={model!r}"
                )
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(
                f"{name}: `latent_dim` must be an int >= 1. Received: "
                f"latent_dim={latent_dim!r}"
            )
        if not isinstance(discriminator_steps, int) or discriminator_steps < 1:
            raise ValueError(
                f"{name}: `discriminator_steps` must be an int >= 1. "
                f"Received: discriminator_steps={discriminator_steps!r}"
            )
        if not isinstance(r1_weight, (int, float)) or r1_weight < 0:
            raise ValueError(
                f"{name}: `r1_weight` must be a number >= 0. Received: "
                f"r1_weight={r1_weight!r}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.discriminator_steps = discriminator_steps
        self.r1_weight = r1_weight
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_kind = None
        # Built networks make the GAN built, so that a reloaded one
        # restores its optimizers' state.
        if generator.built and discriminator.built:
            self.built = True
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_accuracy_tracker = keras.metrics.Mean(name="real_accuracy")
        self.fake_accuracy_tracker = keras.metrics.Mean(name="fake_accuracy")
        self.r1_tracker = keras.metrics.Mean(name="r1_penalty")

    def compile(self, g_optimizer=None, d_optimizer=None, loss=None, **kwargs):
        """Configures training.

        Args:
            g_optimizer: generator optimizer (instance or name). Defaults
                to `default_optimizer()`.
            d_optimizer: discriminator optimizer; must be another instance.
            loss: `"bce"`, `"hinge"` or `"wasserstein"`.
            **kwargs: `keras.Model.compile` arguments (`jit_compile`,
                `run_eagerly`, `steps_per_execution`).
        """
        name = type(self).__name__
        loss = self.default_loss if loss is None else loss
        if loss not in LOSSES:
            raise ValueError(
                f"{name}.compile: `loss` must be one of {LOSSES}. "
                f"Received: loss={loss!r}"
            )
        for arg in ("optimizer", "metrics", "loss_weights"):
            if kwargs.get(arg) is not None:
                raise ValueError(
                    f"{name}.compile takes `g_optimizer` and `d_optimizer` "
                    f"and tracks its own metrics; `{arg}` is not supported. "
                    f"Received: {arg}={kwargs[arg]!r}"
                )
        super().compile(**kwargs)
        self.g_optimizer = resolve_optimizer(
            g_optimizer, self.default_optimizer, self
        )
        self.d_optimizer = resolve_optimizer(
            d_optimizer, self.default_optimizer, self
        )
        self.optimizer = OptimizerGroup(
            [
                (self.g_optimizer, self.generator),
                (self.d_optimizer, self.discriminator),
            ]
        )
        self.loss_kind = loss
        self._gan_compile_config = {"loss": loss, **kwargs}

    def default_optimizer(self):
        """Adam(2e-4, beta_1=0.5), the DCGAN setting."""
        return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)

    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)

    def train_step(self, *args):
        return _backend.phased_train_step(self, self._phases(), *args)

    def test_step(self, *args):
        return _backend.phased_test_step(self, self._phases(), *args)

    def generate(self, n, seed=None, batch_size=256):
        """Generates `n` samples as a NumPy array.

        Args:
            n: number of samples.
            seed: seed of the latent noise (NumPy); the same seed gives
                the same samples.
            batch_size: generator batch size.
        """
        latent = self.sample_latent(n, seed)
        return self.generator.predict(latent, batch_size=batch_size, verbose=0)

    def sample_latent(self, n, seed=None):
        """`n` standard normal latent vectors (NumPy, float32)."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(
                f"{type(self).__name__}: `n` must be an int >= 1. "
                f"Received: n={n!r}"
            )
        rng = np.random.default_rng(seed)
        return rng.standard_normal((int(n), self.latent_dim)).astype("float32")

    def _phases(self):
        return [
            _backend.TrainPhase(
                "discriminator",
                self.d_optimizer,
                self.discriminator.trainable_variables,
                self._discriminator_phase_loss,
                self.discriminator_steps,
            ),
            _backend.TrainPhase(
                "generator",
                self.g_optimizer,
                self.generator.trainable_variables,
                self._generator_phase_loss,
                1,
            ),
        ]

    def _real_and_condition(self, data):
        """Real samples and the condition the networks see (none here)."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, None

    def _generate(self, latent, condition, training):
        return self.generator(latent, training=training)

    def _discriminate(self, samples, condition, training):
        return self.discriminator(samples, training=training)

    def _fake(self, real, condition, training):
        batch = ops.shape(real)[0]
        latent = replica_normal(
            (batch, self.latent_dim), seed=self.seed_generator
        )
        return self._generate(latent, condition, training)

    def _discriminator_phase_loss(self, data, training):
        real, condition = self._real_and_condition(data)
        real = ops.cast(real, self.compute_dtype)
        fake = ops.stop_gradient(self._fake(real, condition, training))
        real_logits = ops.cast(
            self._discriminate(real, condition, training), "float32"
        )
        fake_logits = ops.cast(
            self._discriminate(fake, condition, training), "float32"
        )
        loss = discriminator_loss(self.loss_kind, real_logits, fake_logits)
        loss = loss + self._penalty(real, fake, condition, training)
        self.d_loss_tracker.update_state(loss)
        self.real_accuracy_tracker.update_state(
            ops.mean(ops.cast(real_logits > 0, "float32"))
        )
        self.fake_accuracy_tracker.update_state(
            ops.mean(ops.cast(fake_logits < 0, "float32"))
        )
        return loss

    def _penalty(self, real, fake, condition, training):
        """Terms added to the discriminator loss (R1 here)."""
        if not self.r1_weight:
            return 0.0
        r1 = r1_penalty(
            lambda x: self._discriminate(x, condition, training), real
        )
        self.r1_tracker.update_state(r1)
        return 0.5 * self.r1_weight * r1

    def _generator_phase_loss(self, data, training):
        real, condition = self._real_and_condition(data)
        fake = self._fake(real, condition, training)
        fake_logits = ops.cast(
            self._discriminate(fake, condition, training), "float32"
        )
        loss = generator_loss(self.loss_kind, fake_logits)
        self.g_loss_tracker.update_state(loss)
        return loss

    @property
    def metrics(self):
        trackers = [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.real_accuracy_tracker,
            self.fake_accuracy_tracker,
        ]
        if self.r1_weight:
            trackers.append(self.r1_tracker)
        return trackers

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(
                    self.generator
                ),
                "discriminator": keras.saving.serialize_keras_object(
                    self.discriminator
                ),
                "latent_dim": self.latent_dim,
                "discriminator_steps": self.discriminator_steps,
                "r1_weight": self.r1_weight,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("generator", "discriminator"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            **self._gan_compile_config,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for name in ("g_optimizer", "d_optimizer"):
            config[name] = keras.optimizers.deserialize(config[name])
        self.compile(**config)
        if self.built:
            self.optimizer.build()
