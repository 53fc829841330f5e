"""Dataset loaders: embedded digits, tfds and folder image sets."""

from kerasbig.data.digits import load_digits
from kerasbig.data.images import ImageData
from kerasbig.data.images import load_image_data

__all__ = ["ImageData", "load_digits", "load_image_data"]
