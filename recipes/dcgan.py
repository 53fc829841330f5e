"""DCGAN (or WGAN-GP) on images, trained with plain `model.fit()`.

Runs the recipe `kerasbig.recipes.dcgan` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.dcgan` (flags: `--help`).
"""

from kerasbig.recipes.dcgan import main

if __name__ == "__main__":
    main()
