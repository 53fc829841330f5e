"""Transfer learning with VGG16: a frozen base and a new head, then fine-tuning.

Runs the recipe `kerasbig.recipes.vgg16_transfer` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.vgg16_transfer` (flags: `--help`).
"""

import os
import runpy

# Quiet start-up, as under python -m (kerasbig._console).
os.environ["_KERASBIG_PROGRAM"] = "1"
# Runs the module as `python -m kerasbig.recipes.vgg16_transfer` does.
runpy.run_module(
    "kerasbig.recipes.vgg16_transfer", run_name="__main__", alter_sys=True
)
