"""Transfer learning with VGG16: a frozen base and a new head, then
fine-tuning of the last blocks.

Builds `keras.applications.VGG16(include_top=False)` with ImageNet weights
(default; downloaded once), a local weights file (`--weights path.h5`) or
none (`--weights none`: the whole network trains in one phase), adds Keras
augmentation layers and a new classifier head, trains the head with the
base frozen, then unfreezes the blocks from `--fine-tune-from` (block 5 by
default) and fine-tunes them with a lower learning rate. Any input size
>= 32; grey images are repeated to three channels.

Data: scikit-learn's digits by default (no download; upsampled), a tfds
image set (`--data tfds:tf_flowers`, `tfds:cats_vs_dogs`) or a folder
with one subfolder of images per class. A validation split picks each
phase's best epoch; the test split only scores the final model.
`--classes 5,6,7,8,9` keeps some classes and `--train-per-class 20`
keeps that many labelled training images per class, for few-shot
transfer; `--save-base-weights` writes the trained base for a later
`--weights`.

    python -m kerasbig.recipes.vgg16_transfer --data tfds:tf_flowers \\
        --image-size 96
    python -m kerasbig.recipes.vgg16_transfer --weights none \\
        --classes 0,1,2,3,4 \\
        --learning-rate 1e-4 --save-base-weights runs/digits04.weights.h5
    python -m kerasbig.recipes.vgg16_transfer \\
        --weights runs/digits04.weights.h5 \\
        --classes 5,6,7,8,9 --train-per-class 20
    python -m kerasbig.recipes.vgg16_transfer --smoke --weights none

Outputs in --output-dir: head/ and fine_tune/ (full/ with --weights
none), each with best.keras, model.keras, log.csv, tensorboard/ and
curves.png; model.keras (final), metrics.json and, with
--export-litert, model.tflite. A killed run resumes in the phase it was
in; a finished phase is loaded, not trained again.
"""

import dataclasses
import pathlib
import time

from kerasbig.training import ImageDataConfig
from kerasbig.training import TrainingConfig
from kerasbig.training import TrainingStopped
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config

IMAGENET_HINT = (
    "Download vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 where you "
    "have network access (https://storage.googleapis.com/tensorflow/"
    "keras-applications/vgg16/), copy it here and pass --weights "
    "path/to/that.h5, or train from scratch with --weights none."
)


@dataclasses.dataclass
class Config(ImageDataConfig, TrainingConfig):
    epochs: int = option(10, "epochs of the head (base frozen)", minimum=1)
    batch_size: int = option(32, "global batch size", minimum=1)
    learning_rate: float = option(
        1e-3, "Adam learning rate of the head", greater_than=0
    )
    output_dir: str = option("runs/vgg16_transfer", "where outputs go")
    image_size: int = option(32, "side of the square inputs, >= 32", minimum=1)
    weights: str = option(
        "imagenet", "'imagenet', a VGG16 (no top) weights file, or 'none'"
    )
    classes: str = option(
        None, "comma-separated labels to keep (e.g. 5,6,7,8,9)"
    )
    train_per_class: int = option(
        None,
        "labelled training images kept per class (few-shot)",
        minimum=1,
    )
    validation_fraction: float = option(
        0.1,
        "share of each class's training images held out for validation "
        "(best checkpoint); taken before --train-per-class",
        greater_than=0,
        less_than=1,
    )
    fine_tune_epochs: int = option(
        5,
        "epochs with the last blocks unfrozen (0: head only)",
        minimum=0,
    )
    fine_tune_from: str = option(
        "block5",
        "first VGG16 block unfrozen for fine-tuning (later ones too)",
        choices=[f"block{i}" for i in range(1, 6)],
    )
    fine_tune_learning_rate: float = option(
        1e-5,
        "Adam learning rate while fine-tuning",
        greater_than=0,
    )
    dropout: float = option(
        0.5, "dropout rate before the new head", minimum=0, less_than=1
    )
    augment: bool = option(True, "random translation, rotation and zoom")
    flip: bool = option(
        False, "random horizontal flips (natural images, not digits)"
    )
    save_base_weights: str = option(
        None, "write the trained VGG16 base here (.weights.h5)"
    )


SMOKE = {
    "epochs": 1,
    "fine_tune_epochs": 1,
    "train_per_class": 8,
    "image_size": 32,
}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.data import ArrayBatches
from kerasbig.data import load_image_data
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


def select(data, config):
    """Keeps `--classes` (renumbered 0..k-1), holds out a validation split
    per class and keeps `--train-per-class` labelled training images.

    Returns `(train, validation, test, class_names)`, each split an
    `(images, labels)` pair.
    """
    x_train, y_train, x_test, y_test = (
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
    )
    names = list(data.class_names)
    if config.classes:
        keep = [int(c) for c in config.classes.split(",")]
        unknown = sorted(set(keep) - set(range(len(names))))
        if unknown or len(set(keep)) != len(keep):
            raise ValueError(
                "--classes must be distinct labels in "
                f"0..{len(names) - 1}. Received: {config.classes!r}"
            )
        index = np.full(len(names), -1)
        index[keep] = np.arange(len(keep))
        train, test = np.isin(y_train, keep), np.isin(y_test, keep)
        x_train, y_train = x_train[train], index[y_train[train]]
        x_test, y_test = x_test[test], index[y_test[test]]
        names = [names[label] for label in keep]
    train_index, val_index = stratified_split(
        y_train, config.validation_fraction, config.seed
    )
    if config.train_per_class:
        # The first n of each class in the shuffled train indices.
        rank = np.zeros(len(train_index), "int64")
        for label in range(len(names)):
            rows = y_train[train_index] == label
            rank[rows] = np.arange(rows.sum())
        train_index = train_index[rank < config.train_per_class]
    return (
        (x_train[train_index], y_train[train_index].astype("int32")),
        (x_train[val_index], y_train[val_index].astype("int32")),
        (x_test, y_test.astype("int32")),
        names,
    )


def to_vgg_inputs(images):
    """[0, 1] images -> VGG16's expected input (BGR, ImageNet means
    subtracted, 0-255 scale), three channels."""
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return keras.applications.vgg16.preprocess_input(images * 255.0)


def build_base(config):
    shape = (config.image_size, config.image_size, 3)
    if config.weights == "imagenet":
        try:
            return keras.applications.VGG16(
                include_top=False, weights="imagenet", input_shape=shape
            )
        except Exception as error:  # offline: URLError, HTTPError, ...
            raise RuntimeError(
                "could not fetch the ImageNet weights "
                f"(keras.applications.VGG16(weights='imagenet')): "
                f"{type(error).__name__}: {error}. {IMAGENET_HINT}"
            ) from error
    base = keras.applications.VGG16(
        include_top=False, weights=None, input_shape=shape
    )
    if config.weights != "none":
        path = pathlib.Path(config.weights)
        if not path.is_file():
            raise ValueError(
                f"--weights {config.weights!r} is neither "
                f"'imagenet', 'none' nor a file. {IMAGENET_HINT}"
            )
        base.load_weights(path)
    return base


def build_model(config, base, num_classes):
    inputs = keras.Input((config.image_size, config.image_size, 3))
    x = inputs
    if config.augment:
        layers = [
            keras.layers.RandomTranslation(0.1, 0.1, seed=config.seed),
            keras.layers.RandomRotation(0.05, seed=config.seed),
            keras.layers.RandomZoom(0.1, seed=config.seed),
        ]
        if config.flip:
            layers.insert(0, keras.layers.RandomFlip("horizontal"))
        x = keras.Sequential(layers, name="augmentation")(x)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(config.dropout, seed=config.seed)(x)
    logits = keras.layers.Dense(num_classes, dtype="float32", name="head")(x)
    return keras.Model(inputs, logits, name="vgg16_transfer")


def batches(images, labels, batch_size, seed=None):
    """`(images, labels)` batches of in-memory [0, 1] images, converted to
    VGG16 inputs one batch at a time (a whole converted copy would triple
    the memory of grey images); reshuffled every epoch when `seed` is
    given."""
    return ArrayBatches(
        images, labels, batch_size, seed=seed, transform=to_vgg_inputs
    )


def compile_model(model, config, learning_rate):
    model.compile(
        optimizer=accumulate_gradients(
            keras.optimizers.Adam(learning_rate), config.grad_accumulation
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=resolve_jit_compile(config.jit_compile),
    )


def train_phase(model, config, phase, splits, folder, resuming):
    """One phase (`phase`: epochs, learning rate) in its own `folder`; a
    phase that an interrupted run finished is loaded, not rerun."""
    epochs, learning_rate = phase
    train, val = splits
    if resuming and (folder / "model.keras").exists():
        model.load_weights(folder / "model.keras")
        return {"resumed_finished": True}
    compile_model(model, config, learning_rate)
    history, stopped = fit_to_folder(
        model,
        batches(*train, config.batch_size, seed=config.seed),
        batches(*val, config.batch_size),
        epochs=epochs,
        output_dir=folder,
    )
    if stopped:
        raise TrainingStopped(stopped)
    return {
        "epochs": len(history.get("val_accuracy", [])),
        "best_val_accuracy": max(history.get("val_accuracy", [0.0])),
    }


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {**config.data_dependencies(), "matplotlib": "training curves"}
    if config.export_litert:
        needs["ai_edge_litert"] = "checking the .tflite file"
    return needs


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_dependencies(dependencies(config))
    if config.image_size < 32:
        raise ValueError(
            "--image-size must be >= 32 (VGG16 halves the "
            f"image five times). Received: {config.image_size}"
        )
    check_export_backend(config.export_litert)
    with start_run(config) as run:
        output_dir = run.output_dir
        keras.utils.set_random_seed(config.seed)
        data = load_image_data(**config.data_options(), seed=config.seed)
        train, val, test, names = select(data, config)
        policy = set_precision(config.mixed_precision)
        # Variables made in the scope are mirrored (TensorFlow) or laid out
        # (JAX); each phase's optimizer is built by fit under the same scope.
        with run.strategy.scope():
            base = build_base(config)
            model = build_model(config, base, len(names))
        if config.weights == "none":
            # Nothing pretrained to keep: the whole network trains at once.
            plan = {"full": (config.epochs, config.learning_rate)}
        else:
            plan = {"head": (config.epochs, config.learning_rate)}
            if config.fine_tune_epochs:
                plan["fine_tune"] = (
                    config.fine_tune_epochs,
                    config.fine_tune_learning_rate,
                )
        start = time.perf_counter()
        phases = {}
        for name, phase in plan.items():
            if name == "head":
                base.trainable = False
            elif name == "fine_tune":
                base.trainable = True
                for layer in base.layers:
                    # Layer names are "block<k>_conv<j>" / "block<k>_pool".
                    layer.trainable = layer.name[:6] >= config.fine_tune_from
            phases[name] = train_phase(
                model,
                config,
                phase,
                (train, val),
                output_dir / name,
                run.resuming,
            )
        seconds = time.perf_counter() - start
        logits = model.predict(batches(*test, config.batch_size), verbose=0)
        test_loss = keras.losses.sparse_categorical_crossentropy(
            test[1], logits, from_logits=True
        )
        model.save(output_dir / "model.keras")
        if config.save_base_weights:
            base.save_weights(config.save_base_weights)
        results = {
            "epochs": sum(epochs for epochs, _ in plan.values()),
            "train_seconds": round(seconds, 1),
            "examples": {
                "train": len(train[1]),
                "validation": len(val[1]),
                "test": len(test[1]),
            },
            "classes": names,
            "input_preprocessing": "keras.applications.vgg16.preprocess_input "
            "of 0-255 RGB (grey repeated to 3 channels)",
            "precision_policy": policy,
            "phases": phases,
            "test_accuracy": float(np.mean(np.argmax(logits, -1) == test[1])),
            "test_loss": float(keras.ops.mean(test_loss)),
        }
        if config.export_litert:
            results["litert"] = export_litert(
                model, output_dir / "model.tflite", to_vgg_inputs(test[0][:8])
            )
        return write_report(
            output_dir,
            recipe="vgg16_transfer",
            config=config,
            headline=("test_accuracy", results["test_accuracy"]),
            results=results,
            distribution=run.distribution,
            summary=f"{len(test[1])} test images",
        )


if __name__ == "__main__":
    run_script(main)
