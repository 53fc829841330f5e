import contextlib
import importlib
import io
import json
import math
import pathlib
import subprocess
import sys

import pytest

RECIPES = pathlib.Path(__file__).resolve().parents[2] / "recipes"


@pytest.fixture
def load_recipe():
    """Imports the recipe `kerasbig.recipes.<name>` (the code that
    recipes/<name>.py runs from a checkout)."""

    def load(name):
        return importlib.import_module(f"kerasbig.recipes.{name}")

    return load


@pytest.fixture
def recipe_help(load_recipe):
    """`recipe_help(name)`: what `main(["--help"])` of the recipe
    prints, run in this process (`run_recipe_script` runs the script)."""

    def run(name):
        output = io.StringIO()
        with (
            contextlib.redirect_stdout(output),
            pytest.raises(SystemExit) as exit_info,
        ):
            load_recipe(name).main(["--help"])
        assert exit_info.value.code in (0, None), exit_info.value.code
        return output.getvalue()

    return run


@pytest.fixture
def run_recipe_script():
    """`run_recipe_script(name, *args, check=True)`: runs `python
    recipes/<name>.py args...` in a new process, as a user does; returns
    the completed process."""

    def run(name, *args, check=True):
        return subprocess.run(
            [sys.executable, str(RECIPES / f"{name}.py"), *args],
            capture_output=True,
            text=True,
            check=check,
        )

    return run


@pytest.fixture
def check_flags(recipe_help):
    """`check_flags(module, name)`: every field of the recipe's `Config`
    is a flag in `--help`, with its own help text."""
    import dataclasses

    def check(module, name):
        text = recipe_help(name)
        for field in dataclasses.fields(module.Config):
            flag = "--" + field.name.replace("_", "-")
            assert flag in text, flag
            assert field.metadata.get("help"), f"{flag} has no help text"
        assert "--smoke" in text

    return check


@pytest.fixture
def check_report():
    """`check_report(report, name, folder)`: what a recipe's `main`
    returned is the one report schema of every recipe (`write_report`),
    and it is what `<folder>/metrics.json` holds."""
    import keras

    import kerasbig

    def check(report, name, folder):
        folder = pathlib.Path(folder)
        assert json.loads((folder / "metrics.json").read_text()) == report
        assert report["recipe"] == name
        assert report["kerasbig_version"] == kerasbig.__version__
        assert report["backend"] == keras.backend.backend()
        assert report["distribution"]["replicas"] >= 1
        settings = json.loads((folder / "config.json").read_text())
        assert settings.items() <= report["config"].items()
        headline = report["headline"]
        assert set(headline) == {"name", "value"}
        # The same report for people, in every recipe's folder.
        markdown = (folder / "report.md").read_text()
        assert markdown.startswith(f"# {name}\n")
        assert headline["name"].replace("_", " ") in markdown
        assert math.isfinite(headline["value"])
        assert report["epochs"] >= 1
        assert report["train_seconds"] > 0
        assert report["examples"]["train"] > 0
        assert report["examples"]["test"] > 0

    return check


@pytest.fixture
def kill_and_resume(tmp_path):
    """`kill_and_resume(name, args, epochs, extra_env=None)`: runs
    `recipes/<name>.py` (with `extra_env` added to its environment)
    as a user does, SIGKILLs it when epoch 2 starts, runs the same
    command again and checks that it resumed (epoch 1 not redone), then
    runs it uninterrupted in another folder. Returns both metrics.json
    reports, `(resumed, uninterrupted)`, for the test to compare."""
    import os
    import signal

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def launch(name, args, folder, extra_env=None):
        return subprocess.Popen(
            [sys.executable, "-u", str(RECIPES / f"{name}.py"), *args]
            + ["--output-dir", str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, **(extra_env or {})},
        )

    def run(name, args, epochs, extra_env=None):
        killed = tmp_path / "killed"
        process = launch(name, args, killed, extra_env)
        for line in process.stdout:
            if line.startswith(f"Epoch 2/{epochs}"):
                process.send_signal(signal.SIGKILL)
                break
        process.wait()
        assert process.returncode == -signal.SIGKILL
        resumed = launch(name, args, killed, extra_env)
        output = resumed.communicate()[0]
        assert resumed.returncode == 0, output
        assert f"Epoch 1/{epochs}" not in output, output
        assert f"Epoch 2/{epochs}" in output, output
        fresh = launch(name, args, tmp_path / "fresh", extra_env)
        output = fresh.communicate()[0]
        assert fresh.returncode == 0, output
        return tuple(
            json.loads((folder / "metrics.json").read_text())
            for folder in (killed, tmp_path / "fresh")
        )

    return run
