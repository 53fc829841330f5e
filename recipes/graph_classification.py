"""Graph classification with GIN on batches of small graphs.

The code is `kerasbig.recipes.graph_classification`; this launcher runs it
from a checkout as `python -m kerasbig.recipes.graph_classification` does.
"""

import _launch

_launch.run("graph_classification")
