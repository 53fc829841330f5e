"""`kerasbig.training.flags`: positional arguments, repeated flags and
renamed flags from a config dataclass, and the program's own flags."""

import dataclasses

import pytest

from kerasbig.training import ModelParallelConfig
from kerasbig.training import option
from kerasbig.training import parse_config
from kerasbig.training import run_flags


@dataclasses.dataclass
class Config:
    source: str = option(None, "the input file", positional=True)
    modules: tuple = option(
        (), "modules to import", flag="--import", repeat=True
    )
    sizes: tuple[int, ...] = option((), "sizes", repeat=True)
    tolerance: float = option(None, "largest error", greater_than=0)


@pytest.mark.backend_agnostic
def test_positional_repeated_and_renamed_flags():
    config = parse_config(
        Config,
        ["in.keras", "--import", "a", "--import", "b.c", "--sizes", "3"],
    )
    assert config == Config("in.keras", ("a", "b.c"), (3,), None)
    assert parse_config(Config, ["x"]).modules == ()


@pytest.mark.backend_agnostic
def test_a_renamed_flag_is_named_in_its_error(capsys):
    with pytest.raises(SystemExit):
        parse_config(Config, ["x", "--tolerance", "0"])
    assert "argument --tolerance: expected a value > 0" in (
        capsys.readouterr().err
    )


@pytest.mark.backend_agnostic
def test_a_positional_argument_is_required(capsys):
    with pytest.raises(SystemExit):
        parse_config(Config, [])
    assert "the following arguments are required: source" in (
        capsys.readouterr().err
    )


@pytest.mark.backend_agnostic
def test_the_mesh_is_parsed_once_and_kept_as_a_tuple():
    config = parse_config(
        ModelParallelConfig, ["--strategy", "model_parallel", "--mesh", "2x4"]
    )
    assert config.mesh == (2, 4)
    assert config.distribution_options()["mesh_shape"] == (2, 4)
    with pytest.raises(ValueError, match="--mesh 2x4$"):
        ModelParallelConfig(mesh=(2, 4)).distribution_options()


@pytest.mark.backend_agnostic
def test_run_flags_are_read_by_the_parser_that_declares_them():
    assert run_flags(["--debug", "--epochs", "3"]).debug
    assert not run_flags(["--output-dir", "--debug-runs"]).debug
    assert run_flags(["--verbose"]).verbose
