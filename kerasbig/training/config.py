"""Command-line flags generated from a recipe's config dataclass."""

import argparse
import dataclasses
import typing

from kerasbig import _console
from kerasbig.distribute import STRATEGIES
from kerasbig.distribute.choices import LAYOUT_STYLES
from kerasbig.distribute.choices import MODEL_PARALLEL
from kerasbig.distribute.choices import parse_mesh


def _flag_type(field):
    hint = field.type
    if isinstance(hint, str):
        hint = {"int": int, "float": float, "str": str, "bool": bool}.get(
            hint.split("|")[0].strip(), str
        )
    origin = typing.get_origin(hint)
    if origin is not None:  # Optional[int] and the like
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if args else str
    return hint


def option(
    default,
    help,
    choices=None,
    minimum=None,
    greater_than=None,
    maximum=None,
    less_than=None,
    parse=None,
):
    """A config dataclass field with its `--help` text (and allowed
    values) for `parse_config`.

    Args:
        default: the value without the flag (`None` is always allowed).
        help: the flag's help text.
        choices: the values allowed, if only some are.
        minimum, greater_than, maximum, less_than: bounds that
            `parse_config` checks (the flag is rejected with one line
            naming it otherwise).
        parse: a function from the flag's text to the field's value
            that raises `ValueError` saying what it expected; the flag
            is rejected with that line.

    Example:

        >>> import dataclasses
        >>> from kerasbig.training import option
        >>> @dataclasses.dataclass
        ... class Config:
        ...     loss: str = option("bce", "GAN loss", choices=["bce", "hinge"])
        ...     epochs: int = option(10, "passes over the data", minimum=1)
        >>> Config()
        Config(loss='bce', epochs=10)
    """
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = list(choices)
    bounds = _bounds(minimum, greater_than, maximum, less_than)
    if bounds:
        metadata["bounds"] = bounds
    if parse is not None:
        metadata["parse"] = parse
    return dataclasses.field(default=default, metadata=metadata)


def _bounds(minimum, greater_than, maximum, less_than):
    limits = {">=": minimum, ">": greater_than, "<=": maximum, "<": less_than}
    return {op: limit for op, limit in limits.items() if limit is not None}


_COMPARE = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}


def bounds_problem(value, bounds):
    """What is wrong with `value` under `bounds` (a dict like
    `{">=": 1}`), or `None`. `None` values pass."""
    if value is None:
        return None
    broken = [f"{op} {limit}" for op, limit in bounds.items()]
    if all(_COMPARE[op](value, limit) for op, limit in bounds.items()):
        return None
    return f"expected a value {' and '.join(broken)}; received {value}"


def bounded(
    kind, minimum=None, greater_than=None, maximum=None, less_than=None
):
    """An `argparse` `type=` that converts with `kind` and checks bounds,
    for recipes with hand-written parsers (`option` does it for config
    dataclasses).

    Example:

        >>> import argparse
        >>> from kerasbig.training.config import bounded
        >>> parser = argparse.ArgumentParser()
        >>> _ = parser.add_argument("--epochs", type=bounded(int, minimum=1))
        >>> parser.parse_args(["--epochs", "3"]).epochs
        3
    """
    bounds = _bounds(minimum, greater_than, maximum, less_than)

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}; "
                f"received {text!r}"
            ) from None
        problem = bounds_problem(value, bounds)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    convert.__name__ = kind.__name__  # argparse names the type in errors
    return convert


def add_run_flags(parser):
    """Adds the flags every recipe command takes: `--debug` (an error
    shows its full traceback, not one line; see `run_script`) and
    `--verbose` (TensorFlow's start-up and converter logs are shown; a
    recipe started as a program is quiet otherwise). Their values are
    read from the command line before the parser runs.

    Example:

        >>> import argparse
        >>> from kerasbig.training import add_run_flags
        >>> parser = argparse.ArgumentParser()
        >>> add_run_flags(parser)
        >>> parser.parse_args(["--debug"])
        Namespace(debug=True, verbose=False)
    """
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error instead of one line",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up and converter logs",
    )


def add_field_flag(parser, field, owner="the config"):
    """Adds the flag of one config dataclass field to an
    `argparse.ArgumentParser` (the rules of `parse_config`); `owner`
    names the dataclass in errors."""
    flag = "--" + field.name.replace("_", "-")
    help_text = field.metadata.get("help", "")
    default = field.default
    if default is dataclasses.MISSING:
        raise ValueError(
            f"parse_config: field `{field.name}` of {owner} needs a default."
        )
    if _flag_type(field) is bool:
        parser.add_argument(
            flag,
            action=argparse.BooleanOptionalAction,
            default=default,
            help=f"{help_text} (default: {default})".strip(),
        )
        return
    parser.add_argument(
        flag,
        type=_parser(field.metadata["parse"])
        if "parse" in field.metadata
        else _flag_type(field),
        default=default,
        choices=field.metadata.get("choices"),
        help=f"{help_text} (default: {default})".strip(),
    )


def _parser(parse):
    """`parse` as an argparse `type=`: its ValueError becomes the
    flag's one-line error."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def parse_flags(parser, argv=None, smoke=None):
    """Parses `argv` with `parser` (made with `add_run_flags`, and a
    `--smoke` flag when `smoke` is given) into a dict of the recipe's own
    flags: `--smoke` makes the `smoke` values the defaults, so flags given
    explicitly still win; `--smoke`, `--debug` and `--verbose` are
    dropped (`run_script` and `kerasbig._console` read the last two).

    Example:

        >>> import argparse
        >>> from kerasbig.training import add_run_flags, parse_flags
        >>> parser = argparse.ArgumentParser()
        >>> _ = parser.add_argument("--epochs", type=int, default=10)
        >>> _ = parser.add_argument("--smoke", action="store_true")
        >>> add_run_flags(parser)
        >>> parse_flags(parser, ["--smoke"], smoke={"epochs": 1})
        {'epochs': 1}
        >>> parse_flags(parser, ["--smoke", "--epochs", "3"], {"epochs": 1})
        {'epochs': 3}
    """
    args = vars(parser.parse_args(argv))
    if smoke and args.get("smoke"):
        parser.set_defaults(**smoke)
        args = vars(parser.parse_args(argv))
    for name in ("smoke", "debug", "verbose"):
        args.pop(name, None)
    return args


def parse_config(config_class, argv=None, description=None, smoke=None):
    """Parses command-line flags into an instance of `config_class`.

    Every field of the dataclass becomes a flag (`learning_rate` ->
    `--learning-rate`) of the field's type, with the field's default and
    the help text in `dataclasses.field(metadata={"help": ...})`;
    booleans get `--flag` / `--no-flag`, and fields with
    `metadata={"choices": [...]}` accept only those values. A `--smoke`
    flag makes the `smoke` values (a tiny run for tests) the defaults;
    flags given explicitly still win. Fields declared with bounds
    (`option(..., minimum=1)`) are checked after parsing: a value out of
    bounds stops with argparse's usage line and one error line naming the
    flag. `--debug` and `--verbose` are accepted (`add_run_flags`) and
    not returned.

    Args:
        config_class: a dataclass whose fields all have defaults.
        argv: arguments to parse; `sys.argv[1:]` when None.
        description: `--help` text; usually the recipe's docstring.
        smoke: dict of field values that `--smoke` sets.

    Returns:
        An instance of `config_class`.

    Example:

        >>> import dataclasses
        >>> from kerasbig.training import parse_config
        >>> @dataclasses.dataclass
        ... class Config:
        ...     epochs: int = dataclasses.field(
        ...         default=10, metadata={"help": "passes over the data"})
        ...     learning_rate: float = 1e-3
        ...     ema: bool = True
        >>> parse_config(Config, ["--epochs", "3", "--no-ema"])
        Config(epochs=3, learning_rate=0.001, ema=False)
        >>> parse_config(Config, ["--smoke"], smoke={"epochs": 1}).epochs
        1
        >>> parse_config(Config, ["--smoke", "--epochs", "2"],
        ...              smoke={"epochs": 1}).epochs
        2
    """
    if not dataclasses.is_dataclass(config_class):
        raise ValueError(
            "parse_config: `config_class` must be a dataclass. Received: "
            f"{config_class!r}"
        )
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for field in dataclasses.fields(config_class):
        add_field_flag(parser, field, config_class.__name__)
    if smoke:
        settings = ", ".join(f"{k}={v}" for k, v in smoke.items())
        parser.add_argument(
            "--smoke",
            action="store_true",
            help=f"a run of seconds, for tests: sets {settings}",
        )
    add_run_flags(parser)
    args = parse_flags(parser, argv, smoke)
    for field in dataclasses.fields(config_class):
        problem = bounds_problem(
            args[field.name], field.metadata.get("bounds", {})
        )
        if problem:
            parser.error(
                f"argument --{field.name.replace('_', '-')}: {problem}"
            )
    return config_class(**args)


def answer_help(config_class, description=None, smoke=None):
    """Answers `--help` of a kerasbig program before it loads Keras.

    A recipe calls it right after its config, before importing Keras:
    when the program was run with `--help` (or `-h`), it prints the flags
    `parse_config` takes (same arguments) and exits, in a fraction of a
    second instead of the seconds TensorFlow takes to load. Otherwise, and
    in any process that is not one of kerasbig's programs
    (`python -m kerasbig.recipes.<name>`, `recipes/<name>.py`), it
    returns at once.

    Example:

        >>> import dataclasses
        >>> from kerasbig.training import answer_help, option
        >>> @dataclasses.dataclass
        ... class Config:
        ...     epochs: int = option(10, "passes over the data", minimum=1)
        >>> answer_help(Config, "Trains a model.")  # not a --help run
    """
    if _console.HELP_ONLY:
        # argparse prints the help and exits (or exits on a flag error).
        parse_config(config_class, None, description, smoke)


_STRATEGY_HELP = (
    "how training is spread: auto (every GPU of this machine, a TPU when "
    "configured), none, mirrored (tf.distribute over this machine's GPUs "
    "or CPUs), multiworker (tf.distribute over machines), tpu, "
    "data_parallel (JAX keras.distribution)"
)


@dataclasses.dataclass
class DistributeConfig:
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


def _mesh_text(text):
    """`--mesh` text, checked and written `DATAxMODEL`."""
    return "x".join(str(size) for size in parse_mesh(text))


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
    mesh: str = option(
        None,
        "model_parallel: DATAxMODEL devices of the mesh, e.g. 2x4 for 8 "
        "(the batch is split over DATA, each weight over MODEL and DATA)",
        parse=_mesh_text,
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
                    f"--strategy {self.strategy} --mesh {self.mesh}"
                )
            return super().distribution_options()
        if self.mesh is None:
            raise ValueError(
                f"--strategy {MODEL_PARALLEL} needs --mesh DATAxMODEL, e.g. "
                "--mesh 2x4 on 8 devices"
            )
        return {
            **super().distribution_options(),
            "mesh_shape": parse_mesh(self.mesh),
            "layout_style": self.layout_style,
        }


DISTRIBUTION_FLAGS = tuple(
    field.name for field in dataclasses.fields(ModelParallelConfig)
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

    def data_options(self):
        """These flags as keyword arguments of
        `kerasbig.data.load_image_data` (add the `seed`)."""
        return {
            "source": self.data,
            "image_size": self.image_size,
            "max_samples": self.max_samples,
            "data_dir": self.data_dir,
        }
