"""Public test utilities: the layer conformance harness.

Use `check_layer` in your own test suite to hold a layer you wrote or
subclassed from kerasbig to the same bar as kerasbig's own layers.
"""

from kerasbig.testing.conformance import CHECKS
from kerasbig.testing.conformance import LayerCheckError
from kerasbig.testing.conformance import LayerCheckReport
from kerasbig.testing.conformance import check_layer

__all__ = ["CHECKS", "LayerCheckError", "LayerCheckReport", "check_layer"]
