"""The distribution flags of recipes and starting a run under them."""

import dataclasses
import os

from kerasbig.distribute import describe
from kerasbig.distribute import num_replicas
from kerasbig.distribute import strategy
from kerasbig.distribute import worker_index
from kerasbig.training.config import DistributeConfig
from kerasbig.training.config import add_field_flag


def add_distribute_flags(parser):
    """Adds `DistributeConfig`'s flags to an `argparse.ArgumentParser`
    (for scripts that do not use `parse_config`).

    Example:

        >>> import argparse
        >>> from kerasbig.training import add_distribute_flags
        >>> parser = argparse.ArgumentParser()
        >>> add_distribute_flags(parser)
        >>> parser.parse_args(["--strategy", "mirrored"]).strategy
        'mirrored'
    """
    for field in dataclasses.fields(DistributeConfig):
        add_field_flag(parser, field, "DistributeConfig")


def start_distribution(config, splits_batches=True):
    """Sets up `config.strategy` for a recipe run and returns it.

    Build and compile the model inside the returned strategy's
    `scope()`. The run's `config.batch_size` (when it has one) is the
    global batch and must split evenly over the replicas. On a
    multi-worker run, workers other than the chief (worker 0) write
    into `<output_dir>/worker-<index>` (`config.output_dir` is changed),
    so that workers never write the same file; the chief's outputs are
    the run's.

    Args:
        config: a config with `DistributeConfig`'s fields.
        splits_batches: False for a recipe whose step cannot be split
            across replicas (one whole graph per step): it stops with a
            message when the strategy has more than one replica.

    Returns:
        The strategy (see `kerasbig.distribute.strategy`).

    Example:

        >>> from kerasbig.training import TrainingConfig, start_distribution
        >>> s = start_distribution(TrainingConfig(strategy="none"))
        >>> with s.scope():
        ...     pass
    """
    try:
        chosen = strategy(
            config.strategy,
            job_addresses=config.job_addresses,
            num_processes=config.num_processes,
            process_id=config.process_id,
        )
        summary = describe(chosen, getattr(config, "batch_size", None))
    except ValueError as error:
        raise SystemExit(f"--strategy {config.strategy}: {error}") from error
    if not splits_batches and num_replicas(chosen) > 1:
        raise SystemExit(
            f"--strategy {config.strategy}: this recipe trains on one whole "
            "graph per step, which cannot be split across "
            f"{num_replicas(chosen)} replicas. Use --strategy none."
        )
    index = worker_index(chosen)
    if index:
        config.output_dir = os.path.join(config.output_dir, f"worker-{index}")
    if summary["replicas"] > 1:
        print(f"distributed: {summary}", flush=True)
    return chosen
