"""DCGAN (or WGAN-GP) on images, trained with plain `model.fit()`.

The code is `kerasbig.recipes.dcgan`; this launcher runs it from a
checkout as `python -m kerasbig.recipes.dcgan` does.
"""

import _launch

_launch.run("dcgan")
