"""Run folders of training scripts: callbacks and result files."""

import json
import os
import pathlib
import sys

import keras
import numpy as np

from kerasbig.callbacks import StopOnNaN

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
        f"interrupted in epoch {epoch}; this run keeps no backup, so the "
        "same command starts over"
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
