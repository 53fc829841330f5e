"""Quick start: train a small CNN on the embedded digits, end to end.

The smallest end-to-end example, and the one to copy: every recipe is
written this way. It needs no network: the 1,797 handwritten digits ship
inside scikit-learn. It trains a small convolutional network with plain
`model.fit()` on whichever Keras backend is active (KERAS_BACKEND),
keeping the best validation epoch, evaluates it on held-out digits,
reloads the saved `.keras` file and checks that it predicts the same,
and writes `metrics.json`.

    python -m kerasbig.recipes.quickstart  # about a minute on a CPU
    python -m kerasbig.recipes.quickstart --smoke         # a few seconds
    KERAS_BACKEND=jax python -m kerasbig.recipes.quickstart --epochs 5

Outputs in --output-dir: model.keras (best weights), best.keras, log.csv,
tensorboard/, curves.png, metrics.json and, with --export-litert,
model.tflite. A killed run resumes from its last finished epoch when the
same command runs again.
"""

import dataclasses
import time

from kerasbig.training import TrainingConfig
from kerasbig.training import TrainingStopped
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config


@dataclasses.dataclass
class Config(TrainingConfig):
    epochs: int = option(15, "passes over the training digits", minimum=1)
    batch_size: int = option(32, "global batch size", minimum=1)
    learning_rate: float = option(2e-3, "Adam learning rate", greater_than=0)
    output_dir: str = option("runs/quickstart", "where outputs go")
    image_size: int = option(
        16, "side the 8x8 digits are resized to", minimum=8
    )
    validation_fraction: float = option(
        0.1,
        "share of each class's training digits held out to pick the best epoch",
        greater_than=0,
        less_than=1,
    )


SMOKE = {"epochs": 1, "image_size": 8}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.data import load_digits
from kerasbig.data import stratified_split
from kerasbig.training import accumulate_gradients
from kerasbig.training import check_export_backend
from kerasbig.training import export_litert
from kerasbig.training import fit_to_folder
from kerasbig.training import resolve_jit_compile
from kerasbig.training import run_script
from kerasbig.training import set_precision
from kerasbig.training import start_run
from kerasbig.training import write_report


def build_model(
    image_size,
    filters=(32, 64),
    dense_units=64,
    padding="same",
    dropout=0.3,
    num_classes=10,
):
    """A digits CNN: 3x3 relu convolutions with `filters` channels, each
    but the last followed by 2x2 max pooling, then a dense layer, dropout
    and class logits (prune_quantize.py builds its larger one here too)."""
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = inputs
    for i, channels in enumerate(filters):
        if i:
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.Conv2D(
            channels, 3, padding=padding, activation="relu"
        )(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, activation="relu")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {"sklearn": "the embedded digits", "matplotlib": "training curves"}
    if config.export_litert:
        needs["ai_edge_litert"] = "checking the .tflite file"
    return needs


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_dependencies(dependencies(config))
    check_export_backend(config.export_litert)
    with start_run(config) as run:
        output_dir = run.output_dir
        keras.utils.set_random_seed(config.seed)
        (x_train, y_train), (x_test, y_test) = load_digits(
            image_size=config.image_size, seed=config.seed
        )
        train, validation = stratified_split(
            y_train, config.validation_fraction, config.seed
        )
        policy = set_precision(config.mixed_precision)
        with run.strategy.scope():
            model = build_model(config.image_size)
            model.compile(
                optimizer=accumulate_gradients(
                    keras.optimizers.Adam(config.learning_rate),
                    config.grad_accumulation,
                ),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True
                ),
                metrics=["accuracy"],
                jit_compile=resolve_jit_compile(config.jit_compile),
            )
        start = time.perf_counter()
        history, stopped = fit_to_folder(
            model,
            (x_train[train], y_train[train]),
            (x_train[validation], y_train[validation]),
            epochs=config.epochs,
            output_dir=output_dir,
            batch_size=config.batch_size,
        )
        train_seconds = time.perf_counter() - start
        if stopped:
            raise TrainingStopped(stopped)
        loss, accuracy = model.evaluate(
            x_test, y_test, batch_size=config.batch_size, verbose=0
        )

        # The lesson of the quick start: the saved file is the model.
        path = f"{output_dir}/model.keras"
        restored = keras.saving.load_model(path)
        difference = float(
            np.max(
                np.abs(
                    model.predict(x_test, verbose=0)
                    - restored.predict(x_test, verbose=0)
                )
            )
        )
        if difference > 1e-5:
            raise RuntimeError(
                f"the reloaded model predicts differently (max abs difference "
                f"{difference:.3g}); the .keras file at {path} is not usable"
            )
        results = {
            "epochs": len(history.get("epoch", [])),
            "train_seconds": round(train_seconds, 2),
            "examples": {
                "train": len(train),
                "validation": len(validation),
                "test": len(y_test),
            },
            "precision_policy": policy,
            "best_val_accuracy": max(history.get("val_accuracy", [0.0])),
            "test_accuracy": float(accuracy),
            "test_loss": float(loss),
            "reload_max_abs_difference": difference,
        }
        if config.export_litert:
            results["litert"] = export_litert(
                model, f"{output_dir}/model.tflite", x_test[:16]
            )
        return write_report(
            output_dir,
            recipe="quickstart",
            config=config,
            headline=("test_accuracy", results["test_accuracy"]),
            results=results,
            distribution=run.distribution,
            summary=f"{len(y_test)} held-out digits",
        )


if __name__ == "__main__":
    run_script(main)
