"""The normalization choice shared by transformer blocks and stacks."""

import keras

NORMALIZATIONS = ("layer_norm", "rms_norm")


def make_normalization(kind, epsilon, dtype, name):
    """A `LayerNormalization` or `RMSNormalization` over the last axis."""
    if kind == "rms_norm":
        return keras.layers.RMSNormalization(
            epsilon=epsilon, dtype=dtype, name=name
        )
    return keras.layers.LayerNormalization(
        epsilon=epsilon, dtype=dtype, name=name
    )
