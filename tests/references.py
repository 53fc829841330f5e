"""The reference libraries the parity tests compare against (keras-hub,
PyTorch and PyTorch Geometric, ...), imported when installed.

A test module takes what it needs at import, e.g.
`pyg_nn = reference("torch_geometric.nn")`, and marks only the tests
that use it with `@requires(pyg_nn, "torch-geometric")`: without the
library those tests skip with a reason, and the module's other tests
(conformance, bad arguments) still run.
"""

import importlib

import pytest


def reference(module):
    """The module `module`, or None when it (or what it needs) is not
    installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def requires(module, package):
    """A mark that skips a test when `module` (from `reference`) is
    missing; `package` is what to `pip install`."""
    return pytest.mark.skipif(
        module is None,
        reason=f"the reference library is missing: pip install {package}",
    )
