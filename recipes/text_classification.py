"""Text classification: LSTM, BiLSTM, CNN (Kim 2014) or transformer.

Runs the recipe `kerasbig.recipes.text_classification` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.text_classification` (flags: `--help`).
"""

import runpy

# Runs the module as `python -m kerasbig.recipes.text_classification` does.
runpy.run_module(
    "kerasbig.recipes.text_classification", run_name="__main__", alter_sys=True
)
