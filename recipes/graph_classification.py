"""Graph classification with GIN on batches of small graphs.

Runs the recipe `kerasbig.recipes.graph_classification` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.graph_classification` (flags: `--help`).
"""

import os
import runpy

# Quiet start-up, as under python -m (kerasbig._console).
os.environ["_KERASBIG_PROGRAM"] = "1"
# Runs the module as `python -m kerasbig.recipes.graph_classification` does.
runpy.run_module(
    "kerasbig.recipes.graph_classification", run_name="__main__", alter_sys=True
)
