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


def clone_with_wrappers(model, owner, wrap, layers=None, recurse=None):
    """A copy of the Sequential or functional `model` with each layer
    `wrap(copy, original, chosen)` returns in its place (the copy, a
    wrapper around it, or a raise); `chosen` says whether `layers` (names
    or layers) names it, or None when `layers` is None. Nested graph
    models go through `recurse(nested)`. The weights are copied; `model`
    is left as it is. `owner` names the caller in errors."""
    if not is_graph_model(model):
        raise ValueError(
            f"{owner}: only Sequential and functional models can be cloned "
            "with wrappers; for a subclassed model, wrap its layers where "
            f"you build them. Received: {type(model).__name__} {model.name!r}"
        )
    names = None
    if layers is not None:
        names = {x if isinstance(x, str) else x.name for x in layers}
        unknown = names - {layer.name for layer in model.layers}
        if unknown:
            raise ValueError(
                f"{owner}: no layers named {sorted(unknown)} in "
                f"{model.name!r}. Received: layers={sorted(names)}"
            )

    def clone(layer):
        if is_graph_model(layer) and recurse is not None:
            return recurse(layer)
        copy = copy_layer(layer)
        if copy is layer:
            return copy
        return wrap(copy, layer, None if names is None else layer.name in names)

    return keras.models.clone_model(model, clone_function=clone)


class OwnWeightsWrapper(keras.layers.Wrapper):
    """A wrapper with weights of its own, made by `_create_weights` as
    soon as the wrapped layer is built: at construction for a built layer
    (call `_create_weights_if_built()` at the end of `__init__`), else in
    `build`. It computes in the layer's dtype policy."""

    def __init__(self, layer, **kwargs):
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(layer, **kwargs)

    def _create_weights_if_built(self):
        if self.layer.built:
            self._create_weights()
            self.built = True

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self._create_weights()
        self.built = True

    def _create_weights(self):
        raise NotImplementedError
