"""Quick start: train a small CNN on the embedded digits, end to end.

Runs the recipe `kerasbig.recipes.quickstart` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.quickstart` (flags: `--help`).
"""

from kerasbig.recipes.quickstart import main

if __name__ == "__main__":
    main()
