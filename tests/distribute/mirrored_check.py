"""Run as a script (TensorFlow backend): trains under MirroredStrategy
over two logical CPUs and on one device, and prints the comparisons as
JSON. A process of its own, because logical devices must be set up
before TensorFlow starts."""

import json
import pathlib
import sys

RECIPES = pathlib.Path(__file__).resolve().parents[2] / "recipes"


def dense_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(2),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def gan(kind):
    import keras

    from kerasbig.models import GAN
    from kerasbig.models import WGANGP

    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(2),
        ]
    )
    critic = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model = {"gan": GAN, "wgan_gp": WGANGP}[kind](
        generator, critic, latent_dim=4, seed=1
    )
    model.compile(
        g_optimizer=keras.optimizers.SGD(0.05),
        d_optimizer=keras.optimizers.SGD(0.05),
    )
    return model


def vae():
    import keras

    from kerasbig.models import VAE

    keras.utils.set_random_seed(0)
    encoder = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8), keras.layers.Dense(4)]
    )
    decoder = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(6, activation="sigmoid")]
    )
    model = VAE(encoder, decoder, seed=1)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    return model


def load_recipe(name):
    import importlib.util

    path = RECIPES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    return recipe


def largest_difference(a, b):
    import numpy as np

    return max(
        float(np.max(np.abs(u - v)))
        for u, v in zip(a.get_weights(), b.get_weights(), strict=True)
    )


def main(text_data, output_dir):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import numpy as np

    import kerasbig as kb

    results = {}
    recipe = load_recipe("text_classification")
    args = [
        "--data",
        text_data,
        "--model",
        "cnn",
        "--epochs",
        "3",
        "--sequence-length",
        "16",
        "--embedding-dim",
        "16",
        "--vocabulary-size",
        "100",
    ]
    for strategy in ("mirrored", "none"):
        metrics = recipe.main(
            [
                *args,
                "--strategy",
                strategy,
                "--output-dir",
                f"{output_dir}/{strategy}",
            ]
        )
        results[f"recipe_{strategy}"] = {
            "distribution": metrics["distribution"],
            "best_val_accuracy": metrics["best_val_accuracy"],
        }
    mirrored = kb.distribute.strategy("mirrored")
    results["replicas"] = kb.distribute.num_replicas(mirrored)
    rng = np.random.default_rng(0)
    x = rng.random((64, 4)).astype("float32")
    y = (x.sum(1) > 2).astype("int32")
    binary = (rng.random((64, 6)) > 0.5).astype("float32")
    cases = {
        "dense": (dense_model, (x, y)),
        "gan": (lambda: gan("gan"), (x[:, :2],)),
        "wgan_gp": (lambda: gan("wgan_gp"), (x[:, :2],)),
        "vae": (vae, (binary,)),
    }
    for name, (build, data) in cases.items():
        single = build()
        single_history = single.fit(
            *data, batch_size=16, epochs=2, shuffle=False, verbose=0
        )
        with mirrored.scope():
            distributed = build()
        distributed_history = distributed.fit(
            *data, batch_size=16, epochs=2, shuffle=False, verbose=0
        )
        results[name] = {
            "weights": largest_difference(single, distributed),
            "logs": max(
                abs(a[-1] - distributed_history.history[k][-1])
                for k, a in single_history.history.items()
            ),
        }

    try:
        load_recipe("node_classification").main(["--strategy", "mirrored"])
    except SystemExit as stop:
        results["graph_recipe_refusal"] = str(stop)
    print("RESULTS " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
