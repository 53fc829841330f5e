"""Pruning the same network on the same data with tfmot (tf-keras) and with
kerasbig (Keras 3), side by side in one process.

The CNN of kerasbig.recipes.prune_quantize is trained dense once in Keras 3; its
weights are copied into the identical tf-keras network, so both pruning
runs start from the same point. Each is then fine-tuned for --prune-epochs
with the same PolynomialDecay schedule (0 -> --sparsity over the first 60 %
of the steps), optimizer, batch size and learning rate, stripped, and
scored on the held-out digits. The script prints final sparsity,
accuracy and fine-tuning time of both (total, and the median epoch after
the first, which holds the tracing), and the differences and time ratio.

    python benchmarks/pruning_vs_tfmot.py      # needs the [tfmot] extra
"""

import argparse
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="dense epochs")
    parser.add_argument(
        "--prune-epochs", type=int, default=20, help="fine-tuning epochs"
    )
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--prune-learning-rate", type=float, default=3e-4, help="Adam"
    )
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def build(layers_module, image_size):
    """The prune_quantize CNN, from `keras.layers` or `tf_keras.layers`."""
    return [
        layers_module.InputLayer((image_size, image_size, 1)),
        layers_module.Conv2D(32, 3, activation="relu"),
        layers_module.MaxPooling2D(),
        layers_module.Conv2D(64, 3, activation="relu"),
        layers_module.MaxPooling2D(),
        layers_module.Conv2D(128, 3, activation="relu"),
        layers_module.Flatten(),
        layers_module.Dense(256, activation="relu"),
        layers_module.Dropout(0.3),
        layers_module.Dense(10),
    ]


class EpochTimes:
    """Mixed into a Keras or tf-keras callback: wall time per epoch."""

    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)

    def steady(self):
        """Median epoch after the first (which traces the step)."""
        import numpy as np

        return float(np.median(self.times[1:]))


def kernel_sparsity(weights):
    import numpy as np

    kernels = [w for w in weights if w.ndim > 1]
    zeros = sum(int(k.size - np.count_nonzero(k)) for k in kernels)
    return zeros / sum(k.size for k in kernels)


def dense_start(args, script):
    """What both sides start from: the digits, and the dense CNN trained
    in Keras 3 for `args.epochs` (TensorFlow backend); tfmot and tf-keras
    imported for `script`."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    from kerasbig._optional import import_optional
    from kerasbig.data import load_digits

    tfmot = import_optional("tensorflow_model_optimization", script)
    tf_keras = import_optional("tf_keras", script)
    (x_train, y_train), (x_test, y_test) = load_digits(
        image_size=args.image_size, seed=args.seed
    )
    keras.utils.set_random_seed(args.seed)
    dense = keras.Sequential(build(keras.layers, args.image_size))
    dense.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    dense.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=0,
    )
    data = (x_train, y_train), (x_test, y_test)
    return tfmot, tf_keras, data, dense


def main():
    args = parse_args()
    tfmot, tf_keras, data, dense = dense_start(
        args, "benchmarks/pruning_vs_tfmot.py"
    )
    import keras
    import numpy as np
    import tensorflow as tf

    import kerasbig.optimize as kb

    (x_train, y_train), (x_test, y_test) = data
    dense_accuracy = dense.evaluate(x_test, y_test, verbose=0)[1]

    steps = int(np.ceil(len(x_train) / args.batch_size)) * args.prune_epochs
    schedule_args = dict(
        initial_sparsity=0.0,
        final_sparsity=args.sparsity,
        begin_step=0,
        end_step=int(0.6 * steps),
        frequency=max(int(np.ceil(len(x_train) / args.batch_size)) // 2, 1),
    )
    results = {}

    # kerasbig on Keras 3.
    pruned = kb.prune_low_magnitude(dense, kb.PolynomialDecay(**schedule_args))
    pruned.compile(
        optimizer=keras.optimizers.Adam(args.prune_learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = type("Timer", (EpochTimes, keras.callbacks.Callback), {})()
    start = time.perf_counter()
    pruned.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.prune_epochs,
        callbacks=[kb.UpdatePruningStep(), timer],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    final = kb.strip_pruning(pruned)
    final.compile(metrics=["accuracy"], loss=pruned.loss)
    results["kerasbig (Keras 3)"] = (
        kernel_sparsity([np.asarray(w) for w in final.get_weights()]),
        final.evaluate(x_test, y_test, verbose=0)[1],
        seconds,
        timer.steady(),
    )

    # tfmot on tf-keras, from the same dense weights.
    tf.random.set_seed(args.seed)
    legacy = tf_keras.Sequential(build(tf_keras.layers, args.image_size))
    legacy.set_weights(dense.get_weights())
    sparsity = tfmot.sparsity.keras
    legacy_pruned = sparsity.prune_low_magnitude(
        legacy, pruning_schedule=sparsity.PolynomialDecay(**schedule_args)
    )
    legacy_pruned.compile(
        optimizer=tf_keras.optimizers.Adam(args.prune_learning_rate),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = type("Timer", (EpochTimes, tf_keras.callbacks.Callback), {})()
    start = time.perf_counter()
    legacy_pruned.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.prune_epochs,
        callbacks=[sparsity.UpdatePruningStep(), timer],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    legacy_final = sparsity.strip_pruning(legacy_pruned)
    legacy_final.compile(
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    results["tfmot (tf-keras)"] = (
        kernel_sparsity(legacy_final.get_weights()),
        legacy_final.evaluate(x_test, y_test, verbose=0)[1],
        seconds,
        timer.steady(),
    )

    print(
        f"python={sys.version.split()[0]} keras={keras.__version__} "
        f"tf_keras={tf_keras.__version__} tfmot={tfmot.__version__} "
        f"dense accuracy={dense_accuracy:.4f} schedule={schedule_args}"
    )
    for name, (sparse, accuracy, seconds, epoch) in results.items():
        print(
            f"{name:>20}: sparsity {sparse:.4f}, accuracy {accuracy:.4f}, "
            f"fine-tuning {seconds:.1f} s, median epoch {epoch:.3f} s"
        )
    (ours, theirs) = results.values()
    print(
        f"difference kerasbig - tfmot: sparsity {ours[0] - theirs[0]:+.4f}, "
        f"accuracy {100 * (ours[1] - theirs[1]):+.2f} points (goal: same "
        "sparsity, accuracy within 0.5 point); time ratio kerasbig / tfmot "
        f"{ours[2] / theirs[2]:.2f} total, {ours[3] / theirs[3]:.2f} per "
        "epoch after the first (goal <= 1.0)"
    )


if __name__ == "__main__":
    main()
