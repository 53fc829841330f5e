import keras
import numpy as np
import pytest

from kerasbig.graph import GCNConv
from kerasbig.graph import GINConv
from kerasbig.graph import GlobalSumPool
from kerasbig.graph import GraphBatch
from kerasbig.graph import GraphDataset
from kerasbig.graph import batch_graphs


def _path_or_star(n, star):
    centre = np.zeros(n - 1, "int32")
    leaves = np.arange(1, n)
    if star:
        edges = np.stack([centre, leaves])
    else:
        edges = np.stack([np.arange(n - 1), leaves])
    edges = np.concatenate([edges, edges[::-1]], axis=1)  # undirected
    return GraphBatch(np.ones((n, 1)), edges)


def test_fit_classifies_small_graphs_in_padded_batches():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    graphs = [_path_or_star(int(rng.integers(5, 9)), star) for star in labels]
    data = GraphDataset(graphs, labels, batch_size=16, shuffle=True, seed=0)
    keras.utils.set_random_seed(0)
    inputs = data.keras_inputs()
    hidden = inputs["x"]
    for _ in range(2):
        mlp = keras.Sequential([keras.layers.Dense(32, activation="relu")])
        hidden = GINConv(mlp)(hidden, inputs["edge_index"])
    pooled = GlobalSumPool()(
        hidden, inputs["graph_index"], num_graphs=data.batch_size + 1
    )
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=["accuracy"],
    )
    model.fit(data, epochs=60, verbose=0)
    _, accuracy = model.evaluate(
        GraphDataset(graphs, labels, batch_size=16), verbose=0
    )
    assert accuracy >= 0.95
    # Every batch has the same shapes: one compiled function.
    shapes = {
        tuple(v.shape for v in data[i][0].values()) for i in range(len(data))
    }
    assert len(shapes) == 1


def test_fit_full_graph_node_classification_with_a_training_mask():
    rng = np.random.default_rng(1)
    # Two communities, dense inside, sparse across; noisy features.
    labels = np.repeat([0, 1], 30)
    same = labels[:, None] == labels[None]
    adjacency = rng.random((60, 60)) < np.where(same, 0.2, 0.01)
    adjacency = np.triu(adjacency, 1)
    edges = np.argwhere(adjacency | adjacency.T).T
    features = labels[:, None] * 0.5 + rng.standard_normal((60, 4))
    graph = GraphBatch(features, edges)
    train = np.zeros(60, bool)
    train[rng.choice(60, 10, replace=False)] = True
    data = GraphDataset(
        [graph], labels, batch_size=1, level="node", node_weights=train
    )
    keras.utils.set_random_seed(0)
    inputs = data.keras_inputs()
    hidden = GCNConv(16, activation="relu")(inputs["x"], inputs["edge_index"])
    model = keras.Model(inputs, GCNConv(2)(hidden, inputs["edge_index"]))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(data, epochs=60, verbose=0)
    predicted = model.predict(data, verbose=0)
    assert predicted.shape == (60, 2)  # one row per node, no padding row
    predicted = predicted.argmax(-1)
    assert (predicted[~train] == labels[~train]).mean() >= 0.9


def test_node_level_items_weight_padding_zero():
    graph = GraphBatch(np.ones((3, 2)), np.array([[0, 1], [1, 2]]))
    data = GraphDataset(
        [graph],
        np.array([1, 2, 3]),
        batch_size=1,
        level="node",
        node_weights=np.array([1, 0, 1]),
        num_nodes=4,
    )
    inputs, targets, weights = data[0]
    assert inputs["x"].shape == (4, 2) and inputs["edge_index"].shape == (2, 2)
    assert targets.tolist() == [1, 2, 3, 0]
    assert weights.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_input_names_choose_what_is_yielded():
    graph = GraphBatch(np.ones((3, 2)), np.array([[0, 1], [1, 2]]))
    data = GraphDataset(
        [graph],
        [np.arange(3)],
        batch_size=1,
        level="node",
        input_names=("x", "edge_index"),
    )
    inputs, _, _ = data[0]
    assert list(inputs) == ["x", "edge_index"]
    assert list(data.keras_inputs()) == ["x", "edge_index"]
    with pytest.raises(ValueError, match=r"`input_names` \['edge_attr'\]"):
        GraphDataset([graph], input_names=("x", "edge_attr"))


def test_bad_arguments():
    graph = GraphBatch(np.ones((3, 2)), np.array([[0], [1]]))
    with pytest.raises(
        ValueError, match="GraphDataset: `targets` needs one row per graph"
    ):
        GraphDataset([graph, graph], np.array([1]))
    with pytest.raises(
        ValueError, match="GraphDataset: `targets` needs one array per graph"
    ):
        GraphDataset([graph], np.array([1, 2]), level="node")
    with pytest.raises(ValueError, match="GraphDataset: `level`"):
        GraphDataset([graph], level="edge")
    with pytest.raises(ValueError, match="GraphDataset: got no graphs"):
        GraphDataset([])


def _path(n, width=2):
    nodes = np.arange(n - 1)
    return GraphBatch(
        np.arange(n * width, dtype="float32").reshape(n, width),
        np.stack([nodes, nodes + 1]),
    )


def test_unpad_keeps_real_nodes_and_graphs_in_order():
    graphs = [_path(3), _path(2), _path(4)]
    for level, rows in (("node", 9), ("graph", 3)):
        data = GraphDataset(graphs, batch_size=2, level=level)
        inputs = data.keras_inputs()
        features = inputs["x"]
        if level == "graph":
            features = GlobalSumPool()(
                inputs["x"], inputs["graph_index"], num_graphs=3
            )
        model = keras.Model(inputs, keras.layers.Identity()(features))
        predicted = data.unpad(model.predict(data, verbose=0))
        assert predicted.shape == (rows, 2)
        if level == "node":
            expected = np.concatenate([g.x for g in graphs])
        else:
            expected = np.stack([g.x.sum(0) for g in graphs])
        np.testing.assert_allclose(predicted, expected)
    with pytest.raises(ValueError, match="GraphDataset.unpad: expected"):
        data.unpad(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="shuffle=True"):
        GraphDataset(graphs, shuffle=True).unpad(np.zeros((5, 2)))


def test_batch_graphs_names_mismatched_feature_widths():
    with pytest.raises(
        ValueError,
        match=r"batch_graphs: every graph's `x` must have the same trailing "
        r"shape. Received: graph 0: \(2,\), graph 1: \(3,\)",
    ):
        batch_graphs([_path(3), _path(3, width=3)])
