"""`Embedding`: Keras's Embedding whose table gets the exact Adam update of a
repeated id on TensorFlow."""

import keras

from kerasbig.ops import lookup_rows


@keras.saving.register_keras_serializable(package="kerasbig")
class Embedding(keras.layers.Embedding):
    """`keras.layers.Embedding` whose table trains the same on every
    backend.

    On TensorFlow the gradient of Keras's lookup is `IndexedSlices`, one
    piece per looked-up id, and Keras 3.15's Adam, RMSprop and Adagrad
    square each piece: an id seen twice in a batch (a word, a class
    label) gets the sum of the squared pieces, not the square of their
    sum, so training differs from JAX and PyTorch. In training this
    layer looks rows up with `kerasbig.ops.lookup_rows`, whose gradient
    is dense on TensorFlow; elsewhere, at inference and when quantized it
    is Keras's layer. Same arguments, weights and saved files' weights as
    `keras.layers.Embedding` (LoRA and `quantize()` included).

    Args:
        input_dim: number of ids (the table's rows).
        output_dim: features per id.
        **kwargs: `keras.layers.Embedding`'s other arguments
            (`embeddings_initializer`, `mask_zero`, `lora_rank`, ...).

    Call arguments:
        inputs: int tensor of ids, any shape.
        training: True takes the exact-gradient lookup.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import Embedding
        >>> embed = Embedding(10, 4, mask_zero=True)
        >>> tuple(embed(np.array([[5, 2, 0]])).shape)
        (1, 3, 4)
    """

    def quantize(self, mode=None, type_check=True, config=None):
        # Keras refuses to quantize subclasses of Embedding; this one's
        # quantized path is Keras's own, so its check does not apply.
        super().quantize(mode, type_check=False, config=config)

    def call(self, inputs, training=None):
        if not training or self.quantization_mode is not None:
            return super().call(inputs)
        # `embeddings` holds LoRA's update when LoRA is enabled.
        ids = keras.ops.cast(inputs, "int32")
        rows = lookup_rows(self.embeddings, ids)
        return keras.ops.cast(rows, self.compute_dtype)
