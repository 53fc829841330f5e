"""Dataset loaders: tfds, local folders and TSV files, embedded sets.

Filled by the recipes work; nothing is public yet.
"""

__all__ = []
