"""Dataset loaders: embedded digits, tfds and folder image sets, and text
classification sets (tfds, TSV/CSV, folders) with their pipelines."""

from kerasbig.data.digits import load_digits
from kerasbig.data.digits import stratified_split
from kerasbig.data.images import ImageData
from kerasbig.data.images import load_image_data
from kerasbig.data.text import TextData
from kerasbig.data.text import load_text_data
from kerasbig.data.text import text_dataset

__all__ = [
    "ImageData",
    "TextData",
    "load_digits",
    "load_image_data",
    "load_text_data",
    "stratified_split",
    "text_dataset",
]
