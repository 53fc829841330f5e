"""Prune and quantize a CNN, export it to LiteRT, and report what it cost.

The README's main job. With no arguments it needs no network: it trains
a small CNN on scikit-learn's bundled handwritten digits (upsampled to
32x32), prunes it to 80 % sparsity by magnitude while fine-tuning
(`kerasbig.optimize`, any Keras backend), strips the pruning wrappers,
exports LiteRT files (`kerasbig.export.to_litert`, TensorFlow backend):
the dense model as float32, and the pruned model as float32, dynamic-
range int8 and full int8, plus a float32 file in LiteRT's sparse weight
format (smaller as it is, not only after gzip), each checked against
Keras when written, then evaluates every file with the LiteRT
interpreter on held-out digits and writes a report: accuracy, file size,
gzip size, sparsity, single-example latency p50/p95.

    python -m kerasbig.recipes.prune_quantize  # about two minutes on CPU
    python -m kerasbig.recipes.prune_quantize --smoke      # seconds
    python -m kerasbig.recipes.prune_quantize --sparsity 0.9 \\
        --output-dir runs/p90

Outputs in --output-dir: dense.keras, pruned.keras (stripped), the .tflite
files, report.json and report.md.
"""

import argparse
import dataclasses
import gzip
import json
import os
import time

import keras
import numpy as np

import kerasbig
from kerasbig.data import load_digits
from kerasbig.export import to_litert
from kerasbig.optimize import PolynomialDecay
from kerasbig.optimize import UpdatePruningStep
from kerasbig.optimize import prune_low_magnitude
from kerasbig.optimize import quantize_aware
from kerasbig.optimize import sparsity_report
from kerasbig.optimize import sparsity_total
from kerasbig.optimize import strip_pruning
from kerasbig.training import DistributeConfig
from kerasbig.training import add_distribute_flags
from kerasbig.training import add_run_flags
from kerasbig.training import bounded
from kerasbig.training import parse_flags
from kerasbig.training import run_script
from kerasbig.training import start_distribution


@dataclasses.dataclass
class Config(DistributeConfig):
    epochs: int = 30
    prune_epochs: int = 20
    sparsity: float = 0.8
    batch_size: int = 64
    learning_rate: float = 1e-3
    prune_learning_rate: float = 3e-4
    qat: bool = False
    qat_epochs: int = 5
    qat_learning_rate: float = 1e-4
    image_size: int = 32
    calibration_examples: int = 300
    latency_runs: int = 300
    seed: int = 0
    output_dir: str = "runs/prune_quantize"


def parse_args(argv=None):
    defaults = Config()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--epochs",
        type=bounded(int, minimum=1),
        default=defaults.epochs,
        help="epochs of dense training",
    )
    parser.add_argument(
        "--prune-epochs",
        type=bounded(int, minimum=1),
        default=defaults.prune_epochs,
        help="epochs of fine-tuning while pruning; sparsity ramps up over "
        "the first 60 %% of them (tfmot's PolynomialDecay)",
    )
    parser.add_argument(
        "--sparsity",
        type=bounded(float, minimum=0, less_than=1),
        default=defaults.sparsity,
        help="final fraction of zero weights in every kernel, in [0, 1)",
    )
    parser.add_argument(
        "--batch-size",
        type=bounded(int, minimum=1),
        default=defaults.batch_size,
        help="global batch size",
    )
    parser.add_argument(
        "--learning-rate",
        type=bounded(float, greater_than=0),
        default=defaults.learning_rate,
        help="Adam learning rate of dense training",
    )
    parser.add_argument(
        "--prune-learning-rate",
        type=bounded(float, greater_than=0),
        default=defaults.prune_learning_rate,
        help="Adam learning rate while pruning",
    )
    parser.add_argument(
        "--qat",
        action="store_true",
        help="also fine-tune the pruned model with quantization-aware "
        "training (zeros kept) and export it as int8, next to the "
        "post-training int8 file",
    )
    parser.add_argument(
        "--qat-epochs",
        type=bounded(int, minimum=1),
        default=defaults.qat_epochs,
        help="epochs of quantization-aware fine-tuning",
    )
    parser.add_argument(
        "--qat-learning-rate",
        type=bounded(float, greater_than=0),
        default=defaults.qat_learning_rate,
        help="Adam learning rate of quantization-aware fine-tuning",
    )
    parser.add_argument(
        "--image-size",
        type=bounded(int, minimum=18),
        default=defaults.image_size,
        help="side the 8x8 digits are resized to (>= 18: the CNN's three "
        "3x3 convolutions and two poolings need it)",
    )
    parser.add_argument(
        "--calibration-examples",
        type=bounded(int, minimum=1),
        default=defaults.calibration_examples,
        help="training images that calibrate int8 activation ranges",
    )
    parser.add_argument(
        "--latency-runs",
        type=bounded(int, minimum=1),
        default=defaults.latency_runs,
        help="timed single-example calls per LiteRT file",
    )
    parser.add_argument(
        "--seed", type=bounded(int, minimum=0), default=defaults.seed
    )
    parser.add_argument(
        "--output-dir",
        default=defaults.output_dir,
        help="where models, .tflite files and the report go",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1 + 1 epochs, few latency runs: checks the pipeline",
    )
    add_distribute_flags(parser)
    add_run_flags(parser)
    smoke = {
        "epochs": 1,
        "prune_epochs": 1,
        "qat_epochs": 1,
        "calibration_examples": 50,
        "latency_runs": 10,
    }
    return Config(**parse_flags(parser, argv, smoke))


def build_model(image_size, num_classes=10):
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(128, 3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def compile_model(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def prune(model, config, data):
    """Fine-tunes `model` while pruning it to `config.sparsity`."""
    (x_train, y_train), _ = data
    steps_per_epoch = int(np.ceil(len(x_train) / config.batch_size))
    total = steps_per_epoch * config.prune_epochs
    end = max(int(0.6 * total), 1)
    schedule = PolynomialDecay(
        0.0,
        config.sparsity,
        begin_step=0,
        end_step=end,
        frequency=max(steps_per_epoch // 2, 1),
    )
    pruned = compile_model(
        prune_low_magnitude(model, schedule), config.prune_learning_rate
    )
    pruned.fit(
        x_train,
        y_train,
        batch_size=config.batch_size,
        epochs=config.prune_epochs,
        callbacks=[UpdatePruningStep()],
        verbose=2,
    )
    return strip_pruning(pruned)


def gzip_size(path):
    with open(path, "rb") as file:
        return len(gzip.compress(file.read(), compresslevel=9))


def markdown_table(rows):
    header = (
        "| Model | Accuracy | Size (KB) | gzip (KB) | Sparsity | "
        "p50 (ms) | p95 (ms) |\n| --- | --- | --- | --- | --- | --- | --- |\n"
    )
    return header + "".join(
        f"| {r['name']} | {100 * r['accuracy']:.2f} % | "
        f"{r['size'] / 1024:.1f} | {r['gzip_size'] / 1024:.1f} | "
        f"{100 * r['sparsity']:.1f} % | {r['latency_p50_ms']:.3f} | "
        f"{r['latency_p95_ms']:.3f} |\n"
        for r in rows
    )


def main(argv=None):
    config = parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        raise SystemExit(
            "prune_quantize: LiteRT export needs KERAS_BACKEND=tensorflow "
            f"(the backend is {keras.backend.backend()}). Pruning itself "
            "works on every backend: see docs/optimize.md."
        )
    strategy = start_distribution(config)
    keras.utils.set_random_seed(config.seed)
    os.makedirs(config.output_dir, exist_ok=True)
    data = load_digits(image_size=config.image_size, seed=config.seed)
    (x_train, y_train), (x_test, y_test) = data

    start = time.perf_counter()
    with strategy.scope():
        dense = compile_model(
            build_model(config.image_size), config.learning_rate
        )
        dense.fit(
            x_train,
            y_train,
            batch_size=config.batch_size,
            epochs=config.epochs,
            verbose=2,
        )
        dense.save(os.path.join(config.output_dir, "dense.keras"))
        qat = None
        pruned = prune(dense, config, data)
        # Saved before compiling: an optimizer that never stepped has no state
        # worth keeping (and Keras warns when reloading it).
        pruned.save(os.path.join(config.output_dir, "pruned.keras"))
        compile_model(pruned, config.learning_rate)
        if config.qat:
            qat = compile_model(
                quantize_aware(pruned, preserve_sparsity=True),
                config.qat_learning_rate,
            )
            qat.fit(
                x_train,
                y_train,
                batch_size=config.batch_size,
                epochs=config.qat_epochs,
                verbose=2,
            )
    train_seconds = time.perf_counter() - start

    calibration = x_train[: config.calibration_examples]
    # (name, model, quantization, sparse weight format)
    exports = [
        ("dense float32", dense, None, False),
        ("pruned float32", pruned, None, False),
        ("pruned float32 sparse", pruned, None, True),
        ("pruned dynamic-range int8", pruned, "dynamic", False),
        ("pruned int8", pruned, "int8", False),
    ]
    if config.qat:
        exports.append(("pruned QAT int8", qat, "int8", False))
    # Keras accuracy and sparsity per model, not per file (the pruned
    # model is exported three times).
    keras_scores = {
        id(model): (
            float(model.evaluate(x_test, y_test, verbose=0)[1]),
            sparsity_total(sparsity_report(model)),
        )
        for _, model, _, _ in exports
    }
    rows = []
    for name, model, quantization, sparse in exports:
        keras_accuracy, sparsity = keras_scores[id(model)]
        path = os.path.join(
            config.output_dir, name.replace(" ", "_") + ".tflite"
        )
        exported = to_litert(
            model,
            path,
            quantization=quantization,
            # A QAT model brings its own ranges.
            representative_data=None if model is qat else calibration,
            verify_data=x_test[:64],
            sparse=sparse,
        )
        latency = exported.latency(x_test, runs=config.latency_runs)
        rows.append(
            {
                "name": name,
                "file": path,
                "quantization": quantization or "none",
                "sparse_format": sparse,
                "accuracy": exported.evaluate(x_test, y_test)["accuracy"],
                "keras_accuracy": keras_accuracy,
                "size": exported.size,
                "gzip_size": gzip_size(path),
                "sparsity": sparsity,
                "latency_p50_ms": latency["p50"],
                "latency_p95_ms": latency["p95"],
                "max_abs_difference_vs_keras": exported.max_abs_difference,
            }
        )
    by_name = {row["name"]: row for row in rows}
    dense_row, pruned_row = by_name["dense float32"], by_name["pruned float32"]
    int8_row = by_name["pruned int8"]
    summary = {
        "accuracy_drop_pruned_points": 100
        * (dense_row["accuracy"] - pruned_row["accuracy"]),
        "gzip_ratio_pruned_to_dense": pruned_row["gzip_size"]
        / dense_row["gzip_size"],
        "size_ratio_sparse_to_dense": by_name["pruned float32 sparse"]["size"]
        / dense_row["size"],
        "size_ratio_int8_to_float": int8_row["size"] / pruned_row["size"],
        "accuracy_drop_int8_points": 100
        * (pruned_row["accuracy"] - int8_row["accuracy"]),
        "latency_ratio_int8_to_float": int8_row["latency_p50_ms"]
        / pruned_row["latency_p50_ms"],
    }
    if config.qat:
        summary["accuracy_qat_minus_ptq_int8_points"] = 100 * (
            by_name["pruned QAT int8"]["accuracy"] - int8_row["accuracy"]
        )
    report = {
        "backend": keras.backend.backend(),
        "kerasbig_version": kerasbig.__version__,
        "config": dataclasses.asdict(config),
        "test_examples": len(x_test),
        "train_seconds": round(train_seconds, 2),
        "models": rows,
        "summary": summary,
    }
    with open(os.path.join(config.output_dir, "report.json"), "w") as file:
        json.dump(report, file, indent=2)
    table = markdown_table(rows)
    lines = "".join(f"- {key}: {value:.3f}\n" for key, value in summary.items())
    with open(os.path.join(config.output_dir, "report.md"), "w") as file:
        file.write(
            f"# prune_quantize report\n\n{len(x_test)} held-out digits, "
            f"LiteRT interpreter, {keras.backend.backend()} backend.\n\n"
            f"{table}\n{lines}"
        )
    print(
        f"\n{table}\n{lines}\nreport.json and report.md in {config.output_dir}"
    )
    return report


if __name__ == "__main__":
    run_script(main)
