"""Train-step speed of kerasbig's GAN: every backend on this machine, and
on TensorFlow against a keras.io-style hand-written `train_step`.

The networks are those of kerasbig.recipes.dcgan on 8x8 digits
(`dcgan_generator` / `dcgan_discriminator`, latent 32, 64 filters), bce
loss, Adam(2e-4, 0.5), batch 64, one discriminator step per generator
step.

1. Steps per second of `GAN.fit()` on TensorFlow, JAX and PyTorch (one
   child process per backend; the median epoch after a warm-up epoch),
   next to a plain supervised `fit()` of the generator alone on the same
   backend: how fast the backend runs these layers at all.
2. On TensorFlow, in one process: kerasbig's `GAN` against the keras.io
   recipe (`keras.Model` subclass whose `train_step` opens
   `tf.GradientTape`s) computing the same losses on the same networks
   (copied weights); they alternate for --repeats rounds and the script
   prints the ratio of median epoch times (goal: kerasbig <= 1.1x).

    python benchmarks/gan_steps.py
    python benchmarks/gan_steps.py --backends jax torch --epochs 10
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

LATENT = 32
BATCH = 64


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["tensorflow", "jax", "torch"],
        help="backends timed in part 1",
    )
    parser.add_argument(
        "--epochs", type=int, default=8, help="timed epochs per round"
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


class EpochTimer:
    def __init__(self):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self.start)

        self.callback = Timer()
        self.callback.times = []

    @property
    def times(self):
        return self.callback.times


def networks(seed=0):
    import keras

    from kerasbig.models import dcgan_discriminator
    from kerasbig.models import dcgan_generator

    keras.utils.set_random_seed(seed)
    return (
        dcgan_generator((8, 8, 1), latent_dim=LATENT, filters=64),
        dcgan_discriminator((8, 8, 1), filters=64),
    )


def images():
    from kerasbig.data import load_digits

    (x, _), _ = load_digits()
    return x * 2 - 1


def kerasbig_gan():
    import keras

    from kerasbig.models import GAN

    gan = GAN(*networks(), latent_dim=LATENT, seed=0)
    gan.compile(
        g_optimizer=keras.optimizers.Adam(2e-4, 0.5),
        d_optimizer=keras.optimizers.Adam(2e-4, 0.5),
    )
    return gan


def handwritten_gan():
    """The keras.io DCGAN pattern (`train_step` with GradientTape), with
    kerasbig's losses: separate real and fake discriminator calls."""
    import keras
    import tensorflow as tf
    from keras import ops

    class HandWrittenGAN(keras.Model):
        def __init__(self, generator, discriminator):
            super().__init__()
            self.generator = generator
            self.discriminator = discriminator
            self.seed_generator = keras.random.SeedGenerator(0)
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def train_step(self, real):
            batch = tf.shape(real)[0]
            z = keras.random.normal((batch, LATENT), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                fake = tf.stop_gradient(self.generator(z, training=True))
                real_logits = self.discriminator(real, training=True)
                fake_logits = self.discriminator(fake, training=True)
                d_loss = ops.mean(ops.softplus(-real_logits)) + ops.mean(
                    ops.softplus(fake_logits)
                )
            variables = self.discriminator.trainable_variables
            self.d_optimizer.apply(tape.gradient(d_loss, variables), variables)
            z = keras.random.normal((batch, LATENT), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                fake_logits = self.discriminator(
                    self.generator(z, training=True), training=True
                )
                g_loss = ops.mean(ops.softplus(-fake_logits))
            variables = self.generator.trainable_variables
            self.g_optimizer.apply(tape.gradient(g_loss, variables), variables)
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {m.name: m.result() for m in self.metrics}

    gan = HandWrittenGAN(*networks())
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, 0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, 0.5),
    )
    return gan


def time_fit(gan, x, epochs):
    timer = EpochTimer()
    gan.fit(
        x,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        callbacks=[timer.callback],
    )
    return timer.times


def child(args):
    import keras
    import numpy as np

    x = images()
    steps = -(-len(x) // BATCH)
    gan = kerasbig_gan()
    time_fit(gan, x, 1)  # warm-up: tracing and compilation
    times = []
    for _ in range(args.repeats):
        times += time_fit(gan, x, args.epochs)
    # The backend's own speed on these layers: the generator alone,
    # trained with a plain supervised fit (one forward and backward pass
    # per step; a GAN step takes three generator passes).
    generator, _ = networks()
    generator.compile(keras.optimizers.Adam(2e-4, 0.5), "mse")
    z = np.random.default_rng(0).standard_normal((len(x), LATENT))
    z = z.astype("float32")
    timer = EpochTimer()
    generator.fit(
        z,
        x,
        batch_size=BATCH,
        epochs=args.epochs + 1,
        verbose=0,
        callbacks=[timer.callback],
    )
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "steps_per_second": steps / statistics.median(times),
                "generator_alone": steps / statistics.median(timer.times[1:]),
            }
        )
    )


def compare_on_tensorflow(args):
    x = images()
    ours, theirs = kerasbig_gan(), handwritten_gan()
    for gan in (ours, theirs):
        time_fit(gan, x, 1)
    times = {"kerasbig": [], "hand-written": []}
    for _ in range(args.repeats):
        times["kerasbig"] += time_fit(ours, x, args.epochs)
        times["hand-written"] += time_fit(theirs, x, args.epochs)
    steps = -(-len(x) // BATCH)
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, seconds in medians.items():
        print(f"  {name:13s} {steps / seconds:8.1f} steps/s")
    ratio = medians["kerasbig"] / medians["hand-written"]
    print(f"  kerasbig / hand-written epoch time: {ratio:.3f}x (goal <= 1.1)")


def main():
    args = parse_args()
    if args.child:
        child(args)
        return
    print("1. GAN.fit() steps per second (CPU, batch 64, 8x8 digits)")
    for backend in args.backends:
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--epochs",
                str(args.epochs),
                "--repeats",
                str(args.repeats),
            ],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "KERAS_BACKEND": backend,
                "TF_CPP_MIN_LOG_LEVEL": "3",
            },
        )
        if result.returncode:
            print(f"  {backend}: failed\n{result.stderr[-2000:]}")
            continue
        line = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"  {backend:13s} {line['steps_per_second']:8.1f} steps/s   "
            f"(generator alone, supervised: {line['generator_alone']:.1f})"
        )
    os.environ["KERAS_BACKEND"] = "tensorflow"
    print("2. TensorFlow, same process: kerasbig GAN vs hand-written step")
    compare_on_tensorflow(args)


if __name__ == "__main__":
    main()
