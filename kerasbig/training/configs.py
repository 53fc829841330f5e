"""The config dataclasses recipes share: where a run is spread
(`DistributeConfig`, `ModelParallelConfig`), what every supervised recipe
takes (`TrainingConfig`) and which images it reads (`ImageDataConfig`).
Mix them into a recipe's own `Config`; `parse_config` makes the flags.

Standard library only, like `kerasbig.training.flags`.
"""

import dataclasses

from kerasbig.distribute.choices import LAYOUT_STYLES
from kerasbig.distribute.choices import MODEL_PARALLEL
from kerasbig.distribute.choices import STRATEGIES
from kerasbig.distribute.choices import parse_mesh
from kerasbig.training.flags import option

_STRATEGY_HELP = (
    "how training is spread: auto (every GPU of this machine, a TPU when "
    "configured), none, mirrored (tf.distribute over this machine's GPUs "
    "or CPUs), multiworker (tf.distribute over machines), tpu, "
    "data_parallel (JAX keras.distribution)"
)


@dataclasses.dataclass
class RunConfig:
    """The flag of every recipe's run folder besides `--output-dir`:
    `--overwrite` (see `kerasbig.training.start_run_folder`).
    `DistributeConfig`, so every recipe config, includes it.

    Example:

        >>> from kerasbig.training import RunConfig, parse_config
        >>> parse_config(RunConfig, ["--overwrite"]).overwrite
        True
    """

    overwrite: bool = option(
        False,
        "replace the run in --output-dir even when it was run with other "
        "flags (its files are deleted once this run trains)",
    )


@dataclasses.dataclass
class DistributeConfig(RunConfig):
    """Flags that choose how a recipe is distributed (see
    `kerasbig.distribute.strategy`). `TrainingConfig` includes them; mix
    it into other recipe configs.

    Example:

        >>> from kerasbig.training import DistributeConfig, parse_config
        >>> parse_config(DistributeConfig, ["--strategy", "none"]).strategy
        'none'
    """

    strategy: str = option(
        "auto",
        _STRATEGY_HELP,
        STRATEGIES,
    )
    job_addresses: str = option(
        None,
        "multi-process runs: host:port of every process, comma-separated, "
        "the coordinator (process 0) first (or "
        "KERAS_DISTRIBUTION_JOB_ADDRESSES; TF_CONFIG on TensorFlow)",
    )
    num_processes: int = option(
        None,
        "multi-process runs: number of processes "
        "(or KERAS_DISTRIBUTION_NUM_PROCESSES)",
        minimum=1,
    )
    process_id: int = option(
        None,
        "multi-process runs: this process's index, 0 = coordinator "
        "(or KERAS_DISTRIBUTION_PROCESS_ID)",
        minimum=0,
    )

    def distribution_options(self):
        """These flags as keyword arguments of `start_distribution`."""
        return {
            "strategy": self.strategy,
            "job_addresses": self.job_addresses,
            "num_processes": self.num_processes,
            "process_id": self.process_id,
        }


def mesh_text(mesh):
    """A `(data, model)` mesh as `--mesh` writes it, `DATAxMODEL`.

    Example:

        >>> from kerasbig.training.configs import mesh_text
        >>> mesh_text((2, 4))
        '2x4'
    """
    return "x".join(str(size) for size in mesh)


@dataclasses.dataclass
class ModelParallelConfig(DistributeConfig):
    """`DistributeConfig` plus weights sharded over a JAX device mesh:
    `--strategy model_parallel`, `--mesh` and `--layout-style`, for
    recipes whose model is built from kerasbig layers (`start_run` then
    needs the function that builds it, `layout_model`).

    Example:

        >>> from kerasbig.training import ModelParallelConfig, parse_config
        >>> config = parse_config(
        ...     ModelParallelConfig,
        ...     ["--strategy", "model_parallel", "--mesh", "2x4"])
        >>> config.distribution_options()["mesh_shape"]
        (2, 4)
    """

    strategy: str = option(
        "auto",
        _STRATEGY_HELP + ", model_parallel (JAX: weights sharded over a "
        "--mesh of devices)",
        (*STRATEGIES, MODEL_PARALLEL),
    )
    mesh: tuple = option(
        None,
        "model_parallel: DATAxMODEL devices of the mesh, e.g. 2x4 for 8 "
        "(the batch is split over DATA, each weight over MODEL and DATA)",
        parse=parse_mesh,
    )
    layout_style: str = option(
        "both",
        "model_parallel: shard weights over the data axis (fsdp), the "
        "model axis (tensor_parallel) or both",
        LAYOUT_STYLES,
    )

    def distribution_options(self):
        """These flags as keyword arguments of `start_distribution`."""
        if self.strategy != MODEL_PARALLEL:
            if self.mesh is not None:
                raise ValueError(
                    f"--mesh is for --strategy {MODEL_PARALLEL}. Received: "
                    f"--strategy {self.strategy} --mesh {mesh_text(self.mesh)}"
                )
            return super().distribution_options()
        if self.mesh is None:
            raise ValueError(
                f"--strategy {MODEL_PARALLEL} needs --mesh DATAxMODEL, e.g. "
                "--mesh 2x4 on 8 devices"
            )
        return {
            **super().distribution_options(),
            "mesh_shape": tuple(self.mesh),
            "layout_style": self.layout_style,
        }


DISTRIBUTION_FLAGS = tuple(
    field.name
    for field in dataclasses.fields(ModelParallelConfig)
    if field.name not in {f.name for f in dataclasses.fields(RunConfig)}
)
"""The fields that say where a run is spread, not what it computes: a
resumed run may change them."""


@dataclasses.dataclass
class TrainingConfig(DistributeConfig):
    """Flags every supervised recipe shares; a recipe's `Config`
    subclasses it and adds its own fields (redeclare a field to change
    its default).

    Example:

        >>> import dataclasses
        >>> from kerasbig.training import TrainingConfig, option, parse_config
        >>> @dataclasses.dataclass
        ... class Config(TrainingConfig):
        ...     epochs: int = option(3, "passes over the training data")
        ...     units: int = option(16, "hidden units")
        >>> config = parse_config(Config, ["--units", "8", "--jit-compile"])
        >>> config.epochs, config.units, config.jit_compile
        (3, 8, True)
        >>> parse_config(Config, ["--no-jit-compile"]).jit_compile
        False
    """

    epochs: int = option(10, "passes over the training data", minimum=1)
    batch_size: int = option(
        32,
        "global batch size (summed over devices when distributed)",
        minimum=1,
    )
    learning_rate: float = option(1e-3, "peak learning rate", greater_than=0)
    grad_accumulation: int = option(
        1,
        "batches per optimizer update: each update uses the mean gradient "
        "of this many batches, as one batch this many times larger "
        "(accumulate_gradients)",
        minimum=1,
    )
    seed: int = option(0, "seed of weights, dropout and data order", minimum=0)
    mixed_precision: bool = option(
        False,
        "compute in float16 on a GPU, bfloat16 on a CPU (variables stay "
        "float32)",
    )
    jit_compile: bool = option(
        None,
        "compile train steps (XLA on TensorFlow and JAX, torch.compile on "
        "PyTorch); left out: on JAX only, whose uncompiled steps run op "
        "by op (see resolve_jit_compile)",
    )
    export_litert: bool = option(
        False,
        "finish with a .tflite file checked against Keras (TensorFlow backend)",
    )
    output_dir: str = option("runs/recipe", "where every output goes")


@dataclasses.dataclass
class ImageDataConfig:
    """Flags of recipes that train on an image set, for
    `kerasbig.data.load_image_data`. Mix it into a recipe's `Config`.

    Example:

        >>> import dataclasses
        >>> from kerasbig.data import load_image_data
        >>> from kerasbig.training import ImageDataConfig, parse_config
        >>> config = parse_config(ImageDataConfig, ["--image-size", "16"])
        >>> data = load_image_data(**config.data_options(), seed=0)
        >>> data.x_train.shape[1:]
        (16, 16, 1)
    """

    data: str = option(
        "digits", "`digits`, `tfds:<name>` or a folder of class subfolders"
    )
    image_size: int = option(
        None,
        "side of the square images (default: the data's own, 8 for digits; "
        "required for folders)",
        minimum=1,
    )
    data_dir: str = option(None, "tfds data folder")
    max_samples: int = option(
        None, "use at most this many train images", minimum=1
    )

    def data_dependencies(self):
        """The optional modules `--data` needs, for `check_dependencies`.

        Example:

            >>> from kerasbig.training import ImageDataConfig
            >>> ImageDataConfig(data="tfds:mnist").data_dependencies()
            {'tensorflow_datasets': '--data tfds:mnist'}
        """
        if self.data == "digits":
            return {"sklearn": "the embedded digits"}
        if self.data.startswith("tfds:"):
            return {"tensorflow_datasets": f"--data {self.data}"}
        # keras.utils.image_dataset_from_directory decodes with TensorFlow.
        return {"tensorflow": f"reading the image folder {self.data}"}

    def data_options(self):
        """These flags as keyword arguments of
        `kerasbig.data.load_image_data` (add the `seed`)."""
        return {
            "source": self.data,
            "image_size": self.image_size,
            "max_samples": self.max_samples,
            "data_dir": self.data_dir,
        }
