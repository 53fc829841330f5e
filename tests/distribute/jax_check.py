"""Run as a script (JAX backend), in a process of its own because JAX's
devices and processes are fixed when it starts:

- `jax_check.py devices`: with two CPU devices
  (XLA_FLAGS=--xla_force_host_platform_device_count=2), trains a Dense
  classifier and a GAN under `data_parallel` and without distribution,
  and prints the largest weight differences as JSON.
- `jax_check.py process ADDRESS COUNT ID`: trains the Dense classifier
  as process ID of COUNT joined at ADDRESS (COUNT 1: no distribution)
  and prints its weights as JSON.
"""

import json
import sys

from check_models import data
from check_models import dense_model
from check_models import gan


def weights(model):
    return [w.tolist() for w in model.get_weights()]


def devices():
    import numpy as np

    import kerasbig as kb

    x, y = data()
    results = {}
    for name, build, arrays in (
        ("dense", dense_model, (x, y)),
        ("gan", lambda: gan("gan"), (x[:, :2],)),
    ):
        trained = {}
        for strategy in ("none", "data_parallel"):
            chosen = kb.distribute.strategy(strategy)
            with chosen.scope():
                model = build()
            model.fit(
                *arrays, batch_size=16, epochs=2, shuffle=False, verbose=0
            )
            trained[strategy] = model.get_weights()
            results[f"{name}_replicas_{strategy}"] = kb.distribute.num_replicas(
                chosen
            )
        results[name] = max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(*trained.values(), strict=True)
        )
    kb.distribute.strategy("none")
    print("RESULTS " + json.dumps(results), flush=True)


def process(address, count, index):
    import tensorflow as tf

    import kerasbig as kb

    count, index = int(count), int(index)
    chosen = kb.distribute.strategy(
        "data_parallel" if count > 1 else "none",
        job_addresses=address,
        num_processes=count,
        process_id=index,
    )
    x, y = data()
    with chosen.scope():
        model = dense_model()
    # Multi-process keras.distribution shards a tf.data pipeline.
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    model.fit(batches, epochs=2, verbose=0)
    summary = kb.distribute.describe(chosen, 16)
    print(
        "RESULTS "
        + json.dumps({"distribution": summary, "weights": weights(model)}),
        flush=True,
    )


if __name__ == "__main__":
    {"devices": devices, "process": process}[sys.argv[1]](*sys.argv[2:])
