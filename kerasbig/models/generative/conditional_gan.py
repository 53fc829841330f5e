"""`ConditionalGAN`: a GAN whose generator and discriminator see the class
label."""

import keras
import numpy as np
from keras import ops

from kerasbig.models.generative.gan import GAN


@keras.saving.register_keras_serializable(package="kerasbig")
class ConditionalGAN(GAN):
    """A class-conditional GAN (Mirza and Osindero 2014) trained with
    `fit(images, labels)` on every backend.

    Both networks see the class: the generator is called on `[latent,
    labels]` and the discriminator on `[samples, labels]`, with integer
    labels of shape `(batch,)`. In each step the fake samples get the
    real batch's labels, so the classes stay balanced as in the data.
    Losses, steps and logs are those of `GAN`; `kerasbig.models.
    dcgan_generator(..., num_classes=n)` and `dcgan_discriminator(...,
    num_classes=n)` build matching networks.

    Args:
        generator: Keras model on `[latent (batch, latent_dim), labels
            (batch,)]`.
        discriminator: Keras model on `[samples, labels]` returning
            `(batch, 1)` scores.
        latent_dim: size of the latent vector.
        num_classes: number of classes; labels are ints in
            `[0, num_classes)`.
        **kwargs: `GAN` arguments and `keras.Model` arguments.

    Example:

        >>> import numpy as np
        >>> from kerasbig.models import ConditionalGAN
        >>> from kerasbig.models import dcgan_discriminator, dcgan_generator
        >>> shape = (8, 8, 1)
        >>> gan = ConditionalGAN(
        ...     dcgan_generator(shape, latent_dim=8, filters=8, num_classes=3),
        ...     dcgan_discriminator(shape, filters=8, num_classes=3),
        ...     latent_dim=8, num_classes=3)
        >>> gan.compile()
        >>> x = np.random.uniform(-1, 1, (64,) + shape).astype("float32")
        >>> y = np.random.randint(0, 3, 64)
        >>> history = gan.fit(x, y, batch_size=32, epochs=1, verbose=0)
        >>> gan.generate([0, 1, 2, 2], seed=0).shape
        (4, 8, 8, 1)

    References:
        Mirza and Osindero, "Conditional Generative Adversarial Nets",
        2014, https://arxiv.org/abs/1411.1784.
    """

    def __init__(
        self, generator, discriminator, latent_dim, num_classes, **kwargs
    ):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                "ConditionalGAN: `num_classes` must be an int >= 2. "
                f"Received: num_classes={num_classes!r}"
            )
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.num_classes = num_classes

    def generate(self, labels, seed=None, batch_size=256):
        """Generates one sample per label as a NumPy array.

        Args:
            labels: sequence of class ids, or an int `n` for `n` samples
                cycling through the classes `0, 1, ..., num_classes - 1`.
            seed: seed of the latent noise (NumPy).
            batch_size: generator batch size.
        """
        if isinstance(labels, (int, np.integer)):
            labels = np.arange(int(labels)) % self.num_classes
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                "ConditionalGAN.generate: `labels` must be an int or a 1-D "
                f"sequence of ints. Received: labels with shape "
                f"{labels.shape} and dtype {labels.dtype}"
            )
        if labels.size and (
            labels.min() < 0 or labels.max() >= self.num_classes
        ):
            raise ValueError(
                "ConditionalGAN.generate: labels must be in [0, "
                f"{self.num_classes}). Received: min {labels.min()}, max "
                f"{labels.max()}"
            )
        latent = self.sample_latent(len(labels), seed)
        return self.generator.predict(
            [latent, labels.astype("int32")], batch_size=batch_size, verbose=0
        )

    def _real_and_condition(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError(
                "ConditionalGAN: fit and evaluate need labels: call "
                "`fit(images, labels)` or feed `(images, labels)` batches."
            )
        return x, ops.cast(ops.reshape(y, (-1,)), "int32")

    def _generate(self, latent, condition, training):
        return self.generator([latent, condition], training=training)

    def _discriminate(self, samples, condition, training):
        return self.discriminator([samples, condition], training=training)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config
