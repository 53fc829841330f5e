"""Node classification on a Planetoid citation graph with GCN or GAT.

The code is `kerasbig.recipes.node_classification`; this launcher runs it from a
checkout as `python -m kerasbig.recipes.node_classification` does.
"""

import _launch

_launch.run("node_classification")
