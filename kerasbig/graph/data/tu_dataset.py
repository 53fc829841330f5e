"""Graph classification data sets in the TU Dortmund text format (MUTAG,
PROTEINS, NCI1, IMDB-BINARY, ...), downloaded once or read from a local
folder."""

import os
import pathlib
import shutil
import zipfile

import numpy as np

from kerasbig.data import data_folder
from kerasbig.data import fetch_files
from kerasbig.graph.data.graph_batch import GraphBatch

TU_URL = "https://www.chrsmrrs.com/graphkerneldatasets"
"""Where the TU archives `<name>.zip` are served (the URL PyG uses)."""


def load_tu_dataset(
    path=None,
    name=None,
    use_node_attributes=False,
    use_edge_attributes=False,
    data_dir=None,
    base_url=TU_URL,
):
    """Reads a TU data set into graphs and graph labels, with PyTorch
    Geometric's `TUDataset` processing; downloads it by name first.

    `load_tu_dataset("MUTAG")` (or `name="MUTAG"`) downloads
    `<base_url>/MUTAG.zip` once, as PyG does, into
    `~/.keras/datasets/kerasbig/tu` (`$KERAS_HOME` moves `~/.keras`;
    `$KERASBIG_DATA_DIR` or `data_dir=` choose another folder) and unpacks
    it there. The archives' SHA-256 sums are not published, so a download
    warns that it is unverified; a damaged or partial archive fails its
    zip checksums and is fetched again. Offline, the error names the URL,
    the file and where to put it.

    `load_tu_dataset(folder)` reads a folder instead: `<name>_A.txt` (one
    `source, target` line per edge, 1-based),
    `<name>_graph_indicator.txt` and `<name>_graph_labels.txt`, and
    optionally `<name>_node_labels.txt`, `_node_attributes.txt`,
    `_edge_labels.txt` and `_edge_attributes.txt`: the files of the
    archives at https://chrsmrrs.github.io/datasets/.

    As in PyG: node features are the node attributes (only with
    `use_node_attributes`) followed by the one-hot node labels; edge
    features likewise; self-loops are removed; edges are sorted by source,
    then target, and duplicates merged (their features summed); graph
    labels are renumbered `0..C-1` in sorted order. Graphs with neither
    node labels nor used attributes get one constant feature, `x = 1`.

    Args:
        path: a folder, or a data set name to download (a name with no
            folder of that name here).
        name: the file prefix; defaults to the folder's name. With no
            `path`, the data set to download.
        use_node_attributes: include the continuous node attributes.
            Defaults to `False` (PyG's `use_node_attr`).
        use_edge_attributes: include the edge attributes and labels as
            `edge_attr`. Defaults to `False` (PyG's `use_edge_attr`).
        data_dir: folder for the download instead of the cache folder.
        base_url: where `<name>.zip` is fetched from.

    Returns:
        `(graphs, labels)`: a list of `GraphBatch`, one per graph, and an
        int64 array of graph labels.

    Example:

        >>> import pathlib, tempfile
        >>> from kerasbig.graph import load_tu_dataset
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "TINY"
        >>> folder.mkdir()
        >>> _ = (folder / "TINY_A.txt").write_text("1, 2\\n2, 1\\n3, 3\\n")
        >>> _ = (folder / "TINY_graph_indicator.txt").write_text("1\\n1\\n2\\n")
        >>> _ = (folder / "TINY_graph_labels.txt").write_text("-1\\n1\\n")
        >>> graphs, labels = load_tu_dataset(folder)
        >>> [g.edge_index.tolist() for g in graphs], labels.tolist()
        ([[[0, 1], [1, 0]], [[], []]], [0, 1])
    """
    if path is None and name is None:
        raise ValueError(
            "load_tu_dataset: give a data set name to download (e.g. "
            "'MUTAG') or a folder of its files. Received: path=None, "
            "name=None"
        )
    if path is None or _is_name(path):
        name = name or str(path)
        path = _download(name, data_dir, base_url)
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise ValueError(
            f"load_tu_dataset: {folder} is not a folder. Pass a folder of a "
            "TU data set's files, or its name to download it (e.g. "
            f"'MUTAG'). Received: path={str(path)!r}"
        )
    prefix = name or folder.name

    def read(part, dtype, required=False):
        file = folder / f"{prefix}_{part}.txt"
        if not file.is_file():
            if required:
                raise ValueError(
                    f"load_tu_dataset: {file} is missing; a TU data set "
                    f"folder has {prefix}_A.txt, {prefix}_graph_indicator."
                    f"txt and {prefix}_graph_labels.txt. Received: "
                    f"path={str(folder)!r}, name={prefix!r}"
                )
            return None
        values = np.loadtxt(file, delimiter=",", dtype=dtype, ndmin=2)
        return values

    edges = read("A", "int64", required=True).T - 1
    graph_of_node = read("graph_indicator", "int64", required=True)[:, 0] - 1
    graph_labels = read("graph_labels", "int64", required=True)[:, 0]
    _, labels = np.unique(graph_labels, return_inverse=True)
    num_nodes = len(graph_of_node)
    if (
        np.any(np.diff(graph_of_node) < 0)
        or edges.size
        and (
            edges.min() < 0
            or edges.max() >= num_nodes
            or np.any(graph_of_node[edges[0]] != graph_of_node[edges[1]])
        )
    ):
        raise ValueError(
            f"load_tu_dataset: {prefix}_graph_indicator.txt must number the "
            f"nodes graph by graph, and every edge in {prefix}_A.txt must "
            f"join two of the {num_nodes} nodes of one graph. Received: "
            f"files in {str(folder)!r} that break this"
        )

    node_parts = []
    if use_node_attributes:
        node_parts.append(read("node_attributes", "float32"))
    node_parts.append(_one_hot(read("node_labels", "int64")))
    x = _concat(node_parts, num_nodes)
    if x is None:
        x = np.ones((num_nodes, 1), "float32")
    edge_attr = None
    if use_edge_attributes:
        edge_attr = _concat(
            [
                read("edge_attributes", "float32"),
                _one_hot(read("edge_labels", "int64")),
            ],
            edges.shape[1],
        )

    keep = edges[0] != edges[1]
    edges = edges[:, keep]
    edge_attr = None if edge_attr is None else edge_attr[keep]
    edges, edge_attr = _coalesce(edges, edge_attr, num_nodes)

    node_starts = np.searchsorted(graph_of_node, np.arange(len(labels) + 1))
    graph_of_edge = graph_of_node[edges[0]]
    edge_starts = np.searchsorted(graph_of_edge, np.arange(len(labels) + 1))
    graphs = []
    for g in range(len(labels)):
        nodes = slice(node_starts[g], node_starts[g + 1])
        span = slice(edge_starts[g], edge_starts[g + 1])
        graphs.append(
            GraphBatch(
                x[nodes],
                edges[:, span] - node_starts[g],
                edge_attr=None if edge_attr is None else edge_attr[span],
            )
        )
    return graphs, labels.astype("int64")


def _one_hot(labels):
    """Each label column one-hot encoded from its minimum, concatenated."""
    if labels is None:
        return None
    labels = labels - labels.min(axis=0)
    return np.concatenate(
        [
            np.eye(column.max() + 1, dtype="float32")[column]
            for column in labels.T
        ],
        axis=1,
    )


def _concat(parts, rows):
    parts = [p.reshape(rows, -1) for p in parts if p is not None]
    parts = [p for p in parts if p.shape[1]]
    return np.concatenate(parts, axis=1).astype("float32") if parts else None


def _coalesce(edges, edge_attr, num_nodes):
    """Sorts edges by (source, target) and merges duplicates, summing their
    features (PyG's `coalesce`)."""
    keys = edges[0] * num_nodes + edges[1]
    unique, position = np.unique(keys, return_inverse=True)
    edges = np.stack([unique // num_nodes, unique % num_nodes])
    if edge_attr is not None:
        merged = np.zeros((len(unique), edge_attr.shape[1]), edge_attr.dtype)
        np.add.at(merged, position, edge_attr)
        edge_attr = merged
    return edges, edge_attr


def _is_name(path):
    text = str(path)
    return not pathlib.Path(text).exists() and not any(
        sep and sep in text for sep in (os.sep, os.altsep, ".")
    )


def _download(name, data_dir, base_url):
    """The unpacked folder of `<name>.zip`, fetched and checked once."""
    archive_name = f"{name}.zip"
    unpacked = data_folder("tu", data_dir) / name
    if (unpacked / f"{name}_A.txt").is_file():
        return unpacked  # checked when it was unpacked
    for _ in range(2):
        folder = fetch_files(
            [archive_name],
            base_url,
            "tu",
            data_dir=data_dir,
            owner="load_tu_dataset",
        )
        archive = folder / archive_name
        try:
            with zipfile.ZipFile(archive) as opened:
                damaged = opened.testzip()
                if damaged is None:
                    _unpack(opened, folder, name)
        except zipfile.BadZipFile:
            damaged = archive_name
        if damaged is None:
            return unpacked
        archive.unlink()  # damaged or partial: fetch it again
    raise ValueError(
        f"load_tu_dataset: {archive_name} from {base_url} is not a readable "
        f"zip archive ({damaged} fails its checksum) after two downloads; "
        f"it was removed from {folder}."
    )


def _unpack(opened, folder, name):
    """Unpacks into a side folder, then moves `<name>/` into place: an
    interrupted unpack never looks complete."""
    root = folder.resolve()
    for member in opened.namelist():  # no member may land outside
        if not (root / member).resolve().is_relative_to(root):
            raise ValueError(
                f"load_tu_dataset: the archive member {member!r} would be "
                f"written outside {folder}; the archive is not a TU data set."
            )
    side = folder / f".{name}.unpacking"
    shutil.rmtree(side, ignore_errors=True)
    opened.extractall(side)
    inner = side / name if (side / name).is_dir() else side
    if not (inner / f"{name}_A.txt").is_file():
        shutil.rmtree(side, ignore_errors=True)
        raise ValueError(
            f"load_tu_dataset: {name}.zip holds no {name}/{name}_A.txt; it "
            "is not the TU data set of that name."
        )
    shutil.rmtree(folder / name, ignore_errors=True)
    os.replace(inner, folder / name)
    shutil.rmtree(side, ignore_errors=True)
