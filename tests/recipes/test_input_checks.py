"""Bad input at the door: every recipe flag is checked when parsed, data
errors name the file and line, a recipe run from the command line prints
one line (no traceback unless --debug), Ctrl-C says how to resume."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasbig.training import explain_interruption
from kerasbig.training import parse_config
from kerasbig.training import run_callbacks
from kerasbig.training import run_script

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _usage_error(recipe, argv, capsys):
    with pytest.raises(SystemExit) as stop:
        recipe.main(argv)
    assert stop.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()  # one line
    assert line.endswith(" (see --help)"), line
    return line.removesuffix(" (see --help)")


@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "name, argv, expected",
    [
        (
            "text_classification",
            ["--epochs", "0"],
            "--epochs: expected a value >= 1; received 0",
        ),
        (
            "vae",
            ["--epochs", "0"],
            "--epochs: expected a value >= 1; received 0",
        ),
        (
            "text_classification",
            ["--batch-size", "0"],
            "--batch-size: expected a value >= 1; received 0",
        ),
        (
            "vae",
            ["--batch-size", "0"],
            "--batch-size: expected a value >= 1; received 0",
        ),
        (
            "text_classification",
            ["--learning-rate", "-1"],
            "--learning-rate: expected a value > 0; received -1.0",
        ),
        (
            "vae",
            ["--smoke", "--epochs", "0"],
            "--epochs: expected a value >= 1; received 0",
        ),
        (
            "vgg16_transfer",
            ["--dropout", "1.5"],
            "--dropout: expected a value >= 0 and < 1; received 1.5",
        ),
        (
            "dcgan",
            ["--learning-rate", "0"],
            "--learning-rate: expected a value > 0; received 0.0",
        ),
        # Recipes with their own parsers check the same way.
        (
            "quickstart",
            ["--epochs", "0"],
            "argument --epochs: expected a value >= 1; received 0",
        ),
        (
            "node_classification",
            ["--smoke", "--epochs", "0"],
            "argument --epochs: expected a value >= 1; received 0",
        ),
        (
            "graph_classification",
            ["--batch-size", "0"],
            "argument --batch-size: expected a value >= 1; received 0",
        ),
        (
            "prune_quantize",
            ["--image-size", "10"],
            "argument --image-size: expected a value >= 18; received 10",
        ),
        (
            "prune_quantize",
            ["--sparsity", "1"],
            "argument --sparsity: expected a value >= 0 and < 1; received 1.0",
        ),
    ],
)
def test_flags_out_of_bounds_stop_with_one_line(
    load_recipe, capsys, name, argv, expected
):
    line = _usage_error(load_recipe(name), argv, capsys)
    assert line.endswith(expected), line
    assert "error: argument" in line


@pytest.mark.backend_agnostic
def test_smoke_values_do_not_override_explicit_flags(load_recipe):
    def parse(name, argv):
        recipe = load_recipe(name)
        return parse_config(recipe.Config, argv, smoke=recipe.SMOKE)

    config = parse("node_classification", ["--smoke", "--epochs", "3"])
    assert (config.epochs, config.seeds) == (3, 1)
    assert parse("prune_quantize", ["--smoke", "--epochs", "2"]).epochs == 2
    assert parse("prune_quantize", ["--smoke"]).epochs == 1
    # The model's defaults fill what no flag (and no smoke value) sets.
    assert parse("node_classification", ["--model", "gat"]).epochs == 1000


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "lines, expected",
    [
        (["label\ttext"], "has a header row and no examples"),
        (
            ["label\ttext"] + [f"{i % 2}\tt {i}" for i in range(9)] + ["7\tx"],
            "line 11: integer labels must number the classes 0..K-1",
        ),
        (
            ["label\ttext"]
            + [f"{i % 2}\tt {i}" for i in range(9)]
            + ["nan\tx"],
            "line 11: the label column mixes integers and other values",
        ),
    ],
    ids=["header_only", "stray_7", "nan"],
)
def test_data_errors_are_one_line_naming_file_and_line(
    load_recipe, capsys, tmp_path, lines, expected
):
    path = _write(tmp_path / "reviews.tsv", lines)
    recipe = load_recipe("text_classification")
    flags = ["--data", str(path), "--smoke", "--output-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as stop:
        run_script(recipe.main, flags)
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"error: load_text_data: {path}" in err[0] and expected in err[0]
    assert err[0].endswith("(run with --debug for the traceback)")
    with pytest.raises(ValueError, match=expected):
        run_script(recipe.main, [*flags, "--debug"])


@pytest.mark.backend_agnostic
def test_empty_text_folder_is_one_line(load_recipe, capsys, tmp_path):
    (tmp_path / "positive").mkdir()
    (tmp_path / "negative").mkdir()
    with pytest.raises(SystemExit):
        run_script(
            load_recipe("text_classification").main,
            ["--data", str(tmp_path), "--output-dir", str(tmp_path / "run")],
        )
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"folder {tmp_path} holds no examples" in line


@pytest.mark.backend_agnostic
def test_script_prints_one_line_and_no_traceback(tmp_path):
    # The command a user types, in a new process.
    path = _write(tmp_path / "reviews.tsv", ["label\ttext"])
    done = subprocess.run(
        [sys.executable, str(ROOT / "recipes" / "text_classification.py")]
        + ["--data", str(path), "--output-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("text_classification: error: load_text_data: ")


class _InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_names_the_epoch_and_how_to_resume(capsys, tmp_path):
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    y = (x.sum(1) > 2).astype("float32")

    def main(argv):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        callbacks = run_callbacks(tmp_path) + [_InterruptAt(2)]
        with explain_interruption(tmp_path):
            model.fit(x, y, epochs=4, callbacks=callbacks, verbose=0)

    with pytest.raises(SystemExit) as stop:
        run_script(main, [])
    assert stop.value.code == 130
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.endswith(
        "interrupted in epoch 3; run the same command again to resume from "
        f"epoch 3 (state in {tmp_path}/backup)"
    )
