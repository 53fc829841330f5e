"""Variational autoencoder on images, trained with plain `model.fit()`.

Runs the recipe `kerasbig.recipes.vae` from a checkout; after
`pip install kerasbig[recipes]` the same code runs as
`python -m kerasbig.recipes.vae` (flags: `--help`).
"""

from kerasbig.recipes.vae import main

if __name__ == "__main__":
    main()
