"""Text classification: LSTM, BiLSTM, CNN (Kim 2014) or transformer.

Runs the recipe `kerasbig.recipes.text_classification` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.text_classification` (flags: `--help`).
"""

import os
import runpy

# Quiet start-up, as under python -m (kerasbig._console).
os.environ["_KERASBIG_PROGRAM"] = "1"
# Runs the module as `python -m kerasbig.recipes.text_classification` does.
runpy.run_module(
    "kerasbig.recipes.text_classification", run_name="__main__", alter_sys=True
)
