"""DCGAN (or WGAN-GP) on images, trained with plain `model.fit()`.

Runs the recipe `kerasbig.recipes.dcgan` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.dcgan` (flags: `--help`).
"""

import runpy

# Runs the module as `python -m kerasbig.recipes.dcgan` does.
runpy.run_module("kerasbig.recipes.dcgan", run_name="__main__", alter_sys=True)
