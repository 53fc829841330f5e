"""Data parallelism over two CPU devices of one process: TensorFlow's
MirroredStrategy over two logical CPUs, JAX's DataParallel over two
host devices. Each runs in a process of its own (devices are fixed when
the backend starts) and must equal single-device training."""

import csv
import json

import keras
import pytest
from processes import HERE
from processes import finish
from processes import launch

BACKEND = keras.backend.backend()
MESH_STYLES = ("fsdp", "tensor_parallel", "both")


def _results(output):
    lines = [line for line in output.splitlines() if line.startswith("RESULTS")]
    assert lines, output[-3000:]
    return json.loads(lines[-1][len("RESULTS ") :])


def _last_row(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))[-1]


@pytest.mark.full
@pytest.mark.tensorflow_only
def test_mirrored_over_two_cpus_matches_one_device(text_data, tmp_path):
    code, output = finish(
        launch([HERE / "mirrored_check.py", text_data, tmp_path], "tensorflow")
    )
    assert code == 0, output[-3000:]
    results = _results(output)
    assert results["replicas"] == 2
    # Same global batch: the replicas' summed gradients are the
    # one-device gradient, and GAN/VAE noise is sliced per replica.
    for name in ("dense", "gan", "wgan_gp", "vae"):
        assert results[name]["weights"] < 1e-5, (name, results[name])
        assert results[name]["logs"] < 1e-5, (name, results[name])
    mirrored = results["recipe_mirrored"]["distribution"]
    assert mirrored["replicas"] == 2
    assert mirrored["per_replica_batch_size"] == 32
    # The recipe's dropout masks differ per replica: close, not equal.
    a = _last_row(tmp_path / "mirrored" / "log.csv")
    b = _last_row(tmp_path / "none" / "log.csv")
    assert abs(float(a["val_loss"]) - float(b["val_loss"])) < 0.05, (a, b)
    assert results["recipe_mirrored"]["best_val_accuracy"] >= 0.95
    # Mixed precision under the strategy (bfloat16 compute on CPUs).
    mixed = results["recipe_mixed"]
    assert mixed["precision_policy"] == "mixed_bfloat16"
    assert mixed["distribution"]["replicas"] == 2
    assert mixed["best_val_accuracy"] >= 0.95
    assert (
        "cannot be split across 2 replicas" in (results["graph_recipe_refusal"])
    )


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution is JAX's")
def test_data_parallel_over_two_devices_matches_one_device():
    code, output = finish(
        launch(
            [HERE / "jax_check.py", "devices"],
            "jax",
            {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
        )
    )
    assert code == 0, output[-3000:]
    results = _results(output)
    for name in ("dense", "gan"):
        assert results[f"{name}_replicas_data_parallel"] == 2
        assert results[name] < 1e-5, (name, results)


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution is JAX's")
def test_model_parallel_on_a_two_by_two_mesh_matches_one_device():
    # Per push: 6 query and 3 key/value heads over a model axis of 2,
    # which splits the queries and cannot split the keys and values; one
    # AdamW step against the unsharded model.
    code, output = finish(
        launch(
            [HERE / "model_parallel_check.py", "small"],
            "jax",
            {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"},
        )
    )
    assert code == 0, output[-3000:]
    results = _results(output)
    row = results["both"]
    assert results["devices"] == 4 and row["replicas"] == 2
    assert row["logits"] < 1e-5, row
    assert row["weights"] < 1e-5, row
    assert row["sharding"]["query"] == "P('batch', 'model', None)"
    assert row["sharding"]["key"] == "P('batch', None, None)"
    assert row["sharding"]["down"] == "P('model', 'batch')"
    assert row["bytes_per_device"] < results["total_bytes"] / 2


@pytest.mark.full
@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution is JAX's")
def test_model_parallel_over_eight_devices_matches_one_device():
    # A grouped-query CausalLM (8 query heads, 2 key/value heads, biases,
    # untied head), one AdamW step, each layout style on its mesh.
    code, output = finish(
        launch(
            [HERE / "model_parallel_check.py"],
            "jax",
            {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"},
        )
    )
    assert code == 0, output[-3000:]
    results = _results(output)
    assert results["devices"] == 8
    total = results["total_bytes"]
    for style in MESH_STYLES:
        row = results[style]
        print(
            f"{style} on {row['mesh']}: {row['bytes_per_device']} of "
            f"{total} weight bytes per device "
            f"({row['bytes_per_device'] / total:.3f})"
        )
        assert row["logits"] < 1e-5, (style, row)
        assert row["weights"] < 1e-5, (style, row)
        # About 1/8: norms stay whole, and under tensor parallelism the
        # two key/value heads (not a multiple of 8) too.
        assert row["bytes_per_device"] < total / 8 * 1.4, (style, row)
    sharding = {style: results[style]["sharding"] for style in MESH_STYLES}
    assert sharding["tensor_parallel"] == {
        "query": "P(None, 'model', None)",
        "key": "P(None, None, None)",
        "output": "P('model', None, None)",
        "down": "P('model', None)",
        "embeddings": "P('model', None)",
        "lm_head": "P(None, 'model')",
        "norm": "P(None,)",
    }
    assert sharding["both"]["query"] == "P('batch', 'model', None)"
    assert sharding["both"]["key"] == "P('batch', None, None)"
    assert sharding["fsdp"]["down"] == "P('batch', None)"
    assert results["both"]["replicas"] == 2
    assert results["tensor_parallel"]["replicas"] == 1
