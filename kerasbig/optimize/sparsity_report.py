"""`sparsity_report`: the fraction of zero weights per prunable layer."""

import numpy as np
from keras import ops

from kerasbig._layer_walk import nested_layers
from kerasbig.optimize.prunable_layer import PrunableLayer
from kerasbig.optimize.prune_low_magnitude import is_prunable_weight


def sparsity_report(model):
    """The fraction of zeros in every kernel and embedding table of a model
    (pruned, stripped, or quantization-aware with `preserve_sparsity`, whose
    kernels count with their masks applied), and in the weights that
    `PrunableLayer`s name, with a total.

    Args:
        model: a Keras model or layer.

    Returns:
        A list of dicts, one per weight: `path`, `shape`, `size`, `zeros`,
        `sparsity`. The total over all of them is `sparsity_total(report)`.

    Example:

        >>> import keras
        >>> from kerasbig.optimize import sparsity_report
        >>> layer = keras.layers.Dense(2, kernel_initializer="zeros", name="fc")
        >>> layer.build((None, 3))
        >>> [(row["path"], row["sparsity"]) for row in sparsity_report(layer)]
        [('fc/kernel', 1.0)]
    """
    # Quantization-aware layers that keep a pruned model's zeros compute
    # with kernel * mask: report that.
    masks = {
        id(layer.layer.kernel): layer.sparsity_mask
        for layer in nested_layers(model, include_self=True)
        if getattr(layer, "preserve_sparsity", False)
    }
    named = {
        id(variable)
        for layer in nested_layers(model, include_self=True)
        if isinstance(layer, PrunableLayer) and layer.built
        for variable in layer.get_prunable_weights()
    }
    rows = []
    for variable in model.trainable_variables:
        if not (is_prunable_weight(variable) or id(variable) in named):
            continue
        values = np.asarray(ops.convert_to_numpy(variable))
        if id(variable) in masks:
            values = values * np.asarray(
                ops.convert_to_numpy(masks[id(variable)])
            )
        zeros = int(values.size - np.count_nonzero(values))
        rows.append(
            {
                "path": variable.path,
                "shape": tuple(values.shape),
                "size": int(values.size),
                "zeros": zeros,
                "sparsity": zeros / values.size,
            }
        )
    return rows


def sparsity_total(report):
    """Zeros over size, summed over a `sparsity_report`.

    Example:

        >>> from kerasbig.optimize import sparsity_total
        >>> sparsity_total([{"size": 10, "zeros": 8}, {"size": 30, "zeros": 0}])
        0.2
    """
    size = sum(row["size"] for row in report)
    return sum(row["zeros"] for row in report) / size if size else 0.0
