"""Prune and quantize a CNN, export it to LiteRT, and report what it cost.

Runs the recipe `kerasbig.recipes.prune_quantize` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.prune_quantize` (flags: `--help`).
"""

from kerasbig.recipes.prune_quantize import main

if __name__ == "__main__":
    main()
