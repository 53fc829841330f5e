"""Where each weight of a model built from kerasbig layers lives on a
device mesh: `keras.distribution.LayoutMap`s for `ModelParallel`."""

import keras

from kerasbig._layer_walk import nested_layers
from kerasbig.distribute.choices import LAYOUT_STYLES

# Each sharded weight's role: the axis tensor parallelism splits over the
# mesh's "model" axis (Megatron-style: query/key/value and gate/up by
# output, attention output and down by input, embeddings and LM head by
# vocabulary), or None to keep it whole on that axis.
_TENSOR_AXIS = {
    "query_kernel": 1,  # (features, heads, head_dim)
    "query_bias": 0,  # (heads, head_dim)
    "key_value_kernel": 1,
    "key_value_bias": 0,
    "attention_output_kernel": 0,  # (heads, head_dim, features)
    "attention_output_bias": None,
    "in_kernel": 1,  # gate/up: (features, intermediate)
    "in_bias": 0,
    "out_kernel": 0,  # down: (intermediate, features)
    "out_bias": None,
    "embeddings": 0,  # (vocabulary, features)
    "lm_head_kernel": 1,  # (features, vocabulary)
    "lm_head_bias": 0,
}


# Each projection (`MultiHeadAttention.projections`,
# `FeedForward.projections`) by the role its axes play above.
_PROJECTION_ROLES = {
    "query": "query",
    "key": "key_value",
    "value": "key_value",
    "attention_output": "attention_output",
    "gate": "in",
    "up": "in",
    "down": "out",
}


def layout_map(model, mesh, style="fsdp"):
    """A `keras.distribution.LayoutMap` that shards the weights of every
    kerasbig `MultiHeadAttention` (query, key, value, output), `FeedForward`
    (gated or not), `TokenAndPositionEmbedding` token table and LM head
    (`CausalLM.lm_head`) in `model` over `mesh`; other weights (norms,
    position tables) stay whole on every device.

    - `"tensor_parallel"`: each of those weights is split over the mesh's
      `"model"` axis along its heads, intermediate or vocabulary axis
      (Megatron-style; XLA adds the collectives). Grouped-query key and
      value heads split only when their number divides the axis; else
      they stay whole on it.
    - `"fsdp"`: each is split over the data axis (the mesh's first axis
      other than `"model"`) along its largest axis that divides evenly;
      XLA gathers a weight where a step needs it (ZeRO-3).
    - `"both"`: tensor parallel over `"model"` and fully sharded over the
      data axis, on different axes of each weight.

    The map's keys are `model`'s variable paths. Build the model that
    trains with the same code inside the `ModelParallel` distribution's
    scope (its variables are laid out as they are created).
    `kerasbig.distribute.strategy("model_parallel", model=build, ...)`
    does all of it from the function `build` that builds the model, and
    never allocates the template's weights (for a model too big for one
    device).

    JAX only (Keras's `ModelParallel`).

    Args:
        model: a built Keras model (or layer) made of kerasbig layers.
        mesh: a `keras.distribution.DeviceMesh`.
        style: `"fsdp"`, `"tensor_parallel"` or `"both"`.

    Returns:
        A `keras.distribution.LayoutMap` over `mesh`.

    Example:

        >>> # JAX only
        >>> import jax, keras
        >>> import kerasbig as kb
        >>> model = kb.models.CausalLM(64, 16, num_layers=1, hidden_dim=8,
        ...                            num_heads=2, intermediate_dim=16)
        >>> mesh = keras.distribution.DeviceMesh(
        ...     (1, 1), ("batch", "model"), jax.devices()[:1])
        >>> layouts = kb.distribute.layout_map(model, mesh, "tensor_parallel")
        >>> layouts["decoder/block_0/self_attention/query/kernel"].axes
        (None, 'model', None)
    """
    if keras.backend.backend() != "jax":
        raise ValueError(
            "kerasbig.distribute.layout_map: model-parallel layouts are "
            "Keras's `ModelParallel`, which runs on JAX; on TensorFlow use "
            "`mirrored` or `multiworker` data parallelism, on PyTorch one "
            "device. Received: backend="
            f"{keras.backend.backend()!r}"
        )
    if not model.built:
        raise ValueError(
            "kerasbig.distribute.layout_map: `model` must be built (its "
            "weights' paths and shapes decide the layouts). Received: an "
            f"unbuilt {type(model).__name__}"
        )
    if style not in LAYOUT_STYLES:
        raise ValueError(
            f"kerasbig.distribute.layout_map: `style` must be one of "
            f"{list(LAYOUT_STYLES)}. Received: style={style!r}"
        )
    model_axis, data_axis = mesh_axes(mesh, style)
    sizes = dict(zip(mesh.axis_names, mesh.shape, strict=True))
    layouts = keras.distribution.LayoutMap(mesh)
    for variable, role in sharded_weights(model):
        shape = tuple(variable.shape)
        axes = [None] * len(shape)
        if model_axis is not None:
            axis = _TENSOR_AXIS[role]
            if axis is not None and shape[axis] % sizes[model_axis] == 0:
                axes[axis] = model_axis
        if data_axis is not None:
            free = [
                i
                for i in range(len(shape))
                if axes[i] is None and shape[i] % sizes[data_axis] == 0
            ]
            if free:
                axes[max(free, key=lambda i: shape[i])] = data_axis
        if any(axes):
            layouts[variable.path] = tuple(axes)
    return layouts


def mesh_axes(mesh, style):
    """`(model_axis, data_axis)` of `mesh` for `style`: the axis named
    "model" for tensor parallelism, the first other axis for fully
    sharded data parallelism; None where the style does not use one."""
    names = list(mesh.axis_names)
    model_axis = "model" if "model" in names else None
    data_axes = [name for name in names if name != "model"]
    data_axis = data_axes[0] if data_axes else None
    if style in ("tensor_parallel", "both") and model_axis is None:
        raise ValueError(
            f"kerasbig.distribute.layout_map: style={style!r} splits "
            "weights over a mesh axis named 'model'. Received: mesh axes "
            f"{tuple(names)}"
        )
    if style in ("fsdp", "both") and data_axis is None:
        raise ValueError(
            f"kerasbig.distribute.layout_map: style={style!r} shards "
            "weights over a data axis (an axis not named 'model', e.g. "
            f"'batch'). Received: mesh axes {tuple(names)}"
        )
    return (
        model_axis if style != "fsdp" else None,
        data_axis if style != "tensor_parallel" else None,
    )


def sharded_weights(model):
    """`(variable, role)` for each weight `layout_map` shards, found by
    walking `model`'s layers."""
    from kerasbig.layers import FeedForward
    from kerasbig.layers import MultiHeadAttention
    from kerasbig.layers import TokenAndPositionEmbedding

    found = []
    for layer in nested_layers(model, include_self=True):
        if isinstance(layer, (MultiHeadAttention, FeedForward)):
            for role, dense in layer.projections().items():
                found += _kernel_and_bias(dense, _PROJECTION_ROLES[role])
        elif isinstance(layer, TokenAndPositionEmbedding):
            found.append((layer.token_embedding.embeddings, "embeddings"))
        head = getattr(layer, "lm_head", None)
        if isinstance(head, keras.layers.Dense):
            found += _kernel_and_bias(head, "lm_head")
    return found


def _kernel_and_bias(dense, role):
    if dense is None or not dense.built:
        return []
    pairs = [(dense.kernel, f"{role}_kernel")]
    if dense.bias is not None:
        pairs.append((dense.bias, f"{role}_bias"))
    return pairs
