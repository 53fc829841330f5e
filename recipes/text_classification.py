"""Text classification: LSTM, BiLSTM, CNN (Kim 2014) or transformer.

Runs the recipe `kerasbig.recipes.text_classification` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.text_classification` (flags: `--help`).
"""

from kerasbig.recipes.text_classification import main

if __name__ == "__main__":
    main()
