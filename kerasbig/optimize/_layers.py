"""Layer plumbing shared by pruning and quantization-aware training:
cloning graph models layer by layer, walking nested layers, and calling a
wrapped layer with some of its variables replaced."""

import keras


def is_graph_model(layer):
    """Sequential or plain functional: what `keras.models.clone_model`
    can rebuild (subclasses of Functional have custom `__init__`s)."""
    return isinstance(layer, keras.Sequential) or (
        isinstance(layer, keras.Model) and type(layer).__name__ == "Functional"
    )


def copy_layer(layer):
    """A new layer with `layer`'s config, shapes and weights."""
    if not isinstance(layer, keras.layers.Layer):
        return layer  # a stateless op of a functional graph (x != 0, ...)
    copy = layer.__class__.from_config(layer.get_config())
    build_config = layer.get_build_config()
    if build_config:
        copy.build_from_config(build_config)
    copy.set_weights(layer.get_weights())
    return copy


def nested_layers(model):
    """Every layer inside `model`, at any depth (Keras has no public walk
    over nested layers; `_flatten_layers` is stable in 3.x)."""
    return list(model._flatten_layers(include_self=False))


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
