"""The Planetoid citation graphs (Cora, CiteSeer, PubMed) with their public
split, read from local files (nothing is downloaded)."""

import io
import pathlib
import pickle

import numpy as np

from kerasbig._optional import import_optional

_NAMES = ("cora", "citeseer", "pubmed")
_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph")
_KEYS = ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask")

# What the `ind.*` pickles may construct: NumPy arrays, SciPy CSR matrices
# and the adjacency dict. Anything else in a file is refused.
_ALLOWED = {
    ("collections", "defaultdict"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "set"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("scipy.sparse.csr", "csr_matrix"),
    ("scipy.sparse._csr", "csr_matrix"),
}


class _PlanetoidUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"load_planetoid: the file wants to build `{module}.{name}`, "
                "which a Planetoid file never contains; refusing to load it"
            )
        if module.startswith("scipy"):
            import_optional("scipy.sparse", "Reading Planetoid ind.* files")
        return super().find_class(module, name)


def load_planetoid(name, path, normalize_features=False):
    """Loads Cora, CiteSeer or PubMed with the public Planetoid split.

    `path` is either an `.npz` file (or a folder holding `<name>.npz`) with
    the arrays below, such as `../shared/data/planetoid/cora.npz`, or a
    folder with the original `ind.<name>.{x,tx,allx,y,ty,ally,graph,
    test.index}` files of Yang et al. The original files are Python
    pickles; they are read with an unpickler that only builds NumPy arrays,
    SciPy CSR matrices and the adjacency dict, and refuses anything else,
    so a tampered file cannot run code. SciPy is needed for them
    (`pip install 'kerasbig[datasets]'`).

    The processing equals PyTorch Geometric's `Planetoid`: test nodes are
    put back in index order, CiteSeer's missing test nodes get zero
    features (and label `-1` here), self-loops are removed and duplicate
    edges merged, edges sorted by target then source.

    Args:
        name: `"cora"`, `"citeseer"` or `"pubmed"` (any case).
        path: the `.npz` file or the folder.
        normalize_features: divide each feature row by its sum (PyG's
            `NormalizeFeatures`; all-zero rows stay zero). Defaults to
            `False`.

    Returns:
        A dict of NumPy arrays: `x` float32 `(N, F)`, `y` int64 `(N,)`,
        `edge_index` int64 `(2, E)` (both directions, row 0 = source),
        and boolean `(N,)` `train_mask`, `val_mask`, `test_mask`.

    Example:

        >>> import pathlib
        >>> from kerasbig.graph import load_planetoid
        >>> cora = pathlib.Path("../shared/data/planetoid/cora.npz")
        >>> if cora.exists():
        ...     graph = load_planetoid("cora", cora)
        ...     assert graph["x"].shape == (2708, 1433)
        ...     assert int(graph["train_mask"].sum()) == 140
    """
    key = str(name).lower()
    if key not in _NAMES:
        raise ValueError(
            f"load_planetoid: `name` must be one of {_NAMES}. "
            f"Received: name={name!r}"
        )
    path = pathlib.Path(path)
    npz = path if path.suffix == ".npz" else path / f"{key}.npz"
    if npz.is_file():
        with np.load(npz) as data:
            missing = [k for k in _KEYS if k not in data.files]
            if missing:
                raise ValueError(
                    f"load_planetoid: {npz} lacks the arrays {missing}; "
                    f"expected {list(_KEYS)}. Received: {data.files}"
                )
            graph = {k: np.asarray(data[k]) for k in _KEYS}
    elif path.is_dir() and (path / f"ind.{key}.graph").is_file():
        graph = _read_ind_files(path, key)
    else:
        raise ValueError(
            f"load_planetoid: found neither {npz} nor the files "
            f"ind.{key}.* in {path}. Pass an .npz file or the folder of "
            f"the original Planetoid files. Received: path={str(path)!r}"
        )
    graph["x"] = graph["x"].astype("float32")
    graph["y"] = graph["y"].astype("int64")
    graph["edge_index"] = graph["edge_index"].astype("int64")
    if normalize_features:
        totals = graph["x"].sum(axis=1, keepdims=True)
        graph["x"] = graph["x"] / np.where(totals == 0, 1, totals)
    return graph


def _load_part(folder, key, part):
    raw = (folder / f"ind.{key}.{part}").read_bytes()
    value = _PlanetoidUnpickler(io.BytesIO(raw), encoding="latin1").load()
    if part == "graph":
        return value
    value = value.toarray() if hasattr(value, "toarray") else value
    return np.asarray(value, dtype="float32")


def _read_ind_files(folder, key):
    x, tx, allx, y, ty, ally, adjacency = (
        _load_part(folder, key, part) for part in _PARTS
    )
    test_index = np.loadtxt(folder / f"ind.{key}.test.index", dtype="int64")
    test_index = np.atleast_1d(test_index)
    sorted_test = np.sort(test_index)
    if key == "citeseer":
        # Isolated test nodes have no row in tx/ty: give them zeros.
        span = int(test_index.max() - test_index.min()) + 1
        tx_full = np.zeros((span, tx.shape[1]), tx.dtype)
        ty_full = np.zeros((span, ty.shape[1]), ty.dtype)
        tx_full[sorted_test - test_index.min()] = tx
        ty_full[sorted_test - test_index.min()] = ty
        tx, ty = tx_full, ty_full
    features = np.concatenate([allx, tx])
    features[test_index] = features[sorted_test]
    one_hot = np.concatenate([ally, ty])
    one_hot[test_index] = one_hot[sorted_test]
    labels = np.where(one_hot.any(axis=1), one_hot.argmax(axis=1), -1)
    num_nodes = len(labels)
    sources, targets = [], []
    for node, neighbours in adjacency.items():
        sources += [node] * len(neighbours)
        targets += list(neighbours)
    edges = np.array([sources, targets], dtype="int64")
    edges = edges[:, edges[0] != edges[1]]
    # Unique edges, sorted by target then source (PyG's coalesce with
    # sort_by_row=False).
    edges = np.unique(edges[1] * num_nodes + edges[0])
    edge_index = np.stack([edges % num_nodes, edges // num_nodes])

    def mask(indices):
        out = np.zeros(num_nodes, bool)
        out[indices] = True
        return out

    return {
        "x": features,
        "y": labels,
        "edge_index": edge_index,
        "train_mask": mask(np.arange(len(y))),
        "val_mask": mask(np.arange(len(y), len(y) + 500)),
        "test_mask": mask(test_index),
    }
