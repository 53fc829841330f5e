"""A recipe from argv to exit code: `start_run` (distribution, then the
run folder) and `run_script`, the only place where an exception becomes
an exit status."""

import dataclasses
import pathlib
import sys

from kerasbig._console import native_output_to
from kerasbig.training.distributed import start_distribution
from kerasbig.training.flags import run_flags
from kerasbig.training.run_folder import RUN_LOG
from kerasbig.training.run_folder import abandon_run_folder
from kerasbig.training.run_folder import start_run_folder


@dataclasses.dataclass
class Run:
    """What `start_run` set up. As a context manager (`with
    start_run(config) as run:`, as every recipe does), a run that stops
    before training leaves its folder as it was (`abandon_run_folder`),
    and in a kerasbig program without `--verbose` what native code writes
    to stderr meanwhile (LiteRT, the converter, XLA) goes to the run's
    `run.log` instead of the console."""

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
    created: bool = False
    """Whether `start_run` created the run folder."""
    _native_log: object = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __enter__(self):
        self._native_log = native_output_to(self.output_dir / RUN_LOG)
        self._native_log.__enter__()
        return self

    def __exit__(self, kind, error, traceback):
        self._native_log.__exit__(kind, error, traceback)
        if error is not None:
            abandon_run_folder(self.output_dir, self.created)
        return False


def start_run(config, splits_batches=True, layout_model=None):
    """Starts a recipe run from its config: `start_distribution` with its
    `DistributeConfig` flags, `batch_size` (when it has one) and
    `output_dir`, then `start_run_folder` (with `--overwrite`). Every
    recipe's `main` begins with `parse_config` and `with start_run(config)
    as run:`.

    Args:
        config: a config dataclass with `DistributeConfig`'s fields and
            `output_dir`.
        splits_batches: see `start_distribution`.
        layout_model: see `start_distribution` (`--strategy
            model_parallel` needs it).

    Returns:
        A `Run`: `(strategy, output_dir, distribution, resuming,
        created)`.

    Example:

        >>> import os, tempfile
        >>> from kerasbig.training import TrainingConfig, start_run
        >>> config = TrainingConfig(strategy="none",
        ...                         output_dir=tempfile.mkdtemp())
        >>> with start_run(config) as run:
        ...     print(run.distribution["replicas"], run.resuming)
        1 False
        >>> folder = os.path.join(tempfile.mkdtemp(), "run")
        >>> config = TrainingConfig(strategy="none", output_dir=folder)
        >>> try:
        ...     with start_run(config) as run:
        ...         raise ValueError("data.tsv: no rows")  # before training
        ... except ValueError:
        ...     os.path.exists(folder)  # left as it was: not there
        False
    """
    distribution = start_distribution(
        **config.distribution_options(),
        batch_size=getattr(config, "batch_size", None),
        output_dir=config.output_dir,
        splits_batches=splits_batches,
        layout_model=layout_model,
    )
    output_dir = pathlib.Path(distribution.output_dir)
    created = not output_dir.exists()
    resuming = start_run_folder(
        output_dir, config, overwrite=getattr(config, "overwrite", False)
    )
    return Run(
        distribution.strategy,
        output_dir,
        distribution.summary,
        resuming,
        created,
    )


def run_script(main, argv=None, program=None):
    """Runs a recipe's `main(argv)` as a command-line program.

    An error prints one line, `<recipe>: error: <what went wrong>`, and
    exits with status 1 (`--debug` in `argv` shows the traceback instead);
    Ctrl-C prints the epoch it stopped in and how to resume
    (`explain_interruption`), and exits with status 130. Every kerasbig
    recipe ends with `if __name__ == "__main__": run_script(main)`; the
    library itself only raises, so `main(argv)` called from a notebook
    raises too.

    Args:
        main: a function taking the argument list (its parser should
            accept `--debug`: see `add_run_flags`).
        argv: arguments; `sys.argv[1:]` when None.
        program: the name that starts each message (default: the
            script's file name).

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
    program = program or pathlib.Path(sys.argv[0]).stem or "recipe"
    debug = run_flags(argv).debug
    try:
        return main(argv)
    except KeyboardInterrupt as interrupt:
        message = str(interrupt) or (
            "interrupted before training started; run the same command "
            "again to start over"
        )
        print(f"\n{program}: {message}", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        lines = [line.strip() for line in str(error).splitlines()]
        first = next((line for line in lines if line), "")
        what = first or type(error).__name__
        print(
            f"{program}: error: {what} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
