"""Quick start: train a small CNN on the embedded digits, end to end.

Runs the recipe `kerasbig.recipes.quickstart` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.quickstart` (flags: `--help`).
"""

import os
import runpy

# Quiet start-up, as under python -m (kerasbig._console).
os.environ["_KERASBIG_PROGRAM"] = "1"
# Runs the module as `python -m kerasbig.recipes.quickstart` does.
runpy.run_module(
    "kerasbig.recipes.quickstart", run_name="__main__", alter_sys=True
)
