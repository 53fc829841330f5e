import pickle

import numpy as np
import pytest

from kerasbig.graph import load_planetoid

sparse = pytest.importorskip("scipy.sparse")


# Runs once (on TensorFlow): the Planetoid loader is NumPy on every backend.
pytestmark = pytest.mark.backend_agnostic


def _write_ind_files(graph, folder, key, rng):
    """The original Planetoid files that produce `graph` (an npz dict)."""
    x, y = graph["x"], graph["y"]
    classes = int(y.max()) + 1
    one_hot = np.eye(classes, dtype="float32")[np.maximum(y, 0)]
    one_hot[y < 0] = 0
    test_index = rng.permutation(np.flatnonzero(graph["test_mask"]))
    first = test_index.min()
    train = int(graph["train_mask"].sum())
    parts = {
        "x": sparse.csr_matrix(x[:train]),
        "y": one_hot[:train],
        "allx": sparse.csr_matrix(x[:first]),
        "ally": one_hot[:first],
        "tx": sparse.csr_matrix(x[test_index]),
        "ty": one_hot[test_index],
    }
    adjacency = {node: [] for node in range(len(y))}
    for source, target in graph["edge_index"].T:
        adjacency[int(source)].append(int(target))
    adjacency[0] += [0, adjacency[0][0]]  # a self-loop and a duplicate edge
    parts["graph"] = adjacency
    for part, value in parts.items():
        (folder / f"ind.{key}.{part}").write_bytes(pickle.dumps(value))
    np.savetxt(folder / f"ind.{key}.test.index", test_index, fmt="%d")


@pytest.mark.parametrize("key", ["cora", "citeseer"])
def test_original_files_read_like_the_npz_and_pyg(shared_data, tmp_path, key):
    npz = load_planetoid(key, shared_data / "planetoid" / f"{key}.npz")
    _write_ind_files(npz, tmp_path, key, np.random.default_rng(0))
    ours = load_planetoid(key.upper(), tmp_path)
    for name in ("x", "y", "train_mask", "val_mask", "test_mask"):
        np.testing.assert_array_equal(ours[name], npz[name], err_msg=name)
    # The same edges; the npz lists them by source, PyG 2.8 by target.
    assert sorted(map(tuple, ours["edge_index"].T)) == sorted(
        map(tuple, npz["edge_index"].T)
    )
    planetoid_io = pytest.importorskip("torch_geometric.io.planetoid")
    theirs = planetoid_io.read_planetoid_data(str(tmp_path), key)
    np.testing.assert_array_equal(ours["edge_index"], theirs.edge_index.numpy())
    np.testing.assert_array_equal(ours["x"], theirs.x.numpy())
    real = ours["y"] >= 0  # PyG labels CiteSeer's padding nodes 0
    np.testing.assert_array_equal(ours["y"][real], theirs.y.numpy()[real])
    np.testing.assert_array_equal(ours["test_mask"], theirs.test_mask.numpy())


def test_npz_shapes_split_and_normalisation(shared_data):
    cora = load_planetoid(
        "cora", shared_data / "planetoid", normalize_features=True
    )
    assert cora["x"].shape == (2708, 1433) and cora["x"].dtype == np.float32
    assert cora["edge_index"].shape == (2, 10556)
    assert [
        int(cora[m].sum()) for m in ("train_mask", "val_mask", "test_mask")
    ] == [
        140,
        500,
        1000,
    ]
    np.testing.assert_allclose(cora["x"].sum(1), 1.0, atol=1e-5)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_refuses_pickles_that_build_other_objects(tmp_path):
    for part in ("x", "tx", "allx", "y", "ty", "ally"):
        (tmp_path / f"ind.cora.{part}").write_bytes(
            pickle.dumps(np.zeros((1, 1)))
        )
    (tmp_path / "ind.cora.graph").write_bytes(pickle.dumps(_Evil()))
    (tmp_path / "ind.cora.test.index").write_text("0\n")
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        load_planetoid("cora", tmp_path)


def test_bad_name_and_missing_files(tmp_path):
    with pytest.raises(
        ValueError, match="load_planetoid: `name` must be one of"
    ):
        load_planetoid("reddit", tmp_path)
    with pytest.raises(
        ValueError, match="found neither .*cora.npz nor the files"
    ):
        load_planetoid("cora", tmp_path)


def test_download_verifies_caches_and_matches_the_npz(
    shared_data, tmp_path, http_server, monkeypatch
):
    url = http_server(shared_data / "planetoid" / "raw")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("KERASBIG_DATA_DIR", raising=False)
    graph = load_planetoid("cora", base_url=url)
    expected = load_planetoid("cora", shared_data / "planetoid" / "cora.npz")
    for name in ("x", "y", "train_mask", "val_mask", "test_mask"):
        np.testing.assert_array_equal(graph[name], expected[name])
    cache = tmp_path / "keras_home" / "datasets" / "kerasbig" / "planetoid"
    assert (cache / "ind.cora.graph").is_file()
    # A second load uses the cache: no new request.
    before = sum(http_server.requests.values())
    load_planetoid("cora", base_url=url)
    assert sum(http_server.requests.values()) == before
    # KERASBIG_DATA_DIR moves the cache; data_dir names the folder itself.
    monkeypatch.setenv("KERASBIG_DATA_DIR", str(tmp_path / "elsewhere"))
    load_planetoid("cora", base_url=url)
    assert (tmp_path / "elsewhere" / "planetoid" / "ind.cora.x").is_file()
    load_planetoid("cora", base_url=url, data_dir=tmp_path / "mine")
    assert (tmp_path / "mine" / "ind.cora.x").is_file()


def test_a_damaged_file_is_fetched_again(shared_data, tmp_path, http_server):
    url = http_server(shared_data / "planetoid" / "raw")
    load_planetoid("cora", base_url=url, data_dir=tmp_path)
    (tmp_path / "ind.cora.allx").write_bytes(b"partial")  # cut short
    http_server.requests.clear()
    graph = load_planetoid("cora", base_url=url, data_dir=tmp_path)
    assert http_server.requests == {"/ind.cora.allx": 1}
    assert graph["x"].shape == (2708, 1433)


def test_a_corrupt_download_is_removed_with_a_message(
    shared_data, tmp_path, http_server
):
    served = tmp_path / "served"
    served.mkdir()
    for path in (shared_data / "planetoid" / "raw").glob("ind.cora.*"):
        (served / path.name).write_bytes(path.read_bytes())
    (served / "ind.cora.tx").write_bytes(b"tampered")
    url = http_server(served)
    target = tmp_path / "cache"
    with pytest.raises(ValueError, match="ind.cora.tx downloaded from") as info:
        load_planetoid("cora", base_url=url, data_dir=target)
    assert "not the original's b9afbaa4" in str(info.value)
    assert not (target / "ind.cora.tx").exists()


def test_offline_names_the_url_the_file_and_where_to_put_it(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data"
    with pytest.raises(RuntimeError) as info:
        load_planetoid("citeseer", base_url=url, data_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("load_planetoid: could not download ind.")
    assert f"from {url}/ind.citeseer." in message
    assert f"put it at {tmp_path}" in message
    assert "KERASBIG_DATA_DIR" in message
