"""keras.distribution behind `kerasbig.distribute.strategy` on JAX."""

import math

import jax
import keras

from kerasbig.distribute.choices import MODEL_PARALLEL
from kerasbig.distribute.layouts import layout_map
from kerasbig.distribute.strategy import LocalStrategy


def _join(name, job_addresses, num_processes, process_id):
    if num_processes is not None and num_processes > 1:
        if name == "none":
            raise ValueError(
                "kerasbig.distribute.strategy: `none` runs in one process; "
                f"num_processes={num_processes} needs `data_parallel` or "
                "`auto`. Received: name='none'"
            )
        # Joins the processes; must come before any other JAX work.
        keras.distribution.initialize(job_addresses, num_processes, process_id)


def strategy(name, devices, job_addresses, num_processes, process_id):
    _join(name, job_addresses, num_processes, process_id)
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


def model_parallel(
    devices, mesh_shape, model, style, job_addresses, num_processes, process_id
):
    owner = "kerasbig.distribute.strategy('model_parallel')"
    if model is None or mesh_shape is None:
        raise ValueError(
            f"{owner}: needs `mesh_shape` (data, model) and `model`, a "
            "template whose weight paths the layouts name. Received: "
            f"mesh_shape={mesh_shape!r}, model={type(model).__name__}"
        )
    _join(MODEL_PARALLEL, job_addresses, num_processes, process_id)
    devices = devices if devices is not None else jax.devices()
    shape = tuple(int(size) for size in mesh_shape)
    if len(shape) != 2 or math.prod(shape) != len(devices):
        raise ValueError(
            f"{owner}: `mesh_shape` must be (data, model) with one device "
            f"per slot; there are {len(devices)} devices. Received: "
            f"mesh_shape={mesh_shape!r}"
        )
    mesh = keras.distribution.DeviceMesh(shape, ("batch", "model"), devices)
    distribution = keras.distribution.ModelParallel(
        layout_map=layout_map(model, mesh, style), batch_dim_name="batch"
    )
    keras.distribution.set_distribution(distribution)
    return distribution
