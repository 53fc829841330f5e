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
    python -m kerasbig.recipes.prune_quantize --model mobilenet_v2 --qat \\
        --output-dir runs/mobilenet
    python -m kerasbig.recipes.prune_quantize --cluster 16 --qat \\
        --output-dir runs/pcqat

`--model mobilenet_v2` runs the same steps on Keras's MobileNetV2 (width
0.35, no ImageNet weights; the digits as RGB): BatchNorm, depthwise
convolutions and residual adds, with `--qat` folding each BatchNorm into
its convolution.

`--cluster K` adds tfmot's third technique after pruning: every kernel
clustered into K shared values (zeros kept), fine-tuned and stripped
(clustered.keras), exported as float32 and int8; with `--qat` the
quantization-aware fine-tune then keeps zeros and clusters (tfmot's
prune-cluster-QAT chain).

Outputs in --output-dir: dense.keras, pruned.keras (stripped), the .tflite
files, metrics.json (the report, every file's row) and report.md (the
table, and the ops each int8 file runs). A killed run resumes when the
same command runs again: from its last finished epoch, and without
retraining a finished phase.
"""

import collections
import dataclasses
import gzip
import time

from kerasbig.training import DistributeConfig
from kerasbig.training import TrainingStopped
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config


@dataclasses.dataclass
class Config(DistributeConfig):
    model: str = option(
        "digits_cnn",
        "the network: digits_cnn (three convolutions and two dense "
        "layers) or mobilenet_v2 (keras.applications.MobileNetV2, width "
        "--alpha, no ImageNet weights, on the digits as RGB)",
        choices=("digits_cnn", "mobilenet_v2"),
    )
    alpha: float = option(
        None,
        "MobileNetV2's width multiplier (--model mobilenet_v2 only; "
        "default 0.35)",
        greater_than=0,
    )
    epochs: int = option(30, "epochs of dense training", minimum=1)
    prune_epochs: int = option(
        20,
        "epochs of fine-tuning while pruning; sparsity ramps up over the "
        "first 60 %% of them (tfmot's PolynomialDecay)",
        minimum=1,
    )
    sparsity: float = option(
        0.8,
        "final fraction of zero weights in every kernel, in [0, 1)",
        minimum=0,
        less_than=1,
    )
    batch_size: int = option(64, "global batch size", minimum=1)
    learning_rate: float = option(
        1e-3, "Adam learning rate of dense training", greater_than=0
    )
    prune_learning_rate: float = option(
        3e-4, "Adam learning rate while pruning", greater_than=0
    )
    cluster: int = option(
        None,
        "after pruning, cluster every kernel into this many shared values "
        "(zeros kept) and fine-tune; with --qat the QAT keeps both "
        "(tfmot's prune-cluster-QAT chain)",
        minimum=2,
        maximum=256,
    )
    cluster_epochs: int = option(
        3, "epochs of fine-tuning while clustered (--cluster)", minimum=1
    )
    cluster_learning_rate: float = option(
        1e-4, "Adam learning rate while clustered (--cluster)", greater_than=0
    )
    qat: bool = option(
        False,
        "also fine-tune the pruned model with quantization-aware training "
        "(zeros kept) and export it as int8, next to the post-training "
        "int8 file",
    )
    qat_epochs: int = option(
        5, "epochs of quantization-aware fine-tuning", minimum=1
    )
    qat_learning_rate: float = option(
        1e-4,
        "Adam learning rate of quantization-aware fine-tuning",
        greater_than=0,
    )
    image_size: int = option(
        32,
        "side the 8x8 digits are resized to (>= 18: the CNN's three 3x3 "
        "convolutions and two poolings need it; >= 32 for mobilenet_v2)",
        minimum=18,
    )
    calibration_examples: int = option(
        300,
        "training images that calibrate int8 activation ranges",
        minimum=1,
    )
    latency_runs: int = option(
        300, "timed single-example calls per LiteRT file", minimum=1
    )
    seed: int = option(0, "seed of weights and data order", minimum=0)
    output_dir: str = option(
        "runs/prune_quantize",
        "where models, .tflite files and the report go",
    )


SMOKE = {
    "epochs": 1,
    "prune_epochs": 1,
    "cluster_epochs": 1,
    "qat_epochs": 1,
    "calibration_examples": 50,
    "latency_runs": 10,
}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.data import load_digits
from kerasbig.export import to_litert
from kerasbig.optimize import PolynomialDecay
from kerasbig.optimize import UpdatePruningStep
from kerasbig.optimize import cluster_weights
from kerasbig.optimize import prune_low_magnitude
from kerasbig.optimize import quantize_aware
from kerasbig.optimize import sparsity_report
from kerasbig.optimize import sparsity_total
from kerasbig.optimize import strip_clustering
from kerasbig.optimize import strip_pruning
from kerasbig.recipes.quickstart import build_model
from kerasbig.training import explain_interruption
from kerasbig.training import progress_verbosity
from kerasbig.training import run_callbacks
from kerasbig.training import run_script
from kerasbig.training import start_run
from kerasbig.training import write_report


def compile_model(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def fit_phase(model, train, config, epochs, folder, callbacks=()):
    """One training phase, resumable from its own folder (backup,
    log.csv, NaN stop: `run_callbacks`)."""
    run = run_callbacks(folder)
    with explain_interruption(folder):
        model.fit(
            *train,
            batch_size=config.batch_size,
            epochs=epochs,
            callbacks=[*run, *callbacks],
            verbose=progress_verbosity(),
        )
    if run[-1].stopped_reason:
        raise TrainingStopped(run[-1].stopped_reason)


def network(config):
    """The --model network, untrained, giving logits."""
    if config.model == "digits_cnn":
        return build_model(
            config.image_size,
            filters=(32, 64, 128),
            dense_units=256,
            padding="valid",
        )
    model = keras.applications.MobileNetV2(
        input_shape=(config.image_size, config.image_size, 3),
        alpha=config.alpha or 0.35,
        weights=None,
        classes=10,
        classifier_activation=None,
    )
    # The applications' BatchNorm momentum, 0.999, needs thousands of
    # steps before its moving statistics describe the data; 0.99 settles
    # within this recipe's few hundred.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.99
    return model


def digits(config):
    """The digits split, as RGB for MobileNetV2."""
    train, test = load_digits(image_size=config.image_size, seed=config.seed)
    if config.model == "mobilenet_v2":
        train, test = ((np.repeat(x, 3, axis=-1), y) for x, y in (train, test))
    return train, test


def pruning_schedule(config, num_examples):
    """Sparsity from 0 to `config.sparsity` over the first 60 % of the
    pruning steps, updated twice per epoch."""
    steps_per_epoch = int(np.ceil(num_examples / config.batch_size))
    end = max(int(0.6 * steps_per_epoch * config.prune_epochs), 1)
    return PolynomialDecay(
        0.0,
        config.sparsity,
        begin_step=0,
        end_step=end,
        frequency=max(steps_per_epoch // 2, 1),
    )


def train_models(config, train, output_dir, resuming):
    """The dense model, the pruned one (stripped), with `--cluster` the
    clustered one (stripped) and, with `--qat`, the quantization-aware
    fine-tune of the last. A resumed run reloads the phases it finished
    (`dense.keras`, `pruned.keras`, `clustered.keras`)."""
    dense_path, pruned_path = (
        output_dir / "dense.keras",
        output_dir / "pruned.keras",
    )
    if resuming and dense_path.exists():
        dense = keras.saving.load_model(dense_path)
    else:
        dense = compile_model(network(config), config.learning_rate)
        fit_phase(dense, train, config, config.epochs, output_dir / "dense")
        dense.save(dense_path)
    if resuming and pruned_path.exists():
        pruned = keras.saving.load_model(pruned_path, compile=False)
    else:
        pruning = compile_model(
            prune_low_magnitude(dense, pruning_schedule(config, len(train[0]))),
            config.prune_learning_rate,
        )
        fit_phase(
            pruning,
            train,
            config,
            config.prune_epochs,
            output_dir / "prune",
            callbacks=[UpdatePruningStep()],
        )
        pruned = strip_pruning(pruning)
        # Saved before compiling: an optimizer that never stepped has no
        # state worth keeping (and Keras warns when reloading it).
        pruned.save(pruned_path)
    compile_model(pruned, config.learning_rate)
    clustered = None
    if config.cluster:
        clustered = cluster_phase(config, pruned, train, output_dir, resuming)
    qat = None
    if config.qat:
        qat = compile_model(
            quantize_aware(
                clustered or pruned,
                preserve_sparsity=True,
                preserve_clusters=clustered is not None,
            ),
            config.qat_learning_rate,
        )
        fit_phase(qat, train, config, config.qat_epochs, output_dir / "qat")
    return dense, pruned, clustered, qat


def cluster_phase(config, pruned, train, output_dir, resuming):
    """The pruned model with every kernel clustered into `--cluster`
    values (its zeros kept), fine-tuned and stripped; reloaded from
    `clustered.keras` when a resumed run finished it."""
    path = output_dir / "clustered.keras"
    if resuming and path.exists():
        clustered = keras.saving.load_model(path, compile=False)
    else:
        clustering = compile_model(
            cluster_weights(
                pruned,
                config.cluster,
                preserve_sparsity=True,
                seed=config.seed,
            ),
            config.cluster_learning_rate,
        )
        fit_phase(
            clustering,
            train,
            config,
            config.cluster_epochs,
            output_dir / "cluster",
        )
        clustered = strip_clustering(clustering)
        clustered.save(path)
    return compile_model(clustered, config.learning_rate)


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


def ops_table(rows):
    """The ops each int8 file runs (counted) and those computing in
    float, as a Markdown table."""
    lines = [
        "| File | Ops | Float compute ops |",
        "| --- | --- | --- |",
    ]
    for row in rows:
        if row["quantization"] != "int8":
            continue
        ops = ", ".join(f"{op} x{count}" for op, count in row["ops"].items())
        floating = ", ".join(row["float_compute_ops"]) or "none"
        lines.append(f"| {row['name']} | {ops} | {floating} |")
    return "\n".join(lines) + "\n"


def export_rows(models, config, calibration, test, output_dir):
    """Writes every LiteRT file, verified against Keras, and measures it
    with the interpreter: one report row per file."""
    dense, pruned, clustered, qat = models
    # (name, model, quantization, sparse weight format)
    exports = [
        ("dense float32", dense, None, False),
        ("pruned float32", pruned, None, False),
        ("pruned float32 sparse", pruned, None, True),
        ("pruned dynamic-range int8", pruned, "dynamic", False),
        ("pruned int8", pruned, "int8", False),
    ]
    if clustered is not None:
        exports += [
            ("pruned clustered float32", clustered, None, False),
            ("pruned clustered int8", clustered, "int8", False),
        ]
    if qat is not None:
        name = "pruned clustered QAT int8" if clustered else "pruned QAT int8"
        exports.append((name, qat, "int8", False))
    x_test, y_test = test
    # Keras accuracy and sparsity per model, not per file (the pruned
    # model is exported four times).
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
        path = output_dir / (name.replace(" ", "_") + ".tflite")
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
                "file": str(path),
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
                "ops": dict(sorted(collections.Counter(exported.ops).items())),
                "float_compute_ops": exported.float_compute_ops(),
            }
        )
    return rows


def summarize(rows):
    """What pruning and quantization cost and saved, as ratios and
    accuracy drops (in points)."""
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
    if "pruned QAT int8" in by_name:
        summary["accuracy_qat_minus_ptq_int8_points"] = 100 * (
            by_name["pruned QAT int8"]["accuracy"] - int8_row["accuracy"]
        )
    if "pruned clustered float32" in by_name:
        clustered = by_name["pruned clustered float32"]
        summary["gzip_ratio_clustered_to_dense"] = (
            clustered["gzip_size"] / dense_row["gzip_size"]
        )
        summary["accuracy_drop_clustered_points"] = 100 * (
            pruned_row["accuracy"] - clustered["accuracy"]
        )
    if "pruned clustered QAT int8" in by_name:
        summary["accuracy_pcqat_minus_ptq_int8_points"] = 100 * (
            by_name["pruned clustered QAT int8"]["accuracy"]
            - int8_row["accuracy"]
        )
    return summary


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {
        "sklearn": "the embedded digits",
        "ai_edge_litert": "running the .tflite files",
    }
    return needs


def check_model_flags(config):
    """Flags that do not fit --model get one line each."""
    if config.model == "digits_cnn" and config.alpha is not None:
        raise ValueError(
            "--alpha sets MobileNetV2's width: it needs --model "
            f"mobilenet_v2. Received: --model digits_cnn --alpha "
            f"{config.alpha}"
        )
    if config.model == "mobilenet_v2" and config.image_size < 32:
        raise ValueError(
            "--image-size must be >= 32 with --model mobilenet_v2 "
            "(keras.applications' smallest input). Received: "
            f"--image-size {config.image_size}"
        )


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_model_flags(config)
    check_dependencies(dependencies(config))
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "LiteRT export needs KERAS_BACKEND=tensorflow "
            f"(the backend is {keras.backend.backend()}). Pruning itself "
            "works on every backend: see docs/optimize.md."
        )
    with start_run(config) as run:
        output_dir = run.output_dir
        keras.utils.set_random_seed(config.seed)
        train, test = digits(config)
        start = time.perf_counter()
        with run.strategy.scope():
            models = train_models(config, train, output_dir, run.resuming)
        train_seconds = time.perf_counter() - start
        rows = export_rows(
            models,
            config,
            train[0][: config.calibration_examples],
            test,
            output_dir,
        )
        summary = summarize(rows)
        table = markdown_table(rows)
        lines = "".join(
            f"- {key}: {value:.3f}\n" for key, value in summary.items()
        )
        int8 = next(row for row in rows if row["name"] == "pruned int8")
        return write_report(
            output_dir,
            recipe="prune_quantize",
            config=config,
            headline=("pruned_int8_accuracy", int8["accuracy"]),
            results={
                "epochs": config.epochs
                + config.prune_epochs
                + (config.cluster_epochs if config.cluster else 0)
                + (config.qat_epochs if config.qat else 0),
                "train_seconds": round(train_seconds, 2),
                "examples": {"train": len(train[1]), "test": len(test[1])},
                "models": rows,
                "summary": summary,
            },
            distribution=run.distribution,
            summary=f"{int8['size'] / 1024:.1f} KB; report.md has every file",
            details=f"{len(test[1])} held-out digits, LiteRT interpreter, "
            f"{keras.backend.backend()} backend.\n\n{table}\n{lines}\n"
            f"Ops of the int8 files:\n\n{ops_table(rows)}",
        )


if __name__ == "__main__":
    run_script(main)
