"""What kerasbig's recipe scripts share, for your own training scripts
too: flags from a config dataclass, run-folder callbacks and result files,
and scoring of generated images."""

from kerasbig.training.config import parse_config
from kerasbig.training.evaluation import image_frechet_distance
from kerasbig.training.evaluation import train_feature_classifier
from kerasbig.training.run import run_callbacks
from kerasbig.training.run import write_json

__all__ = [
    "image_frechet_distance",
    "parse_config",
    "run_callbacks",
    "train_feature_classifier",
    "write_json",
]
