"""What kerasbig's recipe scripts share, for your own training scripts
too, one room per concern:

- `flags`: config dataclass → command-line flags (`option`,
  `parse_config`, `answer_help`, `run_flags`), standard library only;
- `configs`: the config dataclasses recipes mix in (`TrainingConfig`,
  `DistributeConfig`, `ModelParallelConfig`, `ImageDataConfig`);
- `distributed`: starting the strategy a config names;
- `run_folder`: claiming, resuming and reporting a run folder;
- `fit`, `generative`, `accumulation`: training into a run folder;
- `run`: argv → run → exit status (`start_run`, `run_script`), the only
  place where an exception becomes an exit;
- `errors`, `requirements`: what a run raises, and the dependencies it
  checks at the door (standard library, like `flags` and `configs`).
"""

from kerasbig import _console
from kerasbig.training.configs import DistributeConfig
from kerasbig.training.configs import ImageDataConfig
from kerasbig.training.configs import ModelParallelConfig
from kerasbig.training.configs import RunConfig
from kerasbig.training.configs import TrainingConfig
from kerasbig.training.errors import RunInterrupted
from kerasbig.training.errors import TrainingStopped
from kerasbig.training.flags import add_run_flags
from kerasbig.training.flags import answer_help
from kerasbig.training.flags import option
from kerasbig.training.flags import parse_config
from kerasbig.training.flags import run_flags
from kerasbig.training.requirements import check_dependencies

# A program's --help needs its flags only (see kerasbig._console).
if not _console.DEFER:
    from kerasbig.training.accumulation import ApplyLeftoverGradients
    from kerasbig.training.accumulation import PerUpdateSchedule
    from kerasbig.training.accumulation import accumulate_gradients
    from kerasbig.training.distributed import Distribution
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
    from kerasbig.training.run import run_script
    from kerasbig.training.run import start_run
    from kerasbig.training.run_folder import abandon_run_folder
    from kerasbig.training.run_folder import explain_interruption
    from kerasbig.training.run_folder import progress_verbosity
    from kerasbig.training.run_folder import run_callbacks
    from kerasbig.training.run_folder import start_run_folder
    from kerasbig.training.run_folder import write_json
    from kerasbig.training.run_folder import write_report
else:

    def __getattr__(name):  # a program before its flags parsed
        return _console.load_deferred(__name__, name)


__all__ = [
    "ApplyLeftoverGradients",
    "DistributeConfig",
    "Distribution",
    "ImageDataConfig",
    "ModelParallelConfig",
    "PerUpdateSchedule",
    "Run",
    "RunConfig",
    "RunInterrupted",
    "TrainingConfig",
    "TrainingStopped",
    "abandon_run_folder",
    "accumulate_gradients",
    "add_run_flags",
    "answer_help",
    "check_dependencies",
    "check_export_backend",
    "explain_interruption",
    "export_litert",
    "fit_generative",
    "fit_to_folder",
    "generative_callbacks",
    "higher_is_better",
    "image_frechet_distance",
    "option",
    "parse_config",
    "progress_verbosity",
    "read_log",
    "resolve_jit_compile",
    "run_callbacks",
    "run_flags",
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
