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

import dataclasses
import json
import pathlib
import time

from kerasbig.training import DistributeConfig
from kerasbig.training import TrainingStopped
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config

# The papers' settings; a flag left out takes the model's value.
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
    model: str = option("gcn", "network", sorted(MODEL_DEFAULTS))
    dataset: str = option(
        "cora", "Planetoid data set", ["cora", "citeseer", "pubmed"]
    )
    data_path: str = option(
        None,
        "an .npz file or a folder with <dataset>.npz or the ind.<dataset>.* "
        "files (default: download the original files once into "
        "~/.keras/datasets/kerasbig/planetoid)",
    )
    seeds: int = option(1, "runs, with seeds seed, seed+1, ...", minimum=1)
    seed: int = option(0, "first seed", minimum=0)
    epochs: int = option(
        None, "most epochs per run (gcn 200, gat 1000)", minimum=1
    )
    patience: int = option(
        None,
        "stop after this many epochs without a lower validation loss and "
        "restore the best weights (gcn none, gat 100; 0 = off)",
        minimum=0,
    )
    learning_rate: float = option(
        None, "Adam learning rate (gcn 0.01, gat 0.005)", greater_than=0
    )
    weight_decay: float = option(
        5e-4, "L2 weight decay as in PyTorch's Adam", minimum=0
    )
    hidden: int = option(
        None, "hidden units per head (gcn 16, gat 8)", minimum=1
    )
    heads: int = option(None, "GAT attention heads (gat 8)", minimum=1)
    dropout: float = option(
        None, "dropout rate (gcn 0.5, gat 0.6)", minimum=0, less_than=1
    )
    output_dir: str = option(
        "runs/node_classification",
        "where metrics.json, each seed's folder and the first seed's "
        "model.keras go",
    )

    def __post_init__(self):
        for name, value in MODEL_DEFAULTS[self.model].items():
            if getattr(self, name) is None:
                setattr(self, name, value)


SMOKE = {"seeds": 1, "epochs": 5}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.graph import GATConv
from kerasbig.graph import GCNConv
from kerasbig.graph import GraphBatch
from kerasbig.graph import GraphDataset
from kerasbig.graph import load_planetoid
from kerasbig.training import explain_interruption
from kerasbig.training import run_callbacks
from kerasbig.training import run_script
from kerasbig.training import start_run
from kerasbig.training import write_json
from kerasbig.training import write_report


def find_data(config):
    """The --data-path, checked; None (download) when it is not given."""
    if config.data_path is None:
        return None
    path = pathlib.Path(config.data_path)
    if not path.exists():
        raise ValueError(
            f"--data-path {path} does not exist. Pass "
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


def run_seed(config, seed, data, num_classes, folder):
    """Trains and scores one seed in `folder` (log.csv, NaN stop)."""
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
    # No per-epoch backup: a seed takes seconds to minutes, and early
    # stopping's best weights would not survive a resume; finished seeds
    # are kept instead.
    callbacks = run_callbacks(folder, backup=False)
    guard = callbacks[-1]  # StopOnNaN
    if config.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=config.patience,
                restore_best_weights=True,
            )
        )
    start = time.perf_counter()
    with explain_interruption(folder, resumable=False):
        history = model.fit(
            data["train"],
            validation_data=data["val"],
            epochs=config.epochs,
            callbacks=callbacks,
            verbose=0,
        )
    seconds = time.perf_counter() - start
    if guard.stopped_reason:
        raise TrainingStopped(guard.stopped_reason)
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


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {"scipy": "reading the Planetoid files"}
    return needs


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_dependencies(dependencies(config))
    with start_run(config, splits_batches=False) as run:
        output_dir = run.output_dir
        graph = load_planetoid(
            config.dataset, find_data(config), normalize_features=True
        )  # no --data-path: downloads, or reads the cached download
        num_classes = int(graph["y"].max()) + 1
        data = split_datasets(graph)
        runs = []
        for seed in range(config.seed, config.seed + config.seeds):
            folder = output_dir / f"seed-{seed}"
            result = folder / "result.json"
            if run.resuming and result.exists():
                runs.append(json.loads(result.read_text()))
                print(f"seed {seed}: finished before, kept")
                continue
            model, outcome = run_seed(config, seed, data, num_classes, folder)
            if seed == config.seed:
                model.save(output_dir / "model.keras")
            write_json(result, outcome)
            runs.append(outcome)
        accuracies = np.array([outcome["test_accuracy"] for outcome in runs])
        results = {
            "epochs": sum(outcome["epochs"] for outcome in runs),
            "train_seconds": round(
                sum(outcome["seconds"] for outcome in runs), 2
            ),
            "examples": {
                split: int(np.sum(graph[f"{mask}_mask"]))
                for split, mask in (
                    ("train", "train"),
                    ("validation", "val"),
                    ("test", "test"),
                )
            },
            "test_accuracy_mean": float(accuracies.mean()),
            "test_accuracy_std": float(accuracies.std()),
            "runs": runs,
        }
        return write_report(
            output_dir,
            recipe="node_classification",
            config=config,
            headline=("test_accuracy_mean", results["test_accuracy_mean"]),
            results=results,
            distribution=run.distribution,
            summary=f"± {accuracies.std():.4f} over {len(runs)} seed(s), "
            f"{config.model.upper()} on {config.dataset}",
        )


if __name__ == "__main__":
    run_script(main)
