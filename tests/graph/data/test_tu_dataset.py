import numpy as np
import pytest

from kerasbig.graph import load_tu_dataset

torch = pytest.importorskip("torch")
pyg_datasets = pytest.importorskip("torch_geometric.datasets")


# Runs once (on TensorFlow): the TU loader is NumPy on every backend.
pytestmark = pytest.mark.backend_agnostic


def _write_tu_files(raw, name, rng, num_graphs=6):
    """A TU data set with every optional file, self-loops and duplicates."""
    sizes = rng.integers(3, 8, num_graphs)
    graph_of_node = np.repeat(np.arange(num_graphs), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    edges = []
    for start, size in zip(starts, sizes, strict=True):
        local = rng.integers(0, size, (2, 2 * size))
        local[:, 0] = local[0, 0]  # a self-loop
        local[:, -1] = local[:, -2]  # a duplicate edge
        edges.append(local + start)
    edges = np.concatenate(edges, axis=1).T + 1
    num_nodes, num_edges = len(graph_of_node), len(edges)

    def write(part, values, fmt):
        np.savetxt(raw / f"{name}_{part}.txt", values, fmt=fmt, delimiter=", ")

    write("A", edges, "%d")
    write("graph_indicator", graph_of_node + 1, "%d")
    write("graph_labels", rng.choice([-1, 1, 3], num_graphs), "%d")
    write("node_labels", rng.integers(2, 6, num_nodes), "%d")
    write("node_attributes", rng.standard_normal((num_nodes, 2)), "%.6f")
    write("edge_labels", rng.integers(0, 3, (num_edges, 2)), "%d")
    write("edge_attributes", rng.standard_normal(num_edges), "%.6f")


@pytest.mark.parametrize("use_attributes", [False, True])
def test_equals_pyg_tudataset(tmp_path, use_attributes):
    name = "FAKE"
    raw = tmp_path / name / "raw"
    raw.mkdir(parents=True)
    _write_tu_files(raw, name, np.random.default_rng(0))
    reference = pyg_datasets.TUDataset(
        str(tmp_path),
        name,
        use_node_attr=use_attributes,
        use_edge_attr=use_attributes,
    )
    graphs, labels = load_tu_dataset(
        raw,
        name,
        use_node_attributes=use_attributes,
        use_edge_attributes=use_attributes,
    )
    assert len(graphs) == len(reference) == 6
    for graph, label, expected in zip(graphs, labels, reference, strict=True):
        np.testing.assert_allclose(graph.x, expected.x.numpy(), atol=1e-6)
        np.testing.assert_array_equal(
            graph.edge_index, expected.edge_index.numpy()
        )
        assert label == int(expected.y)
        if use_attributes:
            np.testing.assert_allclose(
                graph.edge_attr, expected.edge_attr.numpy(), atol=1e-6
            )
        else:
            assert graph.edge_attr is None


def test_featureless_graphs_get_a_constant_feature(tmp_path):
    folder = tmp_path / "PLAIN"
    folder.mkdir()
    (folder / "PLAIN_A.txt").write_text("1, 2\n2, 1\n")
    (folder / "PLAIN_graph_indicator.txt").write_text("1\n1\n2\n")
    (folder / "PLAIN_graph_labels.txt").write_text("0\n1\n")
    graphs, labels = load_tu_dataset(folder)
    assert [g.x.tolist() for g in graphs] == [[[1.0], [1.0]], [[1.0]]]
    assert labels.tolist() == [0, 1]


def test_bad_folders_raise_clear_errors(tmp_path):
    folder = tmp_path / "BAD"
    folder.mkdir()
    with pytest.raises(ValueError, match="BAD_A.txt is missing"):
        load_tu_dataset(folder)
    (folder / "BAD_A.txt").write_text("1, 3\n")  # joins two graphs
    (folder / "BAD_graph_indicator.txt").write_text("1\n1\n2\n")
    (folder / "BAD_graph_labels.txt").write_text("0\n1\n")
    with pytest.raises(ValueError, match="two of the 3 nodes of one graph"):
        load_tu_dataset(folder)


@pytest.fixture
def tu_server(tmp_path, http_server):
    """A local server with TINY.zip (as the TU site packs it: TINY/...)
    and a truncated BROKEN.zip; returns (url, reference folder)."""
    import zipfile

    source = tmp_path / "source" / "TINY"
    source.mkdir(parents=True)
    _write_tu_files(source, "TINY", np.random.default_rng(0))
    site = tmp_path / "site"
    site.mkdir()
    with zipfile.ZipFile(site / "TINY.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(source.iterdir()):
            z.write(file, f"TINY/{file.name}")
    data = (site / "TINY.zip").read_bytes()
    (site / "BROKEN.zip").write_bytes(data[: len(data) // 2])
    return http_server(site), source


def _same(a, b):
    (graphs_a, labels_a), (graphs_b, labels_b) = a, b
    assert labels_a.tolist() == labels_b.tolist()
    for g, h in zip(graphs_a, graphs_b, strict=True):
        np.testing.assert_array_equal(g.x, h.x)
        np.testing.assert_array_equal(g.edge_index, h.edge_index)


def test_download_by_name_unpacks_once_and_reads_like_the_folder(
    tu_server, tmp_path, http_server, monkeypatch
):
    url, source = tu_server
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    with pytest.warns(UserWarning, match="without verification"):
        downloaded = load_tu_dataset("TINY", base_url=url)
    _same(downloaded, load_tu_dataset(source))
    cache = tmp_path / "home" / "datasets" / "kerasbig" / "tu"
    assert (cache / "TINY" / "TINY_A.txt").is_file()
    assert http_server.requests == {"/TINY.zip": 1}
    _same(load_tu_dataset(name="TINY", base_url=url), downloaded)
    assert http_server.requests == {"/TINY.zip": 1}  # from the cache
    # data_dir= elsewhere, with the attributes PyG's flags add.
    with pytest.warns(UserWarning, match="without verification"):
        graphs, _ = load_tu_dataset(
            "TINY",
            base_url=url,
            data_dir=tmp_path / "mine",
            use_node_attributes=True,
        )
    assert (
        graphs[0].x.shape[1]
        == load_tu_dataset(source, use_node_attributes=True)[0][0].x.shape[1]
    )


def test_damaged_download_is_fetched_again_then_refused(
    tu_server, tmp_path, http_server
):
    url, _ = tu_server
    with (
        pytest.warns(UserWarning),
        pytest.raises(
            ValueError,
            match=r"BROKEN.zip from http://127.0.0.1:\d+ is not a readable "
            r"zip archive .* after two downloads; it was removed",
        ),
    ):
        load_tu_dataset("BROKEN", base_url=url, data_dir=tmp_path / "d")
    assert http_server.requests["/BROKEN.zip"] == 2
    assert not (tmp_path / "d" / "BROKEN.zip").exists()


def test_offline_download_names_url_file_and_place(tmp_path):
    with pytest.raises(
        RuntimeError,
        match=r"load_tu_dataset: could not download MUTAG.zip from "
        r"http://127.0.0.1:9/MUTAG.zip .* put it at "
        + str(tmp_path / "d" / "MUTAG.zip"),
    ):
        load_tu_dataset(
            "MUTAG", base_url="http://127.0.0.1:9", data_dir=tmp_path / "d"
        )
    with pytest.raises(ValueError, match="give a data set name"):
        load_tu_dataset()
