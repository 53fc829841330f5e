"""Full-batch training epoch time of kerasbig's GCN and GAT on Cora against
the same networks in PyTorch Geometric, in one process.

Networks as in kerasbig.recipes.node_classification and PyG's examples: GCN
1433 -> 16 (relu) -> 7, dropout 0.5; GAT 1433 -> 8 x 8 heads (elu) -> 7,
dropout 0.6 on features and attention. Adam, cross-entropy on the 140
training nodes. kerasbig trains with `model.fit()` on a `GraphDataset`
(one padded full-graph batch); PyG with the usual hand-written loop
(`zero_grad`, forward, `backward`, `step`). After a warm-up (tracing,
compilation) the two alternate for --repeats rounds of --epochs epochs;
the script prints the median epoch time of each and the ratio.

    python benchmarks/gnn_cora.py --backend tensorflow
"""

import argparse
import os
import statistics
import sys
import time

from _backend_flag import add_backend_flag
from _backend_flag import use_backend


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_flag(parser)
    parser.add_argument(
        "--data-path",
        default=None,
        help="Cora as an .npz file or a folder of ind.cora.* files "
        "(default: load_planetoid's cached download)",
    )
    parser.add_argument(
        "--model", choices=["gcn", "gat", "both"], default="both"
    )
    parser.add_argument(
        "--epochs", type=int, default=50, help="timed epochs per round"
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds")
    return parser.parse_args()


def kerasbig_trainer(name, graph):
    import keras

    from kerasbig.graph import GATConv
    from kerasbig.graph import GCNConv
    from kerasbig.graph import GraphBatch
    from kerasbig.graph import GraphDataset

    data = GraphDataset(
        [GraphBatch(graph["x"], graph["edge_index"])],
        graph["y"],
        batch_size=1,
        level="node",
        node_weights=graph["train_mask"],
        input_names=("x", "edge_index"),
    )
    inputs = data.keras_inputs()
    classes = int(graph["y"].max()) + 1
    if name == "gcn":
        rate = 0.5
        first = GCNConv(16, activation="relu")
        last = GCNConv(classes)
    else:
        rate = 0.6
        first = GATConv(8, heads=8, dropout=rate, activation="elu")
        last = GATConv(classes, dropout=rate)
    x = keras.layers.Dropout(rate)(inputs["x"])
    x = keras.layers.Dropout(rate)(first(x, inputs["edge_index"]))
    model = keras.Model(inputs, last(x, inputs["edge_index"]))
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )

    def train(epochs):
        model.fit(data, epochs=epochs, verbose=0)

    return train


def pyg_trainer(name, graph):
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn import GATConv
    from torch_geometric.nn import GCNConv

    x = torch.from_numpy(graph["x"])
    edge_index = torch.from_numpy(graph["edge_index"])
    y = torch.from_numpy(graph["y"])
    mask = torch.from_numpy(graph["train_mask"])
    features, classes = x.shape[1], int(y.max()) + 1

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if name == "gcn":
                self.rate = 0.5
                self.first = GCNConv(features, 16)
                self.last = GCNConv(16, classes)
                self.activation = F.relu
            else:
                self.rate = 0.6
                self.first = GATConv(features, 8, heads=8, dropout=0.6)
                self.last = GATConv(64, classes, dropout=0.6)
                self.activation = F.elu

        def forward(self, x, edge_index):
            x = F.dropout(x, self.rate, self.training)
            x = self.activation(self.first(x, edge_index))
            x = F.dropout(x, self.rate, self.training)
            return self.last(x, edge_index)

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def train(epochs):
        model.train()
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x, edge_index)[mask], y[mask])
            loss.backward()
            optimizer.step()

    return train


def main():
    args = parse_args()
    use_backend(args)
    import keras
    import torch

    from kerasbig.graph import load_planetoid

    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    graph = load_planetoid("cora", args.data_path, normalize_features=True)
    names = ["gcn", "gat"] if args.model == "both" else [args.model]
    print(
        f"backend={args.backend} epochs/round={args.epochs} "
        f"rounds={args.repeats} torch threads={torch.get_num_threads()} "
        f"python={sys.version.split()[0]} keras={keras.__version__} "
        f"cpus={os.cpu_count()}"
    )
    for name in names:
        trainers = {
            "kerasbig": kerasbig_trainer(name, graph),
            "pyg": pyg_trainer(name, graph),
        }
        for train in trainers.values():
            train(3)  # warm-up: tracing and compilation stay out
        times = {side: [] for side in trainers}
        for _ in range(args.repeats):
            for side, train in trainers.items():
                start = time.perf_counter()
                train(args.epochs)
                elapsed = time.perf_counter() - start
                times[side].append(1000 * elapsed / args.epochs)
        for side in trainers:
            rounds = ", ".join(f"{t:.2f}" for t in times[side])
            print(
                f"{name} {side:>8}: {statistics.median(times[side]):.2f} "
                f"ms/epoch (rounds: {rounds})"
            )
        ratio = statistics.median(times["kerasbig"]) / statistics.median(
            times["pyg"]
        )
        print(f"{name} ratio kerasbig/pyg: {ratio:.3f}x (goal <= 1.2x)")


if __name__ == "__main__":
    main()
