"""tf.distribute strategies behind `kerasbig.distribute.strategy`, and
the fix that lets Keras 3 `fit` run under MultiWorkerMirroredStrategy."""

import json
import os

import tensorflow as tf

# Environment variables that say a TPU is attached; without one, the
# TPU resolver would wait on a metadata server this machine may not have.
_TPU_HINTS = ("TPU_NAME", "COLAB_TPU_ADDR", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS")


def strategy(name, devices, job_addresses, num_processes, process_id):
    if name == "auto":
        if any(os.environ.get(v) for v in _TPU_HINTS) or os.path.exists(
            "/dev/accel0"
        ):
            return _tpu()
        if len(tf.config.list_logical_devices("GPU")) > 1:
            return _mirrored(devices)
        return tf.distribute.get_strategy()
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None:
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in gpus or tf.config.list_logical_devices()]
        return _mirrored(devices)
    if name == "tpu":
        return _tpu()
    # multiworker
    if "TF_CONFIG" not in os.environ:
        os.environ["TF_CONFIG"] = _tf_config(
            job_addresses, num_processes, process_id
        )
    install_multiworker_fix()
    return tf.distribute.MultiWorkerMirroredStrategy()


# One MirroredStrategy per device set and process: two strategies over
# the same devices allocate the same collective keys, and the second
# one's all-reduce then fails with "Shape mismatch in the collective
# instance".
_MIRRORED = {}


def _mirrored(devices):
    key = tuple(devices) if devices is not None else None
    if key not in _MIRRORED:
        _MIRRORED[key] = tf.distribute.MirroredStrategy(devices)
    return _MIRRORED[key]


def _tpu():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as error:
        raise ValueError(
            "kerasbig.distribute.strategy: no TPU could be reached "
            f"({error}). Set TPU_NAME, or use `mirrored`/`none`. "
            "Received: name='tpu'"
        ) from error
    return tf.distribute.TPUStrategy(resolver)


def _tf_config(job_addresses, num_processes, process_id):
    """TF_CONFIG for worker `process_id` of `job_addresses`."""
    addresses = [a.strip() for a in (job_addresses or "").split(",") if a]
    if not addresses or process_id is None:
        raise ValueError(
            "kerasbig.distribute.strategy: `multiworker` needs the cluster: "
            "set TF_CONFIG, or give `job_addresses` (every worker's "
            "host:port, comma-separated) and `process_id`. Received: "
            f"job_addresses={job_addresses!r}, process_id={process_id!r}"
        )
    if num_processes is not None and num_processes != len(addresses):
        raise ValueError(
            "kerasbig.distribute.strategy: `job_addresses` must list every "
            f"worker ({num_processes}) for `multiworker`. Received: "
            f"job_addresses={job_addresses!r}"
        )
    if process_id >= len(addresses):
        raise ValueError(
            "kerasbig.distribute.strategy: `process_id` must index "
            f"`job_addresses` ({len(addresses)} workers). Received: "
            f"process_id={process_id}"
        )
    return json.dumps(
        {
            "cluster": {"worker": addresses},
            "task": {"type": "worker", "index": process_id},
        }
    )


WRITTEN_FOR_KERAS = "3.15"
"""The Keras release whose trainer `install_multiworker_fix` patches;
tests/distribute fails on another one until the patch is checked (and
this updated)."""


def install_multiworker_fix():
    """Patches the two places where Keras 3.15's TensorFlow trainer
    fails under MultiWorkerMirroredStrategy (keras issue 20585):

    - `fit` first builds the model from one batch, which it reduces
      across workers with `strategy.reduce`; under collective all-reduce
      that fails on the dataset's PerReplica batch ("Attempt to convert
      a value (PerReplica...)"). Building needs shapes only, so the
      patch takes this worker's local batch.
    - every step's logs are reduced with `strategy.reduce("MEAN", v,
      axis=0)`, which fails on the scalar logs ("Invalid reduction
      dimension 0 for input with 0 dimensions"). The patch reduces them
      with `axis=None`, the mean over replicas.

    Single-machine strategies keep Keras's own code. The patch touches
    Keras internals (there is no public hook); tests/distribute checks
    it against every Keras release we install.
    """
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_kerasbig_multiworker_fix", False):
        return
    keras_reduce = trainer.reduce_per_replica
    keras_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and _multiworker(strategy):
            return tf.nest.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None), values
            )
        return keras_reduce(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is not None and _multiworker(strategy):
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: _local(strategy, v), next(batches)
                )
                break
            iterator = None
        return keras_build(self, iterator=iterator, data_batch=data_batch)

    trainer.reduce_per_replica = reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer._kerasbig_multiworker_fix = True
    trainer._kerasbig_patched = (keras_reduce, keras_build)  # Keras's own


def _multiworker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _local(strategy, value):
    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value
