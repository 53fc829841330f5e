"""`to_litert`: a Keras model to a LiteRT file, kept only once the
interpreter's outputs match Keras's."""

import pathlib

import keras
import numpy as np

from kerasbig.export import converter
from kerasbig.export.litert_model import LiteRTModel

# Largest |LiteRT - Keras| accepted, as a fraction of the largest |Keras|
# output: exact float maths, then what each quantization costs.
TOLERANCES = {None: 1e-4, "float16": 1e-2, "dynamic": 0.05, "int8": 0.25}

# Quantizations whose sparse files LiteRT's default CPU delegate
# (XNNPack, ai-edge-litert 2.3) cannot prepare ("failed to delegate").
SPARSE_UNSUPPORTED = ("dynamic", "int8")


def to_litert(
    model,
    path,
    quantization=None,
    representative_data=None,
    builtins_only=True,
    verify_data=None,
    tolerance=None,
    sparse=False,
):
    """Converts a Keras model to a verified LiteRT (`.tflite`) file.

    The conversion runs on the TensorFlow backend (Keras's SavedModel
    export, then the TFLite converter). The file is then run with the
    `ai_edge_litert` interpreter on `verify_data` and its outputs compared
    with Keras's before anything is returned: a conversion that is empty or
    wrong (it happens silently) raises instead. The file is written under
    a temporary name beside `path` and moved to `path` only once verified:
    a rejected conversion leaves no file (and no earlier file at `path` is
    replaced).

    Args:
        model: a Keras model with defined inputs (functional, Sequential or
            built), e.g. `strip_pruning(pruned)`.
        path: where to write the file.
        quantization: `None` (float32), `"dynamic"` (int8 weights, float
            activations), `"float16"` (float16 weights) or `"int8"` (int8
            weights and activations, float inputs and outputs; needs
            `representative_data`, unless the model was trained with
            `kerasbig.optimize.quantize_aware`, whose learned ranges are
            used). An int8 file whose convolutions or dense layers still
            compute in float raises.
        representative_data: examples that calibrate `"int8"` activation
            ranges (a few hundred typical inputs): an array, or a list/dict
            with one array per input.
        builtins_only: only LiteRT builtin ops (no Flex); if some op has
            none, the error names it. Defaults to `True`.
        verify_data: inputs to compare Keras and LiteRT on; defaults to
            the first 32 representative examples, else random normal
            inputs.
        tolerance: largest accepted `max |LiteRT - Keras|` as a fraction
            of `max |Keras|`; defaults per quantization (`TOLERANCES`).
        sparse: store the weights in LiteRT's sparse format (the
            converter's sparsity optimisation), so a pruned model's file
            is smaller as it is, not only after gzip. The runtime
            densifies the weights when it loads the file (`DENSIFY` ops).
            Float32 and float16 only: LiteRT's default CPU delegate
            (XNNPack, ai-edge-litert 2.3) cannot prepare sparse int8
            weights, so `"dynamic"` and `"int8"` are refused at once
            (their int8 weights already take a quarter of the space; the
            zeros of a pruned model still compress with gzip). Defaults to
            `False`.

    Returns:
        A `LiteRTModel`, with `max_abs_difference` and `tolerance` of the
        check set.

    Example (the TensorFlow backend; elsewhere, convert a saved `.keras`
    file with `python -m kerasbig.export`):

        >>> # TensorFlow only: the LiteRT converter
        >>> import tempfile, keras, numpy as np
        >>> from kerasbig.export import to_litert
        >>> model = keras.Sequential(
        ...     [keras.Input((8,), name="x"), keras.layers.Dense(4)])
        >>> data = np.random.rand(64, 8).astype("float32")
        >>> exported = to_litert(model, tempfile.mkdtemp() + "/m.tflite",
        ...     quantization="int8", representative_data=data)
        >>> "FULLY_CONNECTED" in exported.ops
        True
    """
    owner = "to_litert"
    if quantization not in converter.QUANTIZATIONS:
        raise ValueError(
            f"{owner}: `quantization` must be one of "
            f"{list(converter.QUANTIZATIONS)}. Received: "
            f"quantization={quantization!r}"
        )
    if sparse and quantization in SPARSE_UNSUPPORTED:
        raise ValueError(
            f"{owner}: `sparse` weights run only in float32 or float16 "
            "files: LiteRT's default CPU delegate (XNNPack) cannot prepare "
            "sparse int8 weights, so the file would not load on a phone. "
            "Drop `sparse` (int8 weights are already 4x smaller; a pruned "
            "model's zeros still compress) or use float16. Received: "
            f"sparse=True, quantization={quantization!r}"
        )
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            f"{owner}: the model needs defined inputs (a functional or "
            "Sequential model with keras.Input, or one called on data). "
            f"Received: {type(model).__name__} {model.name!r}"
        )
    representative = None
    if representative_data is not None:
        representative = _flat_inputs(
            owner, "representative_data", model, representative_data
        )
    content = converter.convert_model(
        model,
        builtins_only=builtins_only,
        quantization=quantization,
        representative_data=representative,
        sparse=sparse,
    )
    if verify_data is None:
        verify = (
            [array[:32] for array in representative]
            if representative is not None
            else _random_inputs(model)
        )
    else:
        verify = _flat_inputs(owner, "verify_data", model, verify_data)
    path = pathlib.Path(path)
    with converter.unverified_file(path) as unverified:
        unverified.write_bytes(content)
        exported = _open_checked(
            unverified, model, quantization, builtins_only, representative_data
        )
        difference, allowed = _compare_with_keras(
            exported, model, verify, tolerance or TOLERANCES[quantization]
        )
        if not difference <= allowed:
            raise ValueError(
                f"{owner}: the LiteRT file disagrees with Keras: max |LiteRT "
                f"- Keras| = {difference:.4g} on the verification inputs, "
                f"more than the {allowed:.4g} allowed for quantization="
                f"{quantization!r}; no file was written to {path}"
            )
    exported.path = str(path)
    exported.max_abs_difference = difference
    exported.tolerance = allowed
    return exported


def _open_checked(path, model, quantization, builtins_only, representative):
    """The written file as a `LiteRTModel`, refused when it does not run,
    is empty, computes in float under int8, or uses non-builtin ops when
    only builtins were asked for."""
    owner = "to_litert"
    try:
        exported = LiteRTModel(
            path, input_names=[tensor.name for tensor in model.inputs]
        )
    except RuntimeError as error:
        raise _does_not_run(error) from error
    if not exported.ops:
        raise ValueError(
            f"{owner}: the converted file has no operators (an empty "
            "conversion) and would return nothing useful; no file was "
            "written"
        )
    if quantization == "int8":
        floating = exported.float_compute_ops()
        if floating:
            raise ValueError(
                f"{owner}: quantization='int8' left {floating} computing in "
                "float, so no file was written. Pass `representative_data` "
                "(a few hundred typical inputs that calibrate activation "
                "ranges), or convert a model trained with "
                "kerasbig.optimize.quantize_aware. Received: "
                "representative_data="
                f"{'given' if representative is not None else None}"
            )
    if builtins_only:
        foreign = [
            op for op in exported.ops if op.startswith(("Flex", "CUSTOM"))
        ]
        if foreign:
            raise ValueError(
                f"{owner}: builtins_only=True but the file uses {foreign}; "
                "no file was written"
            )
    return exported


def _compare_with_keras(exported, model, verify, relative_tolerance):
    """`(difference, allowed)`: the largest |LiteRT - Keras| over the
    outputs on `verify` (one array per model input), and the tolerance
    scaled by the largest Keras output."""
    expected = keras.tree.flatten(
        model(
            keras.tree.pack_sequence_as(
                converter.input_structure(model), verify
            ),
            training=False,
        )
    )
    expected = [np.asarray(keras.ops.convert_to_numpy(e)) for e in expected]
    # By name: the file's input order need not be the model's.
    try:
        got = exported.predict(
            {t.name: a for t, a in zip(model.inputs, verify, strict=True)}
        )
    except RuntimeError as error:
        raise _does_not_run(error) from error
    got = got if isinstance(got, list) else [got]
    scale = max(float(np.abs(e).max()) for e in expected) or 1.0
    difference = max(
        float(np.abs(g.astype("float64") - e).max())
        for g, e in zip(got, expected, strict=True)
    )
    return difference, relative_tolerance * scale


def _flat_inputs(owner, name, model, data):
    """One array per model input (in `model.inputs` order), shape-checked."""
    if isinstance(data, dict):
        missing = [t.name for t in model.inputs if t.name not in data]
        if missing:
            raise ValueError(
                f"{owner}: `{name}` lacks inputs {missing}. Received: keys "
                f"{sorted(data)}"
            )
        flat = [data[t.name] for t in model.inputs]
    else:
        flat = list(data) if isinstance(data, (list, tuple)) else [data]
    if len(flat) != len(model.inputs):
        raise ValueError(
            f"{owner}: `{name}` must have one array per model input "
            f"({len(model.inputs)}). Received: {len(flat)}"
        )
    arrays = []
    for tensor, array in zip(model.inputs, flat, strict=True):
        array = np.asarray(array)
        expected = tuple(tensor.shape)
        if array.ndim != len(expected) or any(
            e is not None and e != s
            for e, s in zip(expected[1:], array.shape[1:], strict=True)
        ):
            raise ValueError(
                f"{owner}: `{name}` for input {tensor.name!r} must have "
                f"shape (examples, {', '.join(map(str, expected[1:]))}). "
                f"Received: shape {array.shape}"
            )
        arrays.append(array.astype(tensor.dtype))
    return arrays


def _random_inputs(model):
    rng = np.random.default_rng(0)
    arrays = []
    for tensor in model.inputs:
        shape = tuple(2 if d is None else d for d in tensor.shape)
        if "int" in str(tensor.dtype):
            arrays.append(np.zeros(shape, tensor.dtype))
        else:
            arrays.append(rng.standard_normal(shape).astype(tensor.dtype))
    return arrays


def _does_not_run(error):
    return ValueError(
        "to_litert: the converted file does not run in the LiteRT "
        f"interpreter ({converter.interpreter_summary(error)}); no file "
        "was written"
    )
