"""Command-line flags from a config dataclass: `option` declares a field
with its help and bounds, `parse_config` turns argv into the dataclass,
`answer_help` answers `--help` before Keras loads, and `run_flags` reads
the flags of the program itself (`--debug`, `--verbose`).

Standard library only: a program's `--help` must not load Keras.
"""

import argparse
import dataclasses
import typing

from kerasbig import _console


def _flag_type(field):
    hint = field.type
    if isinstance(hint, str):
        hint = {"int": int, "float": float, "str": str, "bool": bool}.get(
            hint.split("|")[0].strip(), str
        )
    origin = typing.get_origin(hint)
    if origin is not None:  # Optional[int], tuple[int, ...] and the like
        args = [a for a in typing.get_args(hint) if a not in (type(None), ...)]
        hint = args[0] if args else str
    # A repeated flag's values are text unless the hint names their type.
    return str if hint in (tuple, list) else hint


def option(
    default,
    help,
    choices=None,
    minimum=None,
    greater_than=None,
    maximum=None,
    less_than=None,
    parse=None,
    positional=False,
    flag=None,
    repeat=False,
    metavar=None,
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
        positional: a required argument without a flag (`default` is
            unused: give None).
        flag: the flag's name when it is not the field's (`"--import"`
            for a field that cannot be named `import`).
        repeat: the flag may be given again and again; the field holds
            a tuple of the values (default: `()`).
        metavar: the value's name in `--help`.

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
    for name, value in (
        ("positional", positional),
        ("flag", flag),
        ("repeat", repeat),
        ("metavar", metavar),
    ):
        if value:
            metadata[name] = value
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


def add_run_flags(parser):
    """Adds the flags every recipe command takes: `--debug` (an error
    shows its full traceback, not one line; see `run_script`) and
    `--verbose` (TensorFlow's start-up and converter logs are shown; a
    recipe started as a program is quiet otherwise). `run_script` reads
    them with `run_flags`; `parse_config` accepts and drops them.

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


def _add_field_flag(parser, field, owner):
    """Adds the flag of one config dataclass field to an
    `argparse.ArgumentParser` (the rules of `parse_config`); `owner`
    names the dataclass in errors."""
    metadata = field.metadata
    flag = metadata.get("flag") or "--" + field.name.replace("_", "-")
    help_text = metadata.get("help", "")
    default = field.default
    if default is dataclasses.MISSING:
        raise ValueError(
            f"parse_config: field `{field.name}` of {owner} needs a default."
        )
    kind = (
        _parser(metadata["parse"]) if "parse" in metadata else _flag_type(field)
    )
    if metadata.get("positional"):
        parser.add_argument(
            field.name,
            type=kind,
            help=help_text,
            metavar=metadata.get("metavar"),
        )
        return
    if kind is bool:
        parser.add_argument(
            flag,
            action=argparse.BooleanOptionalAction,
            default=default,
            help=f"{help_text} (default: {default})".strip(),
        )
        return
    if metadata.get("repeat"):
        parser.add_argument(
            flag,
            dest=field.name,
            type=kind,
            action="append",
            default=None,
            metavar=metadata.get("metavar"),
            help=f"{help_text} (repeatable)".strip(),
        )
        return
    parser.add_argument(
        flag,
        dest=field.name,
        type=kind,
        default=default,
        choices=metadata.get("choices"),
        metavar=metadata.get("metavar"),
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


RUN_FLAGS = ("debug", "verbose")
"""The flags of the program rather than of its run (`add_run_flags`)."""


def run_flags(argv):
    """`--debug` and `--verbose` of a program's argument list, read with
    the parser that declares them (`add_run_flags`), whatever else the
    list holds.

    Example:

        >>> from kerasbig.training import run_flags
        >>> run_flags(["--epochs", "3", "--debug"])
        Namespace(debug=True, verbose=False)
    """
    parser = argparse.ArgumentParser(add_help=False)
    add_run_flags(parser)
    known, _ = parser.parse_known_args(argv)
    return known


class _OneLineErrors(argparse.ArgumentParser):
    """argparse, with a flag error as one line (the usage is `--help`'s)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parse_flags(parser, argv, smoke):
    """The recipe's own flags in `argv` as a dict: `--smoke` makes the
    `smoke` values the defaults (flags given explicitly still win);
    `--smoke` and the `RUN_FLAGS` are dropped."""
    args = vars(parser.parse_args(argv))
    if smoke and args.get("smoke"):
        parser.set_defaults(**smoke)
        args = vars(parser.parse_args(argv))
    for name in ("smoke", *RUN_FLAGS):
        args.pop(name, None)
    return args


def parse_config(
    config_class, argv=None, description=None, smoke=None, program=None
):
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
        program: the program's name in usage lines (default: argparse's,
            the script's file name).

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
    parser = _OneLineErrors(
        prog=program,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for field in dataclasses.fields(config_class):
        _add_field_flag(parser, field, config_class.__name__)
    if smoke:
        settings = ", ".join(f"{k}={v}" for k, v in smoke.items())
        parser.add_argument(
            "--smoke",
            action="store_true",
            help=f"a run of seconds, for tests: sets {settings}",
        )
    add_run_flags(parser)
    args = _parse_flags(parser, argv, smoke)
    for field in dataclasses.fields(config_class):
        if field.metadata.get("repeat"):
            args[field.name] = tuple(args[field.name] or ())
        problem = bounds_problem(
            args[field.name], field.metadata.get("bounds", {})
        )
        if problem:
            flag = field.metadata.get("flag") or "--" + field.name.replace(
                "_", "-"
            )
            parser.error(f"argument {flag}: {problem}")
    return config_class(**args)


def answer_help(config_class, description=None, smoke=None, program=None):
    """Answers `--help` and flag errors of a kerasbig program before it
    loads Keras.

    A recipe calls it right after its config, before importing Keras:
    when the program was run with `--help` (or `-h`), it prints the flags
    `parse_config` takes (same arguments) and exits, in a fraction of a
    second instead of the seconds TensorFlow takes to load; a flag error
    exits as fast, with its one line. Otherwise it loads Keras (quietly)
    and returns. In any process that is not one of kerasbig's programs
    (`python -m kerasbig.recipes.<name>`, `recipes/<name>.py`,
    `python -m kerasbig.export`) it returns at once.

    Example:

        >>> import dataclasses
        >>> from kerasbig.training import answer_help, option
        >>> @dataclasses.dataclass
        ... class Config:
        ...     epochs: int = option(10, "passes over the data", minimum=1)
        >>> answer_help(Config, "Trains a model.")  # not a --help run
    """
    if _console.DEFER:
        # argparse prints the help and exits, or exits on a flag error.
        parse_config(config_class, None, description, smoke, program)
        _console.load_keras()
