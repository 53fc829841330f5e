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
            f"{owner}: needs `mesh_shape` (data, model) and `model`, the "
            "function that builds the model (its weight paths and shapes "
            "decide the layouts). Received: "
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
    if not isinstance(model, keras.layers.Layer):
        model = deferred_template(model, owner)
    distribution = keras.distribution.ModelParallel(
        layout_map=layout_map(model, mesh, style), batch_dim_name="batch"
    )
    keras.distribution.set_distribution(distribution)
    return distribution


def deferred_template(build, owner):
    """The model `build()` returns, its weights' paths and shapes set but
    no weight ever allocated: a layout template for a model too big for
    one device.

    Under `keras.StatelessScope(initialize_variables=False)` Keras defers
    each new variable and lists it for `initialize_all_variables`, which
    the next top-level StatelessScope (any JAX train step) would run,
    allocating the template after all. Keras has no public way to drop a
    deferred variable, so the template's are taken off that list (the
    private global attribute "uninitialized_variables";
    tests/distribute/test_layouts.py fails if Keras renames it).
    """
    from keras.src.backend.common import global_state

    if not callable(build):
        raise ValueError(
            f"{owner}: `model` must be a built Keras model or a function "
            f"that builds one. Received: {type(build).__name__}"
        )
    with keras.StatelessScope(initialize_variables=False):
        template = build()
    if not isinstance(template, keras.layers.Layer):
        raise ValueError(
            f"{owner}: the `model` function must return a Keras model. "
            f"Received: {type(template).__name__}"
        )
    deferred = global_state.get_global_attribute("uninitialized_variables")
    mine = {id(variable) for variable in template.variables}
    listed = {id(variable) for variable in deferred or ()}
    if not mine <= listed:
        raise RuntimeError(
            f"{owner}: Keras no longer lists deferred variables under "
            "'uninitialized_variables'; kerasbig.distribute._jax."
            "deferred_template must follow its new name"
        )
    deferred[:] = [v for v in deferred if id(v) not in mine]
    return template
