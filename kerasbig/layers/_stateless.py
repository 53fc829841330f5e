"""Calling a layer with some of its variables replaced by tensors."""


def call_with_values(layer, values, inputs, *args, training=None, **kwargs):
    """Calls `layer` with the variables keyed in `values` (by `id`)
    replaced by those tensors, on every backend (`stateless_call`), and
    writes back what the call changes in its non-trainable variables."""
    trainable = [values.get(id(v), v.value) for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    if training is not None and "training" in layer.call_signature_parameters:
        kwargs["training"] = training
    outputs, updated = layer.stateless_call(
        trainable, non_trainable, inputs, *args, **kwargs
    )
    for variable, value in zip(
        layer.non_trainable_variables, updated, strict=True
    ):
        variable.assign(value)
    return outputs
