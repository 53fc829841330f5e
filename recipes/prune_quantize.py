"""Prune and quantize a CNN, export it to LiteRT, and report what it cost.

The code is `kerasbig.recipes.prune_quantize`; this launcher runs it from a
checkout as `python -m kerasbig.recipes.prune_quantize` does.
"""

import _launch

_launch.run("prune_quantize")
