"""Distributed training on every backend: `tf.distribute` strategies on
TensorFlow (one or many GPUs, TPUs, many machines), `keras.distribution`
data parallelism on JAX (many devices, many processes), and weights
sharded over a JAX device mesh (`layout_map`, `model_parallel`)."""

from kerasbig import _console
from kerasbig.distribute.choices import STRATEGIES

if not _console.DEFER:
    from kerasbig.distribute.layouts import layout_map
    from kerasbig.distribute.strategy import LocalStrategy
    from kerasbig.distribute.strategy import describe
    from kerasbig.distribute.strategy import num_replicas
    from kerasbig.distribute.strategy import num_workers
    from kerasbig.distribute.strategy import per_replica_batch_size
    from kerasbig.distribute.strategy import strategy
    from kerasbig.distribute.strategy import worker_index
else:

    def __getattr__(name):  # a program before its flags parsed
        return _console.load_deferred(__name__, name)


__all__ = [
    "STRATEGIES",
    "LocalStrategy",
    "describe",
    "layout_map",
    "num_replicas",
    "num_workers",
    "per_replica_batch_size",
    "strategy",
    "worker_index",
]
