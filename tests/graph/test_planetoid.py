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
