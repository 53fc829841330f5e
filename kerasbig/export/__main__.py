"""Converts a saved `.keras` model to a verified LiteRT file.

    python -m kerasbig.export model.keras model.tflite
    python -m kerasbig.export model.keras model.tflite --quantization int8 \\
        --representative-data calibration.npz

The conversion needs TensorFlow; a model trained on JAX or PyTorch is
saved with `model.save("model.keras")` and converted here, which reruns
itself under `KERAS_BACKEND=tensorflow` when another backend is set.
Arrays in `.npz` files are matched to the model's inputs by name (or
taken in input order when the names differ, as `np.savez(path, a, b)`
writes them).
"""

import dataclasses
import importlib
import os
import re
import sys

from kerasbig.training.flags import answer_help
from kerasbig.training.flags import option

PROGRAM = "python -m kerasbig.export"
DESCRIPTION = (
    "Converts a .keras model to a LiteRT (.tflite) file and checks the "
    "file against Keras before keeping it."
)
_QUANTIZATIONS = {
    "float32": None,
    "dynamic": "dynamic",
    "float16": "float16",
    "int8": "int8",
}


def _shape(text):
    """`--input-shape` text like `32,32,3` as a tuple of sizes."""
    sizes = [size.strip() for size in str(text).split(",")]
    if not all(size.isdigit() and int(size) > 0 for size in sizes):
        raise ValueError(
            "expected positive sizes separated by commas, without the batch "
            f"axis, such as 3 or 32,32,3; received {text!r}"
        )
    return tuple(int(size) for size in sizes)


@dataclasses.dataclass
class Config:
    model: str = option(None, "the .keras file", positional=True)
    output: str = option(
        None, "where to write the .tflite file", positional=True
    )
    quantization: str = option(
        "float32",
        "float32, dynamic (int8 weights), float16 or int8 (int8 weights "
        "and activations)",
        choices=list(_QUANTIZATIONS),
    )
    representative_data: str = option(
        None,
        "examples that calibrate int8 activation ranges (a few hundred), "
        "one array per model input",
        metavar="NPZ",
    )
    verify_data: str = option(
        None,
        "inputs to compare Keras and LiteRT on (default: the first 32 "
        "representative examples, else random inputs)",
        metavar="NPZ",
    )
    sparse: bool = option(
        False, "store sparse (pruned) weights in LiteRT's sparse format"
    )
    allow_flex: bool = option(
        False, "allow TensorFlow (Flex) ops that LiteRT has no builtin for"
    )
    tolerance: float = option(
        None,
        "largest accepted max |LiteRT - Keras| as a fraction of max |Keras| "
        "(default per quantization)",
        greater_than=0,
    )
    modules: tuple = option(
        (),
        "a module to import first, e.g. one that registers your own layers",
        flag="--import",
        repeat=True,
        metavar="MODULE",
    )
    input_shape: tuple = option(
        None,
        "a subclassed model's input shape without the batch axis, e.g. 3 "
        "or 32,32,3 (functional and Sequential models know theirs)",
        parse=_shape,
        metavar="SHAPE",
    )
    input_dtype: str = option(
        "float32",
        "a subclassed model's input dtype, with --input-shape",
        choices=["float32", "float16", "int32", "int64"],
    )


answer_help(Config, DESCRIPTION, program=PROGRAM)  # before Keras loads

import keras
import numpy as np

from kerasbig._console import native_output_to
from kerasbig._layer_walk import nested_layers
from kerasbig.export.to_litert import to_litert
from kerasbig.training.flags import parse_config
from kerasbig.training.run import run_script


def _arrays(flag, path, model):
    """The arrays of an .npz file, by input name where the names match."""
    if path is None:
        return None
    try:
        with np.load(path) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{flag}: expected an .npz file of arrays (np.savez). Received: "
            f"{path} ({error})"
        ) from None
    names = [tensor.name for tensor in model.inputs]
    if set(names) <= set(arrays):
        return {name: arrays[name] for name in names}
    if len(arrays) != len(names):
        raise ValueError(
            f"{flag}: expected one array per model input {names}. "
            f"Received: arrays {sorted(arrays)} in {path}"
        )
    return list(arrays.values())


# The Python arguments of `to_litert` that its messages name, as the
# flags of this program.
_FLAG_WORDS = (
    ("`representative_data`", "--representative-data"),
    ("representative_data=given", "--representative-data given"),
    ("representative_data=None", "no --representative-data"),
    ("`verify_data`", "--verify-data"),
    ("`sparse`", "--sparse"),
    ("sparse=True", "--sparse"),
    ("`tolerance`", "--tolerance"),
    ("builtins_only=False", "--allow-flex"),
    ("builtins_only=True", "no --allow-flex"),
)


def _in_flags(message):
    """`to_litert`'s message with its argument names as this program's
    flags."""
    for words, flag in _FLAG_WORDS:
        message = message.replace(words, flag)
    return re.sub(r"quantization='(\w+)'", r"--quantization \1", message)


def _with_inputs(model, config):
    """`model`, or for a subclassed model without inputs, a functional
    model around it on an input of `--input-shape` and `--input-dtype`."""
    if getattr(model, "inputs", None):
        if config.input_shape is not None:
            raise ValueError(
                "--input-shape is for models without inputs of their own; "
                f"{type(model).__name__} {model.name!r} has "
                f"{[tuple(t.shape) for t in model.inputs]}. Drop the flag"
            )
        return model
    if config.input_shape is None:
        raise ValueError(
            f"{type(model).__name__} {model.name!r} is a subclassed model "
            "without fixed inputs: pass --input-shape (its input's shape "
            "without the batch axis, e.g. 3 for (batch, 3)) and "
            "--input-dtype (default float32)"
        )
    inputs = keras.Input(
        config.input_shape, dtype=config.input_dtype, name="inputs"
    )
    return keras.Model(inputs, model(inputs), name=model.name)


def _without_training_wrappers(model):
    """`model` with pruning and clustering wrappers stripped (what
    `strip_pruning` and `strip_clustering` leave), so that a model saved
    in the middle of compression converts as the plain model it trains."""
    from kerasbig.optimize import ClusterWeights
    from kerasbig.optimize import PruneLowMagnitude
    from kerasbig.optimize import strip_clustering
    from kerasbig.optimize import strip_pruning

    kinds = {type(layer) for layer in nested_layers(model)}
    if PruneLowMagnitude in kinds:
        model = strip_pruning(model)
    if ClusterWeights in kinds:
        model = strip_clustering(model)
    return model


def _register_kerasbig_classes():
    """Imports the rooms whose classes a `.keras` file may name: each
    registers its classes with Keras when imported, and a program holds
    kerasbig's rooms back until its flags have parsed."""
    for room in (
        "callbacks",
        "graph",
        "layers",
        "metrics",
        "models",
        "optimize",
    ):
        importlib.import_module(f"kerasbig.{room}")


def main(argv=None):
    config = parse_config(Config, argv, DESCRIPTION, program=PROGRAM)
    if keras.backend.backend() != "tensorflow":
        # Keras picks its backend at import: start again under TensorFlow.
        environment = dict(os.environ, KERAS_BACKEND="tensorflow")
        command = [sys.executable, "-m", "kerasbig.export"]
        command += sys.argv[1:] if argv is None else list(argv)
        os.execve(sys.executable, command, environment)
    _register_kerasbig_classes()
    for module in config.modules:
        importlib.import_module(module)
    model = keras.saving.load_model(config.model)
    model = _with_inputs(_without_training_wrappers(model), config)
    try:
        # LiteRT's and the converter's own lines: shown with --verbose.
        with native_output_to(os.devnull):
            exported = to_litert(
                model,
                config.output,
                quantization=_QUANTIZATIONS[config.quantization],
                representative_data=_arrays(
                    "--representative-data", config.representative_data, model
                ),
                builtins_only=not config.allow_flex,
                verify_data=_arrays("--verify-data", config.verify_data, model),
                tolerance=config.tolerance,
                sparse=config.sparse,
            )
    except ValueError as error:
        raise ValueError(_in_flags(str(error))) from error
    print(
        f"wrote {exported.path}: {exported.size} bytes, "
        f"{len(exported.ops)} ops, max |LiteRT - Keras| "
        f"{exported.max_abs_difference:.3g} (allowed {exported.tolerance:.3g})"
    )
    return exported


if __name__ == "__main__":
    run_script(main, program="kerasbig.export")
