"""On-device LM files against Keras, on CPU: tokens/s, sizes, agreement.

One process (TensorFlow backend), one `CausalLM` (Llama layout, random
weights, untied head):

1. Keras `CausalLM.generate` (greedy, compiled decode loop): prefill and
   decode tokens/s for one prompt.
2. `to_litert_lm` files, float32, float16, dynamic (int8 weights and
   int8 kernels) and int8_weights (int8 weights, float32 arithmetic): file
   size and its ratio to float32 (goal for int8 weights: <= 0.3x),
   greedy-token agreement with Keras, prefill and decode tokens/s through
   `LiteRTGenerator`, and their ratios to Keras.
3. With `--converter-memory`: the converter's peak resident memory
   (`ru_maxrss` of this process after conversion, minus before) for
   the float32 file.

    KERAS_BACKEND=tensorflow python benchmarks/litert_lm.py
    KERAS_BACKEND=tensorflow python benchmarks/litert_lm.py --size 100m \\
        --converter-memory

A random model's greedy choices have near-ties that quantization flips,
so its agreement is a floor; a trained model agrees more (the tests check
>= 95 % on a trained one).
"""

import argparse
import os
import resource
import tempfile
import time

SIZES = {
    # hidden, layers, heads, key/value heads, intermediate, vocabulary
    "small": (256, 4, 8, 2, 704, 8000),
    "100m": (768, 12, 12, 4, 2048, 32000),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="small")
    parser.add_argument("--prompt-length", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument(
        "--converter-memory",
        action="store_true",
        help="measure the float32 conversion's peak resident memory first",
    )
    return parser.parse_args()


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    args = parse_args()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np

    from kerasbig.export import to_litert_lm
    from kerasbig.export.litert_lm import LM_QUANTIZATIONS
    from kerasbig.models import CausalLM

    hidden, layers, heads, kv_heads, intermediate, vocabulary = SIZES[args.size]
    cache_length = args.prompt_length + args.new_tokens + 1
    keras.utils.set_random_seed(0)
    model = CausalLM(
        vocabulary_size=vocabulary,
        max_sequence_length=cache_length,
        num_layers=layers,
        hidden_dim=hidden,
        num_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_dim=intermediate,
    )
    parameters = model.count_params()
    print(f"CausalLM {args.size}: {parameters / 1e6:.1f}M parameters")
    prompt = np.random.default_rng(0).integers(
        0, vocabulary, args.prompt_length
    )
    # Keras: the compiled generate; prefill alone is a 1-token generate.
    for _ in range(2):  # compile, then measure
        start = time.perf_counter()
        model.generate(prompt, 1, temperature=0)
        prefill_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model.generate(prompt, args.new_tokens, temperature=0)
        total_seconds = time.perf_counter() - start
    keras_prefill = args.prompt_length / prefill_seconds
    keras_decode = args.new_tokens / max(total_seconds - prefill_seconds, 1e-9)
    print(
        f"keras generate: prefill {keras_prefill:.0f} tok/s, decode "
        f"{keras_decode:.1f} tok/s"
    )
    folder = tempfile.mkdtemp()
    rows = []
    for quantization in LM_QUANTIZATIONS:
        before = peak_rss_mb()
        start = time.perf_counter()
        generator = to_litert_lm(
            model,
            f"{folder}/lm_{quantization}.tflite",
            prefill_lengths=(args.prompt_length - 1,),
            cache_length=cache_length,
            quantization=quantization,
            min_agreement=0.0,
        )
        seconds = time.perf_counter() - start
        if quantization is None and args.converter_memory:
            print(
                f"float32 conversion + verification: {seconds:.0f} s, peak "
                f"RSS {peak_rss_mb():.0f} MB (+{peak_rss_mb() - before:.0f} "
                "MB over the process before)"
            )
        speed = generator.speed(args.prompt_length, args.new_tokens)
        rows.append((quantization or "float32", generator, speed))
    float_size = rows[0][1].size
    print(
        "| file | size | vs float32 | agreement | prefill tok/s (vs Keras) "
        "| decode tok/s (vs Keras) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, generator, speed in rows:
        print(
            f"| {name} | {generator.size / 1e6:.1f} MB | "
            f"{generator.size / float_size:.2f}x | {generator.agreement:.1%} | "
            f"{speed['prefill']:.0f} ({speed['prefill'] / keras_prefill:.2f}x) "
            f"| {speed['decode']:.1f} ({speed['decode'] / keras_decode:.2f}x) |"
        )


if __name__ == "__main__":
    main()
