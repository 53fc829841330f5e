"""Node classification on a Planetoid citation graph with GCN or GAT.

Runs the recipe `kerasbig.recipes.node_classification` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.node_classification` (flags: `--help`).
"""

from kerasbig.recipes.node_classification import main

if __name__ == "__main__":
    main()
