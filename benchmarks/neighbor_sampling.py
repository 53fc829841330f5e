"""Neighbour sampling on a graph that does not fit one batch: sampled nodes
per second and host memory while `fit()` trains on `NeighborLoader`
batches of a synthetic graph (default 1M nodes, 10M edges).

The graph is random (uniform sources and targets, --features float
features, 8 classes). The script reports the resident memory (RSS) of
the process after the graph and the loader's edge index exist, then the
peak while a 2-layer GraphSAGE model trains for --steps batches, and
sets the growth next to the size of one padded batch and of the graph.
Sampling alone is timed over the same batches (nodes per second, real
sampled nodes, padding not counted).

The anchor would be PyG's `NeighborLoader`; its sampler needs `pyg-lib`
or `torch-sparse`, which do not install on this machine (no wheels for
torch 2.13 CPU), so the script tries it and prints why it cannot run.

    python benchmarks/neighbor_sampling.py --backend tensorflow
"""

import argparse
import os
import sys
import threading
import time

from _backend_flag import add_backend_flag
from _backend_flag import use_backend


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_flag(parser)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument(
        "--num-neighbors", type=int, nargs="+", default=[15, 10]
    )
    parser.add_argument("--steps", type=int, default=40)
    return parser.parse_args()


def rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class PeakMemory:
    """Samples RSS every 20 ms in a thread; `peak` is the highest seen."""

    def __enter__(self):
        self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def pyg_anchor():
    try:
        import torch
        from torch_geometric.data import Data
        from torch_geometric.loader import NeighborLoader

        data = Data(
            x=torch.ones(4, 1), edge_index=torch.tensor([[0, 1], [1, 2]])
        )
        next(iter(NeighborLoader(data, num_neighbors=[2], batch_size=2)))
    except Exception as error:  # report whatever stops it
        return f"PyG NeighborLoader cannot run here: {error}"
    return "PyG NeighborLoader runs here (not timed by this script)"


def main():
    args = parse_args()
    use_backend(args)
    import warnings

    warnings.filterwarnings("ignore")
    import keras
    import numpy as np

    from kerasbig.graph import GraphBatch
    from kerasbig.graph import NeighborLoader
    from kerasbig.graph import SAGEConv

    start_rss = rss_mib()
    rng = np.random.default_rng(0)
    edge_index = rng.integers(0, args.nodes, (2, args.edges), dtype="int32")
    x = rng.standard_normal((args.nodes, args.features), dtype="float32")
    labels = rng.integers(0, 8, args.nodes)
    graph = GraphBatch(x, edge_index)
    del x, edge_index
    graph_mib = (graph.x.nbytes + graph.edge_index.nbytes) / 2**20
    started = time.perf_counter()
    loader = NeighborLoader(
        graph,
        args.num_neighbors,
        batch_size=args.batch_size,
        targets=labels,
        input_names=("x", "edge_index"),
        seed=0,
    )
    index_seconds = time.perf_counter() - started
    index_mib = (
        loader.edge_order.nbytes + loader.sources.nbytes + loader.indptr.nbytes
    ) / 2**20
    inputs, targets, weights = loader[0]
    batch_mib = (
        sum(a.nbytes for a in inputs.values()) + targets.nbytes + weights.nbytes
    ) / 2**20

    steps = min(args.steps, len(loader))
    real_nodes = 0
    started = time.perf_counter()
    for index in range(steps):
        nodes, _ = loader.sample(
            loader.seeds(index), np.random.default_rng([0, 0, index])
        )
        real_nodes += len(nodes)
    sample_seconds = time.perf_counter() - started

    keras.utils.set_random_seed(0)
    model_inputs = loader.keras_inputs()
    hidden = SAGEConv(64, activation="relu")(
        model_inputs["x"], model_inputs["edge_index"]
    )
    out = SAGEConv(8)(hidden, model_inputs["edge_index"])
    model = keras.Model(model_inputs, out)
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )
    model.fit(loader, epochs=1, steps_per_epoch=2, verbose=0)  # compile
    before_rss = rss_mib()
    with PeakMemory() as memory:
        started = time.perf_counter()
        model.fit(loader, epochs=1, steps_per_epoch=steps, verbose=0)
        train_seconds = time.perf_counter() - started

    print(f"backend {args.backend}, {os.cpu_count()} cores")
    print(
        f"graph: {args.nodes:,} nodes, {args.edges:,} edges, "
        f"{args.features} features: {graph_mib:.0f} MiB of arrays"
    )
    print(
        f"loader edge index: {index_mib:.0f} MiB, built in "
        f"{index_seconds:.1f} s"
    )
    print(
        f"batch: {args.batch_size} seeds, fanouts {args.num_neighbors}, "
        f"budget {loader.num_nodes:,} nodes / {loader.num_edges:,} edges, "
        f"{batch_mib:.1f} MiB padded"
    )
    print(
        f"sampling: {real_nodes / sample_seconds:,.0f} sampled nodes/s "
        f"({real_nodes / steps:,.0f} real nodes per batch, "
        f"{steps / sample_seconds:.1f} batches/s)"
    )
    print(
        f"fit: {steps / train_seconds:.2f} steps/s, "
        f"{real_nodes / train_seconds:,.0f} sampled nodes/s"
    )
    print(
        f"RSS: {start_rss:.0f} MiB at start, {before_rss:.0f} MiB with the "
        f"graph, index and compiled model; peak during fit "
        f"{memory.peak:.0f} MiB (+{memory.peak - before_rss:.0f} MiB = "
        f"{(memory.peak - before_rss) / batch_mib:.1f} padded batches, "
        f"{(memory.peak - before_rss) / graph_mib:.2f} of the graph)"
    )
    print(pyg_anchor())


if __name__ == "__main__":
    sys.exit(main())
