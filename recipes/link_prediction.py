"""Link prediction on a knowledge graph: TransE, DistMult, ComplEx, RotatE.

The code is `kerasbig.recipes.link_prediction`; this launcher runs it
from a checkout as `python -m kerasbig.recipes.link_prediction` does.
"""

import _launch

_launch.run("link_prediction")
