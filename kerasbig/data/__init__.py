"""Dataset loaders: embedded sets now; tfds, local folders and TSV files
arrive with the recipes."""

from kerasbig.data.digits import load_digits

__all__ = ["load_digits"]
