"""Node classification on a Planetoid citation graph with GCN or GAT.

Trains Kipf & Welling's two-layer GCN or Velickovic et al.'s two-layer GAT
on Cora, CiteSeer or PubMed with the public split (20 labelled nodes per
class), full-batch with plain `model.fit()` on whichever Keras backend is
active, once per seed, and reports test accuracy as mean ± std over the
seeds. Hyperparameters default to the papers' (and PyTorch Geometric's
examples'): row-normalised features, dropout on features and hidden units,
Adam, L2 weight decay 5e-4 applied as PyTorch's `weight_decay` does (GCN:
first layer only), GCN 200 epochs; GAT up to 1000 epochs with early
stopping on the validation loss (patience 100, best weights restored).

The data set is downloaded once (verified by SHA-256) from the URL
PyTorch Geometric uses into `~/.keras/datasets/kerasbig/planetoid`
(`$KERASBIG_DATA_DIR/planetoid` when set); `--data-path` reads local files
instead: an `.npz` of the arrays, or a folder with the original
`ind.<name>.*` files (https://github.com/kimiyoung/planetoid, `data/`).

    python -m kerasbig.recipes.node_classification --model gcn --seeds 10
    python -m kerasbig.recipes.node_classification --model gat --seeds 10
    python -m kerasbig.recipes.node_classification --smoke      # a few seconds
"""

import argparse
import dataclasses
import json
import os
import pathlib
import time

import keras
import numpy as np

import kerasbig
from kerasbig.graph import GATConv
from kerasbig.graph import GCNConv
from kerasbig.graph import GraphBatch
from kerasbig.graph import GraphDataset
from kerasbig.graph import load_planetoid
from kerasbig.training import DistributeConfig
from kerasbig.training import add_distribute_flags
from kerasbig.training import add_run_flags
from kerasbig.training import bounded
from kerasbig.training import parse_flags
from kerasbig.training import run_script
from kerasbig.training import start_distribution

# The papers' settings; a flag left at None takes the model's value.
MODEL_DEFAULTS = {
    "gcn": {
        "epochs": 200,
        "patience": None,
        "learning_rate": 0.01,
        "hidden": 16,
        "heads": 1,
        "dropout": 0.5,
    },
    "gat": {
        "epochs": 1000,
        "patience": 100,
        "learning_rate": 0.005,
        "hidden": 8,
        "heads": 8,
        "dropout": 0.6,
    },
}


@dataclasses.dataclass
class Config(DistributeConfig):
    model: str = "gcn"
    dataset: str = "cora"
    data_path: str = None
    seeds: int = 1
    seed: int = 0
    epochs: int = None
    patience: int = None
    learning_rate: float = None
    weight_decay: float = 5e-4
    hidden: int = None
    heads: int = None
    dropout: float = None
    output_dir: str = "runs/node_classification"

    def __post_init__(self):
        for name, value in MODEL_DEFAULTS[self.model].items():
            if getattr(self, name) is None:
                setattr(self, name, value)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model", choices=sorted(MODEL_DEFAULTS), default="gcn"
    )
    parser.add_argument(
        "--dataset", choices=["cora", "citeseer", "pubmed"], default="cora"
    )
    parser.add_argument(
        "--data-path",
        help="an .npz file or a folder with <dataset>.npz or the "
        "ind.<dataset>.* files (default: download the original files once "
        "into ~/.keras/datasets/kerasbig/planetoid)",
    )
    parser.add_argument(
        "--seeds",
        type=bounded(int, minimum=1),
        default=1,
        help="runs, with seeds seed..",
    )
    parser.add_argument(
        "--seed", type=bounded(int, minimum=0), default=0, help="first seed"
    )
    parser.add_argument(
        "--epochs",
        type=bounded(int, minimum=1),
        help="epochs (default: gcn 200, gat 1000)",
    )
    parser.add_argument(
        "--patience",
        type=bounded(int, minimum=1),
        help="stop after this many epochs without a lower validation loss "
        "and restore the best weights (default: gcn none, gat 100; 0 = off)",
    )
    parser.add_argument(
        "--learning-rate",
        type=bounded(float, greater_than=0),
        help="Adam (gcn 0.01, gat 0.005)",
    )
    parser.add_argument(
        "--weight-decay",
        type=bounded(float, minimum=0),
        default=5e-4,
        help="L2 weight decay as in PyTorch's Adam",
    )
    parser.add_argument(
        "--hidden",
        type=bounded(int, minimum=1),
        help="hidden units per head (gcn 16, gat 8)",
    )
    parser.add_argument(
        "--heads",
        type=bounded(int, minimum=1),
        help="GAT attention heads (gat 8)",
    )
    parser.add_argument(
        "--dropout",
        type=bounded(float, minimum=0, less_than=1),
        help="dropout rate (gcn 0.5, gat 0.6)",
    )
    parser.add_argument(
        "--output-dir",
        default=Config.output_dir,
        help="where metrics.json and the first seed's model.keras go",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one seed, 5 epochs: checks the pipeline in seconds",
    )
    add_distribute_flags(parser)
    add_run_flags(parser)
    args = parse_flags(parser, argv, smoke={"seeds": 1, "epochs": 5})
    return Config(**{k: v for k, v in args.items() if v is not None})


def find_data(config):
    """The --data-path, checked; None (download) when it is not given."""
    if config.data_path is None:
        return None
    path = pathlib.Path(config.data_path)
    if not path.exists():
        raise SystemExit(
            f"node_classification: --data-path {path} does not exist. Pass "
            f"an .npz file, or a folder with {config.dataset}.npz or the "
            f"original ind.{config.dataset}.* files, or leave --data-path "
            "out to download the data set."
        )
    return path


def build_model(config, inputs, num_classes):
    """GCN: conv(hidden) relu -> conv(classes); GAT: conv(hidden x heads)
    elu -> conv(classes), one head; dropout before each convolution."""
    rate, seed = config.dropout, config.seed
    # PyTorch's Adam(weight_decay=w) adds w * p to every weight's gradient,
    # the gradient of (w / 2) * ||p||^2; Kipf & Welling decay the first GCN
    # layer only, GAT decays both.
    decay = {
        "kernel_regularizer": keras.regularizers.L2(config.weight_decay / 2),
        "bias_regularizer": keras.regularizers.L2(config.weight_decay / 2),
    }
    x = keras.layers.Dropout(rate, seed=seed)(inputs["x"])
    edge_index = inputs["edge_index"]
    if config.model == "gcn":
        first = GCNConv(config.hidden, activation="relu", name="conv1", **decay)
        last = GCNConv(num_classes, name="conv2")
    else:
        first = GATConv(
            config.hidden,
            heads=config.heads,
            dropout=rate,
            activation="elu",
            seed=seed,
            name="conv1",
            **decay,
        )
        last = GATConv(
            num_classes,
            heads=1,
            dropout=rate,
            seed=seed + 1,
            name="conv2",
            **decay,
        )
    x = first(x, edge_index)
    x = keras.layers.Dropout(rate, seed=seed + 2)(x)
    logits = last(x, edge_index)
    return keras.Model(inputs, logits, name=f"{config.model}_{config.dataset}")


def split_datasets(graph):
    """One padded full-graph batch per split, weighted by the split's mask."""
    batch = GraphBatch(graph["x"], graph["edge_index"])
    labels = np.maximum(graph["y"], 0)  # CiteSeer's -1 nodes are in no mask

    def dataset(mask):
        return GraphDataset(
            [batch],
            labels,
            batch_size=1,
            level="node",
            node_weights=mask,
            input_names=("x", "edge_index"),
        )

    return {
        split: dataset(graph[f"{split}_mask"])
        for split in ("train", "val", "test")
    }


def run_seed(config, seed, data, num_classes):
    keras.backend.clear_session()  # else each seed's run is slower
    keras.utils.set_random_seed(seed)
    config = dataclasses.replace(config, seed=seed)
    model = build_model(config, data["train"].keras_inputs(), num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        # Average over the nodes of the split, not over every node slot.
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
        weighted_metrics=["accuracy"],
    )
    callbacks = []
    if config.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=config.patience,
                restore_best_weights=True,
            )
        )
    start = time.perf_counter()
    history = model.fit(
        data["train"],
        validation_data=data["val"],
        epochs=config.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    _, val_accuracy = model.evaluate(data["val"], verbose=0)
    _, test_accuracy = model.evaluate(data["test"], verbose=0)
    epochs = len(history.history["loss"])
    print(
        f"seed {seed}: test accuracy {test_accuracy:.4f}, validation "
        f"{val_accuracy:.4f}, {epochs} epochs in {seconds:.1f} s"
    )
    return model, {
        "seed": seed,
        "test_accuracy": float(test_accuracy),
        "val_accuracy": float(val_accuracy),
        "epochs": epochs,
        "seconds": round(seconds, 2),
    }


def main(argv=None):
    config = parse_args(argv)
    start_distribution(config, splits_batches=False)
    graph = load_planetoid(
        config.dataset, find_data(config), normalize_features=True
    )  # no --data-path: downloads, or reads the cached download
    num_classes = int(graph["y"].max()) + 1
    data = split_datasets(graph)
    os.makedirs(config.output_dir, exist_ok=True)
    runs = []
    for seed in range(config.seed, config.seed + config.seeds):
        model, run = run_seed(config, seed, data, num_classes)
        if not runs:
            model.save(os.path.join(config.output_dir, "model.keras"))
        runs.append(run)
    accuracies = np.array([run["test_accuracy"] for run in runs])
    metrics = {
        "backend": keras.backend.backend(),
        "kerasbig_version": kerasbig.__version__,
        "config": dataclasses.asdict(config),
        "test_accuracy_mean": float(accuracies.mean()),
        "test_accuracy_std": float(accuracies.std()),
        "runs": runs,
    }
    with open(os.path.join(config.output_dir, "metrics.json"), "w") as file:
        json.dump(metrics, file, indent=2)
    print(
        f"{config.model.upper()} on {config.dataset}: test accuracy "
        f"{100 * accuracies.mean():.1f} ± {100 * accuracies.std():.1f} % "
        f"over {len(runs)} seed(s) ({keras.backend.backend()} backend); "
        f"metrics.json in {config.output_dir}"
    )
    return metrics


if __name__ == "__main__":
    run_script(main)
