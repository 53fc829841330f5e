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

import argparse
import dataclasses
import json
import os
import time

import keras
import numpy as np

import kerasbig
from kerasbig.data import load_digits
from kerasbig.graph import GINConv
from kerasbig.graph import GlobalSumPool
from kerasbig.graph import GraphBatch
from kerasbig.graph import GraphDataset
from kerasbig.graph import load_tu_dataset
from kerasbig.training import DistributeConfig
from kerasbig.training import add_distribute_flags
from kerasbig.training import add_run_flags
from kerasbig.training import bounded
from kerasbig.training import parse_flags
from kerasbig.training import run_script
from kerasbig.training import start_distribution

# 8-neighbourhood offsets of a pixel.
NEIGHBOURS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]


@dataclasses.dataclass
class Config(DistributeConfig):
    data_path: str = None
    epochs: int = 100
    patience: int = 25
    batch_size: int = 32
    learning_rate: float = 3e-3
    layers: int = 3
    hidden: int = 64
    dropout: float = 0.5
    seed: int = 0
    output_dir: str = "runs/graph_classification"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    defaults = Config()
    parser.add_argument(
        "--data-path",
        help="a TU data set: a name to download (MUTAG, PROTEINS, ...) or a "
        "folder of its files (<name>_A.txt, ...); default: the bundled "
        "digits as graphs",
    )
    parser.add_argument(
        "--epochs", type=bounded(int, minimum=1), default=defaults.epochs
    )
    parser.add_argument(
        "--patience",
        type=bounded(int, minimum=0),
        default=defaults.patience,
        help="stop after this many epochs without a better validation "
        "accuracy; the best weights are restored (0 = train every epoch "
        "and keep the best)",
    )
    parser.add_argument(
        "--batch-size",
        type=bounded(int, minimum=1),
        default=defaults.batch_size,
        help="graphs per batch",
    )
    parser.add_argument(
        "--learning-rate",
        type=bounded(float, greater_than=0),
        default=defaults.learning_rate,
    )
    parser.add_argument(
        "--layers",
        type=bounded(int, minimum=1),
        default=defaults.layers,
        help="GIN layers",
    )
    parser.add_argument(
        "--hidden",
        type=bounded(int, minimum=1),
        default=defaults.hidden,
        help="hidden units",
    )
    parser.add_argument(
        "--dropout",
        type=bounded(float, minimum=0, less_than=1),
        default=defaults.dropout,
        help="dropout on the pooled features, before the linear classifier",
    )
    parser.add_argument(
        "--seed", type=bounded(int, minimum=0), default=defaults.seed
    )
    parser.add_argument(
        "--output-dir",
        default=defaults.output_dir,
        help="where model.keras and metrics.json go",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="two epochs, in seconds"
    )
    add_distribute_flags(parser)
    add_run_flags(parser)
    return Config(**parse_flags(parser, argv, smoke={"epochs": 2}))


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


def main(argv=None):
    config = parse_args(argv)
    start_distribution(config, splits_batches=False)
    keras.utils.set_random_seed(config.seed)
    splits = load_graphs(config)
    num_classes = int(max(labels.max() for _, labels in splits.values())) + 1
    # One node/edge budget for every split, so evaluation reuses the
    # training function's shapes.
    largest = {
        name: GraphDataset(graphs, batch_size=config.batch_size)
        for name, (graphs, _) in splits.items()
    }
    budget = {
        "num_nodes": max(d.num_nodes for d in largest.values()),
        "num_edges": max(d.num_edges for d in largest.values()),
    }
    data = {
        name: GraphDataset(
            graphs,
            labels,
            batch_size=config.batch_size,
            shuffle=name == "train",
            seed=config.seed,
            input_names=("x", "edge_index", "graph_index"),
            **budget,
        )
        for name, (graphs, labels) in splits.items()
    }
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
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        patience=config.patience or config.epochs,
        restore_best_weights=True,
    )
    start = time.perf_counter()
    history = model.fit(
        data["train"],
        validation_data=data["val"],
        epochs=config.epochs,
        callbacks=[stopper],
        verbose=2,
    )
    seconds = time.perf_counter() - start
    results = {
        split: model.evaluate(data[split], verbose=0, return_dict=True)
        for split in ("val", "test")
    }
    os.makedirs(config.output_dir, exist_ok=True)
    model.save(os.path.join(config.output_dir, "model.keras"))
    metrics = {
        "backend": keras.backend.backend(),
        "kerasbig_version": kerasbig.__version__,
        "config": dataclasses.asdict(config),
        "graphs": {name: len(labels) for name, (_, labels) in splits.items()},
        "val_accuracy": float(results["val"]["accuracy"]),
        "test_accuracy": float(results["test"]["accuracy"]),
        "test_loss": float(results["test"]["loss"]),
        "epochs": len(history.history["loss"]),
        "train_seconds": round(seconds, 2),
    }
    with open(os.path.join(config.output_dir, "metrics.json"), "w") as file:
        json.dump(metrics, file, indent=2)
    print(
        f"GIN test accuracy {metrics['test_accuracy']:.4f} on "
        f"{metrics['graphs']['test']} graphs ({keras.backend.backend()} "
        f"backend); model and metrics.json in {config.output_dir}"
    )
    return metrics


if __name__ == "__main__":
    run_script(main)
