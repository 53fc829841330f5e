"""Run folders of training scripts: callbacks and result files."""

import json
import os
import pathlib
import sys

import keras
import numpy as np

from kerasbig.callbacks import StopOnNaN


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
