"""Prune and quantize a CNN, export it to LiteRT, and report what it cost.

Runs the recipe `kerasbig.recipes.prune_quantize` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.prune_quantize` (flags: `--help`).
"""

import os
import runpy

# Quiet start-up, as under python -m (kerasbig._console).
os.environ["_KERASBIG_PROGRAM"] = "1"
# Runs the module as `python -m kerasbig.recipes.prune_quantize` does.
runpy.run_module(
    "kerasbig.recipes.prune_quantize", run_name="__main__", alter_sys=True
)
