"""Class-conditional GAN on labelled images, trained with `model.fit()`.

Runs the recipe `kerasbig.recipes.conditional_gan` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.conditional_gan` (flags: `--help`).
"""

from kerasbig.recipes.conditional_gan import main

if __name__ == "__main__":
    main()
