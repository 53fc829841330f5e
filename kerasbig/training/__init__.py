"""What kerasbig's recipe scripts share, for your own training scripts
too: flags from a config dataclass, run folders, one report schema, and
the callbacks and scoring of generative recipes."""

from kerasbig import _console
from kerasbig.training.config import DistributeConfig
from kerasbig.training.config import ImageDataConfig
from kerasbig.training.config import ModelParallelConfig
from kerasbig.training.config import TrainingConfig
from kerasbig.training.config import add_run_flags
from kerasbig.training.config import answer_help
from kerasbig.training.config import bounded
from kerasbig.training.config import option
from kerasbig.training.config import parse_config
from kerasbig.training.config import parse_flags

# A program's --help needs its flags only (see kerasbig._console).
if not _console.HELP_ONLY:
    from kerasbig.training.accumulation import PerUpdateSchedule
    from kerasbig.training.accumulation import accumulate_gradients
    from kerasbig.training.distributed import Distribution
    from kerasbig.training.distributed import add_distribute_flags
    from kerasbig.training.distributed import start_distribution
    from kerasbig.training.fit import check_export_backend
    from kerasbig.training.fit import export_litert
    from kerasbig.training.fit import fit_to_folder
    from kerasbig.training.fit import higher_is_better
    from kerasbig.training.fit import read_log
    from kerasbig.training.fit import resolve_jit_compile
    from kerasbig.training.fit import save_curves
    from kerasbig.training.fit import set_precision
    from kerasbig.training.generative import fit_generative
    from kerasbig.training.generative import generative_callbacks
    from kerasbig.training.generative import image_frechet_distance
    from kerasbig.training.generative import train_feature_classifier
    from kerasbig.training.run import Run
    from kerasbig.training.run import progress_verbosity
    from kerasbig.training.run import run_callbacks
    from kerasbig.training.run import run_script
    from kerasbig.training.run import start_run
    from kerasbig.training.run import start_run_folder
    from kerasbig.training.run import write_json
    from kerasbig.training.run import write_report

__all__ = [
    "DistributeConfig",
    "Distribution",
    "ImageDataConfig",
    "ModelParallelConfig",
    "PerUpdateSchedule",
    "Run",
    "accumulate_gradients",
    "add_run_flags",
    "answer_help",
    "add_distribute_flags",
    "bounded",
    "TrainingConfig",
    "check_export_backend",
    "export_litert",
    "fit_generative",
    "fit_to_folder",
    "generative_callbacks",
    "higher_is_better",
    "image_frechet_distance",
    "option",
    "parse_config",
    "parse_flags",
    "read_log",
    "resolve_jit_compile",
    "progress_verbosity",
    "run_callbacks",
    "run_script",
    "save_curves",
    "set_precision",
    "start_distribution",
    "start_run",
    "start_run_folder",
    "train_feature_classifier",
    "write_json",
    "write_report",
]
