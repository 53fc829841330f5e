"""kerasbig: Keras 3 layers, models, compression and recipes for large
modern networks, on TensorFlow, JAX and PyTorch.

Importing kerasbig imports Keras and nothing heavier: optional dependencies
(tensorflow-datasets, tfmot, ai-edge-litert, scikit-learn, keras-hub) load
inside the functions that need them.
"""

from kerasbig import _console
from kerasbig._version import __version__

# A program's --help prints its flags and exits: nothing else loads (see
# _console). Command-line programs (python -m kerasbig.recipes.<name>)
# start quiet; a program that imports kerasbig is never affected.
if not _console.DEFER:
    _console.quiet_import.start()
    try:
        _console.quiet_import.preload_tensorflow()
        from kerasbig import callbacks
        from kerasbig import data
        from kerasbig import distribute
        from kerasbig import export
        from kerasbig import graph
        from kerasbig import layers
        from kerasbig import metrics
        from kerasbig import models
        from kerasbig import ops
        from kerasbig import optimize
        from kerasbig import testing
        from kerasbig import training
    except BaseException:
        _console.quiet_import.finish(failed=True)
        raise
    _console.quiet_import.finish()
else:

    def __getattr__(name):  # a program before its flags parsed
        return _console.load_deferred(__name__, name)


__all__ = [
    "__version__",
    "callbacks",
    "data",
    "distribute",
    "export",
    "graph",
    "layers",
    "metrics",
    "models",
    "ops",
    "optimize",
    "testing",
    "training",
]
