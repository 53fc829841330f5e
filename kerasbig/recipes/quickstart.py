"""Quick start: train a small CNN on the embedded digits, end to end.

The smallest end-to-end example (the README's main job is
prune_quantize.py, which starts the same way). It needs no network: the
1,797 handwritten digits ship inside scikit-learn. It trains a small
convolutional network with plain `model.fit()` on whichever Keras
backend is active (KERAS_BACKEND), evaluates it on held-out digits, saves
the model as `.keras`, reloads it, checks that the reloaded model predicts
the same, and writes `metrics.json` to the output directory.

    python -m kerasbig.recipes.quickstart  # about a minute on a CPU
    python -m kerasbig.recipes.quickstart --smoke         # a few seconds
    KERAS_BACKEND=jax python -m kerasbig.recipes.quickstart --epochs 5
"""

import argparse
import dataclasses
import json
import os
import time

import keras
import numpy as np

import kerasbig
from kerasbig.data import load_digits
from kerasbig.training import DistributeConfig
from kerasbig.training import add_distribute_flags
from kerasbig.training import add_run_flags
from kerasbig.training import bounded
from kerasbig.training import parse_flags
from kerasbig.training import run_script
from kerasbig.training import start_distribution


@dataclasses.dataclass
class Config(DistributeConfig):
    epochs: int = 15
    batch_size: int = 64
    learning_rate: float = 2e-3
    image_size: int = 16
    seed: int = 0
    output_dir: str = "runs/quickstart"


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
        help="training epochs",
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
        help="Adam learning rate",
    )
    parser.add_argument(
        "--image-size",
        type=bounded(int, minimum=1),
        default=defaults.image_size,
        help="side the 8x8 digits are resized to (>= 8)",
    )
    parser.add_argument(
        "--seed",
        type=bounded(int, minimum=0),
        default=defaults.seed,
        help="random seed",
    )
    parser.add_argument(
        "--output-dir",
        default=defaults.output_dir,
        help="where model.keras and metrics.json are written",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run (1 epoch, 8x8 images) that finishes in seconds",
    )
    add_distribute_flags(parser)
    add_run_flags(parser)
    smoke = {"epochs": 1, "image_size": 8}
    return Config(**parse_flags(parser, argv, smoke))


def build_model(image_size, num_classes=10):
    inputs = keras.Input((image_size, image_size, 1), name="image")
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def main(argv=None):
    config = parse_args(argv)
    strategy = start_distribution(config)
    keras.utils.set_random_seed(config.seed)
    os.makedirs(config.output_dir, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = load_digits(
        image_size=config.image_size, seed=config.seed
    )
    with strategy.scope():
        model = build_model(config.image_size)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_split=0.1,
        verbose=2,
    )
    train_seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)

    path = os.path.join(config.output_dir, "model.keras")
    model.save(path)
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
    metrics = {
        "backend": keras.backend.backend(),
        "kerasbig_version": kerasbig.__version__,
        "config": dataclasses.asdict(config),
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "train_seconds": round(train_seconds, 2),
        "reload_max_abs_difference": difference,
        "model_path": path,
    }
    with open(os.path.join(config.output_dir, "metrics.json"), "w") as file:
        json.dump(metrics, file, indent=2)
    print(
        f"test accuracy {accuracy:.4f} on {len(x_test)} held-out digits "
        f"({keras.backend.backend()} backend); model and metrics.json in "
        f"{config.output_dir}"
    )
    return metrics


if __name__ == "__main__":
    run_script(main)
