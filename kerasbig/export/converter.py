"""Converting Keras models to LiteRT flatbuffers and running them: the
steps `to_litert`, `to_litert_lm` and `kerasbig.testing`'s LiteRT check
share. Its functions do not verify what they convert; users want
`kerasbig.export.to_litert`, which does.

The only module of `kerasbig.export` that imports TensorFlow and
ai_edge_litert, and only inside its functions.
"""

import contextlib
import io
import os
import pathlib
import re
import tempfile

import keras
import numpy as np

from kerasbig._optional import import_optional

_OUTPUT_INDEX = re.compile(r"(\d+)$")


QUANTIZATIONS = (None, "dynamic", "float16", "int8")
_MISSING_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op")


def convert_model(
    model,
    builtins_only=True,
    quantization=None,
    representative_data=None,
    sparse=False,
):
    """Converts a built Keras model to LiteRT flatbuffer bytes.

    The model must have static input shapes (`model.inputs`). Conversion
    goes through `keras.export.ExportArchive` and a SavedModel, the path
    TensorFlow documents for Keras 3.

    Args:
        model: a Keras model with defined `inputs` (functional or built).
        builtins_only: restrict the converter to LiteRT builtin ops (no
            Flex/SELECT_TF_OPS), so the file runs on the plain runtime.
        quantization: `None`, `"dynamic"` (int8 weights), `"float16"`
            (float16 weights) or `"int8"` (int8 weights and activations,
            calibrated on `representative_data`; float inputs and outputs).
        representative_data: for `"int8"`, a list with one array per model
            input (in `model.inputs` order), examples along axis 0; not
            needed for a quantization-aware-trained model.
        sparse: store sparse weights in a sparse format (the converter's
            `EXPERIMENTAL_SPARSITY`), so a pruned model's file shrinks;
            the runtime densifies them when the file loads.

    Returns:
        The `.tflite` flatbuffer as bytes.

    Raises:
        ValueError: when builtins-only conversion meets ops without a
            builtin kernel; the message names them.
    """
    tf = _tensorflow()
    specs = [
        tf.TensorSpec(tensor.shape, tensor.dtype, name=tensor.name)
        for tensor in model.inputs
    ]
    # `model.input` keeps the structure (single, list or dict) that the
    # model was built with; the endpoint receives the flat tensors.
    structure = input_structure(model)

    def serve(*flat_inputs):
        inputs = keras.tree.pack_sequence_as(structure, list(flat_inputs))
        return model(inputs, training=False)

    return convert_endpoints(
        model,
        {"serve": (serve, specs)},
        builtins_only,
        quantization,
        representative_data,
        sparse,
    )


def tensor_spec(shape, dtype, name):
    """A `tf.TensorSpec` (TensorFlow imported here only)."""
    return _tensorflow().TensorSpec(shape, dtype, name=name)


def _tensorflow():
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "LiteRT conversion needs the TensorFlow backend. Save the "
            "model (`model.save('model.keras')`) and convert it with "
            "`python -m kerasbig.export model.keras model.tflite` (add "
            "`--quantization int8 --representative-data data.npz` for int8), "
            "which runs under TensorFlow whatever backend is configured. "
            f"Received: backend={keras.backend.backend()!r}"
        )
    return import_optional("tensorflow", "LiteRT conversion")


def convert_endpoints(
    model,
    endpoints,
    builtins_only=True,
    quantization=None,
    representative_data=None,
    sparse=False,
):
    """Converts functions of a model to one LiteRT file, one signature per
    endpoint (see `convert_model` for the other arguments).

    Args:
        model: the Keras model whose variables the functions use.
        endpoints: dict of signature name -> `(function, input_specs)`,
            the specs from `tensor_spec`; a function returns a dict of
            named outputs or a tensor.
    """
    tf = _tensorflow()
    with tempfile.TemporaryDirectory() as saved_model_dir:
        archive = keras.export.ExportArchive()
        archive.track(model)
        for name, (function, specs) in endpoints.items():
            archive.add_endpoint(name, function, input_signature=specs)
        archive.write_out(saved_model_dir, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved_model_dir, signature_keys=list(endpoints)
        )
        supported = [tf.lite.OpsSet.TFLITE_BUILTINS]
        optimizations = []
        if quantization is not None:
            optimizations.append(tf.lite.Optimize.DEFAULT)
        if sparse:
            optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
        converter.optimizations = optimizations
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8" and representative_data is not None:
            converter.representative_dataset = _calibration(representative_data)
            supported = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # int8 without data: the ranges come from the model's FakeQuant ops
        # (quantization-aware training).
        if not builtins_only:
            supported.append(tf.lite.OpsSet.SELECT_TF_OPS)
        converter.target_spec.supported_ops = supported
        try:
            return converter.convert()
        except Exception as error:  # the converter raises several types
            ops = sorted(set(_MISSING_OP.findall(str(error))))
            advice = ""
            if ops:
                advice = f"; ops without a LiteRT builtin kernel: {ops}. "
                advice += (
                    "Replace them, or pass builtins_only=False to allow Flex "
                    "ops (the file then needs the Flex delegate)"
                    if builtins_only
                    else "Flex did not take them either"
                )
            raise ValueError(
                f"LiteRT conversion failed{advice}. Converter error: "
                f"{converter_summary(error)}"
            ) from error


def weight_only_int8(content):
    """LiteRT flatbuffer bytes with every matmul and convolution weight
    stored as int8 (per output channel) and dequantized to float32 when
    the file is loaded: a quarter of the size, float32 arithmetic.

    TensorFlow's converter has no such mode (its int8 weights come with
    dynamic-range int8 activations); ai-edge-quantizer does it on the
    converted file.
    """
    quantizer = import_optional(
        "ai_edge_quantizer.quantizer", "Weight-only int8 LiteRT files"
    )
    recipe = import_optional(
        "ai_edge_quantizer.recipe", "Weight-only int8 LiteRT files"
    )
    # Its progress bars ignore enable_progress_bar in one step (0.10).
    with contextlib.redirect_stderr(io.StringIO()):
        result = quantizer.Quantizer(
            bytearray(content), recipe.weight_only_wi8_afp32()
        ).quantize(enable_progress_bar=False, enable_progress_report=False)
    return bytes(result.quantized_model)


_LOCATION = re.compile(r"^.*?\berror:\s*")


def converter_summary(error, lines=3, width=300):
    """The converter's own error lines, without its MLIR dump.

    TensorFlow's converter puts the whole module (thousands of characters)
    into its message; what a user needs are the `error:` lines.
    """
    text = str(error)
    found = []
    for line in text.splitlines():
        if "error:" in line:
            line = _LOCATION.sub("", line).strip()
            if line and line not in found:
                found.append(line)
    if not found:
        found = [line.strip() for line in text.splitlines() if line.strip()]
        found = found[-1:] or [type(error).__name__]
    shown = [
        line if len(line) <= width else line[: width - 3] + "..."
        for line in found[:lines]
    ]
    more = len(found) - len(shown)
    return " | ".join(shown) + (f" (+{more} more)" if more > 0 else "")


# The interpreter joins its messages without a separator ("failed to
# delegate FULLY_CONNECTED node #7Node number 9 (...) failed to prepare.").
_MESSAGE_START = re.compile(
    r"(?<=[a-z0-9.)#])(?=(?:Node number|failed to|Didn't find|Encountered|"
    r"Unsupported|Invalid|Cannot|Failed) )"
)


def interpreter_summary(error, lines=3, width=200):
    """The LiteRT interpreter's error as separate, trimmed messages (at
    most `lines`, repeats dropped) joined by "; ".

    Example:

        >>> from kerasbig.export.converter import interpreter_summary
        >>> for part in interpreter_summary(RuntimeError(
        ...     "failed to delegate CONV_2D node #4failed to delegate "
        ...     "FULLY_CONNECTED node #13Node number 15 (TfLiteXNNPack"
        ...     "Delegate) failed to prepare.")).split("; "):
        ...     print(part)
        failed to delegate CONV_2D node #4
        failed to delegate FULLY_CONNECTED node #13
        Node number 15 (TfLiteXNNPackDelegate) failed to prepare.
    """
    found = []
    for line in str(error).splitlines():
        for part in _MESSAGE_START.split(line):
            part = part.strip()
            if part and part not in found:
                found.append(part)
    found = found or [type(error).__name__]
    shown = [
        part if len(part) <= width else part[: width - 3] + "..."
        for part in found[:lines]
    ]
    more = len(found) - len(shown)
    return "; ".join(shown) + (f" (+{more} more)" if more > 0 else "")


@contextlib.contextmanager
def unverified_file(path):
    """A temporary path beside `path` to write and check a file at: moved
    to `path` when the block ends normally, deleted when it raises, so
    that `path` only ever holds a verified file.

    Example:

        >>> import os, tempfile
        >>> from kerasbig.export.converter import unverified_file
        >>> path = os.path.join(tempfile.mkdtemp(), "model.tflite")
        >>> try:
        ...     with unverified_file(path) as temporary:
        ...         _ = temporary.write_bytes(b"not a model")
        ...         raise ValueError("rejected")
        ... except ValueError:
        ...     os.listdir(os.path.dirname(path))
        []
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.unverified")
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def input_structure(model):
    """The model's inputs in the structure its call takes."""
    try:
        return model.input
    except AttributeError:  # a Sequential model not yet called
        inputs = model.inputs
        return inputs[0] if len(inputs) == 1 else inputs


def _calibration(representative_data):
    def examples():
        count = len(representative_data[0])
        for i in range(count):
            yield [
                np.asarray(array[i : i + 1], "float32")
                if np.issubdtype(np.asarray(array).dtype, np.floating)
                else np.asarray(array[i : i + 1])
                for array in representative_data
            ]

    return examples


def run_model(model_content, inputs):
    """Runs a LiteRT flatbuffer with the ai_edge_litert interpreter.

    Args:
        model_content: `.tflite` bytes, e.g. from `convert_model`.
        inputs: a dict mapping the model's input names to arrays, in the
            same structure as the Keras model's inputs.

    Returns:
        The outputs as a list of NumPy arrays, in the order of the Keras
        model's flattened outputs.
    """
    interpreter_module = import_optional(
        "ai_edge_litert.interpreter", "Running a LiteRT model"
    )
    interpreter = interpreter_module.Interpreter(model_content=model_content)
    runner = interpreter.get_signature_runner()
    feed = {name: np.asarray(value) for name, value in inputs.items()}
    expected = set(runner.get_input_details())
    if set(feed) != expected:
        raise ValueError(
            f"The LiteRT model expects inputs {sorted(expected)}. "
            f"Received: inputs with names {sorted(feed)}"
        )
    outputs = runner(**feed)
    # Signature outputs are named output_0, output_1, ... in model order.
    names = sorted(
        outputs, key=lambda name: int(_OUTPUT_INDEX.search(name).group(1))
    )
    return [np.asarray(outputs[name]) for name in names]
