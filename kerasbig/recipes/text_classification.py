"""Text classification: LSTM, BiLSTM, CNN (Kim 2014) or transformer.

Trains a classifier from scratch with plain `model.fit()` on whichever
Keras backend is active. Strings are turned into token ids by a
`TextVectorization` layer inside the tf.data pipeline (adapted on the
training texts), so the model itself takes ids. Reports accuracy,
per-class precision, recall and F1, macro F1 and the confusion matrix on
the validation split (the best epoch's weights) and on the test split
when there is one.

Data (`--data`): a tfds name (default `tfds:imdb_reviews`, which needs
network access once), a `.tsv`/`.csv` file of `label, text` rows, a
folder with `train.tsv` and `dev.tsv` (GLUE layout, e.g. SST-2), or a
folder in `text_dataset_from_directory` layout.

    python -m kerasbig.recipes.text_classification --data data/sst2
    python -m kerasbig.recipes.text_classification --model transformer \\
        --epochs 5
    python -m kerasbig.recipes.text_classification --data reviews.tsv \\
        --class-weight balanced
    python -m kerasbig.recipes.text_classification --data data/sst2 --smoke

Outputs in --output-dir: model.keras (best weights; takes token ids),
vocabulary.txt, best.keras, log.csv, tensorboard/, curves.png,
metrics.json and, with --export-litert, model.tflite. A killed run
resumes from its last finished epoch when the same command runs again.
"""

import dataclasses
import time

from kerasbig.training import TrainingConfig
from kerasbig.training import TrainingStopped
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config

MODELS = ["lstm", "bilstm", "cnn", "transformer"]


@dataclasses.dataclass
class Config(TrainingConfig):
    epochs: int = option(5, "passes over the training data", minimum=1)
    batch_size: int = option(64, "global batch size", minimum=1)
    learning_rate: float = option(1e-3, "Adam learning rate", greater_than=0)
    output_dir: str = option("runs/text_classification", "where outputs go")
    data: str = option(
        "tfds:imdb_reviews",
        "'tfds:<name>', a label<TAB>text .tsv/.csv file, a folder with "
        "train.tsv and dev.tsv, or a folder of class subfolders",
    )
    data_dir: str = option(None, "tfds data folder")
    max_samples: int = option(
        None, "use at most this many training texts", minimum=1
    )
    model: str = option("cnn", "network", MODELS)
    vocabulary_size: int = option(20000, "most frequent tokens kept", minimum=2)
    sequence_length: int = option(
        64,
        "tokens per text (longer texts are cut, shorter padded)",
        minimum=1,
    )
    embedding_dim: int = option(128, "token embedding size", minimum=1)
    dropout: float = option(
        0.5, "dropout before the classifier", minimum=0, less_than=1
    )
    class_weight: str = option(
        "none", "per-class loss weights", ["none", "balanced"]
    )


SMOKE = {"epochs": 1, "max_samples": 512, "sequence_length": 32}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.data import load_text_data
from kerasbig.data import text_dataset
from kerasbig.distribute import num_replicas
from kerasbig.layers import Embedding
from kerasbig.models import TransformerClassifier
from kerasbig.training import accumulate_gradients
from kerasbig.training import check_export_backend
from kerasbig.training import export_litert
from kerasbig.training import fit_to_folder
from kerasbig.training import resolve_jit_compile
from kerasbig.training import run_script
from kerasbig.training import set_precision
from kerasbig.training import start_run
from kerasbig.training import write_report


def build_model(config, num_classes):
    """Token ids (batch, sequence_length) -> class logits."""
    if config.model == "transformer":
        return TransformerClassifier(
            config.vocabulary_size,
            num_classes,
            sequence_length=config.sequence_length,
            num_layers=2,
            hidden_dim=config.embedding_dim,
            num_heads=4,
            intermediate_dim=2 * config.embedding_dim,
            dropout=0.1,
        )
    tokens = keras.Input((config.sequence_length,), dtype="int32")
    # kerasbig's Embedding: Adam's update of a repeated word is exact on
    # TensorFlow too.
    embed = Embedding(
        config.vocabulary_size,
        config.embedding_dim,
        mask_zero=config.model != "cnn",
    )(tokens)
    if config.model == "lstm":
        # The classic Keras IMDB example: one LSTM over the embeddings.
        x = keras.layers.LSTM(128, dropout=0.2)(embed)
    elif config.model == "bilstm":
        x = keras.layers.Bidirectional(
            keras.layers.LSTM(64, return_sequences=True)
        )(embed)
        x = keras.layers.Bidirectional(keras.layers.LSTM(64))(x)
    else:
        # Kim (2014): filters of widths 3, 4, 5, max-pooled over time.
        x = keras.layers.Concatenate()(
            [
                keras.layers.GlobalMaxPooling1D()(
                    keras.layers.Conv1D(100, width, activation="relu")(embed)
                )
                for width in (3, 4, 5)
            ]
        )
    x = keras.layers.Dropout(config.dropout)(x)
    logits = keras.layers.Dense(num_classes, dtype="float32")(x)
    return keras.Model(tokens, logits, name=config.model)


def balanced_class_weight(labels, num_classes):
    """`n / (k * count)` per class, as scikit-learn's "balanced"."""
    counts = np.bincount(labels, minlength=num_classes)
    return {
        c: float(len(labels) / (num_classes * max(n, 1)))
        for c, n in enumerate(counts)
    }


def classification_report(labels, predicted, class_names):
    """Accuracy, per-class precision/recall/F1, macro F1, confusion."""
    k = len(class_names)
    confusion = np.zeros((k, k), "int64")
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for c, name in enumerate(class_names):
        tp = confusion[c, c]
        precision = tp / max(confusion[:, c].sum(), 1)
        recall = tp / max(confusion[c].sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(confusion[c].sum()),
        }
    return {
        "accuracy": float(np.trace(confusion) / max(confusion.sum(), 1)),
        "macro_f1": float(np.mean([m["f1"] for m in per_class.values()])),
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
    }


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {"matplotlib": "training curves"}
    if config.data.startswith("tfds:"):
        needs["tensorflow_datasets"] = f"--data {config.data}"
    if config.export_litert:
        needs["ai_edge_litert"] = "checking the .tflite file"
    return needs


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_dependencies(dependencies(config))
    check_export_backend(config.export_litert)
    with start_run(config) as run:
        strategy, output = run.strategy, run.output_dir
        keras.utils.set_random_seed(config.seed)
        data = load_text_data(
            config.data,
            seed=config.seed,
            max_samples=config.max_samples,
            data_dir=config.data_dir,
        )
        num_classes = len(data.class_names)
        vectorizer = keras.layers.TextVectorization(
            max_tokens=config.vocabulary_size,
            output_sequence_length=config.sequence_length,
        )
        vectorizer.adapt(data.train[0], batch_size=1024)

        # keras.distribution (JAX) splits only batches of a static size.
        whole_batches = (
            keras.backend.backend() == "jax" and num_replicas(strategy) > 1
        )

        def dataset(split, shuffle=False, drop_remainder=False):
            return text_dataset(
                *split,
                vectorizer,
                config.batch_size,
                shuffle,
                config.seed,
                drop_remainder=drop_remainder and whole_batches,
            )

        policy = set_precision(config.mixed_precision)
        with strategy.scope():
            model = build_model(config, num_classes)
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
        class_weight = None
        if config.class_weight == "balanced":
            class_weight = balanced_class_weight(data.train[1], num_classes)
        start = time.perf_counter()
        history, stopped = fit_to_folder(
            model,
            dataset(data.train, shuffle=True, drop_remainder=True),
            dataset(data.validation, drop_remainder=True),
            epochs=config.epochs,
            output_dir=output,
            monitor="val_accuracy",
            class_weight=class_weight,
        )
        seconds = time.perf_counter() - start
        if stopped:
            raise TrainingStopped(stopped)
        if whole_batches:
            # The trained weights span every device (of every process); each
            # process scores whole splits on its own copy of the saved model.
            keras.distribution.set_distribution(None)
            model = keras.saving.load_model(f"{output}/model.keras")
        with open(f"{output}/vocabulary.txt", "w", encoding="utf-8") as file:
            file.write("\n".join(vectorizer.get_vocabulary()) + "\n")
        results = {
            "epochs": len(history.get("epoch", [])),
            "train_seconds": round(seconds, 1),
            "examples": {
                "train": len(data.train[1]),
                "validation": len(data.validation[1]),
                "test": len(data.test[1]) if data.test else 0,
            },
            "model": config.model,
            "precision_policy": policy,
            "class_weight": class_weight,
            "best_val_accuracy": max(history.get("val_accuracy", [0.0])),
        }
        for name, split in (
            ("validation", data.validation),
            ("test", data.test),
        ):
            if split is None:
                continue
            logits = model.predict(dataset(split), verbose=0)
            results[name] = classification_report(
                split[1], np.argmax(logits, -1), data.class_names
            )
        if config.export_litert:
            sample = next(iter(dataset(data.validation)))[0]
            results["litert"] = export_litert(
                model, f"{output}/model.tflite", np.asarray(sample)[:16]
            )
        return write_report(
            output,
            recipe="text_classification",
            config=config,
            headline=("validation_accuracy", results["validation"]["accuracy"]),
            results=results,
            distribution=run.distribution,
            summary=f"{config.model}, macro F1 "
            f"{results['validation']['macro_f1']:.4f}",
        )


if __name__ == "__main__":
    run_script(main)
