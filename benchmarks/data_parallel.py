"""What does `kerasbig.distribute.strategy` cost on one device? Step time
of the same model under the strategy vs with no distribution.

In one process, on the current backend (KERAS_BACKEND), two copies of a
transformer classifier (same weights) train in alternation, one epoch
each per round: one built under `strategy(--strategy)` over one device
(JAX `data_parallel`: a one-device `keras.distribution.DataParallel`;
TensorFlow `mirrored`: a one-device `MirroredStrategy`), one with no
distribution. The first round (compilation) is dropped; the script
prints the median step time of each and their ratio (goal <= 1.05x).

    KERAS_BACKEND=jax python benchmarks/data_parallel.py
    KERAS_BACKEND=tensorflow python benchmarks/data_parallel.py \\
        --strategy mirrored
"""

import argparse
import statistics
import time

import keras
import numpy as np

import kerasbig as kb
from kerasbig.models import TransformerClassifier


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = (
        "data_parallel" if keras.backend.backend() == "jax" else "mirrored"
    )
    parser.add_argument("--strategy", default=default)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50, help="steps per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--hidden-dim", type=int, default=128)
    return parser.parse_args()


def build(args, strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = TransformerClassifier(
            5000,
            2,
            sequence_length=args.sequence_length,
            num_layers=2,
            hidden_dim=args.hidden_dim,
            num_heads=4,
            intermediate_dim=4 * args.hidden_dim,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    return model


def main():
    args = parse_args()
    # One device: what the strategy's machinery costs, not speed-up.
    if keras.backend.backend() == "jax":
        import jax

        devices = jax.devices()[:1]
    else:
        import tensorflow as tf

        logical = tf.config.list_logical_devices
        devices = [(logical("GPU") or logical("CPU"))[0].name]
    distributed = kb.distribute.strategy(args.strategy, devices=devices)
    models = {"strategy": build(args, distributed)}
    plain = kb.distribute.strategy("none")  # unsets JAX's global one
    models["none"] = build(args, plain)
    # Each model trains under the strategy it was built with.
    scopes = {"strategy": distributed.scope, "none": plain.scope}
    models["none"].set_weights(models["strategy"].get_weights())
    n = args.steps * args.batch_size
    rng = np.random.default_rng(0)
    x = rng.integers(1, 5000, (n, args.sequence_length)).astype("int32")
    y = rng.integers(0, 2, n).astype("int32")
    seconds = {name: [] for name in models}
    for _ in range(args.rounds + 1):
        for name, model in models.items():
            with scopes[name]():
                start = time.perf_counter()
                model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
                seconds[name].append(
                    (time.perf_counter() - start) / args.steps * 1000
                )
    median = {name: statistics.median(s[1:]) for name, s in seconds.items()}
    summary = kb.distribute.describe(distributed)
    print(
        f"backend {keras.backend.backend()}, {summary}"
        f", batch {args.batch_size}, sequence {args.sequence_length}: "
        f"strategy {median['strategy']:.2f} ms/step, none "
        f"{median['none']:.2f} ms/step, ratio "
        f"{median['strategy'] / median['none']:.3f}"
    )


if __name__ == "__main__":
    main()
