"""Quick start: train a small CNN on the embedded digits, end to end.

Runs the recipe `kerasbig.recipes.quickstart` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.quickstart` (flags: `--help`).
"""

import runpy

# Runs the module as `python -m kerasbig.recipes.quickstart` does.
runpy.run_module(
    "kerasbig.recipes.quickstart", run_name="__main__", alter_sys=True
)
