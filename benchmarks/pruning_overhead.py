"""Where pruning's fine-tuning time goes: the same CNN and data, steady-
state seconds per epoch (median after the first) of a dense Keras 3 fit,
kerasbig's pruned fit, a dense tf-keras fit and tfmot's pruned fit, side by
side in one process, with and without XLA.

    python benchmarks/pruning_overhead.py      # needs the [tfmot] extra
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras
import pruning_vs_tfmot as comparison
import tensorflow_model_optimization as tfmot
import tf_keras

from kerasbig.data import load_digits
from kerasbig.optimize import PolynomialDecay
from kerasbig.optimize import UpdatePruningStep
from kerasbig.optimize import prune_low_magnitude

EPOCHS = 8


def results_names():
    return (
        "Keras 3 dense",
        "kerasbig pruned",
        "tf-keras dense",
        "tfmot pruned",
    )


def steady_epoch(model, library, callbacks, jit_compile):
    """Median seconds per epoch after the first."""
    model.compile(
        library.optimizers.Adam(3e-4),
        library.losses.SparseCategoricalCrossentropy(from_logits=True),
        **({} if jit_compile is None else {"jit_compile": jit_compile}),
    )
    timer = type(
        "Timer", (comparison.EpochTimes, library.callbacks.Callback), {}
    )()
    model.fit(
        x,
        y,
        batch_size=64,
        epochs=EPOCHS,
        verbose=0,
        callbacks=[*callbacks, timer],
    )
    return timer.steady()


(x, y), _ = load_digits(image_size=32)
sparsity = tfmot.sparsity.keras
results = {}
for jit in (None, True):
    schedule = dict(
        initial_sparsity=0.0,
        final_sparsity=0.8,
        begin_step=0,
        end_step=150,
        frequency=11,
    )
    runs = {
        "Keras 3 dense": (
            keras.Sequential(comparison.build(keras.layers, 32)),
            keras,
            [],
        ),
        "kerasbig pruned": (
            prune_low_magnitude(
                keras.Sequential(comparison.build(keras.layers, 32)),
                PolynomialDecay(**schedule),
            ),
            keras,
            [UpdatePruningStep()],
        ),
        "tf-keras dense": (
            tf_keras.Sequential(comparison.build(tf_keras.layers, 32)),
            tf_keras,
            [],
        ),
        "tfmot pruned": (
            sparsity.prune_low_magnitude(
                tf_keras.Sequential(comparison.build(tf_keras.layers, 32)),
                pruning_schedule=sparsity.PolynomialDecay(**schedule),
            ),
            tf_keras,
            [sparsity.UpdatePruningStep()],
        ),
    }
    for name, (model, library, callbacks) in runs.items():
        results[(name, jit)] = steady_epoch(model, library, callbacks, jit)
for jit in (None, True):
    label = "jit_compile=True" if jit else "default compile"
    print(f"{label}:")
    for name in results_names():
        print(f"  {name:16s} {results[(name, jit)]:.3f} s/epoch")
    ratio = {name: results[(name, jit)] for name in results_names()}
    print(
        "  kerasbig pruned / Keras 3 dense "
        f"{ratio['kerasbig pruned'] / ratio['Keras 3 dense']:.2f}, "
        "tfmot pruned / tf-keras dense "
        f"{ratio['tfmot pruned'] / ratio['tf-keras dense']:.2f}, "
        "kerasbig pruned / tfmot pruned "
        f"{ratio['kerasbig pruned'] / ratio['tfmot pruned']:.2f}"
    )
