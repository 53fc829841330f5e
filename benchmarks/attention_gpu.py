"""GPU benchmarks of kerasbig attention on the JAX and PyTorch backends.

Three measurements, each printed with its ratio or goal:

1. attention: forward+backward of `kerasbig.layers.MultiHeadAttention`
   (causal, bf16, batch 8, seq 4096, 16 heads of 64) against the same
   projections written by hand around the backend's raw fused kernel
   (`jax.nn.dot_product_attention(implementation="cudnn")`, or torch SDPA
   restricted to the flash backend), as TFLOP/s and their ratio (goal
   >= 0.9x).
2. memory: peak accelerator memory of the layer's forward+backward at seq
   16384, next to the size one quadratic score tensor would take.
3. lm: `kerasbig.models.CausalLM` of about 124M parameters (12 blocks, width
   768, seq 1024, GPT-2 layout) trained with `fit()` under mixed bfloat16:
   tokens/s and model FLOPs utilisation against --peak-tflops.

    KERAS_BACKEND=jax python benchmarks/attention_gpu.py
    KERAS_BACKEND=torch python benchmarks/attention_gpu.py

`--smoke` shrinks every shape so the script runs on a CPU in seconds (to
check it works; the numbers then mean nothing, and the raw side uses the
backend's default kernel).
"""

import argparse
import contextlib
import statistics
import time

from _backend_flag import add_backend_flag
from _backend_flag import use_backend


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_flag(parser, default="jax", choices=("jax", "torch"))
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["attention", "memory", "lm"],
        choices=["attention", "memory", "lm"],
        help="which measurements to run (default: all)",
    )
    parser.add_argument("--batch", type=int, default=8, help="attention batch")
    parser.add_argument("--seq", type=int, default=4096, help="attention seq")
    parser.add_argument("--heads", type=int, default=16, help="heads")
    parser.add_argument("--head-dim", type=int, default=64, help="head size")
    parser.add_argument(
        "--memory-seq", type=int, default=16384, help="seq of the memory test"
    )
    parser.add_argument("--lm-batch", type=int, default=8, help="LM batch")
    parser.add_argument("--lm-seq", type=int, default=1024, help="LM seq")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=989.0,
        help="dense bf16 peak of the GPU for MFU (H100/H200 SXM: 989)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny shapes, runs on a CPU"
    )
    args = parser.parse_args()
    if args.smoke:
        args.batch, args.seq, args.heads, args.head_dim = 2, 64, 4, 16
        args.memory_seq, args.lm_batch, args.lm_seq, args.steps = 128, 2, 64, 2
    return args


def _timed(function, steps):
    function()  # compile / warm up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class _Jax:
    def __init__(self, smoke):
        import jax

        self.jax, self.smoke = jax, smoke

    def train_step(self, layer, x):
        jax = self.jax

        def loss(trainable, x):
            out, _ = layer.stateless_call(
                trainable, [v.value for v in layer.non_trainable_variables], x
            )
            return out.astype("float32").sum()

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        trainable = [v.value for v in layer.trainable_variables]
        return lambda: jax.block_until_ready(grad(trainable, x))

    def raw_step(self, weights, x, heads, head_dim):
        jax, jnp = self.jax, self.jax.numpy
        implementation = None if self.smoke else "cudnn"

        def loss(weights, x):
            wq, wk, wv, wo = weights
            q, k, v = (jnp.einsum("btd,dnh->btnh", x, w) for w in (wq, wk, wv))
            context = jax.nn.dot_product_attention(
                q, k, v, is_causal=True, implementation=implementation
            )
            out = jnp.einsum("btnh,nhd->btd", context, wo)
            return out.astype("float32").sum()

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return lambda: jax.block_until_ready(grad(weights, x))

    def reset_peak(self):
        pass  # JAX reports the process peak; run the memory part first

    def peak_bytes(self):
        stats = self.jax.devices()[0].memory_stats() or {}
        return stats.get("peak_bytes_in_use")


class _Torch:
    def __init__(self, smoke):
        import torch

        self.torch, self.smoke = torch, smoke
        self.cuda = torch.cuda.is_available()

    def _sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def train_step(self, layer, x):
        x = x.detach().requires_grad_(True)

        def step():
            layer.zero_grad(set_to_none=True)
            layer(x).float().sum().backward()
            self._sync()

        return step

    def raw_step(self, weights, x, heads, head_dim):
        torch = self.torch
        functional = torch.nn.functional
        weights = [w.detach().requires_grad_(True) for w in weights]
        x = x.detach().requires_grad_(True)
        flash = torch.nn.attention.SDPBackend.FLASH_ATTENTION

        def kernel():
            if self.smoke:  # whatever SDPA picks on a CPU
                return contextlib.nullcontext()
            return torch.nn.attention.sdpa_kernel([flash])

        def step():
            wq, wk, wv, wo = weights
            q, k, v = (
                torch.einsum("btd,dnh->bnth", x, w) for w in (wq, wk, wv)
            )
            with kernel():
                context = functional.scaled_dot_product_attention(
                    q, k, v, is_causal=True
                )
            out = torch.einsum("bnth,nhd->btd", context, wo)
            out.float().sum().backward()
            self._sync()

        return step

    def reset_peak(self):
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def peak_bytes(self):
        return self.torch.cuda.max_memory_allocated() if self.cuda else None


def _attention_layer(args, seq):
    import keras

    from kerasbig.layers import MultiHeadAttention

    width = args.heads * args.head_dim
    layer = MultiHeadAttention(
        args.heads, args.head_dim, causal=True, use_bias=False, dtype="bfloat16"
    )
    x = keras.random.normal((args.batch, seq, width), dtype="bfloat16")
    layer(x)
    return layer, x


def attention(args, runtime):
    layer, x = _attention_layer(args, args.seq)
    weights = [w.value for w in layer.trainable_variables]
    ours = _timed(runtime.train_step(layer, x), args.steps)
    raw = _timed(
        runtime.raw_step(weights, x, args.heads, args.head_dim), args.steps
    )
    b, t, h, d = args.batch, args.seq, args.heads, args.head_dim
    width = h * d
    # Causal attention: half of the 4*b*h*t*t*d forward FLOPs; backward
    # is 2.5x forward for flash attention. Projections: 3x forward FLOPs.
    attention_flops = 0.5 * 4 * b * h * t * t * d * 3.5
    projection_flops = 2 * b * t * width * width * 4 * 3
    flops = attention_flops + projection_flops
    print(
        f"attention fwd+bwd b={b} t={t} heads={h} head_dim={d} bf16 causal: "
        f"kerasbig {flops / ours / 1e12:.1f} TFLOP/s ({ours * 1e3:.2f} ms), "
        f"raw fused kernel {flops / raw / 1e12:.1f} TFLOP/s "
        f"({raw * 1e3:.2f} ms); ratio {raw / ours:.3f}x (goal >= 0.9x)"
    )


def memory(args, runtime):
    runtime.reset_peak()
    layer, x = _attention_layer(args, args.memory_seq)
    runtime.train_step(layer, x)()
    peak = runtime.peak_bytes()
    scores = args.batch * args.heads * args.memory_seq**2 * 2
    shown = (
        "n/a (no accelerator)" if peak is None else f"{peak / 2**30:.2f} GiB"
    )
    print(
        f"memory fwd+bwd seq={args.memory_seq} batch={args.batch}: peak "
        f"{shown}; one bf16 score tensor would take {scores / 2**30:.2f} GiB"
    )


def lm(args, runtime):
    import keras
    import numpy as np

    from kerasbig.models import CausalLM

    keras.config.set_dtype_policy("mixed_bfloat16")
    small = args.smoke
    model = CausalLM(
        vocabulary_size=512 if small else 50304,
        max_sequence_length=args.lm_seq,
        num_layers=2 if small else 12,
        hidden_dim=64 if small else 768,
        num_heads=4 if small else 12,
        intermediate_dim=256 if small else 3072,
        position="learned",
        normalization="layer_norm",
        activation="gelu",
        use_bias=True,
    )
    keras.config.set_dtype_policy("float32")
    model.compile(
        optimizer=keras.optimizers.AdamW(3e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    steps = args.steps + 2
    ids = rng.integers(
        0, model.vocabulary_size, (args.lm_batch * steps, args.lm_seq + 1)
    ).astype("int32")
    times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(
        ids[:, :-1],
        ids[:, 1:],
        batch_size=args.lm_batch,
        epochs=1,
        verbose=0,
        callbacks=[Timer()],
    )
    step = statistics.median(times[2:])  # the first steps compile
    tokens = args.lm_batch * args.lm_seq / step
    params = model.count_params()
    # 6 N per token for the weights, plus causal attention scores:
    # 12 * layers * width * seq / 2.
    per_token = (
        6 * params + 6 * model.num_layers * model.hidden_dim * args.lm_seq
    )
    mfu = tokens * per_token / (args.peak_tflops * 1e12)
    print(
        f"CausalLM {params / 1e6:.1f}M parameters, batch {args.lm_batch} x "
        f"seq {args.lm_seq}, mixed_bfloat16: {tokens:,.0f} tokens/s, "
        f"MFU {100 * mfu:.1f} % of {args.peak_tflops:g} TFLOP/s"
    )


def main():
    args = parse_args()
    use_backend(args)
    import keras

    runtime = _Jax(args.smoke) if args.backend == "jax" else _Torch(args.smoke)
    print(
        f"backend={args.backend} keras={keras.__version__} smoke={args.smoke}"
    )
    # Memory first: JAX only reports the peak since the process started.
    for part in ("memory", "attention", "lm"):
        if part in args.parts:
            globals()[part](args, runtime)


if __name__ == "__main__":
    main()
