"""Run folders of training scripts: callbacks and result files."""

import dataclasses
import json
import os
import pathlib
import sys
import typing

import keras
import numpy as np

from kerasbig._version import __version__
from kerasbig.callbacks import StopOnNaN
from kerasbig.training.config import DISTRIBUTION_FLAGS
from kerasbig.training.distributed import start_distribution

# The run folder of the training in progress, for run_script's message
# when the run is interrupted.
_CURRENT_RUN = {}


def run_callbacks(output_dir, backup=True, csv=True, nan_checkpoint=True):
    """The callbacks every recipe run gets, writing into `output_dir`.

    - `keras.callbacks.BackupAndRestore` in `<output_dir>/backup`: a run
      killed mid-training resumes from its last finished epoch when the
      same command runs again (the backup is deleted when training ends).
    - `keras.callbacks.CSVLogger` to `<output_dir>/log.csv` (appending
      on resume).
    - `kerasbig.callbacks.StopOnNaN` keeping the last good model in
      `<output_dir>/last_good.keras`.

    Args:
        output_dir: the run folder (created if needed).
        backup: include `BackupAndRestore`.
        csv: include `CSVLogger`.
        nan_checkpoint: include `StopOnNaN`.

    Returns:
        A list of callbacks (the `StopOnNaN` one is last, when present).

    Example:

        >>> import tempfile
        >>> from kerasbig.training import run_callbacks
        >>> [type(c).__name__ for c in run_callbacks(tempfile.mkdtemp())]
        ['BackupAndRestore', 'CSVLogger', 'StopOnNaN']
    """
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _CURRENT_RUN.update(output_dir=output_dir, resumable=backup)
    callbacks = []
    if backup:
        callbacks.append(
            keras.callbacks.BackupAndRestore(str(output_dir / "backup"))
        )
    if csv:
        resuming = (output_dir / "backup").exists()
        callbacks.append(
            keras.callbacks.CSVLogger(
                str(output_dir / "log.csv"), append=resuming
            )
        )
    if nan_checkpoint:
        callbacks.append(StopOnNaN(output_dir / "last_good.keras"))
    return callbacks


def progress_verbosity():
    """`fit`'s `verbose` for a recipe run: a progress bar (1) on a
    terminal, a line per epoch (2) when stdout goes to a log file, where
    bars would write a line per step.

    Example:

        >>> from kerasbig.training import progress_verbosity
        >>> progress_verbosity() in (1, 2)
        True
    """
    return 1 if sys.stdout.isatty() else 2


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    return value


def write_json(path, data):
    """Writes `data` (NumPy values allowed) as indented JSON, atomically.

    Example:

        >>> import json, os, tempfile
        >>> import numpy as np
        >>> from kerasbig.training import write_json
        >>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
        >>> write_json(path, {"accuracy": np.float32(0.5)})
        >>> with open(path) as file:
        ...     json.load(file)
        {'accuracy': 0.5}
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(_plain(data), indent=2) + "\n")
    os.replace(partial, path)


def start_run_folder(output_dir, config):
    """Claims `output_dir` for a run with `config` and says whether the
    run resumes an unfinished one.

    The folder keeps `config.json` (every flag's value; written now) while
    a run is unfinished; `write_report`'s `metrics.json` marks it
    finished, and a folder that holds nothing else (a run stopped before
    training, e.g. by bad data) holds no run. Run again with the same
    flags, an unfinished run resumes (its
    `BackupAndRestore` state, its finished phases); a finished one starts
    over (its old `metrics.json` is removed now, so that a killed rerun is
    not taken for finished). An unfinished run with other flags stops
    with one line naming them: resuming it with them would mix two runs.
    The distribution flags may change (`DistributeConfig` and
    `ModelParallelConfig`: a run may resume on other ports, machines,
    devices or meshes).

    Args:
        output_dir: the run folder (created if needed).
        config: the run's config dataclass.

    Returns:
        True when an unfinished run with the same flags is resumed.

    Example:

        >>> import dataclasses, os, tempfile
        >>> from kerasbig.training import start_run_folder
        >>> @dataclasses.dataclass
        ... class Config:
        ...     epochs: int = 3
        >>> folder = tempfile.mkdtemp()
        >>> start_run_folder(folder, Config())
        False
        >>> os.mkdir(os.path.join(folder, "backup"))  # killed in training
        >>> start_run_folder(folder, Config())  # the same command
        True
        >>> start_run_folder(folder, Config(epochs=5))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ... (--epochs 3 there, 5 now); ...
        >>> with open(os.path.join(folder, "metrics.json"), "w") as file:
        ...     _ = file.write("{}")  # what write_report leaves: finished
        >>> start_run_folder(folder, Config(epochs=5))  # a new run
        False
    """
    folder = pathlib.Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    settings = _plain(dataclasses.asdict(config))
    # Neither the folder nor where the run is spread (a resumed run may
    # use other ports, machines or devices) changes what it computes.
    for name in ("output_dir", *DISTRIBUTION_FLAGS):
        settings.pop(name, None)
    claimed = folder / "config.json"
    report = folder / "metrics.json"
    # A run that stopped before writing anything (bad data, offline) left
    # nothing to resume.
    unfinished = (
        claimed.exists()
        and not report.exists()
        and any(path.name != "config.json" for path in folder.iterdir())
    )
    if unfinished:
        before = json.loads(claimed.read_text())
        changed = [
            f"--{key.replace('_', '-')} {before.get(key)} there, "
            f"{settings.get(key)} now"
            for key in sorted(set(before) | set(settings))
            if before.get(key) != settings.get(key)
        ]
        if changed:
            raise ValueError(
                f"{folder} holds an unfinished run with other flags "
                f"({'; '.join(changed)}); run the same command to resume "
                "it, or pass another --output-dir"
            )
    if report.exists():
        report.unlink()
    write_json(claimed, settings)
    return unfinished


class Run(typing.NamedTuple):
    """What `start_run` set up."""

    strategy: object
    """Build and compile the model inside its `scope()`."""
    output_dir: pathlib.Path
    """This process's run folder (`<output_dir>/worker-<index>` on
    workers other than the chief)."""
    distribution: dict
    """`kerasbig.distribute.describe` of the strategy, for the report."""
    resuming: bool
    """Whether an unfinished run with the same flags is resumed
    (`start_run_folder`)."""


def start_run(config, splits_batches=True, layout_model=None):
    """Starts a recipe run from its config: `start_distribution` with its
    `DistributeConfig` flags, `batch_size` (when it has one) and
    `output_dir`, then `start_run_folder`. Every recipe's `main` begins
    with `parse_config` and this.

    Args:
        config: a config dataclass with `DistributeConfig`'s fields and
            `output_dir`.
        splits_batches: see `start_distribution`.
        layout_model: see `start_distribution` (`--strategy
            model_parallel` needs it).

    Returns:
        A `Run`: `(strategy, output_dir, distribution, resuming)`.

    Example:

        >>> import tempfile
        >>> from kerasbig.training import TrainingConfig, start_run
        >>> config = TrainingConfig(strategy="none",
        ...                         output_dir=tempfile.mkdtemp())
        >>> run = start_run(config)
        >>> run.distribution["replicas"], run.resuming
        (1, False)
    """
    distribution = start_distribution(
        **config.distribution_options(),
        batch_size=getattr(config, "batch_size", None),
        output_dir=config.output_dir,
        splits_batches=splits_batches,
        layout_model=layout_model,
    )
    output_dir = pathlib.Path(distribution.output_dir)
    resuming = start_run_folder(output_dir, config)
    return Run(
        distribution.strategy, output_dir, distribution.summary, resuming
    )


REPORT_RESULTS = ("epochs", "train_seconds", "examples")
"""Results every report carries besides the recipe's own scores."""


def write_report(
    output_dir,
    *,
    recipe,
    config,
    headline,
    results,
    distribution=None,
    summary=None,
):
    """Writes `<output_dir>/metrics.json`, the one report schema of
    kerasbig's recipes, and prints the run's one-line summary.

    The report holds `recipe`, `kerasbig_version`, `backend`,
    `distribution` (`kerasbig.distribute.describe` of the strategy, or
    None), `config` (every flag's value), `headline` (`{"name", "value"}`:
    the score the summary line shows), then `results`: `epochs` (passes
    over the training data in all, summed over phases and seeds),
    `train_seconds`, `examples` (per split) and the recipe's own scores.

    Args:
        output_dir: the run folder.
        recipe: the recipe's name.
        config: the run's config dataclass (or a dict of its values).
        headline: `(name, value)` of the run's main score.
        results: a dict with `REPORT_RESULTS` and any other results.
        distribution: `Distribution.summary` of `start_distribution`.
        summary: more words for the summary line (e.g. other scores).

    Returns:
        The report, a dict.

    Example:

        >>> import json, os, tempfile
        >>> from kerasbig.training import write_report
        >>> folder = tempfile.mkdtemp()
        >>> report = write_report(  # doctest: +ELLIPSIS
        ...     folder, recipe="demo", config={"epochs": 2},
        ...     headline=("test_accuracy", 0.5), results={
        ...         "epochs": 2, "train_seconds": 1.5,
        ...         "examples": {"train": 8, "test": 4}})
        demo: test accuracy 0.5; outputs in ...
        >>> with open(os.path.join(folder, "metrics.json")) as file:
        ...     json.load(file)["headline"]
        {'name': 'test_accuracy', 'value': 0.5}
    """
    missing = [key for key in REPORT_RESULTS if key not in results]
    if missing:
        raise ValueError(
            f"write_report: `results` lacks {missing} (every report has "
            f"{list(REPORT_RESULTS)}). Received keys: {sorted(results)}"
        )
    name, value = headline
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    report = {
        "recipe": recipe,
        "kerasbig_version": __version__,
        "backend": keras.backend.backend(),
        "distribution": distribution,
        "config": dict(config),
        "headline": {"name": name, "value": value},
        **results,
    }
    report = _plain(report)
    write_json(pathlib.Path(output_dir) / "metrics.json", report)
    words = f"{name.replace('_', ' ')} {report['headline']['value']:.4g}"
    if summary:
        words += f" ({summary})"
    print(f"{recipe}: {words}; outputs in {output_dir}", flush=True)
    return report


def _interrupted_message():
    output_dir = _CURRENT_RUN.get("output_dir")
    if output_dir is None:
        return (
            "interrupted before training started; run the same command "
            "again to start over"
        )
    log = pathlib.Path(output_dir) / "log.csv"
    finished = 0
    if log.exists():
        finished = max(len(log.read_text().strip().splitlines()) - 1, 0)
    epoch = finished + 1
    if _CURRENT_RUN.get("resumable"):
        return (
            f"interrupted in epoch {epoch}; run the same command again to "
            f"resume from epoch {epoch} (state in {output_dir}/backup)"
        )
    return (
        f"interrupted in epoch {epoch}; this training keeps no per-epoch "
        "backup, so the same command starts it over"
    )


def run_script(main, argv=None):
    """Runs a recipe's `main(argv)` as a command-line program.

    An error prints one line, `<recipe>: error: <what went wrong>`, and
    exits with status 1 (`--debug` in `argv` shows the traceback instead);
    Ctrl-C prints the epoch it stopped in and how to resume, and exits
    with status 130. Every kerasbig recipe ends with
    `if __name__ == "__main__": run_script(main)`.

    Args:
        main: a function taking the argument list (its parser should
            accept `--debug`: see `add_run_flags`).
        argv: arguments; `sys.argv[1:]` when None.

    Example:

        >>> import contextlib, io
        >>> from kerasbig.training import run_script
        >>> def main(argv):
        ...     raise ValueError("data.tsv line 3: a label is missing")
        >>> stderr = io.StringIO()
        >>> with contextlib.redirect_stderr(stderr):
        ...     try:
        ...         run_script(main, [])
        ...     except SystemExit as stop:
        ...         print(stop.code)
        1
        >>> "error: data.tsv line 3: a label is missing" in stderr.getvalue()
        True
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    program = pathlib.Path(sys.argv[0]).stem or "recipe"
    _CURRENT_RUN.clear()
    try:
        return main(argv)
    except KeyboardInterrupt:
        print(f"\n{program}: {_interrupted_message()}", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if "--debug" in argv:
            raise
        lines = [line.strip() for line in str(error).splitlines()]
        first = next((line for line in lines if line), "")
        what = first or type(error).__name__
        print(
            f"{program}: error: {what} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
