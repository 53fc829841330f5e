"""keras.distribution behind `kerasbig.distribute.strategy` on JAX."""

import jax
import keras

from kerasbig.distribute.strategy import LocalStrategy


def strategy(name, devices, job_addresses, num_processes, process_id):
    if num_processes is not None and num_processes > 1:
        if name == "none":
            raise ValueError(
                "kerasbig.distribute.strategy: `none` runs in one process; "
                f"num_processes={num_processes} needs `data_parallel` or "
                "`auto`. Received: name='none'"
            )
        # Joins the processes; must come before any other JAX work.
        keras.distribution.initialize(job_addresses, num_processes, process_id)
    if name == "none" or (name == "auto" and len(jax.devices()) < 2):
        keras.distribution.set_distribution(None)
        return LocalStrategy()
    distribution = keras.distribution.DataParallel(
        devices=devices if devices is not None else jax.devices()
    )
    keras.distribution.set_distribution(distribution)
    return distribution


def process_index():
    return int(jax.process_index())


def process_count():
    return int(jax.process_count())
