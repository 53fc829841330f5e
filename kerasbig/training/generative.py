"""Generative recipes: their callbacks and training loop, and scoring
generated images with a classifier trained on the real ones."""

import time

import keras
import numpy as np

from kerasbig.callbacks import GeneratorEMA
from kerasbig.callbacks import SampleGrid
from kerasbig.metrics import FrechetDistance
from kerasbig.training.distributed import explain_worker_failure
from kerasbig.training.errors import TrainingStopped
from kerasbig.training.run_folder import explain_interruption
from kerasbig.training.run_folder import progress_verbosity
from kerasbig.training.run_folder import run_callbacks


def generative_callbacks(
    output_dir, samples_every=10, seed=0, ema_decay=0.0, value_range=(-1, 1)
):
    """`run_callbacks` plus a sample grid every `samples_every` epochs in
    `<output_dir>/samples` and, when `ema_decay > 0`, a `GeneratorEMA`
    that the grids sample from.

    Args:
        output_dir: the run folder.
        samples_every: epochs between sample grids.
        seed: seed of the grid's latent points.
        ema_decay: decay of the generator weight average; 0 for none.
        value_range: pixel range of the generated images.

    Returns:
        `(callbacks, guard, ema)`: the list for `fit`, its `StopOnNaN`
        and the `GeneratorEMA` (or None).

    Example:

        >>> import tempfile
        >>> from kerasbig.training import generative_callbacks
        >>> callbacks, guard, ema = generative_callbacks(
        ...     tempfile.mkdtemp(), ema_decay=0.99)
        >>> [type(c).__name__ for c in callbacks][2:]
        ['StopOnNaN', 'SampleGrid', 'GeneratorEMA']
    """
    callbacks = run_callbacks(output_dir)
    guard = callbacks[-1]
    ema = GeneratorEMA(ema_decay) if ema_decay else None
    callbacks.append(
        SampleGrid(
            f"{output_dir}/samples",
            every=samples_every,
            seed=seed,
            value_range=value_range,
            ema=ema,
        )
    )
    if ema:
        callbacks.append(ema)
    return callbacks, guard, ema


def fit_generative(
    model,
    x,
    y=None,
    *,
    epochs,
    batch_size,
    output_dir,
    samples_every=10,
    seed=0,
    value_range=(-1, 1),
    ema_decay=0.0,
    **kwargs,
):
    """Trains a GAN or VAE the way the generative recipes do.

    `model.fit(x, y)` for `epochs` epochs of `batch_size`, with
    `generative_callbacks` writing into the run folder `output_dir`
    (a sample grid every `samples_every` epochs, seeded by `seed`). When
    a NaN stops training, it raises `TrainingStopped` with `StopOnNaN`'s
    message.

    Args:
        model: a compiled `GAN`, `WGANGP`, `ConditionalGAN` or `VAE`.
        x: training images.
        y: labels (conditional GAN), or None.
        epochs: epochs in all (a resumed run trains the rest).
        batch_size: images per step (the global batch).
        output_dir: the run folder.
        samples_every: epochs between sample grids.
        seed: seed of the grids' latent points.
        value_range: pixel range of the generated images.
        ema_decay: decay of the generator weight average; 0 for none.
        **kwargs: further `fit` arguments (`validation_data`, `verbose`
            (default: `progress_verbosity()`), ...).

    Returns:
        `(history, ema, seconds)`: the `fit` history, the `GeneratorEMA`
        (or None) and the training time.

    Example:

        >>> import tempfile, numpy as np
        >>> from kerasbig.models import GAN
        >>> from kerasbig.models import dcgan_discriminator, dcgan_generator
        >>> from kerasbig.training import fit_generative
        >>> gan = GAN(dcgan_generator((8, 8, 1), latent_dim=4, filters=4),
        ...           dcgan_discriminator((8, 8, 1), filters=4), latent_dim=4)
        >>> gan.compile()
        >>> history, ema, seconds = fit_generative(
        ...     gan, np.zeros((16, 8, 8, 1), "float32"), epochs=1,
        ...     batch_size=8, output_dir=tempfile.mkdtemp(), verbose=0)
        >>> history.epoch, ema
        ([0], None)
    """
    callbacks, guard, ema = generative_callbacks(
        output_dir, samples_every, seed, ema_decay, value_range
    )
    start = time.perf_counter()
    with (
        explain_interruption(output_dir),
        explain_worker_failure(model, output_dir),
    ):
        history = model.fit(
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            callbacks=callbacks,
            **{"verbose": progress_verbosity(), **kwargs},
        )
    seconds = time.perf_counter() - start
    if guard.stopped_reason:
        raise TrainingStopped(guard.stopped_reason)
    return history, ema, seconds


def train_feature_classifier(
    images, labels, num_classes, epochs=30, batch_size=64, seed=0
):
    """Trains a small CNN classifier on real images.

    Its penultimate layer gives features for the Fréchet distance (the
    role InceptionV3 plays in FID) and its predictions check that a
    conditional generator draws the class it was asked for.

    Args:
        images: `(n, height, width, channels)` float images.
        labels: `(n,)` int labels.
        num_classes: number of classes.
        epochs: training epochs.
        batch_size: batch size.
        seed: seed of initialisation and shuffling.

    Returns:
        `(classifier, features)`: the trained `keras.Model` returning
        logits, and a model sharing its layers that returns the
        64-d penultimate features.

    Example:

        >>> from kerasbig.data import load_digits
        >>> from kerasbig.training import train_feature_classifier
        >>> (x, y), _ = load_digits()
        >>> classifier, features = train_feature_classifier(
        ...     x[:200], y[:200], num_classes=10, epochs=1)
        >>> features.output_shape
        (None, 64)
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(images.shape[1:])
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    features = keras.layers.Dense(64, activation="relu", name="features")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(features)
    classifier = keras.Model(inputs, logits, name="feature_classifier")
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    classifier.fit(
        images, labels, epochs=epochs, batch_size=batch_size, verbose=0
    )
    return classifier, keras.Model(inputs, features, name="features")


def image_frechet_distance(features, real, generated, batch_size=256):
    """Fréchet distance between two image sets in `features` space.

    Args:
        features: Keras model mapping images to feature vectors.
        real: `(n, ...)` real images.
        generated: `(m, ...)` generated images, same pixel range.
        batch_size: images per feature-extractor call.

    Returns:
        The distance, a Python float.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.training import image_frechet_distance
        >>> flat = keras.Sequential([keras.Input((4, 4, 1)),
        ...                          keras.layers.Flatten()])
        >>> rng = np.random.default_rng(0)
        >>> a = rng.normal(size=(5000, 4, 4, 1))
        >>> b = rng.normal(size=(5000, 4, 4, 1))
        >>> image_frechet_distance(flat, a, b) < 0.1  # same distribution
        True
    """
    metric = FrechetDistance(features)
    for kind, images in (("real", real), ("generated", generated)):
        for start in range(0, len(images), batch_size):
            batch = np.asarray(images[start : start + batch_size], "float32")
            metric.update_state(**{kind: batch})
    return float(keras.ops.convert_to_numpy(metric.result()))
