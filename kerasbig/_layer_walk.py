"""Every layer inside a Keras layer or model, at any depth: the one walk
pruning, quantization-aware training and the sharding layouts share."""


def nested_layers(root, include_self=False):
    """`root`'s sublayers at any depth, each once, parents before their
    children (`root` first with `include_self`).

    Keras has no public recursive walk over sublayers; `_flatten_layers`
    (the walk `Layer.weights` itself runs on) is stable through Keras 3.x,
    and tests/test_layer_walk.py fails loudly if an upgrade changes it.
    """
    return list(root._flatten_layers(include_self=include_self))
