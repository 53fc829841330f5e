"""Starting a run under its distribution flags (`start_distribution`),
and what a worker says when another one dies
(`explain_worker_failure`)."""

import contextlib
import os
import sys
import typing

import keras

from kerasbig.distribute import LocalStrategy
from kerasbig.distribute import describe
from kerasbig.distribute import num_replicas
from kerasbig.distribute import num_workers
from kerasbig.distribute import strategy as make_strategy
from kerasbig.distribute import worker_index


class Distribution(typing.NamedTuple):
    """What `start_distribution` set up."""

    strategy: object
    """Build and compile the model inside its `scope()`."""
    output_dir: str | None
    """Where this process writes: the run folder on the chief (worker
    0), `<run folder>/worker-<index>` on other workers."""
    summary: dict
    """`kerasbig.distribute.describe` of the strategy, for reports."""


def start_distribution(
    strategy="auto",
    *,
    job_addresses=None,
    num_processes=None,
    process_id=None,
    batch_size=None,
    output_dir=None,
    splits_batches=True,
    mesh_shape=None,
    layout_style="both",
    layout_model=None,
):
    """Sets up a distribution strategy for a training run.

    The `DistributeConfig` flags give the first four arguments, and
    `ModelParallelConfig`'s the mesh and layout style
    (`start_distribution(**config.distribution_options(), ...)`).
    On a multi-worker run, workers other than the chief (worker 0) write
    into `<output_dir>/worker-<index>`, so that workers never write the
    same file; the chief's outputs are the run's. A strategy that cannot
    start raises a `ValueError` of one line naming `--strategy`.

    Args:
        strategy: a name of `kerasbig.distribute.STRATEGIES`.
        job_addresses, num_processes, process_id: multi-process runs
            (see `kerasbig.distribute.strategy`).
        batch_size: the global batch, which must split evenly over the
            replicas; None when the run has none.
        output_dir: the run folder.
        splits_batches: False for a run whose step cannot be split
            across replicas (one whole graph per step): it stops with a
            message when the strategy has more than one replica.
        mesh_shape, layout_style: `"model_parallel"`'s `(data, model)`
            mesh and `layout_map` style (`ModelParallelConfig` gives them).
        layout_model: `"model_parallel"`: the function that builds the
            model to train, called under `keras.StatelessScope` for its
            weights' paths and shapes (see `kerasbig.distribute.strategy`).

    Returns:
        A `Distribution`: `(strategy, output_dir, summary)`.

    Example:

        >>> from kerasbig.training import start_distribution
        >>> run = start_distribution("none", output_dir="runs/x")
        >>> run.output_dir, run.summary["replicas"]
        ('runs/x', 1)
        >>> with run.strategy.scope():
        ...     pass
    """
    try:
        chosen = make_strategy(
            strategy,
            job_addresses=job_addresses,
            num_processes=num_processes,
            process_id=process_id,
            **(
                {}
                if mesh_shape is None
                else {
                    "mesh_shape": mesh_shape,
                    "model": layout_model,
                    "style": layout_style,
                }
            ),
        )
        summary = describe(chosen, batch_size)
    except ValueError as error:
        raise ValueError(f"--strategy {strategy}: {error}") from error
    if not splits_batches and num_replicas(chosen) > 1:
        raise ValueError(
            f"--strategy {strategy}: this run trains on one whole graph per "
            "step, which cannot be split across "
            f"{num_replicas(chosen)} replicas. Use --strategy none."
        )
    index = worker_index(chosen)
    if index and output_dir is not None:
        output_dir = os.path.join(output_dir, f"worker-{index}")
    if summary["replicas"] > 1:
        print(f"distributed: {summary}", flush=True)
    return Distribution(chosen, output_dir, summary)


# Words of the errors a collective op raises when a peer process died
# or cannot be reached (TensorFlow's gRPC collectives, JAX's Gloo/NCCL
# and its coordination service).
_PEER_WORDS = (
    "collective ops is aborted",
    "connection reset",
    "connection refused",
    "failed to connect",
    "socket closed",
    "gloo",
    "heartbeat",
    "coordination service",
    "unavailable",
    "peer",
)


@contextlib.contextmanager
def explain_worker_failure(model, output_dir):
    """Turns the error a multi-worker `fit` raises when another worker
    dies into a `RuntimeError` that says so and how to resume.

    On one machine (one worker) errors pass through unchanged.

    Example:

        >>> import keras
        >>> from kerasbig.training.distributed import explain_worker_failure
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> with explain_worker_failure(model, "runs/x"):
        ...     pass
    """
    try:
        yield
    except Exception as error:
        workers = _workers_training(model)
        text = str(error).lower()
        peer_failed = type(error).__name__ in (
            "UnavailableError",
            "AbortedError",
            "CancelledError",
            "DeadlineExceededError",
        ) or any(word in text for word in _PEER_WORDS)
        if workers < 2 or not peer_failed:
            raise
        # TensorFlow's errors open with "Graph execution error:"; the
        # line that names the peer says more.
        lines = [x.strip() for x in str(error).splitlines() if x.strip()]
        telling = [x for x in lines if any(w in x.lower() for w in _PEER_WORDS)]
        first_line = (telling or lines or [""])[0][:300]
        message = (
            f"Training stopped: another worker of this {workers}-worker run "
            f"stopped or cannot be reached ({type(error).__name__}: "
            f"{first_line}). Restart the same command on every worker: each "
            "resumes from its last finished epoch (the backup in "
            f"{output_dir}/backup)."
        )
        print(message, file=sys.stderr, flush=True)
        _abandon_peers()
        raise RuntimeError(message) from error


def _workers_training(model):
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None:
        strategy = keras.distribution.distribution() or LocalStrategy()
    return num_workers(strategy)


def _abandon_peers():
    """Ends this process now where a normal exit would wait for the dead
    peer: JAX's distributed shutdown blocks on a barrier that the dead
    process never reaches."""
    if keras.backend.backend() == "jax":
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(1)
