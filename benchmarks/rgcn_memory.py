"""Memory and time of a 2-layer R-GCN training step on a graph of
FB15k-237's size: kerasbig's `RGCNConv` on one Keras backend, PyG's
`RGCNConv` beside it.

The graph is random, shaped like FB15k-237 with inverse edges: 14,541
nodes, 474 relation types (237 and their inverses), 544,230 edges, 64
input features, 64 units, 30 bases, mean aggregation. One step is the
forward pass of two layers (ReLU between), the loss `mean(out ** 2)` and
its gradients with respect to every weight (JAX: jitted
`value_and_grad`; TensorFlow: a `GradientTape` in a `tf.function` with
XLA, as `fit()` compiles it; PyTorch: `backward`).

Each side runs in a process of its own (peak memory is a property of a
process: freed memory stays with the allocator, so a second side in the
same process would reuse the first side's): the resident memory is
sampled every millisecond during --steps steps, and the script prints
the peak above the resident memory before the first step (inputs and
weights already there), the median step time after the first, and
kerasbig / PyG ratios.

    python benchmarks/rgcn_memory.py --backend tensorflow
    python benchmarks/rgcn_memory.py --backend torch
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from _backend_flag import add_backend_flag
from _backend_flag import use_backend


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=14541)
    parser.add_argument("--relations", type=int, default=474)
    parser.add_argument("--edges", type=int, default=544230)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--bases", type=int, default=30)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    add_backend_flag(parser)
    parser.add_argument(
        "--child", choices=["kerasbig", "pyg"], help=argparse.SUPPRESS
    )
    return parser.parse_args()


def graph(args):
    import numpy as np

    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.nodes, args.features)).astype("float32")
    edge_index = rng.integers(0, args.nodes, (2, args.edges)).astype("int64")
    edge_type = rng.integers(0, args.relations, args.edges).astype("int64")
    return x, edge_index, edge_type


class PeakMemory:
    """The resident memory's peak above its value at `start()`, sampled
    every millisecond by a thread."""

    def __init__(self):
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self.running = False

    def resident(self):
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * self.page

    def start(self):
        self.base = self.resident()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.resident() - self.base)
            time.sleep(0.001)

    def stop(self):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.resident() - self.base)
        return self.peak


def kerasbig_step(args):
    """A function running one training step of kerasbig's two layers."""
    import keras
    from keras import ops

    from kerasbig.graph import RGCNConv

    keras.utils.set_random_seed(args.seed)
    x, edge_index, edge_type = graph(args)
    layers = [
        RGCNConv(
            args.features,
            args.relations,
            num_bases=args.bases,
            activation=activation,
        )
        for activation in ("relu", None)
    ]
    x, edge_index, edge_type = (
        ops.convert_to_tensor(a) for a in (x, edge_index, edge_type)
    )
    hidden = layers[0](x, edge_index, edge_type)
    layers[1](hidden, edge_index, edge_type)
    weights = [w for layer in layers for w in layer.trainable_weights]

    def forward(x):
        for layer in layers:
            x = layer(x, edge_index, edge_type)
        return ops.mean(x**2)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # Compiled with XLA, as fit() runs it.
        @tf.function(jit_compile=True)
        def compiled():
            with tf.GradientTape() as tape:
                loss = forward(x)
            grads = tape.gradient(loss, weights)
            return loss, [tf.convert_to_tensor(g) for g in grads]

        def step():
            loss, grads = compiled()
            return float(loss), grads

        return step
    if backend == "jax":
        import jax

        def loss_of(values):
            out = x
            for layer, own in zip(layers, values, strict=True):
                out, _ = layer.stateless_call(
                    own, [], out, edge_index, edge_type
                )
            return (out**2).mean()

        values = [
            [w.value for w in layer.trainable_weights] for layer in layers
        ]
        jitted = jax.jit(jax.value_and_grad(loss_of))

        def step():
            loss, grads = jitted(values)
            jax.block_until_ready(grads)
            return float(loss), grads

        return step

    def step():  # torch
        loss = forward(x)
        for w in weights:
            w.value.grad = None
        loss.backward()
        return float(loss), [w.value.grad for w in weights]

    return step


def pyg_step(args):
    import torch
    from torch_geometric.nn import RGCNConv

    torch.manual_seed(args.seed)
    x, edge_index, edge_type = (torch.from_numpy(a) for a in graph(args))
    layers = torch.nn.ModuleList(
        RGCNConv(
            args.features, args.features, args.relations, num_bases=args.bases
        )
        for _ in range(2)
    )

    def step():
        layers.zero_grad()
        out = torch.relu(layers[0](x, edge_index, edge_type))
        out = layers[1](out, edge_index, edge_type)
        loss = (out**2).mean()
        loss.backward()
        return float(loss), None

    return step


def child(args):
    step = kerasbig_step(args) if args.child == "kerasbig" else pyg_step(args)
    memory = PeakMemory()
    memory.start()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = memory.stop()
    print(
        json.dumps(
            {
                "peak_gib": peak / 2**30,
                "first_step_s": times[0],
                "step_s": statistics.median(times[1:] or times),
            }
        )
    )


def run_child(args, side):
    command = [sys.executable, __file__, "--child", side]
    for flag in ("nodes", "relations", "edges", "features", "bases", "steps"):
        command += [f"--{flag}", str(getattr(args, flag))]
    command += ["--backend", args.backend]
    environment = dict(os.environ, KERAS_BACKEND=args.backend)
    done = subprocess.run(
        command, capture_output=True, text=True, env=environment
    )
    if done.returncode:
        sys.exit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    args = parse_args()
    use_backend(args)
    if args.child:
        return child(args)
    results = {
        f"kerasbig ({args.backend})": run_child(args, "kerasbig"),
        "PyG": run_child(args, "pyg"),
    }
    print(
        f"R-GCN, 2 layers, {args.nodes} nodes, {args.relations} relation "
        f"types, {args.edges} edges, {args.features} features, "
        f"{args.bases} bases, mean; {args.steps} steps"
    )
    for name, r in results.items():
        print(
            f"{name:>22}: peak {r['peak_gib']:.2f} GiB above the process, "
            f"step {r['step_s']:.3f} s (first {r['first_step_s']:.2f} s)"
        )
    ours, theirs = results.values()
    print(
        f"kerasbig / PyG: memory {ours['peak_gib'] / theirs['peak_gib']:.3f}"
        f", step time {ours['step_s'] / theirs['step_s']:.3f}"
    )


if __name__ == "__main__":
    main()
