"""Transfer learning with VGG16: a frozen base and a new head, then fine-tuning.

Runs the recipe `kerasbig.recipes.vgg16_transfer` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.vgg16_transfer` (flags: `--help`).
"""

from kerasbig.recipes.vgg16_transfer import main

if __name__ == "__main__":
    main()
