"""Library code raises; only `run_script` (and the export CLI's entry
point) turns an exception into an exit status, so that a notebook user
calling a recipe's `main` or `fit_to_folder` gets an exception."""

import ast
import pathlib

import keras
import numpy as np
import pytest

import kerasbig
from kerasbig.callbacks import StopOnNaN
from kerasbig.models import VAE
from kerasbig.training import RunInterrupted
from kerasbig.training import TrainingStopped
from kerasbig.training import check_export_backend
from kerasbig.training import distributed
from kerasbig.training import explain_interruption
from kerasbig.training import fit_generative
from kerasbig.training import run_script
from kerasbig.training import start_distribution

PACKAGE = pathlib.Path(kerasbig.__file__).parent
# The places that end the process on purpose: the recipe runner, and
# the export CLI's `if __name__ == "__main__"` line.
EXITS_ALLOWED = {"training/run.py", "export/__main__.py"}


def _exits(path, root=PACKAGE):
    """`file:line` of `path`'s lines that raise SystemExit or call
    sys.exit."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        name = None
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = (
                node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            )
            name = getattr(target, "id", None)
        elif isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute) and function.attr == "exit":
                name = f"{getattr(function.value, 'id', '')}.exit"
        if name in ("SystemExit", "sys.exit"):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


@pytest.mark.backend_agnostic
def test_no_library_function_ends_the_process():
    exits = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        if str(path.relative_to(PACKAGE)) not in EXITS_ALLOWED
        for line in _exits(path)
    ]
    assert exits == []


@pytest.mark.backend_agnostic
def test_the_exit_check_sees_both_forms(tmp_path):
    path = tmp_path / "x.py"
    path.write_text(
        "import sys\nraise SystemExit('a')\nsys.exit(1)\nraise SystemExit\n"
    )
    assert sorted(_exits(path, tmp_path)) == ["x.py:2", "x.py:3", "x.py:4"]


def test_export_on_the_wrong_backend_raises_value_error():
    if keras.backend.backend() == "tensorflow":
        check_export_backend(True)
        return
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        check_export_backend(True)


def test_a_strategy_that_cannot_start_raises_value_error():
    wrong = "mirrored" if keras.backend.backend() == "jax" else "data_parallel"
    with pytest.raises(ValueError, match=f"^--strategy {wrong}: "):
        start_distribution(wrong)


def test_a_whole_graph_run_on_replicas_raises_value_error(monkeypatch):
    monkeypatch.setattr(distributed, "num_replicas", lambda strategy: 2)
    with pytest.raises(ValueError, match="cannot be split across 2 replicas"):
        start_distribution("none", splits_batches=False)


def test_a_nan_in_generative_training_raises_training_stopped(tmp_path):
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.SGD(1.0))
    x = np.full((8, 4), np.nan, "float32")
    with pytest.raises(TrainingStopped, match="StopOnNaN"):
        fit_generative(
            vae, x, epochs=2, batch_size=4, output_dir=tmp_path, verbose=0
        )
    assert issubclass(TrainingStopped, RuntimeError)
    assert StopOnNaN.__name__ in str(TrainingStopped("StopOnNaN: x"))


class _InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_in_fit_to_folder_names_the_epoch_and_exits_130(
    tmp_path, capsys
):
    x = np.random.default_rng(0).random((16, 4)).astype("float32")
    y = (x.sum(1) > 2).astype("int32")

    def main(argv):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile("sgd", "sparse_categorical_crossentropy")
        kerasbig.training.fit_to_folder(
            model,
            (x, y),
            (x, y),
            epochs=4,
            output_dir=tmp_path,
            monitor="val_loss",
            callbacks=[_InterruptAt(1)],
            verbose=0,
        )

    # In a notebook: an exception that says where to resume.
    with pytest.raises(RunInterrupted, match="interrupted in epoch 2;"):
        main([])
    # As a program: that line and status 130.
    with pytest.raises(SystemExit) as stop:
        run_script(main, [])
    assert stop.value.code == 130
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(f"resume from epoch 2 (state in {tmp_path}/backup)")
    )


def test_an_interruption_outside_training_says_so(capsys):
    def main(argv):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stop:
        run_script(main, [])
    assert stop.value.code == 130
    assert "interrupted before training started" in capsys.readouterr().err


def test_a_run_without_backup_says_it_starts_over(tmp_path):
    with (
        pytest.raises(RunInterrupted, match="keeps no per-epoch backup"),
        explain_interruption(tmp_path, resumable=False),
    ):
        raise KeyboardInterrupt


def test_debug_is_read_once_from_the_flags():
    def main(argv):
        raise ValueError("bad data")

    with pytest.raises(ValueError, match="bad data"):
        run_script(main, ["--epochs", "3", "--debug"])
    # A flag's value that merely reads "--debug" is not the flag.
    with pytest.raises(SystemExit):
        run_script(main, ["--name=--debug"])
