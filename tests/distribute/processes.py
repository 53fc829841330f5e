"""Launching the recipe and check processes of the distributed tests."""

import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
RECIPES = HERE.parents[1] / "recipes"
TEXT_RECIPE = RECIPES / "text_classification.py"


def text_recipe_args(data, output_dir, epochs=3, batch_size=32):
    return [
        "--data",
        str(data),
        "--model",
        "cnn",
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
        "--sequence-length",
        "16",
        "--embedding-dim",
        "16",
        "--vocabulary-size",
        "100",
        "--output-dir",
        str(output_dir),
    ]


def launch(args, backend, extra_env=None):
    """Starts `python -u args...` with the backend set; output piped."""
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-u", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def finish(process, timeout=300):
    """Waits for `process`; returns (exit code, output)."""
    try:
        output = process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired as error:
        process.kill()
        output = process.communicate()[0]
        raise AssertionError(
            f"timed out after {timeout}s:\n{output[-3000:]}"
        ) from error
    return process.returncode, output
