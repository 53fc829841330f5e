"""A quiet start for kerasbig's command-line programs.

`python -m kerasbig.recipes.<name>` and `python -m kerasbig.export` (and
the launchers in a checkout's `recipes/`) would print TensorFlow's C++
start-up lines (oneDNN, CUDA stubs, CPU features: absl writes them before
any log level applies) and its Python warnings. For those programs only,
and unless `--verbose` is given, the import of Keras runs with the
process's stderr set aside (replayed if the import fails), and
TensorFlow's later C++ and Python logging is limited to errors. A program
that merely imports kerasbig is never affected.

Asked only for `--help`, such a program prints its flags without loading
Keras at all (`HELP_ONLY`): kerasbig's package imports then hold back
everything that needs Keras, and each recipe reads its flags
(`kerasbig.training.answer_help`) before it imports Keras.

Standard library only: it runs before Keras is imported.
"""

import contextlib
import importlib.util
import io
import logging
import os
import sys
import tempfile

PROGRAM_ENV = "_KERASBIG_PROGRAM"
"""Set by the checkout launchers (`recipes/<name>.py`) before they run a
recipe module, which `python -m` shows in `sys.orig_argv` instead."""

_PROGRAMS = ("kerasbig.recipes", "kerasbig.export")


def launched_as_program(orig_argv=None, environ=None):
    """Whether this process is one of kerasbig's command-line programs."""
    orig_argv = list(
        getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    )
    environ = os.environ if environ is None else environ
    if environ.get(PROGRAM_ENV):
        return True
    for flag, module in zip(orig_argv, orig_argv[1:], strict=False):
        if flag == "-m" and module.startswith(_PROGRAMS):
            return True
    return False


def help_requested(argv=None, orig_argv=None, environ=None):
    """Whether this process is one of kerasbig's command-line programs
    asked for its `--help` (or `-h`), which argparse answers and exits."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        argv = argv[: argv.index("--")]
    asked = "-h" in argv or "--help" in argv
    return asked and launched_as_program(orig_argv, environ)


HELP_ONLY = help_requested()
"""True in a kerasbig program run with `--help`: nothing needs Keras."""

DEFER = HELP_ONLY or launched_as_program()
"""True in a kerasbig program until its flags are parsed (`answer_help`,
which then calls `load_keras`): kerasbig's packages hold back what needs
Keras, so that a flag error is one line in a fraction of a second."""


def load_keras():
    """Ends the deferral of a program whose flags parsed: imports Keras
    (and TensorFlow, see `_QuietImport.preload_tensorflow`) with stderr
    set aside, as `import kerasbig` does in any other process."""
    global DEFER
    DEFER = False
    quiet_import.start()
    try:
        quiet_import.preload_tensorflow()
        import keras  # noqa: F401
    except BaseException:
        quiet_import.finish(failed=True)
        raise
    quiet_import.finish()


def load_deferred(package, name):
    """The body of a package's module `__getattr__` (PEP 562) while its
    heavy imports are held back (`DEFER`): runs the package's `__init__`
    again without deferral, then returns `name` from it."""
    missing = AttributeError(f"module {package!r} has no attribute {name!r}")
    if HELP_ONLY or name.startswith("__"):
        raise missing
    # `from package import submodule` asks here first: let Python import
    # the submodule itself.
    if importlib.util.find_spec(f"{package}.{name}") is not None:
        raise missing
    if DEFER:
        load_keras()
    module = importlib.reload(sys.modules[package])
    try:
        return module.__dict__[name]
    except KeyError:
        raise missing from None


class _QuietImport:
    """Sets the process's stderr (file descriptor 2) aside while Keras and
    TensorFlow load; what they wrote is replayed if the import fails."""

    def __init__(self):
        self.active = False

    def start(self):
        if not quiet() or "tensorflow" in sys.modules:
            return
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            # Closed in finish(), after the import it covers.
            self._sink = tempfile.TemporaryFile()  # noqa: SIM115
            os.dup2(self._sink.fileno(), 2)
        except OSError:  # no real file descriptor 2: nothing to quiet
            return
        self.active = True

    def preload_tensorflow(self):
        """Imports TensorFlow now, inside the quiet window, when it is
        installed: on JAX and PyTorch `keras.utils.set_random_seed` (and
        LiteRT export) import it later, and its start-up lines, which
        come before any log level applies, would reach the console."""
        if not self.active or "tensorflow" in sys.modules:
            return
        if importlib.util.find_spec("tensorflow") is None:
            return
        import tensorflow  # noqa: F401

    def finish(self, failed=False):
        if not self.active:
            return
        self.active = False
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        if failed:
            self._sink.seek(0)
            sys.stderr.write(self._sink.read().decode(errors="replace"))
        self._sink.close()
        for name in ("tensorflow", "absl"):
            logging.getLogger(name).setLevel(logging.ERROR)


quiet_import = _QuietImport()


def quiet():
    """Whether this process is a kerasbig program run without
    `--verbose`: native chatter is kept off its console."""
    return "--verbose" not in sys.argv and launched_as_program()


@contextlib.contextmanager
def native_output_to(path):
    """In a kerasbig program without `--verbose` (`quiet()`): what native
    code writes to the process's stderr inside the block (LiteRT's
    "Created TensorFlow Lite XNNPACK delegate" lines, the converter's
    settings, XLA's notes) is appended to the file `path`, while Python's
    own `sys.stderr` (warnings, error lines) still reaches the console.
    Elsewhere, and where stderr is no real file, it does nothing."""
    if not quiet():
        yield
        return
    try:
        sys.stderr.flush()
        console = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    log = open(path, "ab")  # noqa: SIM115  (closed below)
    saved = sys.stderr
    os.dup2(log.fileno(), 2)
    sys.stderr = io.TextIOWrapper(
        os.fdopen(os.dup(console), "wb"), line_buffering=True
    )
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = saved
        os.dup2(console, 2)
        os.close(console)
        log.close()
