"""Graph models of docs/graph.md to LiteRT and back through LiteRTModel,
and the `python -m kerasbig.export` command."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasbig.export import LiteRTModel
from kerasbig.export import to_litert
from kerasbig.graph import GATConv
from kerasbig.graph import GCNConv
from kerasbig.graph import GINConv
from kerasbig.graph import GlobalSumPool
from kerasbig.graph import GraphBatch
from kerasbig.graph import GraphDataset
from kerasbig.graph import from_networkx

nx = pytest.importorskip("networkx")


def _karate():
    karate = nx.karate_club_graph()
    graph = from_networkx(karate, x=np.eye(34))
    club = np.array([karate.nodes[n]["club"] == "Officer" for n in karate])
    return GraphDataset(
        [graph],
        club.astype("int32"),
        batch_size=1,
        level="node",
        input_names=("x", "edge_index"),
    )


def _karate_model(data, conv):
    keras.utils.set_random_seed(0)
    inputs = data.keras_inputs()
    hidden = conv(8, activation="relu")(inputs["x"], inputs["edge_index"])
    return keras.Model(inputs, conv(2)(hidden, inputs["edge_index"]))


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("conv", [GCNConv, GATConv], ids=["gcn", "gat"])
def test_karate_node_model_converts_and_predicts_whole_graph(conv, tmp_path):
    data = _karate()
    model = _karate_model(data, conv)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(data, epochs=2, verbose=0)
    expected = model.predict(data, verbose=0)
    assert expected.shape == (34, 2)
    (inputs, *_) = data[0]
    exported = to_litert(model, tmp_path / "karate.tflite", verify_data=inputs)
    assert not exported.batched
    got = exported.predict(inputs)
    assert got.shape == (34, 2)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Opened again from the file, as a user on the phone side would.
    reopened = LiteRTModel(exported.path)
    np.testing.assert_allclose(reopened.predict(inputs), got)
    assert reopened.latency(inputs, runs=3, warmup=1)["p50"] > 0
    with pytest.raises(ValueError, match="share no example axis"):
        reopened.predict(inputs, batch_size=8)


@pytest.mark.tensorflow_only
def test_functional_model_with_full_graph_shapes_converts(tmp_path):
    # docs/graph.md, "In a functional model".
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 8)).astype("float32")
    edge_index = np.array([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]], "int32")
    x_in = keras.Input(batch_shape=(6, 8), name="x")
    edges_in = keras.Input(batch_shape=(2, 6), dtype="int32", name="edges")
    hidden = GCNConv(16, activation="relu")(x_in, edges_in)
    model = keras.Model([x_in, edges_in], GCNConv(3)(hidden, edges_in))
    exported = to_litert(
        model, tmp_path / "gcn.tflite", verify_data=[x, edge_index]
    )
    np.testing.assert_allclose(
        exported.predict([x, edge_index]),
        keras.ops.convert_to_numpy(model([x, edge_index])),
        atol=1e-5,
    )
    with pytest.raises(ValueError, match=r"input 'edges' must have shape"):
        exported.predict([x, edge_index[:, :4]])


@pytest.mark.tensorflow_only
def test_graph_level_gin_converts_and_predicts_padded_batches(tmp_path):
    rng = np.random.default_rng(0)
    graphs = []
    for n in (3, 5, 4, 6):
        nodes = np.arange(n - 1)
        graphs.append(
            GraphBatch(
                rng.standard_normal((n, 3)), np.stack([nodes, nodes + 1])
            )
        )
    data = GraphDataset(graphs, np.array([0, 1, 0, 1]), batch_size=2)
    keras.utils.set_random_seed(0)
    inputs = data.keras_inputs()
    h = GINConv(keras.layers.Dense(8, activation="relu"))(
        inputs["x"], inputs["edge_index"]
    )
    pooled = GlobalSumPool()(h, inputs["graph_index"], num_graphs=3)
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled))
    expected = data.unpad(model.predict(data, verbose=0))
    first, *_ = data[0]
    exported = to_litert(model, tmp_path / "gin.tflite", verify_data=first)
    got = np.concatenate(
        [exported.predict(data[i][0]) for i in range(len(data))]
    )
    np.testing.assert_allclose(data.unpad(got), expected, atol=1e-5)


@pytest.mark.backend_agnostic
def test_export_command_answers_help_before_keras_loads(program_help):
    text, loaded = program_help("-m", "kerasbig.export")
    assert not loaded, loaded[:10]
    assert "--quantization {float32,dynamic,float16,int8}" in text


@pytest.mark.full
@pytest.mark.tensorflow_only
@pytest.mark.backend_agnostic
def test_export_command_converts_a_saved_model_from_another_backend(tmp_path):
    data = _karate()
    model = _karate_model(data, GCNConv)
    model.save(tmp_path / "karate.keras")
    (inputs, *_) = data[0]
    np.savez(tmp_path / "verify.npz", **inputs)
    environment = dict(os.environ, KERAS_BACKEND="jax")
    command = [sys.executable, "-m", "kerasbig.export"]
    done = subprocess.run(
        command
        + [
            str(tmp_path / "karate.keras"),
            str(tmp_path / "karate.tflite"),
            "--verify-data",
            str(tmp_path / "verify.npz"),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"wrote {tmp_path / 'karate.tflite'}")
    np.testing.assert_allclose(
        LiteRTModel(tmp_path / "karate.tflite").predict(inputs),
        keras.ops.convert_to_numpy(model(inputs)),
        atol=1e-5,
    )
    missing = subprocess.run(
        command + [str(tmp_path / "none.keras"), str(tmp_path / "x.tflite")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 1
    lines = missing.stderr.strip().splitlines()
    assert lines[-1].startswith("kerasbig.export: ")
    assert "none.keras" in lines[-1]
