"""`strip_pruning`: a pruned model back to plain Keras layers holding the
pruned weights."""

import keras

from kerasbig.optimize._layers import copy_layer
from kerasbig.optimize._layers import is_graph_model
from kerasbig.optimize.prune_low_magnitude import PruneLowMagnitude


def strip_pruning(model):
    """A plain Keras model (or layer) with the pruning wrappers removed and
    `kernel * mask` baked into the kernels.

    The result has no kerasbig pruning state: it saves, reloads and
    converts to LiteRT like any Keras model, and its zeros compress (gzip)
    and can be exploited by sparse runtimes. The pruned model is not
    changed.

    Args:
        model: a model from `prune_low_magnitude`, or a
            `PruneLowMagnitude` layer.

    Returns:
        The stripped model or layer.

    Example:

        >>> import keras
        >>> from kerasbig.optimize import prune_low_magnitude, strip_pruning
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> plain = strip_pruning(prune_low_magnitude(model))
        >>> [type(layer).__name__ for layer in plain.layers]
        ['Dense']
    """
    if isinstance(model, PruneLowMagnitude):
        return _baked(model)
    if not is_graph_model(model):
        raise ValueError(
            "strip_pruning: expected a Sequential or functional model from "
            "prune_low_magnitude, or a PruneLowMagnitude layer. Received: "
            f"{type(model).__name__} {getattr(model, 'name', model)!r}"
        )

    def clone(layer):
        if isinstance(layer, PruneLowMagnitude):
            return _baked(layer)
        if is_graph_model(layer):
            return strip_pruning(layer)
        return copy_layer(layer)

    if isinstance(model, keras.Sequential):
        # Sequential models record no call arguments.
        return keras.models.clone_model(model, clone_function=clone)
    return keras.models.clone_model(
        model, clone_function=clone, call_function=_call_without_extra_mask
    )


def _call_without_extra_mask(layer, *args, **kwargs):
    # The graph recorded the `mask=` Keras gave each pruning wrapper; a
    # bare layer whose call has no `mask` argument gets its input's mask
    # from Keras as usual.
    if isinstance(layer, keras.layers.Layer) and (
        "mask" not in layer.call_signature_parameters
    ):
        kwargs.pop("mask", None)
    return layer(*args, **kwargs)


def _baked(wrapper):
    layer = copy_layer(wrapper.layer)
    masks = {
        id(weight): mask
        for weight, mask in zip(
            wrapper.pruned_weights, wrapper.masks, strict=True
        )
    }
    for source, target in zip(
        wrapper.layer.trainable_variables,
        layer.trainable_variables,
        strict=True,
    ):
        if id(source) in masks:
            target.assign(source.value * masks[id(source)].value)
    return layer
