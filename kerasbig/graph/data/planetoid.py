"""The Planetoid citation graphs (Cora, CiteSeer, PubMed) with their public
split: downloaded (verified) into Keras's cache folder, or read from local
files."""

import io
import pathlib
import pickle

import numpy as np

from kerasbig._optional import import_optional
from kerasbig.data import fetch_files

_NAMES = ("cora", "citeseer", "pubmed")
_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph")
_KEYS = ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask")

PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
"""Where PyTorch Geometric (and `load_planetoid`) download the files."""

# SHA-256 of the original files (kimiyoung/planetoid's data/). PubMed's are
# not known: its download is unverified, and says so.
_SHA256 = {
    "ind.citeseer.allx": (
        "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668"
    ),
    "ind.citeseer.ally": (
        "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95"
    ),
    "ind.citeseer.graph": (
        "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7"
    ),
    "ind.citeseer.test.index": (
        "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4"
    ),
    "ind.citeseer.tx": (
        "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21"
    ),
    "ind.citeseer.ty": (
        "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce"
    ),
    "ind.citeseer.x": (
        "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6"
    ),
    "ind.citeseer.y": (
        "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924"
    ),
    "ind.cora.allx": (
        "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543"
    ),
    "ind.cora.ally": (
        "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71"
    ),
    "ind.cora.graph": (
        "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d"
    ),
    "ind.cora.test.index": (
        "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875"
    ),
    "ind.cora.tx": (
        "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a"
    ),
    "ind.cora.ty": (
        "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad"
    ),
    "ind.cora.x": (
        "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab"
    ),
    "ind.cora.y": (
        "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1"
    ),
}

# What the `ind.*` pickles may construct: NumPy arrays, SciPy CSR matrices
# and the adjacency dict. Anything else in a file is refused.
_ALLOWED = {
    ("collections", "defaultdict"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "set"),
    # The original files are Python 2 pickles.
    ("__builtin__", "list"),
    ("__builtin__", "dict"),
    ("__builtin__", "set"),
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
            # The original files name scipy.sparse.csr, which SciPy
            # deprecates: take the class from its public namespace.
            module = "scipy.sparse"
        return super().find_class(module, name)


def load_planetoid(
    name,
    path=None,
    normalize_features=False,
    data_dir=None,
    base_url=PLANETOID_URL,
):
    """Loads Cora, CiteSeer or PubMed with the public Planetoid split.

    Without `path`, the original `ind.<name>.{x,tx,allx,y,ty,ally,graph,
    test.index}` files of Yang et al. are downloaded from `base_url` (the
    URL PyTorch Geometric uses) into `<KERAS_HOME>/datasets/kerasbig/
    planetoid` (`~/.keras` by default; `$KERASBIG_DATA_DIR/planetoid` when
    that variable is set, or `data_dir`), once: Cora's and CiteSeer's
    files are checked against their SHA-256, and a corrupt or partial file
    is fetched again. PubMed's sums are not known, so its download is
    unverified and warns. Offline, the error names the URL, the file and
    where to put it.

    With `path`, nothing is downloaded: `path` is an `.npz` file (or a
    folder holding `<name>.npz`) with the arrays below, or a folder of the
    original files.

    The original files are Python pickles; they are read with an
    unpickler that only builds NumPy arrays, SciPy CSR matrices and the
    adjacency dict, and refuses anything else, so a tampered file cannot
    run code. SciPy is needed for them (`pip install 'kerasbig[datasets]'`).

    The processing equals PyTorch Geometric's `Planetoid`: test nodes are
    put back in index order, CiteSeer's missing test nodes get zero
    features (and label `-1` here), self-loops are removed and duplicate
    edges merged, edges sorted by target then source.

    Args:
        name: `"cora"`, `"citeseer"` or `"pubmed"` (any case).
        path: optional `.npz` file or folder to read instead of
            downloading.
        normalize_features: divide each feature row by its sum (PyG's
            `NormalizeFeatures`; all-zero rows stay zero). Defaults to
            `False`.
        data_dir: optional folder for the downloaded files.
        base_url: where to download from.

    Returns:
        A dict of NumPy arrays: `x` float32 `(N, F)`, `y` int64 `(N,)`,
        `edge_index` int64 `(2, E)` (both directions, row 0 = source),
        and boolean `(N,)` `train_mask`, `val_mask`, `test_mask`.

    Example:

        >>> import numpy as np, tempfile
        >>> from kerasbig.graph import load_planetoid
        >>> folder = tempfile.mkdtemp()
        >>> arrays = dict(
        ...     x=np.eye(3), y=np.arange(3), edge_index=np.array([[0], [1]]),
        ...     train_mask=np.array([1, 0, 0], bool),
        ...     val_mask=np.array([0, 1, 0], bool),
        ...     test_mask=np.array([0, 0, 1], bool))
        >>> np.savez(folder + "/cora.npz", **arrays)
        >>> graph = load_planetoid("cora", folder)  # reads, no download
        >>> graph["x"].shape, int(graph["train_mask"].sum())
        ((3, 3), 1)
    """
    key = str(name).lower()
    if key not in _NAMES:
        raise ValueError(
            f"load_planetoid: `name` must be one of {_NAMES}. "
            f"Received: name={name!r}"
        )
    if path is None:
        files = [f"ind.{key}.{part}" for part in (*_PARTS, "test.index")]
        path = fetch_files(
            files,
            base_url,
            "planetoid",
            sha256=_SHA256,
            data_dir=data_dir,
            owner="load_planetoid",
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
