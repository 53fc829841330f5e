"""What kerasbig's recipe scripts share, for your own training scripts
too: flags from a config dataclass, run-folder callbacks and result files,
and the callbacks and scoring of generative recipes."""

from kerasbig.training.config import option
from kerasbig.training.config import parse_config
from kerasbig.training.generative import generative_callbacks
from kerasbig.training.generative import image_frechet_distance
from kerasbig.training.generative import train_feature_classifier
from kerasbig.training.run import run_callbacks
from kerasbig.training.run import write_json

__all__ = [
    "generative_callbacks",
    "image_frechet_distance",
    "option",
    "parse_config",
    "run_callbacks",
    "train_feature_classifier",
    "write_json",
]
