"""The normalization choice shared by transformer blocks and stacks."""

import keras

NORMALIZATIONS = ("layer_norm", "rms_norm")


def make_normalization(kind, epsilon, dtype, name):
    """A `LayerNormalization` or `RMSNormalization` over the last axis."""
    if kind == "rms_norm":
        norm = keras.layers.RMSNormalization(
            epsilon=epsilon, dtype=dtype, name=name
        )
        # Normalizes each token on its own, so a padding mask passes as is.
        norm.supports_masking = True
        return norm
    return keras.layers.LayerNormalization(
        epsilon=epsilon, dtype=dtype, name=name
    )
