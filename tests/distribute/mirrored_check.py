"""Run as a script (TensorFlow backend): trains under MirroredStrategy
over two logical CPUs and on one device, and prints the comparisons as
JSON. A process of its own, because logical devices must be set up
before TensorFlow starts."""

import json
import sys

from check_models import data
from check_models import dense_model
from check_models import gan
from check_models import vae
from processes import text_recipe_args


def load_recipe(name):
    import importlib

    return importlib.import_module(f"kerasbig.recipes.{name}")


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
    import keras
    import numpy as np

    import kerasbig as kb

    results = {}
    recipe = load_recipe("text_classification")
    runs = {
        "mirrored": ["--strategy", "mirrored"],
        "none": ["--strategy", "none"],
        "mixed": ["--strategy", "mirrored", "--mixed-precision"],
    }
    for name, flags in runs.items():
        run = text_recipe_args(text_data, f"{output_dir}/{name}", batch_size=64)
        metrics = recipe.main([*run, *flags])
        results[f"recipe_{name}"] = {
            "distribution": metrics["distribution"],
            "precision_policy": metrics["precision_policy"],
            "best_val_accuracy": metrics["best_val_accuracy"],
        }
        keras.config.set_dtype_policy("float32")
    mirrored = kb.distribute.strategy("mirrored")
    results["replicas"] = kb.distribute.num_replicas(mirrored)
    x, y = data()
    binary = (np.random.default_rng(1).random((64, 6)) > 0.5).astype("float32")
    cases = {
        "dense": (dense_model, (x, y)),
        "gan": (lambda: gan("gan"), (x[:, :2],)),
        "wgan_gp": (lambda: gan("wgan_gp"), (x[:, :2],)),
        "vae": (vae, (binary,)),
    }
    for name, (build, arrays) in cases.items():
        single = build()
        single_history = single.fit(
            *arrays, batch_size=16, epochs=2, shuffle=False, verbose=0
        )
        with mirrored.scope():
            distributed = build()
        distributed_history = distributed.fit(
            *arrays, batch_size=16, epochs=2, shuffle=False, verbose=0
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
    except ValueError as stop:
        results["graph_recipe_refusal"] = str(stop)
    print("RESULTS " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
