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

import argparse
import importlib
import os
import sys

from kerasbig import _console

_QUANTIZATIONS = {
    "float32": None,
    "dynamic": "dynamic",
    "float16": "float16",
    "int8": "int8",
}


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m kerasbig.export",
        description="Converts a .keras model to a LiteRT (.tflite) file and "
        "checks the file against Keras before keeping it.",
    )
    parser.add_argument("model", help="the .keras file")
    parser.add_argument("output", help="where to write the .tflite file")
    parser.add_argument(
        "--quantization",
        choices=list(_QUANTIZATIONS),
        default="float32",
        help="float32 (default), dynamic (int8 weights), float16 or int8 "
        "(int8 weights and activations)",
    )
    parser.add_argument(
        "--representative-data",
        metavar="NPZ",
        help="examples that calibrate int8 activation ranges (a few "
        "hundred), one array per model input",
    )
    parser.add_argument(
        "--verify-data",
        metavar="NPZ",
        help="inputs to compare Keras and LiteRT on (default: the first 32 "
        "representative examples, else random inputs)",
    )
    parser.add_argument(
        "--sparse",
        action="store_true",
        help="store sparse (pruned) weights in LiteRT's sparse format",
    )
    parser.add_argument(
        "--allow-flex",
        action="store_true",
        help="allow TensorFlow (Flex) ops that LiteRT has no builtin for",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        help="largest accepted max |LiteRT - Keras| as a fraction of "
        "max |Keras| (default per quantization)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up and converter logs",
    )
    parser.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module to import first, e.g. one that registers your own "
        "layers (repeatable)",
    )
    return parser


if _console.HELP_ONLY:  # --help exits here: Keras not loaded
    _parser().parse_args()

import keras
import numpy as np

from kerasbig.export.to_litert import to_litert


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


def main(argv=None):
    args = _parser().parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        # Keras picks its backend at import: start again under TensorFlow.
        environment = dict(os.environ, KERAS_BACKEND="tensorflow")
        command = [sys.executable, "-m", "kerasbig.export"]
        command += sys.argv[1:] if argv is None else list(argv)
        os.execve(sys.executable, command, environment)
    try:
        for module in args.modules:
            importlib.import_module(module)
        model = keras.saving.load_model(args.model)
        exported = to_litert(
            model,
            args.output,
            quantization=_QUANTIZATIONS[args.quantization],
            representative_data=_arrays(
                "--representative-data", args.representative_data, model
            ),
            builtins_only=not args.allow_flex,
            verify_data=_arrays("--verify-data", args.verify_data, model),
            tolerance=args.tolerance,
            sparse=args.sparse,
        )
    except (ImportError, OSError, ValueError, TypeError) as error:
        message = str(error).splitlines()[0] if str(error) else repr(error)
        print(f"kerasbig.export: {message}", file=sys.stderr)
        return 1
    print(
        f"wrote {exported.path}: {exported.size} bytes, "
        f"{len(exported.ops)} ops, max |LiteRT - Keras| "
        f"{exported.max_abs_difference:.3g} (allowed {exported.tolerance:.3g})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
