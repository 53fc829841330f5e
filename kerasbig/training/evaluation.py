"""Scoring generated images with a classifier trained on the real ones."""

import keras
import numpy as np

from kerasbig.metrics import FrechetDistance


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
    """
    metric = FrechetDistance(features)
    for kind, images in (("real", real), ("generated", generated)):
        for start in range(0, len(images), batch_size):
            batch = np.asarray(images[start : start + batch_size], "float32")
            metric.update_state(**{kind: batch})
    return float(keras.ops.convert_to_numpy(metric.result()))
