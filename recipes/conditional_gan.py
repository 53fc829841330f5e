"""Class-conditional GAN on labelled images, trained with `model.fit()`.

The code is `kerasbig.recipes.conditional_gan`; this launcher runs it from a
checkout as `python -m kerasbig.recipes.conditional_gan` does.
"""

import _launch

_launch.run("conditional_gan")
