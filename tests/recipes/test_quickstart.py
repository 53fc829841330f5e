import json
import os
import subprocess
import sys

import keras
import pytest


def test_smoke_run_writes_model_and_metrics(
    load_recipe, check_report, tmp_path, capsys
):
    quickstart = load_recipe("quickstart")
    metrics = quickstart.main(["--smoke", "--output-dir", str(tmp_path)])
    check_report(metrics, "quickstart", tmp_path)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("quickstart: test accuracy 0."), last
    assert last.endswith(f"; outputs in {tmp_path}"), last
    assert metrics["backend"] == keras.backend.backend()
    assert metrics["reload_max_abs_difference"] <= 1e-5
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    assert (tmp_path / "model.keras").is_file()


@pytest.mark.backend_agnostic
def test_a_finished_run_is_never_mixed_with_one_of_other_flags(
    load_recipe, tmp_path
):
    quickstart = load_recipe("quickstart")
    first = quickstart.main(["--smoke", "--output-dir", str(tmp_path)])
    (tmp_path / "tensorboard" / "stale").write_text("an older file")
    with pytest.raises(ValueError, match=r"--seed 0 there, 1 now\); pass "):
        quickstart.main(
            ["--smoke", "--seed", "1", "--output-dir", str(tmp_path)]
        )
    assert json.loads((tmp_path / "metrics.json").read_text()) == first
    second = quickstart.main(
        ["--smoke", "--seed", "1", "--overwrite", "--output-dir", str(tmp_path)]
    )
    assert second["config"]["seed"] == 1
    assert not (tmp_path / "tensorboard" / "stale").exists()
    assert not (tmp_path / ".previous-run").exists()


@pytest.mark.tensorflow_per_push
def test_default_run_learns_the_digits(load_recipe, tmp_path):
    quickstart = load_recipe("quickstart")
    metrics = quickstart.main(["--output-dir", str(tmp_path)])
    assert metrics["test_accuracy"] >= 0.93


@pytest.mark.backend_agnostic
def test_help_explains_every_flag(run_recipe_script):
    # The one recipe whose --help runs as a script, the way a user runs
    # it (the others run in this process).
    text = run_recipe_script("quickstart", "--help").stdout
    for flag in [
        "--epochs",
        "--batch-size",
        "--learning-rate",
        "--image-size",
        "--seed",
        "--output-dir",
        "--smoke",
    ]:
        assert flag in text


@pytest.mark.backend_agnostic
def test_a_flag_error_is_one_line_before_keras_loads():
    # No usage dump, no TensorFlow start-up lines, and Keras never
    # imported: the flags are parsed first (answer_help).
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m"]
        + ["kerasbig.recipes.quickstart", "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    imported = [line.split("|")[-1].strip() for line in lines if "|" in line]
    assert "kerasbig.training.flags" in imported
    assert not [name for name in imported if name.split(".")[0] == "keras"]
    assert [line for line in lines if "|" not in line] == [
        "quickstart.py: error: argument --epochs: expected a value >= 1; "
        "received 0 (see --help)"
    ]


@pytest.mark.parametrize(
    "backend", ["jax", pytest.param("torch", marks=pytest.mark.full)]
)
@pytest.mark.backend_agnostic
def test_a_run_on_jax_or_torch_prints_no_native_lines(tmp_path, backend):
    # TensorFlow loads on every backend (keras.utils.set_random_seed
    # seeds it too): its start-up lines stay off the console, and what
    # native code writes during the run goes to run.log.
    done = subprocess.run(
        [sys.executable, "-m", "kerasbig.recipes.quickstart", "--smoke"]
        + ["--epochs", "1", "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": backend},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""
    assert (tmp_path / "run.log").exists()


@pytest.mark.backend_agnostic
def test_only_kerasbig_programs_start_quiet():
    from kerasbig._console import launched_as_program

    program = ["python", "-m", "kerasbig.recipes.vae", "--smoke"]
    assert launched_as_program(program, {})
    assert launched_as_program(["python", "-m", "kerasbig.export", "a"], {})
    assert launched_as_program(["python", "x.py"], {"_KERASBIG_PROGRAM": "1"})
    assert not launched_as_program(["python", "train.py"], {})
    assert not launched_as_program(["python", "-m", "pytest"], {})
    assert not launched_as_program(["python", "-c", "import kerasbig"], {})


@pytest.mark.backend_agnostic
def test_only_a_programs_help_holds_keras_back():
    from kerasbig._console import help_requested

    program = ["python", "-m", "kerasbig.recipes.vae"]
    assert help_requested(["--help"], program, {})
    assert help_requested(["--smoke", "-h"], program, {})
    assert not help_requested(["--smoke"], program, {})
    assert not help_requested(["--", "--help"], program, {})
    assert not help_requested(["--help"], ["python", "train.py"], {})


def test_grad_accumulation_makes_one_update_per_k_batches(
    load_recipe, tmp_path
):
    quickstart = load_recipe("quickstart")
    args = ["--smoke", "--grad-accumulation", "2", "--batch-size", "16"]
    metrics = quickstart.main([*args, "--output-dir", str(tmp_path)])
    assert metrics["config"]["grad_accumulation"] == 2
    optimizer = keras.saving.load_model(tmp_path / "model.keras").optimizer
    assert optimizer.gradient_accumulation_steps == 2
    batches = -(-metrics["examples"]["train"] // 16)  # an epoch's
    # An odd epoch's last batch is an update of its own (the large
    # batch's smaller last batch: ApplyLeftoverGradients).
    assert int(optimizer.iterations) == -(-batches // 2) * metrics["epochs"]
