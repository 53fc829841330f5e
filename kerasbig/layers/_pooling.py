"""Masked mean pooling that stays finite on all-padding sequences."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasbig")
class MaskedGlobalAveragePooling1D(keras.layers.GlobalAveragePooling1D):
    """`GlobalAveragePooling1D` whose all-padding rows pool to zeros.

    Keras divides by the number of real steps, which is 0 for a sequence
    of padding only (an empty text): the result is NaN, and one such row
    turns a whole batch's loss into NaN.
    """

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        total = ops.sum(inputs * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        return total / count
