"""Calling a layer with some of its variables replaced by tensors."""


def call_with_values(layer, values, inputs, *args, training=None, **kwargs):
    """Calls `layer` with the variables keyed in `values` (by `id`)
    replaced by those tensors, on every backend (`stateless_call`), and
    writes back what the call changes in its non-trainable variables.

    Wrapper layers use it to run the layer they wrap on transformed
    weights (a masked kernel when pruning, a fake-quantized one in QAT, a
    spectrally normalised one) without assigning to its variables, so
    that gradients reach the original weights.

    Args:
        layer: a built Keras layer.
        values: `{id(variable): tensor}` for the variables to replace
            (trainable or not; a replaced one is never written back); the
            others keep their values.
        inputs, *args, **kwargs: the layer's call arguments.
        training: passed on when the layer's `call` takes it.

    Returns:
        The layer's outputs.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.ops import call_with_values
        >>> dense = keras.layers.Dense(2, use_bias=False)
        >>> dense.build((None, 3))
        >>> halved = {id(dense.kernel): dense.kernel.value * 0.5}
        >>> x = np.ones((1, 3), "float32")
        >>> out = call_with_values(dense, halved, x)
        >>> np.allclose(keras.ops.convert_to_numpy(out),
        ...             0.5 * keras.ops.convert_to_numpy(dense(x)))
        True
    """
    trainable = [values.get(id(v), v.value) for v in layer.trainable_variables]
    non_trainable = [
        values.get(id(v), v.value) for v in layer.non_trainable_variables
    ]
    if training is not None and "training" in layer.call_signature_parameters:
        kwargs["training"] = training
    outputs, updated = layer.stateless_call(
        trainable, non_trainable, inputs, *args, **kwargs
    )
    for variable, value in zip(
        layer.non_trainable_variables, updated, strict=True
    ):
        if id(variable) not in values:
            variable.assign(value)
    return outputs
