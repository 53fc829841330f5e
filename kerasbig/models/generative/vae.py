"""`VAE`: a variational autoencoder trained with `fit()`, with KL warm-up."""

import keras
import numpy as np
from keras import ops

from kerasbig import _backend
from kerasbig.models._replica_random import replica_normal
from kerasbig.models._seed_state import SavesSeedState

RECONSTRUCTION_LOSSES = ("bce", "mse")


@keras.saving.register_keras_serializable(package="kerasbig")
class VAE(SavesSeedState, keras.Model):
    """Variational autoencoder (Kingma and Welling 2013) that trains with
    plain `fit(x)` on every backend.

    The encoder maps inputs to the posterior's `z_mean` and `z_log_var`
    (either two outputs, or one output of size `2 * latent_dim` split in
    half); `z = z_mean + exp(z_log_var / 2) * eps` (the
    reparameterisation trick) goes to the decoder. The loss per sample is
    `reconstruction + beta_t * KL(q(z|x) || N(0, I))`, averaged over the
    batch, with `beta_t` rising linearly from 0 to `beta` over
    `kl_warmup_steps` train steps (KL annealing, Bowman et al. 2016).
    Built on the portable `compute_loss` hook: no backend-specific code.

    Reconstruction losses, summed over each sample's features:

    - `"bce"`: binary cross-entropy; the decoder outputs probabilities
      (sigmoid) and inputs are in [0, 1].
    - `"mse"`: squared error; the decoder outputs means.

    Calling the model returns a dict: `reconstruction`, `z_mean`,
    `z_log_var` (at inference `z = z_mean`, so `reconstruction` is the
    posterior mean's decoding). Logs: `loss`, `reconstruction_loss`,
    `kl_loss` and `elbo` (`-(reconstruction + KL)`, with `beta = 1`; for
    `"bce"` it is the Bernoulli log-likelihood bound in nats).

    Args:
        encoder: Keras model, inputs -> `[z_mean, z_log_var]` or
            `(batch, 2 * latent_dim)`.
        decoder: Keras model, `(batch, latent_dim)` -> inputs' shape.
        beta: weight of the KL term (beta-VAE). Defaults to 1.
        kl_warmup_steps: train steps over which the KL weight rises from
            0 to `beta`; 0 disables annealing.
        reconstruction_loss: `"bce"` or `"mse"`.
        seed: seed of the reparameterisation noise.
        **kwargs: `keras.Model` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.models import VAE
        >>> encoder = keras.Sequential([keras.Input((16,)),
        ...     keras.layers.Dense(32, activation="relu"),
        ...     keras.layers.Dense(4)])
        >>> decoder = keras.Sequential([keras.Input((2,)),
        ...     keras.layers.Dense(32, activation="relu"),
        ...     keras.layers.Dense(16, activation="sigmoid")])
        >>> vae = VAE(encoder, decoder, kl_warmup_steps=10)
        >>> vae.compile(optimizer="adam")
        >>> x = np.random.uniform(size=(64, 16)).astype("float32")
        >>> history = vae.fit(x, epochs=1, batch_size=16, verbose=0)
        >>> sorted(history.history)
        ['elbo', 'kl_loss', 'loss', 'reconstruction_loss']
        >>> vae.sample(3, seed=0).shape, vae.reconstruct(x[:2]).shape
        ((3, 16), (2, 16))

    References:
        Kingma and Welling, "Auto-Encoding Variational Bayes", 2013,
        https://arxiv.org/abs/1312.6114. Bowman et al., "Generating
        Sentences from a Continuous Space", 2016,
        https://arxiv.org/abs/1511.06349.
    """

    def __init__(
        self,
        encoder,
        decoder,
        beta=1.0,
        kl_warmup_steps=0,
        reconstruction_loss="bce",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, model in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(model, keras.layers.Layer):
                raise ValueError(
                    f"VAE: `{arg}` must be a Keras model. Received: "
                    f"{arg}={model!r}"
                )
        if not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(
                f"VAE: `beta` must be a number >= 0. Received: beta={beta!r}"
            )
        if not isinstance(kl_warmup_steps, int) or kl_warmup_steps < 0:
            raise ValueError(
                "VAE: `kl_warmup_steps` must be an int >= 0. Received: "
                f"kl_warmup_steps={kl_warmup_steps!r}"
            )
        if reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"VAE: `reconstruction_loss` must be one of "
                f"{RECONSTRUCTION_LOSSES}. Received: "
                f"reconstruction_loss={reconstruction_loss!r}"
            )
        self.encoder = encoder
        self.decoder = decoder
        self.beta = beta
        self.kl_warmup_steps = kl_warmup_steps
        self.reconstruction_loss = reconstruction_loss
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Counts train steps for the KL warm-up; saved with the model, so
        # a resumed run continues the schedule.
        self.kl_step = self.add_weight(
            shape=(),
            initializer="zeros",
            trainable=False,
            name="kl_step",
        )
        if encoder.built and decoder.built:
            self.built = True
        self.reconstruction_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")

    @property
    def latent_dim(self):
        """Size of the latent vector (the decoder's input size)."""
        return int(self.decoder.inputs[0].shape[-1])

    def call(self, inputs, training=None):
        z_mean, z_log_var = self._posterior(inputs, training)
        if training:
            noise = replica_normal(
                ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
            )
            z = z_mean + ops.exp(0.5 * z_log_var) * noise
        else:
            z = z_mean
        return {
            "reconstruction": self.decoder(z, training=training),
            "z_mean": z_mean,
            "z_log_var": z_log_var,
        }

    def _posterior(self, inputs, training):
        encoded = self.encoder(inputs, training=training)
        if isinstance(encoded, (list, tuple)):
            if len(encoded) != 2:
                raise ValueError(
                    "VAE: the encoder must return [z_mean, z_log_var] or "
                    f"one tensor of size 2 * latent_dim. Received "
                    f"{len(encoded)} outputs"
                )
            return encoded
        size = encoded.shape[-1]
        if size is None or size % 2:
            raise ValueError(
                "VAE: a single encoder output must have an even last "
                f"dimension (z_mean and z_log_var). Received shape "
                f"{encoded.shape}"
            )
        return encoded[..., : size // 2], encoded[..., size // 2 :]

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        target = ops.cast(x, "float32")
        reconstruction = ops.cast(y_pred["reconstruction"], "float32")
        if tuple(target.shape[1:]) != tuple(reconstruction.shape[1:]):
            raise ValueError(
                "VAE: the decoder must return the inputs' shape. Received: "
                f"inputs {target.shape}, reconstruction {reconstruction.shape}"
            )
        batch = ops.shape(target)[0]
        target = ops.reshape(target, (batch, -1))
        reconstruction = ops.reshape(reconstruction, (batch, -1))
        if self.reconstruction_loss == "bce":
            p = ops.clip(reconstruction, 1e-7, 1.0 - 1e-7)
            per_feature = -(
                target * ops.log(p) + (1.0 - target) * ops.log(1.0 - p)
            )
        else:
            per_feature = ops.square(target - reconstruction)
        reconstruction_loss = ops.mean(ops.sum(per_feature, axis=1))
        z_mean = ops.cast(y_pred["z_mean"], "float32")
        z_log_var = ops.cast(y_pred["z_log_var"], "float32")
        kl = -0.5 * ops.sum(
            1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1
        )
        kl_loss = ops.mean(kl)
        loss = reconstruction_loss + self._kl_weight(training) * kl_loss
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        self.reconstruction_tracker.update_state(reconstruction_loss)
        self.kl_tracker.update_state(kl_loss)
        self.elbo_tracker.update_state(-(reconstruction_loss + kl_loss))
        # Keras's losses divide by the tf.distribute replica count (the
        # optimizer sums the replicas' gradients); a custom loss must too.
        num_replicas, _ = _backend.replica_context()
        return loss / num_replicas

    def _kl_weight(self, training):
        if not self.kl_warmup_steps:
            return float(self.beta)
        step = self.kl_step.value
        # The weight is computed before the step count moves on: on
        # PyTorch `step` shares the variable's storage.
        weight = self.beta * ops.minimum(step / self.kl_warmup_steps, 1.0)
        if training:
            self.kl_step.assign(step + 1.0)
        return weight

    def encode(self, x, batch_size=256):
        """Posterior `(z_mean, z_log_var)` of `x`, as NumPy arrays."""
        encoded = self.encoder.predict(x, batch_size=batch_size, verbose=0)
        if isinstance(encoded, (list, tuple)):
            return tuple(encoded)
        half = encoded.shape[-1] // 2
        return encoded[..., :half], encoded[..., half:]

    def decode(self, z, batch_size=256):
        """Decoder outputs for latent vectors `z`, as a NumPy array."""
        return self.decoder.predict(
            np.asarray(z, "float32"), batch_size=batch_size, verbose=0
        )

    def sample(self, n, seed=None, batch_size=256):
        """Decodes `n` draws from the prior `N(0, I)` (NumPy)."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(
                f"VAE.sample: `n` must be an int >= 1. Received: n={n!r}"
            )
        z = np.random.default_rng(seed).standard_normal(
            (int(n), self.latent_dim)
        )
        return self.decode(z, batch_size)

    def reconstruct(self, x, batch_size=256):
        """Decodes the posterior mean of `x` (NumPy)."""
        return self.decode(self.encode(x, batch_size)[0], batch_size)

    @property
    def metrics(self):
        return super().metrics + [
            self.reconstruction_tracker,
            self.kl_tracker,
            self.elbo_tracker,
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "beta": self.beta,
                "kl_warmup_steps": self.kl_warmup_steps,
                "reconstruction_loss": self.reconstruction_loss,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("encoder", "decoder"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
