"""Graph classification with GIN on batches of small graphs.

Trains a Graph Isomorphism Network (Xu et al. 2019: GIN-0 layers with
two-layer MLPs, a sum readout of every layer, concatenated) with plain
`model.fit()` on whichever Keras backend is active. Graphs are fed as
padded disjoint batches of one static shape (`kerasbig.graph.
GraphDataset`), so the model compiles once. The best epoch on the
validation split is kept; test accuracy is reported.

Data: by default scikit-learn's bundled handwritten digits as graphs (no
download): each inked pixel is a node with (ink, row, column) features,
joined to its inked 8-neighbours, and the graph's label is the digit.
Or `--data-path` a TU data set (MUTAG, PROTEINS, NCI1, ... of
https://chrsmrrs.github.io/datasets/), by name (downloaded once into
~/.keras/datasets/kerasbig/tu) or as a folder of its files, split at
random per class.

    python -m kerasbig.recipes.graph_classification              # digits graphs
    python -m kerasbig.recipes.graph_classification --data-path MUTAG
    python -m kerasbig.recipes.graph_classification --smoke      # a few seconds
"""

import dataclasses
import time

from kerasbig.training import DistributeConfig
from kerasbig.training import TrainingStopped
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config

# 8-neighbourhood offsets of a pixel.
NEIGHBOURS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]


@dataclasses.dataclass
class Config(DistributeConfig):
    data_path: str = option(
        None,
        "a TU data set: a name to download (MUTAG, PROTEINS, ...) or a "
        "folder of its files (<name>_A.txt, ...); default: the bundled "
        "digits as graphs",
    )
    epochs: int = option(100, "most passes over the training graphs", minimum=1)
    patience: int = option(
        25,
        "stop after this many epochs without a better validation accuracy "
        "(0 = train every epoch); the best epoch's weights are kept",
        minimum=0,
    )
    batch_size: int = option(32, "graphs per batch", minimum=1)
    learning_rate: float = option(3e-3, "Adam learning rate", greater_than=0)
    layers: int = option(3, "GIN layers", minimum=1)
    hidden: int = option(64, "hidden units", minimum=1)
    dropout: float = option(
        0.5,
        "dropout on the pooled features, before the linear classifier",
        minimum=0,
        less_than=1,
    )
    seed: int = option(0, "seed of weights, split and data order", minimum=0)
    output_dir: str = option("runs/graph_classification", "where outputs go")


SMOKE = {"epochs": 2}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.data import load_digits
from kerasbig.graph import GINConv
from kerasbig.graph import GlobalSumPool
from kerasbig.graph import GraphBatch
from kerasbig.graph import GraphDataset
from kerasbig.graph import load_tu_dataset
from kerasbig.training import fit_to_folder
from kerasbig.training import run_script
from kerasbig.training import start_run
from kerasbig.training import write_report


def digit_graph(image):
    """An 8x8 digit as a graph: inked pixels, joined to inked neighbours."""
    ink = image[..., 0]
    rows, cols = np.nonzero(ink)
    node_of = -np.ones(ink.shape, "int64")
    node_of[rows, cols] = np.arange(len(rows))
    edges = []
    for dr, dc in NEIGHBOURS:
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < ink.shape[0]) & (c >= 0) & (c < ink.shape[1])
        target = np.full(len(rows), -1)
        target[inside] = node_of[r[inside], c[inside]]
        linked = target >= 0
        edges.append(np.stack([np.flatnonzero(linked), target[linked]]))
    scale = ink.shape[0] - 1
    features = np.stack([ink[rows, cols], rows / scale, cols / scale], -1)
    return GraphBatch(features, np.concatenate(edges, axis=1))


def split_per_class(labels, fractions, seed):
    """Index arrays for each fraction of every class (stratified)."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        bounds = np.round(np.cumsum(fractions) * len(members)).astype(int)
        for part, chunk in zip(
            parts, np.split(members, bounds[:-1]), strict=True
        ):
            part.extend(chunk)
    return [np.sort(part) for part in parts]


def load_graphs(config):
    """(graphs, labels) of each split: train, val, test."""
    if config.data_path is None:
        (x_train, y_train), (x_test, y_test) = load_digits(seed=config.seed)
        train, val = split_per_class(y_train, [0.875, 0.125], config.seed)
        images = {
            "train": (x_train[train], y_train[train]),
            "val": (x_train[val], y_train[val]),
            "test": (x_test, y_test),
        }
        return {
            split: ([digit_graph(image) for image in x], y)
            for split, (x, y) in images.items()
        }
    graphs, labels = load_tu_dataset(config.data_path)
    splits = split_per_class(labels, [0.8, 0.1, 0.1], config.seed)
    return {
        name: ([graphs[i] for i in index], labels[index])
        for name, index in zip(("train", "val", "test"), splits, strict=True)
    }


def build_model(config, inputs, num_classes, num_graphs):
    """GIN-0: each layer's MLP is Dense-LayerNorm-relu-Dense-relu; the
    readout sums every layer's node states per graph and concatenates
    them; a linear classifier reads the normalised readout."""
    hidden = inputs["x"]
    readouts = []
    for i in range(config.layers):
        mlp = keras.Sequential(
            [
                keras.layers.Dense(config.hidden),
                keras.layers.LayerNormalization(),
                keras.layers.ReLU(),
                keras.layers.Dense(config.hidden, activation="relu"),
            ],
            name=f"mlp{i + 1}",
        )
        hidden = GINConv(mlp, name=f"gin{i + 1}")(hidden, inputs["edge_index"])
        readouts.append(
            GlobalSumPool(name=f"readout{i + 1}")(
                hidden, inputs["graph_index"], num_graphs=num_graphs
            )
        )
    # Sums grow with degree and graph size; LayerNorm keeps each node's and
    # each graph's row in range (without it, early Adam steps can kill every
    # ReLU). BatchNorm, as in the paper, would mix padding into its
    # statistics.
    pooled = keras.layers.Concatenate()(readouts)
    pooled = keras.layers.LayerNormalization()(pooled)
    pooled = keras.layers.Dropout(config.dropout, seed=config.seed)(pooled)
    logits = keras.layers.Dense(num_classes, name="logits")(pooled)
    return keras.Model(inputs, logits, name="gin")


def graph_datasets(splits, batch_size, seed):
    """A `GraphDataset` per split, all padded to one node and edge budget
    so that evaluation reuses the training function's shapes."""
    largest = [
        GraphDataset(graphs, batch_size=batch_size)
        for graphs, _ in splits.values()
    ]
    budget = {
        "num_nodes": max(d.num_nodes for d in largest),
        "num_edges": max(d.num_edges for d in largest),
    }
    return {
        name: GraphDataset(
            graphs,
            labels,
            batch_size=batch_size,
            shuffle=name == "train",
            seed=seed,
            input_names=("x", "edge_index", "graph_index"),
            **budget,
        )
        for name, (graphs, labels) in splits.items()
    }


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {"matplotlib": "training curves"}
    if config.data_path is None:
        needs["sklearn"] = "the bundled digits"
    return needs


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_dependencies(dependencies(config))
    with start_run(config, splits_batches=False) as run:
        output_dir = run.output_dir
        keras.utils.set_random_seed(config.seed)
        splits = load_graphs(config)
        num_classes = (
            int(max(labels.max() for _, labels in splits.values())) + 1
        )
        data = graph_datasets(splits, config.batch_size, config.seed)
        model = build_model(
            config,
            data["train"].keras_inputs(),
            num_classes,
            num_graphs=config.batch_size + 1,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
            ),
            weighted_metrics=["accuracy"],
        )
        # fit_to_folder keeps the best epoch's weights; this only stops.
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=config.patience or config.epochs
        )
        start = time.perf_counter()
        history, stopped = fit_to_folder(
            model,
            data["train"],
            data["val"],
            epochs=config.epochs,
            output_dir=output_dir,
            callbacks=[stopper],
        )
        train_seconds = time.perf_counter() - start
        if stopped:
            raise TrainingStopped(stopped)
        scores = {
            split: model.evaluate(data[split], verbose=0, return_dict=True)
            for split in ("val", "test")
        }
        results = {
            "epochs": len(history.get("epoch", [])),
            "train_seconds": round(train_seconds, 2),
            "examples": {
                "train": len(splits["train"][1]),
                "validation": len(splits["val"][1]),
                "test": len(splits["test"][1]),
            },
            "val_accuracy": float(scores["val"]["accuracy"]),
            "test_accuracy": float(scores["test"]["accuracy"]),
            "test_loss": float(scores["test"]["loss"]),
        }
        return write_report(
            output_dir,
            recipe="graph_classification",
            config=config,
            headline=("test_accuracy", results["test_accuracy"]),
            results=results,
            distribution=run.distribution,
            summary=f"GIN, {results['examples']['test']} test graphs",
        )


if __name__ == "__main__":
    run_script(main)
