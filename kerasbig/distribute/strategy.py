"""One call that sets up distributed training on the active backend."""

import contextlib
import importlib
import os

import keras

from kerasbig.distribute.choices import MODEL_PARALLEL
from kerasbig.distribute.choices import STRATEGIES
from kerasbig.distribute.choices import STRATEGY_BACKENDS

_ENVIRONMENT = {
    "job_addresses": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "process_id": "KERAS_DISTRIBUTION_PROCESS_ID",
}


class LocalStrategy:
    """What `strategy` returns where nothing is distributed: one replica,
    a `scope()` that does nothing. (On TensorFlow `strategy` returns
    TensorFlow's default strategy instead.)"""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()

    def __repr__(self):
        return "LocalStrategy()"


def strategy(
    name="auto",
    devices=None,
    job_addresses=None,
    num_processes=None,
    process_id=None,
    mesh_shape=None,
    model=None,
    style="both",
):
    """Sets up data-parallel (or, on JAX, model-parallel) training for the
    active Keras backend.

    Build and compile the model inside the returned object's `scope()`;
    then `fit` as usual, with the *global* batch size (the sum over all
    replicas: each of `num_replicas(s)` replicas gets
    `batch_size / num_replicas(s)` samples per step).

    - `"auto"`: on TensorFlow `TPUStrategy` when a TPU is configured,
      `MirroredStrategy` with more than one GPU, else the default
      strategy; on JAX `DataParallel` with more than one device (or
      process), else nothing; on PyTorch nothing.
    - `"none"`: TensorFlow's default strategy; nothing elsewhere.
    - `"mirrored"` (TensorFlow): `MirroredStrategy` over `devices`
      (default: every GPU, else every logical CPU).
    - `"multiworker"` (TensorFlow): `MultiWorkerMirroredStrategy` from
      `TF_CONFIG` (or built from `job_addresses` and `process_id`), with
      kerasbig's fix that makes Keras 3 `fit` run under it.
    - `"tpu"` (TensorFlow): `TPUStrategy`.
    - `"data_parallel"` (JAX): `keras.distribution.DataParallel` over
      `devices` of every process, set as the global distribution.
    - `"model_parallel"` (JAX): `keras.distribution.ModelParallel` over a
      `("batch", "model")` mesh of `mesh_shape` (its product: the number
      of devices), the weights laid out by
      `kerasbig.distribute.layout_map(model, mesh, style)`. `model` is the
      function that builds the model to train (called once, its weights
      deferred and never allocated: a template of paths and shapes), or
      such a model already built; build the model that trains with the
      same code inside the returned distribution's `scope()`.

    A strategy the backend cannot run raises a `ValueError` that says
    which backend runs it. PyTorch has no multi-device `fit` in Keras 3.

    Multi-process JAX: give `job_addresses` (the coordinator's
    `host:port` first), `num_processes` and `process_id`, or set Keras's
    environment variables `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
    `KERAS_DISTRIBUTION_NUM_PROCESSES` and
    `KERAS_DISTRIBUTION_PROCESS_ID`; `keras.distribution.initialize`
    joins the processes. Call `strategy` first thing, before any other
    JAX or TensorFlow work. Multi-worker TensorFlow reads the same
    arguments when `TF_CONFIG` is not set (`job_addresses` then lists
    every worker).

    Args:
        name: one of `"auto"`, `"none"`, `"mirrored"`, `"multiworker"`,
            `"tpu"`, `"data_parallel"`, `"model_parallel"`.
        devices: device names for `"mirrored"` (e.g. `["/gpu:0",
            "/gpu:1"]`) or `"data_parallel"` (e.g. `["cpu:0", "cpu:1"]`);
            None for all.
        job_addresses: comma-separated `host:port` of every process.
        num_processes: number of processes.
        process_id: this process's index, 0 being the coordinator.
        mesh_shape: `(data, model)` device counts for `"model_parallel"`.
        model: the layout template for `"model_parallel"`: a function
            that builds the model (no weight is allocated), or a built
            model.
        style: `layout_map`'s style for `"model_parallel"`: `"both"`
            (default), `"fsdp"` or `"tensor_parallel"`.

    Returns:
        On TensorFlow, the `tf.distribute.Strategy`. On JAX, the
        `keras.distribution.DataParallel` or `ModelParallel` it has set
        (or a `LocalStrategy`). On PyTorch, a `LocalStrategy`. Each has
        `scope()`.

    Example:

        >>> import keras
        >>> import kerasbig as kb
        >>> s = kb.distribute.strategy("none")
        >>> with s.scope():
        ...     model = keras.Sequential([keras.Input((4,)),
        ...                               keras.layers.Dense(2)])
        ...     model.compile("adam", "mse")
        >>> kb.distribute.num_replicas(s)
        1
    """
    if name not in (*STRATEGIES, MODEL_PARALLEL):
        raise ValueError(
            f"kerasbig.distribute.strategy: `name` must be one of "
            f"{[*STRATEGIES, MODEL_PARALLEL]}. Received: name={name!r}"
        )
    backend = keras.backend.backend()
    needed = STRATEGY_BACKENDS.get(name)
    if needed is not None and needed != backend:
        hint = {
            "tensorflow": "use `data_parallel` on JAX (multi-process with "
            "job_addresses), or run with KERAS_BACKEND=tensorflow",
            "jax": "use `mirrored` or `multiworker` on TensorFlow, or run "
            "with KERAS_BACKEND=jax",
        }[needed]
        if name == MODEL_PARALLEL and backend == "tensorflow":
            hint = (
                "sharded weights are Keras's ModelParallel, JAX only; on "
                "TensorFlow use `mirrored` or `multiworker` (every replica "
                "holds the whole model), or run with KERAS_BACKEND=jax"
            )
        if backend == "torch":
            hint = (
                "Keras 3 has no multi-device training on PyTorch; run with "
                + (
                    "KERAS_BACKEND=jax"
                    if name == MODEL_PARALLEL
                    else "KERAS_BACKEND=tensorflow or jax"
                )
            )
        raise ValueError(
            f"kerasbig.distribute.strategy: `{name}` is a {needed} strategy "
            f"and this process runs the {backend} backend; {hint}. "
            f"Received: name={name!r}"
        )
    cluster = _cluster(job_addresses, num_processes, process_id)
    if backend == "torch":
        if cluster["num_processes"] not in (None, 1):
            raise ValueError(
                "kerasbig.distribute.strategy: multi-process training needs "
                "the tensorflow or jax backend; Keras 3 has none on "
                f"PyTorch. Received: num_processes={cluster['num_processes']}"
            )
        return LocalStrategy()
    if name == MODEL_PARALLEL:
        return _own_module().model_parallel(
            devices, mesh_shape, model, style, **cluster
        )
    if mesh_shape is not None or model is not None:
        raise ValueError(
            "kerasbig.distribute.strategy: `mesh_shape` and `model` are "
            f"for `model_parallel`. Received: name={name!r}, "
            f"mesh_shape={mesh_shape!r}"
        )
    return _own_module().strategy(name, devices, **cluster)


def _own_module():
    """The active backend's module (`_tensorflow` or `_jax`)."""
    return importlib.import_module(
        f"kerasbig.distribute._{keras.backend.backend()}"
    )


def _cluster(job_addresses, num_processes, process_id):
    """The cluster arguments, falling back to Keras's variables."""
    values = {
        "job_addresses": job_addresses,
        "num_processes": num_processes,
        "process_id": process_id,
    }
    for key, variable in _ENVIRONMENT.items():
        if values[key] is None and os.environ.get(variable):
            values[key] = os.environ[variable]
    for key in ("num_processes", "process_id"):
        value = values[key]
        if value is None:
            continue
        try:
            values[key] = int(value)
        except (TypeError, ValueError):
            values[key] = None
        if values[key] is None or values[key] < 0:
            raise ValueError(
                f"kerasbig.distribute.strategy: `{key}` must be an int >= 0 "
                f"(argument or {_ENVIRONMENT[key]}). Received: {key}={value!r}"
            )
    addresses = values["job_addresses"]
    count, index = values["num_processes"], values["process_id"]
    if count is not None and count < 1:
        raise ValueError(
            "kerasbig.distribute.strategy: `num_processes` must be >= 1. "
            f"Received: num_processes={count}"
        )
    if count is not None and count > 1:
        if not addresses or index is None:
            raise ValueError(
                "kerasbig.distribute.strategy: a multi-process run needs "
                "`job_addresses` (the coordinator's host:port first) and "
                "`process_id` as well as `num_processes`. Received: "
                f"job_addresses={addresses!r}, process_id={index!r}"
            )
        if index >= count:
            raise ValueError(
                "kerasbig.distribute.strategy: `process_id` must be below "
                f"`num_processes` ({count}). Received: process_id={index}"
            )
    return values


def num_replicas(strategy):
    """How many replicas share each global batch under `strategy` (a
    value `kerasbig.distribute.strategy` returned, or any
    `tf.distribute.Strategy` or `keras.distribution.Distribution`).

    Example:

        >>> import kerasbig as kb
        >>> kb.distribute.num_replicas(kb.distribute.LocalStrategy())
        1
    """
    if hasattr(strategy, "num_replicas_in_sync"):
        return int(strategy.num_replicas_in_sync)
    mesh = getattr(strategy, "device_mesh", None)
    if mesh is not None:
        # A data-parallel mesh splits the batch along its batch axis.
        axis = getattr(strategy, "batch_dim_name", None) or mesh.axis_names[0]
        return int(mesh.shape[mesh.axis_names.index(axis)])
    raise ValueError(
        "kerasbig.distribute.num_replicas: expected a strategy from "
        "kerasbig.distribute.strategy. Received: "
        f"strategy={strategy!r}"
    )


def per_replica_batch_size(global_batch_size, strategy):
    """The samples each replica gets per step; raises when the global
    batch does not split evenly.

    Example:

        >>> import kerasbig as kb
        >>> local = kb.distribute.LocalStrategy()
        >>> kb.distribute.per_replica_batch_size(64, local)
        64
    """
    replicas = num_replicas(strategy)
    if global_batch_size % replicas:
        raise ValueError(
            "kerasbig.distribute: the global batch size must be a multiple "
            f"of the number of replicas ({replicas}) so that every replica "
            f"gets the same share. Received: batch_size={global_batch_size}"
        )
    return global_batch_size // replicas


def worker_index(strategy):
    """This process's index among the workers (0 on one machine): the
    chief, which writes the run's outputs, is worker 0.

    Example:

        >>> import kerasbig as kb
        >>> kb.distribute.worker_index(kb.distribute.LocalStrategy())
        0
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and getattr(resolver, "task_id", None) is not None:
        return int(resolver.task_id)
    if keras.backend.backend() == "jax":
        return _own_module().process_index()
    return 0


def num_workers(strategy):
    """How many processes (machines) train together under `strategy`.

    Example:

        >>> import kerasbig as kb
        >>> kb.distribute.num_workers(kb.distribute.LocalStrategy())
        1
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None:
        spec = resolver.cluster_spec()
        return max(sum(spec.num_tasks(job) for job in spec.jobs), 1)
    if keras.backend.backend() == "jax":
        return _own_module().process_count()
    return 1


def describe(strategy, global_batch_size=None):
    """A JSON-ready summary of `strategy` for a run's metrics file:
    its class, replicas, workers, and the global and per-replica batch.

    Example:

        >>> import kerasbig as kb
        >>> summary = kb.distribute.describe(kb.distribute.LocalStrategy(), 32)
        >>> summary["replicas"], summary["per_replica_batch_size"]
        (1, 32)
    """
    summary = {
        "strategy": type(strategy).__name__,
        "replicas": num_replicas(strategy),
        "workers": num_workers(strategy),
        "worker": worker_index(strategy),
    }
    if global_batch_size is not None:
        summary["global_batch_size"] = int(global_batch_size)
        summary["per_replica_batch_size"] = per_replica_batch_size(
            global_batch_size, strategy
        )
    return summary
