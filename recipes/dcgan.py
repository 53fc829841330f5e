"""DCGAN (or WGAN-GP) on images, trained with plain `model.fit()`.

Runs the recipe `kerasbig.recipes.dcgan` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.dcgan` (flags: `--help`).
"""

import os
import runpy

# Quiet start-up, as under python -m (kerasbig._console).
os.environ["_KERASBIG_PROGRAM"] = "1"
# Runs the module as `python -m kerasbig.recipes.dcgan` does.
runpy.run_module("kerasbig.recipes.dcgan", run_name="__main__", alter_sys=True)
