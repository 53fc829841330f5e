"""Training across processes on loopback: two TensorFlow workers
(MultiWorkerMirroredStrategy with kerasbig's fix) and two JAX processes
(keras.distribution.initialize) run the text recipe to completion; a
killed worker stops the other with a clear message, and rerunning the
same commands resumes from the last finished epoch."""

import json
import signal

import keras
import numpy as np
import pytest
from processes import HERE
from processes import TEXT_RECIPE
from processes import finish
from processes import launch
from processes import text_recipe_args

BACKEND = keras.backend.backend()
# Full tier: several processes per test, a minute or more each.
pytestmark = [
    pytest.mark.full,
    pytest.mark.skipif(
        BACKEND == "torch",
        reason="Keras 3 has no multi-process PyTorch training",
    ),
]
STRATEGY = {"tensorflow": "multiworker", "jax": "data_parallel"}[
    BACKEND if BACKEND != "torch" else "jax"
]


def _cluster_flags(ports):
    addresses = ",".join(f"127.0.0.1:{port}" for port in ports)
    return [
        "--strategy",
        STRATEGY,
        "--job-addresses",
        addresses,
        "--num-processes",
        str(len(ports)),
    ]


def _workers(args, ports):
    return [
        launch(
            [TEXT_RECIPE, *args, *_cluster_flags(ports), "--process-id", i],
            BACKEND,
        )
        for i in range(len(ports))
    ]


# On JAX the recipe's two-process run to completion is the second half
# of the kill test below (and the exact check is the one after this), so
# this one runs on TensorFlow only, for CI time.
@pytest.mark.tensorflow_only
def test_two_workers_train_the_recipe(text_data, tmp_path, free_ports):
    output_dir = tmp_path / "run"
    args = text_recipe_args(text_data, output_dir)
    results = [finish(p) for p in _workers(args, free_ports(2))]
    for code, output in results:
        assert code == 0, output[-3000:]
    chief = json.loads((output_dir / "metrics.json").read_text())
    other = json.loads((output_dir / "worker-1" / "metrics.json").read_text())
    assert chief["distribution"]["workers"] == 2
    assert chief["distribution"]["replicas"] == 2
    assert chief["distribution"]["per_replica_batch_size"] == 16
    assert other["distribution"]["worker"] == 1
    single = tmp_path / "single"
    code, output = finish(
        launch([TEXT_RECIPE, *text_recipe_args(text_data, single)], BACKEND)
    )
    assert code == 0, output[-3000:]
    alone = json.loads((single / "metrics.json").read_text())
    # Both workers hold the same model; the split of the data over the
    # workers differs from one process's order, so results are close.
    assert chief["best_val_accuracy"] == other["best_val_accuracy"]
    assert abs(chief["best_val_accuracy"] - alone["best_val_accuracy"]) < 0.05


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's multi-process check")
def test_two_jax_processes_equal_one(free_ports):
    (port,) = free_ports(1)
    processes = [
        launch(
            [HERE / "jax_check.py", "process", f"127.0.0.1:{port}", 2, i], "jax"
        )
        for i in range(2)
    ]
    outputs = [finish(p) for p in processes]
    single = finish(launch([HERE / "jax_check.py", "process", "", 1, 0], "jax"))
    runs = []
    for code, output in [*outputs, single]:
        assert code == 0, output[-3000:]
        line = [x for x in output.splitlines() if x.startswith("RESULTS")][-1]
        runs.append(json.loads(line[len("RESULTS ") :]))
    assert [r["distribution"]["workers"] for r in runs] == [2, 2, 1]
    for run in runs[:2]:
        for a, b in zip(run["weights"], runs[2]["weights"], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_killed_worker_stops_the_other_and_rerun_resumes(
    text_data, tmp_path, free_ports
):
    output_dir = tmp_path / "run"
    args = text_recipe_args(text_data, output_dir, epochs=4, batch_size=16)
    chief, other = _workers(args, free_ports(2))
    for line in other.stdout:
        if line.startswith("Epoch 2/4"):
            other.send_signal(signal.SIGKILL)
            break
    other.wait()
    code, output = finish(chief, timeout=180)
    assert code != 0
    assert "another worker of this 2-worker run stopped" in output, output
    assert "Restart the same command on every worker" in output
    results = [finish(p) for p in _workers(args, free_ports(2))]
    for code, output in results:
        assert code == 0, output[-3000:]
        assert "Epoch 1/4" not in output and "Epoch 2/4" in output, output
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 4  # from log.csv: all four epochs
