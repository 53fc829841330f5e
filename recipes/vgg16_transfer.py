"""Transfer learning with VGG16: a frozen base and a new head, then fine-tuning.

The code is `kerasbig.recipes.vgg16_transfer`; this launcher runs it from a
checkout as `python -m kerasbig.recipes.vgg16_transfer` does.
"""

import _launch

_launch.run("vgg16_transfer")
