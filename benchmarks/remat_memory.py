"""Activation memory of a CausalLM training step with and without
`remat=True`: XLA's buffer assignment on JAX, peak process memory on
PyTorch.

JAX (default): the step is the loss and its gradients with respect to
every trainable weight (`jax.value_and_grad` of `model.stateless_call`
in training mode, sparse cross-entropy on the next tokens), jitted and
compiled for --batch sequences of --sequence-length tokens; nothing is
run. XLA's `memory_analysis()` gives the bytes of the step's arguments
(weights, tokens), outputs (loss, gradients) and temporaries; the
temporaries are the activations kept for the backward pass plus scratch
space, and are what rematerialisation trades for recomputation (goal:
>= 40 % fewer). The script also counts the dot products of the lowered
and of the compiled program: recomputation shows as more dots.

--backend torch: each setting runs in a process of its own: build the
model, then the peak resident memory (`ru_maxrss`) growth over its first
SGD `train_on_batch` (PyTorch runs eagerly and frees activations as the
backward pass consumes them; the growth also holds the gradients and
one-time allocations, the same in both settings).

    python benchmarks/remat_memory.py
    python benchmarks/remat_memory.py --backend torch --batch 1
"""

import argparse
import os
import subprocess
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocabulary", type=int, default=32000)
    parser.add_argument("--hidden-dim", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=8)
    parser.add_argument("--num-heads", type=int, default=8)
    parser.add_argument("--intermediate-dim", type=int, default=1408)
    parser.add_argument("--sequence-length", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--backend", choices=["jax", "torch"], default="jax")
    parser.add_argument(
        "--child", choices=["plain", "remat"], help=argparse.SUPPRESS
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


def compiled_memory(args, remat):
    import jax
    import keras
    import numpy as np

    model = build(args, remat)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss(weights, states, ids):
        logits, _ = model.stateless_call(weights, states, ids, training=True)
        return loss_fn(ids[:, 1:], logits[:, :-1])

    lowered = jax.jit(jax.value_and_grad(loss)).lower(
        trainable, non_trainable, tokens(args)
    )
    compiled = lowered.compile()
    memory = compiled.memory_analysis()
    return {
        "parameters": int(sum(np.prod(v.shape) for v in trainable)),
        "arguments": memory.argument_size_in_bytes,
        "outputs": memory.output_size_in_bytes,
        "temporaries": memory.temp_size_in_bytes,
        "lowered_dots": lowered.as_text().count("dot_general"),
        "compiled_dots": compiled.as_text().count(" dot("),
    }


def jax_main(args):
    import jax

    plain = compiled_memory(args, remat=False)
    remat = compiled_memory(args, remat=True)
    mib = 2**20
    print(
        f"CausalLM {plain['parameters'] / 1e6:.1f}M parameters, "
        f"{args.num_layers} layers, batch {args.batch} x "
        f"{args.sequence_length} tokens, JAX on {jax.devices()[0].platform}"
    )
    for name in ("arguments", "outputs", "temporaries"):
        print(
            f"{name:12s} plain {plain[name] / mib:9.1f} MiB   "
            f"remat {remat[name] / mib:9.1f} MiB"
        )
    for name in ("lowered_dots", "compiled_dots"):
        print(f"{name:14s} plain {plain[name]:5d}   remat {remat[name]:5d}")
    saved = 1 - remat["temporaries"] / plain["temporaries"]
    print(f"temporaries (activations and scratch) {saved:.1%} lower with remat")


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
    os.environ["KERAS_BACKEND"] = args.backend
    if args.backend == "torch":
        torch_main(args)
    else:
        jax_main(args)


if __name__ == "__main__":
    main()
