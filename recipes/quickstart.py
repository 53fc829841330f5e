"""Quick start: train a small CNN on the embedded digits, end to end.

The code is `kerasbig.recipes.quickstart`; this launcher runs it from a
checkout as `python -m kerasbig.recipes.quickstart` does.
"""

import _launch

_launch.run("quickstart")
