import json

import keras
import numpy as np
import pytest

# Recipe runs: per push on TensorFlow; on JAX and PyTorch in the full
# tier (quickstart's smoke runs on every backend per push).
pytestmark = pytest.mark.tensorflow_per_push


@pytest.fixture
def recipe(load_recipe):
    return load_recipe("graph_classification")


def test_digit_graph_links_inked_neighbours(recipe):
    image = np.zeros((8, 8, 1), "float32")
    image[0, 0, 0], image[1, 1, 0], image[5, 5, 0] = 1.0, 0.5, 0.25
    graph = recipe.digit_graph(image)
    np.testing.assert_allclose(
        graph.x, [[1.0, 0.0, 0.0], [0.5, 1 / 7, 1 / 7], [0.25, 5 / 7, 5 / 7]]
    )
    assert sorted(map(tuple, graph.edge_index.T.tolist())) == [(0, 1), (1, 0)]


def test_split_per_class_is_stratified_and_disjoint(recipe):
    labels = np.repeat([0, 1, 2], [10, 20, 30])
    train, val, test = recipe.split_per_class(labels, [0.8, 0.1, 0.1], 0)
    assert (
        len(np.intersect1d(train, val)) == len(np.intersect1d(val, test)) == 0
    )
    assert len(train) + len(val) + len(test) == 60
    assert np.bincount(labels[val]).tolist() == [1, 2, 3]


def test_smoke_run_on_digits_writes_model_and_metrics(
    recipe, check_report, tmp_path
):
    metrics = recipe.main(["--smoke", "--output-dir", str(tmp_path)])
    check_report(metrics, "graph_classification", tmp_path)
    assert metrics["backend"] == keras.backend.backend()
    assert metrics["epochs"] == 2
    assert metrics["examples"] == {
        "train": 1259,
        "validation": 179,
        "test": 359,
    }
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    assert (tmp_path / "model.keras").is_file()


@pytest.mark.full
def test_tu_folder_trains(recipe, tmp_path):
    # Two classes a GIN separates: triangles vs paths of three nodes.
    folder = tmp_path / "SHAPES"
    folder.mkdir()
    edges, indicator, labels = [], [], []
    for g in range(40):
        start = 3 * g + 1
        pairs = [(0, 1), (1, 2)] + ([(2, 0)] if g % 2 else [])
        for a, b in pairs:
            edges += [(start + a, start + b), (start + b, start + a)]
        indicator += [g + 1] * 3
        labels.append(g % 2)
    np.savetxt(folder / "SHAPES_A.txt", edges, fmt="%d", delimiter=", ")
    np.savetxt(folder / "SHAPES_graph_indicator.txt", indicator, fmt="%d")
    np.savetxt(folder / "SHAPES_graph_labels.txt", labels, fmt="%d")
    metrics = recipe.main(
        [
            "--data-path",
            str(folder),
            "--epochs",
            "40",
            "--batch-size",
            "8",
            "--dropout",
            "0",
            "--output-dir",
            str(tmp_path / "run"),
        ]
    )
    assert metrics["examples"] == {"train": 32, "validation": 4, "test": 4}
    assert metrics["test_accuracy"] == 1.0


def test_missing_folder_says_what_to_pass(recipe, tmp_path):
    with pytest.raises(
        ValueError, match=r"nowhere is not a folder. Pass a folder of a TU"
    ):
        recipe.main(["--data-path", str(tmp_path / "nowhere")])


@pytest.mark.backend_agnostic
def test_help_explains_every_flag(recipe_help):
    text = recipe_help("graph_classification")
    for flag in [
        "--data-path",
        "--epochs",
        "--patience",
        "--batch-size",
        "--learning-rate",
        "--layers",
        "--hidden",
        "--dropout",
        "--seed",
        "--output-dir",
        "--smoke",
    ]:
        assert flag in text


@pytest.mark.large
@pytest.mark.tensorflow_only
def test_default_run_classifies_digit_graphs(recipe, tmp_path):
    metrics = recipe.main(["--output-dir", str(tmp_path)])
    assert metrics["test_accuracy"] >= 0.85
