"""The protocol a user's own layer follows to be pruned."""


class PrunableLayer:
    """Mix into a Keras layer of your own to make it prunable.

    `prune_low_magnitude` and `PruneLowMagnitude` accept Keras's and
    kerasbig's layers that own kernels (`supported_layers()`); any other
    layer is accepted when it subclasses `PrunableLayer` and names the
    weights to prune in `get_prunable_weights()` (tfmot's protocol). Each
    named weight gets a mask; the layer then always computes with
    `weight * mask`.

    Example:

        >>> import keras
        >>> from keras import ops
        >>> from kerasbig.optimize import (ConstantSparsity, PrunableLayer,
        ...     PruneLowMagnitude)
        >>> class Scale(PrunableLayer, keras.layers.Layer):
        ...     def build(self, input_shape):
        ...         self.kernel = self.add_weight(
        ...             shape=(input_shape[-1], 4), name="kernel")
        ...     def call(self, x):
        ...         return ops.matmul(x, self.kernel)
        ...     def get_prunable_weights(self):
        ...         return [self.kernel]
        >>> pruned = PruneLowMagnitude(Scale(), ConstantSparsity(0.5))
        >>> pruned.build((None, 8))
        >>> [tuple(mask.shape) for mask in pruned.masks]
        [(8, 4)]
    """

    def get_prunable_weights(self):
        """The trainable variables of this layer to prune (built)."""
        raise NotImplementedError(
            f"{type(self).__name__}: a PrunableLayer must implement "
            "get_prunable_weights() and return the variables to prune."
        )
