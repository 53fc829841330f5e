"""Dataset loaders: embedded digits and Nations triples, tfds and folder
image sets, text classification sets (tfds, TSV/CSV, folders) with their
pipelines, verified downloads into Keras's cache folder, and in-memory
arrays as batches reshuffled every epoch."""

from kerasbig.data.batches import ArrayBatches
from kerasbig.data.bundled_graphs import nations_folder
from kerasbig.data.digits import load_digits
from kerasbig.data.digits import stratified_split
from kerasbig.data.download import data_folder
from kerasbig.data.download import fetch_files
from kerasbig.data.images import ImageData
from kerasbig.data.images import load_image_data
from kerasbig.data.text import TextData
from kerasbig.data.text import load_text_data
from kerasbig.data.text import text_dataset

__all__ = [
    "ArrayBatches",
    "ImageData",
    "TextData",
    "data_folder",
    "fetch_files",
    "load_digits",
    "load_image_data",
    "load_text_data",
    "nations_folder",
    "stratified_split",
    "text_dataset",
]
