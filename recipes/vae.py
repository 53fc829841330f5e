"""Variational autoencoder on images, trained with plain `model.fit()`.

The code is `kerasbig.recipes.vae`; this launcher runs it from a
checkout as `python -m kerasbig.recipes.vae` does.
"""

import _launch

_launch.run("vae")
