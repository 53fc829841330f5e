"""Initializer helpers shared by the layers."""

import keras


def clone_initializer(initializer):
    """A fresh copy of `initializer`, so each sublayer draws its own values.

    Passing one seeded initializer object to several sublayers would give
    them identical starting weights.
    """
    return keras.initializers.get(keras.initializers.serialize(initializer))
