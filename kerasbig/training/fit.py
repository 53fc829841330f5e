"""Training a recipe's model into a run folder: precision, callbacks,
best checkpoint, curves, metrics and an optional verified LiteRT file."""

import csv
import pathlib

import keras
import numpy as np

from kerasbig import _backend
from kerasbig._optional import import_optional
from kerasbig.data.batches import ArrayBatches
from kerasbig.training.accumulation import ApplyLeftoverGradients
from kerasbig.training.distributed import explain_worker_failure
from kerasbig.training.run_folder import explain_interruption
from kerasbig.training.run_folder import progress_verbosity
from kerasbig.training.run_folder import run_callbacks


def set_precision(mixed_precision):
    """Sets Keras's global dtype policy for a run: `mixed_float16` on a
    GPU, `mixed_bfloat16` on a CPU (float16 has no fast CPU kernels), or
    `float32`. Call it before building the model.

    Returns:
        The policy name.

    Example:

        >>> from kerasbig.training import set_precision
        >>> set_precision(False)
        'float32'
    """
    if not mixed_precision:
        policy = "float32"
    elif _backend.has_gpu():
        policy = "mixed_float16"
    else:
        policy = "mixed_bfloat16"
    keras.config.set_dtype_policy(policy)
    return policy


def resolve_jit_compile(jit_compile):
    """`compile`'s `jit_compile` for a run's `--jit-compile` flag: the
    flag when given, else True on JAX only. JAX runs an uncompiled train
    step op by op (each op compiled on its own, slow, and for loops such
    as an LSTM's scan compiled again and again); TensorFlow's uncompiled
    step is still a graph, and torch.compile costs minutes up front.

    Example:

        >>> import keras
        >>> from kerasbig.training import resolve_jit_compile
        >>> resolve_jit_compile(False), resolve_jit_compile(True)
        (False, True)
        >>> resolve_jit_compile(None) == (keras.backend.backend() == "jax")
        True
    """
    if jit_compile is None:
        return keras.backend.backend() == "jax"
    return bool(jit_compile)


def check_export_backend(export_litert):
    """Raises a `ValueError` at once (before training) when a LiteRT
    export is asked for (`--export-litert`) on a backend that cannot
    convert.

    Example:

        >>> from kerasbig.training import check_export_backend
        >>> check_export_backend(False)
    """
    if export_litert and keras.backend.backend() != "tensorflow":
        raise ValueError(
            "--export-litert needs the TensorFlow backend (the LiteRT "
            f"converter); this run uses {keras.backend.backend()}. Run with "
            "KERAS_BACKEND=tensorflow, or drop the flag."
        )


def higher_is_better(monitor):
    """Whether a logged value named `monitor` is maximised: its name
    holds "acc", "auc", "precision", "recall", "f1", "mrr" or "hits"
    (link prediction's mean reciprocal rank and Hits@k).

    Example:

        >>> from kerasbig.training import higher_is_better
        >>> higher_is_better("val_accuracy"), higher_is_better("val_loss")
        (True, False)
        >>> higher_is_better("val_mrr"), higher_is_better("val_hits@10")
        (True, True)
    """
    words = ("acc", "auc", "precision", "recall", "f1", "mrr", "hits")
    return any(word in monitor for word in words)


def fit_to_folder(
    model,
    train_data,
    validation_data,
    *,
    epochs,
    output_dir,
    batch_size=None,
    monitor="val_accuracy",
    class_weight=None,
    callbacks=(),
    verbose=None,
    shuffle_seed=None,
):
    """Trains `model` for `epochs` epochs into the run folder `output_dir`.

    Besides `run_callbacks` (resume after interruption, `log.csv`, NaN
    stop) it adds TensorBoard logs (`tensorboard/`) and a best checkpoint
    (`best.keras`, by `monitor`; a resumed run keeps it unless a later
    epoch beats the best one logged before the interruption). After
    training it restores the best weights, saves `model.keras` and draws
    `curves.png` from the whole log (resumed runs included).

    Args:
        model: a compiled Keras model.
        train_data: a dataset yielding `(x, y)` batches (tf.data,
            `PyDataset`), or an `(x, y)` tuple of arrays, which is fed
            as `ArrayBatches` in a new seeded order every epoch (Keras's
            own array shuffle repeats one order on TensorFlow once a
            global seed is set; see `ArrayBatches`).
        validation_data: data for `validation_data`.
        epochs: epochs in all (a resumed run trains the rest).
        output_dir: the run folder (created if needed).
        batch_size: examples per step when the data are arrays (Keras's
            default, 32, when None); datasets bring their own batches.
        monitor: logged value that picks the best epoch; maximised when
            `higher_is_better(monitor)`, minimised otherwise.
        class_weight: optional dict of per-class loss weights.
        callbacks: further callbacks (e.g. `EarlyStopping`), run before
            the run's own, so that a value one adds to the epoch logs can
            be the `monitor` and is written to `log.csv`.
        verbose: `fit` verbosity; by default a progress bar (1) when
            stdout is a terminal and a line per epoch (2) when it is
            redirected to a log, where bars would write a line per step.
        shuffle_seed: the seed of the arrays' epoch orders; by default
            drawn from NumPy's global generator, which
            `keras.utils.set_random_seed` seeds, so a resumed run sees
            the orders the interrupted one would have.

    Returns:
        `(history, stop_reason)`: the per-epoch logs of every epoch of
        the run (a dict of lists read from `log.csv`) and the NaN stop
        message or None.

    Example:

        >>> import os, tempfile, keras, numpy as np
        >>> from kerasbig.training import fit_to_folder
        >>> model = keras.Sequential([keras.Input((4,)),
        ...                           keras.layers.Dense(2)])
        >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        ...     from_logits=True), metrics=["accuracy"])
        >>> x, y = np.random.rand(32, 4), np.arange(32) % 2
        >>> folder = tempfile.mkdtemp()
        >>> history, stopped = fit_to_folder(
        ...     model, (x, y), (x, y), epochs=2, output_dir=folder, verbose=0)
        >>> len(history["val_accuracy"]), stopped
        (2, None)
        >>> outputs = {"best.keras", "model.keras", "log.csv", "curves.png"}
        >>> outputs <= set(os.listdir(folder))
        True
    """
    output_dir = pathlib.Path(output_dir)
    # Read before run_callbacks, whose CSVLogger may start a new log.
    logged = read_log(output_dir / "log.csv").get(monitor, [])
    run = run_callbacks(output_dir)
    guard = run[-1]
    higher = higher_is_better(monitor)
    best_path = output_dir / "best.keras"
    resuming = (output_dir / "backup").exists() and best_path.exists()
    best_so_far = None
    if resuming and logged:
        best_so_far = max(logged) if higher else min(logged)
    # The caller's callbacks first: values they add to the epoch logs
    # (LinkPredictionMetrics' val_mrr) reach the checkpoint and log.csv.
    all_callbacks = [
        # First: an epoch's leftover micro-batches are applied before
        # anything reads its weights.
        ApplyLeftoverGradients(),
        *callbacks,
        *run,
        keras.callbacks.ModelCheckpoint(
            str(best_path),
            monitor=monitor,
            mode="max" if higher else "min",
            save_best_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.TensorBoard(str(output_dir / "tensorboard")),
    ]
    if verbose is None:
        verbose = progress_verbosity()
    x = train_data
    if isinstance(train_data, tuple):
        if shuffle_seed is None:
            # The global generator on purpose: set_random_seed seeds it.
            shuffle_seed = int(np.random.randint(2**31 - 1))  # noqa: NPY002
        x = ArrayBatches(*train_data, batch_size or 32, seed=shuffle_seed)
    if isinstance(x, ArrayBatches):
        all_callbacks.append(
            keras.callbacks.LambdaCallback(
                on_epoch_begin=lambda epoch, logs: x.set_epoch(epoch)
            )
        )
    with (
        explain_interruption(output_dir),
        explain_worker_failure(model, output_dir),
    ):
        model.fit(
            x,
            validation_data=validation_data,
            # tf.data pipelines (Keras warns otherwise) and ArrayBatches
            # shuffle themselves.
            shuffle=not hasattr(x, "element_spec")
            and not isinstance(x, ArrayBatches),
            epochs=epochs,
            class_weight=class_weight,
            callbacks=all_callbacks,
            verbose=verbose,
        )
    if best_path.exists():
        model.load_weights(best_path)
    model.save(output_dir / "model.keras")
    history = read_log(output_dir / "log.csv")
    if history:
        save_curves(history, output_dir / "curves.png")
    return history, guard.stopped_reason


# CSVLogger writes "NA" for a value an epoch did not log (Keras adds
# val_ columns even when there is no validation data).
MISSING = (None, "", "NA")


def read_log(path):
    """The per-epoch logs of a `CSVLogger` file, as a dict of lists;
    values an epoch did not log ("NA") are left out, and so are columns
    with none.

    Example:

        >>> import os, tempfile
        >>> from kerasbig.training import read_log
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> with open(path, "w") as file:
        ...     _ = file.write("epoch,loss,val_loss\\n0,0.9,NA\\n1,0.5,NA\\n")
        >>> read_log(path)
        {'epoch': [0.0, 1.0], 'loss': [0.9, 0.5]}
    """
    path = pathlib.Path(path)
    if not path.exists():
        return {}
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    columns = {
        key: [float(row[key]) for row in rows if row.get(key) not in MISSING]
        for key in (rows[0] if rows else {})
    }
    return {key: values for key, values in columns.items() if values}


def save_curves(history, path):
    """Draws each logged value against the epoch (validation dashed),
    one panel per metric, as a PNG.

    Example:

        >>> import os, tempfile
        >>> from kerasbig.training import save_curves
        >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
        >>> save_curves({"epoch": [0, 1], "loss": [1.0, 0.5],
        ...              "val_loss": [1.1, 0.7]}, path).name
        'curves.png'
    """
    import_optional("matplotlib", "Drawing training curves")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    names = [k for k in history if k != "epoch" and not k.startswith("val_")]
    epochs = [int(e) + 1 for e in history.get("epoch", [])] or list(
        range(1, len(history[names[0]]) + 1)
    )
    figure, axes = pyplot.subplots(
        1, len(names), figsize=(4 * len(names), 3), squeeze=False
    )
    for axis, name in zip(axes[0], names, strict=True):
        axis.plot(epochs, history[name], label=name)
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], "--", label=f"val_{name}")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
    figure.tight_layout()
    path = pathlib.Path(path)
    figure.savefig(path, dpi=80)
    pyplot.close(figure)
    return path


def export_litert(model, path, sample_data):
    """Writes `model` as a `.tflite` file checked against Keras on
    `sample_data` (`kerasbig.export.to_litert`, TensorFlow backend);
    returns its path and size.

    Example:

        >>> import os, tempfile, keras, numpy as np
        >>> from kerasbig.training import export_litert
        >>> model = keras.Sequential([keras.Input((4,)),
        ...                           keras.layers.Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.tflite")
        >>> if keras.backend.backend() == "tensorflow":
        ...     summary = export_litert(model, path, np.ones((2, 4), "float32"))
        ...     assert summary["bytes"] == os.path.getsize(path)
    """
    from kerasbig.export import to_litert

    litert = to_litert(model, path, verify_data=sample_data)
    return {"path": str(litert.path), "bytes": litert.size}
