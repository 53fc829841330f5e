"""The run folder of a training script: claiming it (`start_run_folder`),
the callbacks that make it resumable (`run_callbacks`), what an
interruption says (`explain_interruption`), and the report
(`write_report`, `write_json`)."""

import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import sys

import keras
import numpy as np

from kerasbig._version import __version__
from kerasbig.callbacks import StopOnNaN
from kerasbig.training.configs import DISTRIBUTION_FLAGS
from kerasbig.training.errors import RunInterrupted


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
    discard_previous_run(output_dir)  # the replaced run: training starts
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


KEPT = ".kerasbig-kept.json"
"""The entries a folder held before a run first claimed it (your data,
say): no run ever moves or deletes them."""

PREVIOUS = ".previous-run"
"""Where a replaced run's files wait until the new run trains (then they
are deleted) or fails before training (then they come back)."""

_BOOKKEEPING = ("config.json", KEPT, PREVIOUS)

RUN_LOG = "run.log"
"""What native code wrote to stderr during the run (LiteRT's and the
converter's lines), in a program without `--verbose` (`Run`)."""


def _settings(config):
    settings = _plain(dataclasses.asdict(config))
    # Neither the folder, --overwrite nor where the run is spread (a
    # resumed run may use other ports, machines or devices) changes what
    # it computes.
    for name in ("output_dir", "overwrite", *DISTRIBUTION_FLAGS):
        settings.pop(name, None)
    return settings


def _kept(folder):
    path = folder / KEPT
    return set(json.loads(path.read_text())) if path.exists() else set()


def _run_entries(folder):
    """The entries of the run in `folder`: not the bookkeeping, not the
    kept entries, not other workers' folders (each worker claims its
    own)."""
    if not folder.exists():
        return []
    kept = _kept(folder)
    return sorted(
        path
        for path in folder.iterdir()
        if path.name not in kept
        and path.name not in _BOOKKEEPING
        and not path.name.startswith("worker-")
    )


def _restore_previous(folder):
    """Puts a replaced run's files back (its successor never trained)."""
    previous = folder / PREVIOUS
    for path in sorted(previous.iterdir()):
        target = folder / path.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        path.rename(target)
    previous.rmdir()


def discard_previous_run(output_dir):
    """Deletes the files of the run this one replaced (`start_run_folder`
    set them aside): called when training starts (`run_callbacks`) and by
    `write_report`."""
    shutil.rmtree(pathlib.Path(output_dir) / PREVIOUS, ignore_errors=True)


def start_run_folder(output_dir, config, overwrite=False):
    """Claims `output_dir` for a run with `config` and says whether the
    run resumes an unfinished one.

    The folder keeps `config.json` (every flag's value); `write_report`'s
    `metrics.json` marks the run finished. Run again:

    - with the same flags, an unfinished run resumes (its
      `BackupAndRestore` state, its finished phases) and a finished one
      starts over;
    - with other flags, a run (finished or not) is refused with one line
      naming the flags that differ, unless `overwrite` (`--overwrite`),
      which starts over.

    A run that starts over never mixes with the one before: that run's
    files are set aside now and deleted once the new run trains
    (`run_callbacks`), so no file of it survives in a folder whose
    `metrics.json` is new; if the new run fails before training
    (`abandon_run_folder`, which `Run` calls when used as a context
    manager) they come back. Entries the folder held before any run
    claimed it are never touched. The distribution flags may change
    (`DistributeConfig` and `ModelParallelConfig`: a run may resume on
    other ports, machines, devices or meshes).

    Args:
        output_dir: the run folder (created if needed).
        config: the run's config dataclass.
        overwrite: replace a run with other flags instead of refusing.

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
        >>> start_run_folder(folder, Config(epochs=5), overwrite=True)
        False
    """
    folder = pathlib.Path(output_dir)
    if (folder / PREVIOUS).exists():
        if _run_entries(folder):  # its successor trained
            discard_previous_run(folder)
        else:  # its successor stopped before training
            _restore_previous(folder)
    settings = _settings(config)
    claimed = folder / "config.json"
    entries = _run_entries(folder)
    if claimed.exists() and entries:
        before = json.loads(claimed.read_text())
        finished = (folder / "metrics.json").exists()
        changed = [
            f"--{key.replace('_', '-')} {before.get(key)} there, "
            f"{settings.get(key)} now"
            for key in sorted(set(before) | set(settings))
            if before.get(key) != settings.get(key)
        ]
        if changed and not overwrite:
            what = "a finished run" if finished else "an unfinished run"
            how = "" if finished else "run the same command to resume it, "
            raise ValueError(
                f"{folder} holds {what} with other flags "
                f"({'; '.join(changed)}); {how}pass --overwrite to replace "
                "it, or pass another --output-dir"
            )
        if not finished and not changed and not overwrite:
            return True
    elif not claimed.exists() and entries:
        # Not a run's folder: what it holds is not ours to move.
        write_json(folder / KEPT, sorted(path.name for path in entries))
        entries = []
    folder.mkdir(parents=True, exist_ok=True)
    if claimed.exists():
        entries.append(claimed)
    if entries:
        previous = folder / PREVIOUS
        previous.mkdir()
        for path in entries:
            path.rename(previous / path.name)
    write_json(claimed, settings)
    return False


def abandon_run_folder(output_dir, created):
    """Leaves `output_dir` as it was before `start_run_folder` claimed it,
    when the run stopped before training (the folder holds nothing but
    the claim): the claim goes, a replaced run's files come back, and a
    folder the claim `created` is removed. Does nothing once the run has
    trained.

    Example:

        >>> import dataclasses, os, tempfile
        >>> from kerasbig.training import abandon_run_folder
        >>> from kerasbig.training import start_run_folder
        >>> @dataclasses.dataclass
        ... class Config:
        ...     epochs: int = 3
        >>> folder = os.path.join(tempfile.mkdtemp(), "run")
        >>> start_run_folder(folder, Config())
        False
        >>> abandon_run_folder(folder, created=True)  # bad data, say
        >>> os.path.exists(folder)
        False
    """
    folder = pathlib.Path(output_dir)
    if not folder.exists():
        return
    if any(path.name != RUN_LOG for path in _run_entries(folder)):
        return  # it trained
    (folder / RUN_LOG).unlink(missing_ok=True)
    (folder / "config.json").unlink(missing_ok=True)
    if (folder / PREVIOUS).exists():
        _restore_previous(folder)
    if created and not any(path.name != KEPT for path in folder.iterdir()):
        shutil.rmtree(folder)


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
    details=None,
):
    """Writes `<output_dir>/metrics.json`, the one report schema of
    kerasbig's recipes, and `report.md`, the same for people, and prints
    the run's one-line summary.

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
        details: Markdown (tables, say) that `report.md` shows after the
            headline and that is printed before the summary line.

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
    discard_previous_run(output_dir)
    folder = pathlib.Path(output_dir)
    (folder / "report.md").write_text(_markdown(report, details))
    write_json(folder / "metrics.json", report)
    words = f"{name.replace('_', ' ')} {report['headline']['value']:.4g}"
    if summary:
        words += f" ({summary})"
    if details:
        print(f"\n{details.strip()}\n", flush=True)
    print(f"{recipe}: {words}; outputs in {output_dir}", flush=True)
    return report


def _markdown(report, details):
    """`report.md`: the headline, any details, the scalar results and the
    flags, for people (metrics.json holds everything)."""
    headline = report["headline"]
    lines = [
        f"# {report['recipe']}",
        "",
        f"**{headline['name'].replace('_', ' ')}: {headline['value']:.4g}** "
        f"(kerasbig {report['kerasbig_version']}, {report['backend']} "
        "backend)",
        "",
    ]
    if details:
        lines += [details.strip(), ""]
    scalars = [
        (key, value)
        for key, value in report.items()
        if key not in ("recipe", "kerasbig_version", "backend", "headline")
        and isinstance(value, (int, float, str))
        and not isinstance(value, bool)
    ]
    lines += ["## Results", "", "| result | value |", "| --- | --- |"]
    lines += [
        f"| {key} | {value:.4g} |"
        if isinstance(value, float)
        else f"| {key} | {value} |"
        for key, value in scalars
    ]
    examples = report.get("examples") or {}
    if examples:
        lines.append(
            "| examples | "
            + ", ".join(f"{split} {n}" for split, n in examples.items())
            + " |"
        )
    lines += ["", "## Flags", "", "| flag | value |", "| --- | --- |"]
    lines += [
        f"| --{key.replace('_', '-')} | {value} |"
        for key, value in report["config"].items()
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def explain_interruption(output_dir, resumable=True):
    """Turns Ctrl-C inside the block (a `fit` into the run folder
    `output_dir`) into `RunInterrupted`, whose message names the epoch it
    stopped in (from `log.csv`) and how to resume: the same command, from
    the `BackupAndRestore` state that `run_callbacks` keeps when
    `resumable`. `run_script` prints it and exits with status 130.

    Example:

        >>> import tempfile
        >>> from kerasbig.training import explain_interruption
        >>> try:
        ...     with explain_interruption(tempfile.mkdtemp()):
        ...         raise KeyboardInterrupt
        ... except KeyboardInterrupt as stop:
        ...     print(str(stop).split(";")[0])
        interrupted in epoch 1
    """
    try:
        yield
    except RunInterrupted:
        raise
    except KeyboardInterrupt as interrupt:
        log = pathlib.Path(output_dir) / "log.csv"
        finished = 0
        if log.exists():
            finished = max(len(log.read_text().strip().splitlines()) - 1, 0)
        epoch = finished + 1
        if resumable:
            message = (
                f"interrupted in epoch {epoch}; run the same command again "
                f"to resume from epoch {epoch} (state in {output_dir}/backup)"
            )
        else:
            message = (
                f"interrupted in epoch {epoch}; this training keeps no "
                "per-epoch backup, so the same command starts it over"
            )
        raise RunInterrupted(message) from interrupt
