"""The `masking` property of `check_layer`: eager and compiled."""

import keras
import numpy as np
from keras import ops

from kerasbig.testing._case import Skip
from kerasbig.testing._case import compiled_path
from kerasbig.testing._case import flat
from kerasbig.testing._case import is_float


def check_masking(case):
    layer = case.make_layer()
    if not layer.supports_masking:
        raise Skip("layer.supports_masking is False")
    flat_inputs = keras.tree.flatten(case.inputs)
    if case.options["input_mask"] is None:
        flat_masks = _default_masks(flat_inputs, case.rng)
    else:
        flat_masks = _flatten_like(case.options["input_mask"], case.inputs)
    flat_masks = [
        None if m is None else np.asarray(m, bool) for m in flat_masks
    ]
    if all(mask is None for mask in flat_masks):
        raise Skip("no input of rank >= 3 to mask and no `input_mask` given")

    model, probe, num_outputs = _masked_model(case, layer, flat_masks)
    if not probe.received_mask:
        raise AssertionError(
            "the layer supports masking but its output carries no mask "
            "(compute_mask returned None for a masked input)"
        )
    real_masks = [mask for mask in flat_masks if mask is not None]
    perturbed = [
        array
        if mask is None or not is_float(array.dtype)
        else np.where(
            _expand(mask, array), array, array + 100.0 * np.ones_like(array)
        ).astype(array.dtype)
        for array, mask in zip(flat_inputs, flat_masks, strict=True)
    ]
    eager = flat(model(flat_inputs + real_masks, training=False))
    _check_output_mask(eager, num_outputs, "")
    description, jit_compile = compiled_path()
    predict = case.predictor(model, jit_compile)
    compiled = predict(flat_inputs + real_masks)
    _check_output_mask(compiled, num_outputs, f" under {description}")
    for i, (a, b) in enumerate(zip(compiled, eager, strict=True)):
        diff = np.max(np.abs(a.astype("float64") - b), initial=0.0)
        if not diff <= case.compiled_atol:
            what = "the output mask" if i == num_outputs else f"output {i}"
            raise AssertionError(
                f"with masked inputs, {description} gives {what} differing "
                f"from the eager call by max abs {diff:.3g} (is a mask "
                "read from a tensor attribute instead of a `mask=` call "
                "argument? Attributes are lost under jit)"
            )
    if all(p is a for p, a in zip(perturbed, flat_inputs, strict=True)):
        return  # integer inputs: propagation checked, nothing to perturb
    runs = (
        (
            "the eager call",
            eager,
            lambda: model(perturbed + real_masks, training=False),
        ),
        (description, compiled, lambda: predict(perturbed + real_masks)),
    )
    for where, reference, run_perturbed in runs:
        changed = flat(run_perturbed())
        keep = reference[num_outputs].astype(bool)
        for i in range(num_outputs):
            a, b = reference[i], changed[i]
            if a.shape[: keep.ndim] == keep.shape:
                a, b = a[keep], b[keep]
            diff = np.max(np.abs(a - b), initial=0.0)
            if not diff <= case.atol * 10:
                raise AssertionError(
                    "changing input values at masked positions changed "
                    f"output {i} at unmasked positions by max abs "
                    f"{diff:.3g} ({where})"
                )


def _masked_model(case, layer, flat_masks):
    """A model from (inputs, masks) to the layer's flat outputs followed
    by the mask Keras attaches to its first output."""
    symbolic = case.symbolic_inputs()
    flat_symbolic = keras.tree.flatten(symbolic)
    mask_inputs, attached = [], []
    for tensor, mask in zip(flat_symbolic, flat_masks, strict=True):
        if mask is None:
            attached.append(tensor)
            continue
        mask_input = keras.Input(
            batch_shape=mask.shape, dtype="bool", name=f"{tensor.name}_mask"
        )
        mask_inputs.append(mask_input)
        attached.append(_AttachMask()([tensor, mask_input]))
    outputs = keras.tree.flatten(
        case.call(layer, keras.tree.pack_sequence_as(symbolic, attached))
    )
    probe = _MaskProbe()
    model = keras.Model(
        flat_symbolic + mask_inputs, [*outputs, probe(outputs[0])]
    )
    return model, probe, len(outputs)


def _check_output_mask(outputs, num_outputs, where):
    mask_shape, output_shape = outputs[num_outputs].shape, outputs[0].shape
    if mask_shape != output_shape[: len(mask_shape)]:
        raise AssertionError(
            f"the output mask{where} has shape {mask_shape}, which does "
            f"not match the output shape {output_shape}"
        )


def _default_masks(inputs, rng):
    def mask_for(array):
        if array.ndim < 3:
            return None
        batch, length = array.shape[:2]
        lengths = rng.integers(1, length + 1, size=batch)
        lengths[0] = max(1, length - 1)  # at least one padded position
        mask = np.arange(length)[None, :] < lengths[:, None]
        return np.broadcast_to(
            mask.reshape(mask.shape + (1,) * (array.ndim - 3)),
            array.shape[:-1],
        ).copy()

    return [mask_for(array) for array in inputs]


def _flatten_like(masks, inputs):
    """Lines up user masks with the flat inputs (a bare mask: the first)."""
    if not isinstance(masks, (dict, list, tuple)):
        return [masks] + [None] * (len(keras.tree.flatten(inputs)) - 1)
    if isinstance(inputs, dict):
        return [masks.get(key) for key in sorted(inputs)]
    return list(masks)


def _expand(mask, array):
    return mask.reshape(mask.shape + (1,) * (array.ndim - mask.ndim))


class _AttachMask(keras.layers.Layer):
    """Returns its first input with the second attached as its Keras mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.copy(inputs[0])

    def compute_mask(self, inputs, mask=None):
        return ops.cast(inputs[1], "bool")

    def compute_output_shape(self, input_shape):
        return input_shape[0]


class _MaskProbe(keras.layers.Layer):
    """Outputs the mask Keras passes with its input (all True if none)
    and records whether one came, through the `mask=` call argument."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.received_mask = False

    def call(self, inputs, mask=None):
        self.received_mask = mask is not None
        if mask is None:
            return ops.ones(ops.shape(inputs)[:1], dtype="bool")
        return mask

    def compute_mask(self, inputs, mask=None):
        return None
