"""Graph classification with GIN on batches of small graphs.

Runs the recipe `kerasbig.recipes.graph_classification` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.graph_classification` (flags: `--help`).
"""

from kerasbig.recipes.graph_classification import main

if __name__ == "__main__":
    main()
