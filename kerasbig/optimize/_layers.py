"""Layer plumbing shared by pruning and quantization-aware training:
cloning graph models layer by layer."""

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
