"""kerasbig: Keras 3 layers, models, compression and recipes for large
modern networks, on TensorFlow, JAX and PyTorch.

Importing kerasbig imports Keras and nothing heavier: optional dependencies
(tensorflow-datasets, tfmot, ai-edge-litert, scikit-learn, keras-hub) load
inside the functions that need them.
"""

# Command-line programs (python -m kerasbig.recipes.<name>) start quiet;
# a program that imports kerasbig is never affected (see _console).
from kerasbig._console import quiet_import as _quiet_import

_quiet_import.start()
try:
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
    from kerasbig._version import __version__
except BaseException:
    _quiet_import.finish(failed=True)
    raise
_quiet_import.finish()

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
