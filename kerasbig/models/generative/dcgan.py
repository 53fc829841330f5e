"""DCGAN generator and discriminator builders for any image shape."""

import keras

from kerasbig.layers.embedding import Embedding
from kerasbig.layers.spectral_normalization import SpectralNormalization


def _check_image_shape(image_shape, caller):
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in image_shape)
        or min(image_shape[:2]) < 8
    ):
        raise ValueError(
            f"{caller}: `image_shape` must be (height, width, channels) "
            f"with height and width >= 8. Received: image_shape={image_shape!r}"
        )
    return tuple(image_shape)


def upsampling_steps(image_shape):
    """How many stride-2 steps lead from a >= 4x4 start to `image_shape`
    (height and width halve while both stay even and >= 4, at most 4)."""
    height, width = image_shape[:2]
    steps = 0
    while (
        steps < 4
        and height % 2 == 0
        and width % 2 == 0
        and height // 2 >= 4
        and width // 2 >= 4
    ):
        height, width, steps = height // 2, width // 2, steps + 1
    return steps


def _wrap(layer, spectral_normalization):
    if spectral_normalization:
        return SpectralNormalization(layer, dtype=layer.dtype_policy)
    return layer


def dcgan_generator(
    image_shape,
    latent_dim=128,
    filters=64,
    num_classes=None,
    output_activation="tanh",
    spectral_normalization=False,
    name="generator",
):
    """Builds a DCGAN generator (Radford et al. 2015) for `image_shape`.

    Dense projection to a small `(h, w, filters * 2**(k-1))` map, then `k`
    stride-2 `Conv2DTranspose` (kernel 4) + BatchNorm + ReLU steps that
    halve the channels, and a 3x3 convolution to the image channels with
    `output_activation` (tanh: train on images scaled to [-1, 1]), kept in
    float32 under a mixed-precision policy (so images come out float32).
    `k` is the number of times height and width can halve while staying
    >= 4 (two for 16x16, three for 32x32, one for 8x8).

    Args:
        image_shape: `(height, width, channels)`, height and width >= 8.
        latent_dim: size of the latent input.
        filters: channels of the last upsampling block.
        num_classes: when set, the model takes `[latent, labels]` and
            concatenates a learned 50-d label embedding to the latent
            vector (for `ConditionalGAN`).
        output_activation: activation of the output layer.
        spectral_normalization: wrap every convolution and dense layer in
            `kerasbig.layers.SpectralNormalization`.
        name: model name.

    Returns:
        A functional `keras.Model`.

    Example:

        >>> from kerasbig.models import dcgan_generator
        >>> generator = dcgan_generator((32, 32, 3), latent_dim=64)
        >>> generator.output_shape
        (None, 32, 32, 3)
    """
    image_shape = _check_image_shape(image_shape, "dcgan_generator")
    steps = upsampling_steps(image_shape)
    height, width = image_shape[0] >> steps, image_shape[1] >> steps
    top = filters * 2 ** max(steps - 1, 0)
    latent = keras.Input((latent_dim,), name="latent")
    inputs, x = [latent], latent
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        # A class label repeats in every batch: kerasbig's Embedding
        # gives it the exact optimizer update on TensorFlow too.
        embedded = Embedding(num_classes, 50, name="label_embedding")(labels)
        x = keras.layers.Concatenate(name="latent_and_label")([x, embedded])
        inputs.append(labels)
    x = _wrap(
        keras.layers.Dense(
            height * width * top, use_bias=False, name="project"
        ),
        spectral_normalization,
    )(x)
    x = keras.layers.BatchNormalization(name="project_norm")(x)
    x = keras.layers.ReLU(name="project_relu")(x)
    x = keras.layers.Reshape((height, width, top), name="reshape")(x)
    for i in range(steps):
        channels = max(top // 2**i, 1)
        x = _wrap(
            keras.layers.Conv2DTranspose(
                channels,
                4,
                strides=2,
                padding="same",
                use_bias=False,
                name=f"up{i}",
            ),
            spectral_normalization,
        )(x)
        x = keras.layers.BatchNormalization(name=f"up{i}_norm")(x)
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
    outputs = _wrap(
        keras.layers.Conv2D(
            image_shape[2],
            3,
            padding="same",
            activation=output_activation,
            # float32 under a mixed policy, as Keras advises for outputs.
            # It also keeps PyTorch off its float16 CPU convolution
            # backward, which fails for one output channel.
            dtype="float32",
            name="to_image",
        ),
        spectral_normalization,
    )(x)
    return keras.Model(inputs if num_classes else latent, outputs, name=name)


def dcgan_discriminator(
    image_shape,
    filters=64,
    num_classes=None,
    dropout=0.0,
    spectral_normalization=False,
    name="discriminator",
):
    """Builds a DCGAN discriminator (critic) for `image_shape`.

    `k` stride-2 convolutions (kernel 4, LeakyReLU 0.2, channels doubling
    from `filters`), then one dense score per image (a logit: no sigmoid),
    kept in float32 under a mixed-precision policy.
    No batch normalization, so the same network serves as a WGAN-GP
    critic and under R1; `spectral_normalization=True` constrains it the
    SNGAN way instead.

    Args:
        image_shape: `(height, width, channels)`, height and width >= 8.
        filters: channels of the first convolution.
        num_classes: when set, the model takes `[images, labels]`; a
            learned per-class map of the image size joins the image as an
            extra channel (for `ConditionalGAN`).
        dropout: dropout rate after each convolution block.
        spectral_normalization: wrap every convolution and dense layer in
            `kerasbig.layers.SpectralNormalization`.
        name: model name.

    Returns:
        A functional `keras.Model` returning `(batch, 1)` logits.

    Example:

        >>> from kerasbig.models import dcgan_discriminator
        >>> dcgan_discriminator((32, 32, 3)).output_shape
        (None, 1)
    """
    image_shape = _check_image_shape(image_shape, "dcgan_discriminator")
    steps = max(upsampling_steps(image_shape), 1)
    images = keras.Input(image_shape, name="images")
    inputs, x = [images], images
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        height, width = image_shape[:2]
        label_map = Embedding(
            num_classes, height * width, name="label_embedding"
        )(labels)
        label_map = keras.layers.Reshape((height, width, 1), name="label_map")(
            label_map
        )
        x = keras.layers.Concatenate(name="image_and_label")([x, label_map])
        inputs.append(labels)
    for i in range(steps):
        x = _wrap(
            keras.layers.Conv2D(
                filters * 2**i, 4, strides=2, padding="same", name=f"down{i}"
            ),
            spectral_normalization,
        )(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down{i}_relu")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"down{i}_dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = _wrap(
        keras.layers.Dense(1, dtype="float32", name="score"),
        spectral_normalization,
    )(x)
    return keras.Model(inputs if num_classes else images, outputs, name=name)
