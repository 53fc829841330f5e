"""Run folders never mix two runs: a finished run rerun with other flags
is refused unless --overwrite; a run that starts over leaves no file of
the one before once it trains; a run that stops before training leaves
the folder as it was; entries that were there before any run stay."""

import dataclasses
import json

import pytest

from kerasbig.training import TrainingConfig
from kerasbig.training import option
from kerasbig.training import parse_config
from kerasbig.training import run_callbacks
from kerasbig.training import start_run
from kerasbig.training import write_report


@dataclasses.dataclass
class Config(TrainingConfig):
    units: int = option(8, "hidden units")


def _finish(run, files=("model.keras", "adapters.npz")):
    """What a run leaves: training files, a tensorboard folder, metrics."""
    run_callbacks(run.output_dir)  # training starts
    for name in files:
        (run.output_dir / name).write_text(name)
    (run.output_dir / "tensorboard").mkdir()
    (run.output_dir / "tensorboard" / "events.1").write_text("run")
    write_report(
        run.output_dir,
        recipe="demo",
        config=dataclasses.asdict(Config()),
        headline=("loss", 1.0),
        results={"epochs": 1, "train_seconds": 1.0, "examples": {}},
    )


def _config(folder, *flags):
    return parse_config(
        Config, ["--strategy", "none", "--output-dir", str(folder), *flags]
    )


def _contents(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.backend_agnostic
def test_a_finished_run_with_other_flags_is_refused_naming_them(tmp_path):
    folder = tmp_path / "run"
    with start_run(_config(folder)) as run:
        _finish(run)
    before = _contents(folder)
    with pytest.raises(ValueError) as info:
        start_run(_config(folder, "--units", "16", "--epochs", "3"))
    message = str(info.value)
    assert "holds a finished run with other flags" in message
    assert "--epochs 10 there, 3 now; --units 8 there, 16 now" in message
    assert "pass --overwrite to replace it" in message
    assert "\n" not in message
    assert _contents(folder) == before


@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "flags", [["--units", "16", "--overwrite"], []], ids=["overwrite", "same"]
)
def test_a_new_run_leaves_no_file_of_the_one_before(tmp_path, flags):
    folder = tmp_path / "run"
    with start_run(_config(folder)) as run:
        _finish(run)
    with start_run(_config(folder, *flags)) as run:
        assert not run.resuming
        _finish(run, files=("model.keras",))
    assert _contents(folder) == [
        "config.json",
        "metrics.json",
        "model.keras",
        "report.md",
        "tensorboard",
        "tensorboard/events.1",
    ]
    units = 16 if flags else 8
    assert json.loads((folder / "config.json").read_text())["units"] == units


@pytest.mark.backend_agnostic
def test_a_run_that_fails_before_training_leaves_no_folder(tmp_path):
    folder = tmp_path / "run"
    with (
        pytest.raises(ValueError, match="bad data"),
        start_run(_config(folder)),
    ):
        raise ValueError("bad data")
    assert not folder.exists()


@pytest.mark.backend_agnostic
def test_a_failed_restart_gives_the_finished_run_back(tmp_path):
    folder = tmp_path / "run"
    with start_run(_config(folder)) as run:
        _finish(run)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with (
        pytest.raises(ValueError, match="bad data"),
        start_run(_config(folder, "--overwrite", "--units", "4")),
    ):
        raise ValueError("bad data")
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before
    # A process killed before training: the next claim restores it.
    start_run(_config(folder, "--overwrite", "--units", "4"))
    with pytest.raises(ValueError, match="other flags"):
        start_run(_config(folder, "--units", "2"))


@pytest.mark.backend_agnostic
def test_a_failure_after_training_started_keeps_the_run_to_resume(tmp_path):
    folder = tmp_path / "run"
    with pytest.raises(RuntimeError), start_run(_config(folder)) as run:
        run_callbacks(run.output_dir)
        (run.output_dir / "backup").mkdir()
        raise RuntimeError("killed in epoch 2")
    assert start_run(_config(folder)).resuming


@pytest.mark.backend_agnostic
def test_entries_there_before_any_run_are_never_moved(tmp_path):
    data = tmp_path / "reviews.tsv"
    data.write_text("label\ttext\n")
    (tmp_path / "worker-1").mkdir()  # another worker's folder
    (tmp_path / "worker-1" / "log.csv").write_text("epoch\n")
    with start_run(_config(tmp_path)) as run:
        _finish(run)
    with start_run(_config(tmp_path, "--overwrite", "--units", "2")) as run:
        _finish(run, files=())
    assert data.read_text() == "label\ttext\n"
    assert (tmp_path / "worker-1" / "log.csv").exists()
    assert not (tmp_path / "model.keras").exists()
    restart = _config(tmp_path, "--overwrite")
    with pytest.raises(ValueError, match="bad"), start_run(restart):
        raise ValueError("bad")
    assert data.exists() and (tmp_path / "metrics.json").exists()
