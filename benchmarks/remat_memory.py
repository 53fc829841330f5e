"""Activation memory of a CausalLM training step with and without
`remat=True`: what the backward pass keeps and XLA's buffer assignment
on JAX, peak process memory on PyTorch.

JAX (default): the step is the loss and its gradients with respect to
every trainable weight (`jax.value_and_grad` of `model.stateless_call`
in training mode, sparse cross-entropy on the next tokens), for --batch
sequences of --sequence-length tokens; nothing is run.

- residuals: the bytes of the arrays the backward pass keeps from the
  forward pass (the leaves of `jax.vjp`'s backward function, shapes
  only, through `jax.eval_shape`): the activations memory that
  rematerialisation trades for recomputation (goal: >= 40 % fewer).
- temporaries: XLA's `memory_analysis()` of the jitted step (the peak of
  its buffers besides weights, tokens, loss and gradients), compiled
  under each XLA:CPU scheduler in a process of its own: the default
  concurrency-optimised one and the memory-minimising one
  (`--xla_cpu_enable_concurrency_optimized_scheduler=false`).
- dots: the dot products of the compiled step; recomputation shows as
  more.

--backend torch: each setting runs in a process of its own: build the
model, then the peak resident memory (`ru_maxrss`) growth over its first
SGD `train_on_batch` (PyTorch runs eagerly and frees activations as the
backward pass consumes them; the growth also holds the gradients and
one-time allocations, the same in both settings).

    python benchmarks/remat_memory.py --batch 1
    python benchmarks/remat_memory.py --backend torch --batch 1
"""

import argparse
import json
import os
import subprocess
import sys

from _backend_flag import add_backend_flag
from _backend_flag import use_backend


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocabulary", type=int, default=32000)
    parser.add_argument("--hidden-dim", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=8)
    parser.add_argument("--num-heads", type=int, default=8)
    parser.add_argument("--intermediate-dim", type=int, default=1408)
    parser.add_argument("--sequence-length", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=4)
    add_backend_flag(parser, default="jax", choices=("jax", "torch"))
    parser.add_argument(
        "--child", choices=["plain", "remat", "both"], help=argparse.SUPPRESS
    )
    return parser.parse_args()


def build(args, remat):
    import keras

    import kerasbig as kb

    keras.utils.set_random_seed(0)
    return kb.models.CausalLM(
        args.vocabulary,
        args.sequence_length,
        num_layers=args.num_layers,
        hidden_dim=args.hidden_dim,
        num_heads=args.num_heads,
        intermediate_dim=args.intermediate_dim,
        remat=remat,
    )


def tokens(args):
    import numpy as np

    shape = (args.batch, args.sequence_length)
    ids = np.random.default_rng(0).integers(1, args.vocabulary, shape)
    return ids.astype("int32")


SCHEDULERS = {
    "default": "",
    "memory": "--xla_cpu_enable_concurrency_optimized_scheduler=false",
}
"""XLA:CPU's schedulers: each `--scheduler` runs in a process of its
own (XLA reads its flags when JAX starts)."""


def jax_step(args, remat):
    """`(loss, weights, states, ids)`: the training loss as a function
    of the weights, states and tokens, and those arguments."""
    import keras

    model = build(args, remat)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss(weights, states, ids):
        logits, _ = model.stateless_call(weights, states, ids, training=True)
        return loss_fn(ids[:, 1:], logits[:, :-1])

    return loss, trainable, non_trainable, tokens(args)


def residual_bytes(loss, weights, states, ids):
    """Bytes the backward pass keeps: the leaves of `jax.vjp`'s backward
    function, traced for their shapes only. The weights are left out
    (kept in both settings)."""
    import jax
    import numpy as np

    def kept(weights, states):
        _, backward = jax.vjp(lambda w: loss(w, states, ids), weights)
        return jax.tree_util.tree_leaves(backward)

    leaves = jax.eval_shape(kept, weights, states)
    weight_shapes = {(tuple(w.shape), str(w.dtype)) for w in weights}
    return int(
        sum(
            np.prod(leaf.shape) * leaf.dtype.itemsize
            for leaf in leaves
            if (tuple(leaf.shape), str(leaf.dtype)) not in weight_shapes
        )
    )


def compiled_memory(args, remat):
    import jax
    import numpy as np

    loss, weights, states, ids = jax_step(args, remat)
    lowered = jax.jit(jax.value_and_grad(loss)).lower(weights, states, ids)
    compiled = lowered.compile()
    memory = compiled.memory_analysis()
    return {
        "parameters": int(sum(np.prod(w.shape) for w in weights)),
        "residuals": residual_bytes(loss, weights, states, ids),
        "temporaries": memory.temp_size_in_bytes,
        "compiled_dots": compiled.as_text().count(" dot("),
    }


def jax_child(args):
    import json

    results = {
        setting: compiled_memory(args, setting == "remat")
        for setting in ("plain", "remat")
    }
    print("RESULTS " + json.dumps(results))


def jax_main(args):
    if args.child:
        jax_child(args)
        return
    measured = {}
    for scheduler, flag in SCHEDULERS.items():
        flags = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
        done = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--child", "both"],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": flags},
        )
        line = [x for x in done.stdout.splitlines() if x.startswith("RESULTS")]
        measured[scheduler] = json.loads(line[-1][len("RESULTS ") :])
    plain, remat = measured["default"]["plain"], measured["default"]["remat"]
    mib = 2**20
    print(
        f"CausalLM {plain['parameters'] / 1e6:.1f}M parameters, "
        f"{args.num_layers} layers, batch {args.batch} x "
        f"{args.sequence_length} tokens, JAX on CPU"
    )
    rows = [("residuals kept for the backward pass", "residuals", "default")]
    rows += [
        (f"temporaries, {name} XLA:CPU scheduler", "temporaries", name)
        for name in SCHEDULERS
    ]
    for label, key, scheduler in rows:
        a, b = (measured[scheduler][s][key] for s in ("plain", "remat"))
        print(
            f"{label:45s} plain {a / mib:8.1f} MiB  remat {b / mib:8.1f} "
            f"MiB  ({1 - b / a:.1%} lower)"
        )
    print(
        f"compiled dot products: plain {plain['compiled_dots']}, "
        f"remat {remat['compiled_dots']}"
    )


def step_rss(args, remat):
    """In this process: MiB of peak-RSS growth over one training step."""
    import resource

    import keras

    model = build(args, remat)
    model.compile(
        keras.optimizers.SGD(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    ids = tokens(args)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.train_on_batch(ids, ids)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (after - before) / 1024


def torch_main(args):
    if args.child:
        print(f"RSS {step_rss(args, args.child == 'remat'):.1f}")
        return
    growth = {}
    for setting in ("plain", "remat"):
        done = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--child", setting],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "KERAS_BACKEND": "torch"},
        )
        line = [x for x in done.stdout.splitlines() if x.startswith("RSS ")]
        growth[setting] = float(line[-1].split()[1])
    print(
        f"CausalLM, {args.num_layers} layers, batch {args.batch} x "
        f"{args.sequence_length} tokens, PyTorch eager on CPU"
    )
    print(
        f"peak RSS growth over a step: plain {growth['plain']:.0f} MiB, "
        f"remat {growth['remat']:.0f} MiB "
        f"({1 - growth['remat'] / growth['plain']:.1%} lower)"
    )


def main():
    args = parse_args()
    use_backend(args)
    if args.backend == "torch":
        torch_main(args)
    else:
        jax_main(args)


if __name__ == "__main__":
    main()
