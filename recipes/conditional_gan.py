"""Class-conditional GAN on labelled images, trained with `model.fit()`.

Runs the recipe `kerasbig.recipes.conditional_gan` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.conditional_gan` (flags: `--help`).
"""

import os
import runpy

# Quiet start-up, as under python -m (kerasbig._console).
os.environ["_KERASBIG_PROGRAM"] = "1"
# Runs the module as `python -m kerasbig.recipes.conditional_gan` does.
runpy.run_module(
    "kerasbig.recipes.conditional_gan", run_name="__main__", alter_sys=True
)
