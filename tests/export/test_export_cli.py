"""`python -m kerasbig.export` on the recipe toolkit: flags from a config
dataclass, one-line errors through `run_script`, exceptions in-process."""

import importlib

import keras
import numpy as np
import pytest

from kerasbig.training import run_script


@pytest.fixture
def cli():
    return importlib.import_module("kerasbig.export.__main__")


@pytest.fixture
def saved_model(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.save(tmp_path / "model.keras")
    return tmp_path / "model.keras"


@pytest.mark.tensorflow_only
def test_the_cli_converts_and_imports_every_module_given(
    cli, saved_model, tmp_path
):
    exported = cli.main(
        [
            str(saved_model),
            str(tmp_path / "model.tflite"),
            "--import",
            "json",
            "--import",
            "csv",
        ]
    )
    assert (tmp_path / "model.tflite").stat().st_size == exported.size
    x = np.ones((3, 4), "float32")
    np.testing.assert_allclose(
        exported.predict(x),
        keras.saving.load_model(saved_model).predict(x, verbose=0),
        atol=1e-5,
    )


@pytest.mark.tensorflow_only
def test_a_missing_model_is_one_line_naming_it(cli, tmp_path, capsys):
    missing = tmp_path / "none.keras"
    argv = [str(missing), str(tmp_path / "x.tflite")]
    with pytest.raises(ValueError, match="none.keras"):
        cli.main(argv)
    with pytest.raises(SystemExit) as stop:
        run_script(cli.main, argv, program="kerasbig.export")
    assert stop.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("kerasbig.export: error: ") and "none.keras" in line


@pytest.mark.backend_agnostic
def test_a_bad_flag_value_names_the_flag(cli, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["a.keras", "b.tflite", "--tolerance", "-1"])
    assert stop.value.code == 2
    assert "argument --tolerance: expected a value > 0" in (
        capsys.readouterr().err
    )


@pytest.mark.tensorflow_only
def test_pruned_and_clustered_files_convert_as_their_plain_models(
    cli, tmp_path
):
    from kerasbig.optimize import ConstantSparsity
    from kerasbig.optimize import cluster_weights
    from kerasbig.optimize import prune_low_magnitude
    from kerasbig.optimize import strip_clustering
    from kerasbig.optimize import strip_pruning

    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6)])
    x = np.random.default_rng(0).random((4, 8)).astype("float32")
    wrapped = {
        "clustered": (cluster_weights(model, 3), strip_clustering),
        "pruned": (
            prune_low_magnitude(model, ConstantSparsity(0.5, 0)),
            strip_pruning,
        ),
    }
    for name, (saved, strip) in wrapped.items():
        saved.save(tmp_path / f"{name}.keras")
        exported = cli.main(
            [str(tmp_path / f"{name}.keras"), str(tmp_path / f"{name}.tflite")]
        )
        # The wrappers' gathers and masks are gone: one dense layer.
        assert exported.ops == ["FULLY_CONNECTED"], (name, exported.ops)
        np.testing.assert_allclose(
            exported.predict(x), strip(saved).predict(x, verbose=0), atol=1e-5
        )


@pytest.mark.tensorflow_only
def test_the_program_loads_a_model_of_kerasbig_layers(tmp_path):
    # As a program, kerasbig holds its rooms back until the flags parse;
    # the file names kerasbig classes, which must be registered by then.
    import subprocess
    import sys

    from kerasbig.layers import FeedForward

    inputs = keras.Input((5, 6))
    model = keras.Model(inputs, FeedForward(intermediate_dim=8)(inputs))
    model.save(tmp_path / "model.keras")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kerasbig.export",
            str(tmp_path / "model.keras"),
            str(tmp_path / "model.tflite"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.startswith(f"wrote {tmp_path / 'model.tflite'}")
