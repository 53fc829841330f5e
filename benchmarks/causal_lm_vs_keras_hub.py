"""Training speed: kerasbig `CausalLM` against keras-hub `LlamaCausalLM`.

Both built from the same Llama configuration (no preset: random
weights), compiled with the same Adam and cross-entropy and no metrics,
trained with `fit()` on the same token batches, in one process,
alternating rounds; prints each side's median steps/s and the ratio
(goal >= 1.2x).

    KERAS_BACKEND=tensorflow python benchmarks/causal_lm_vs_keras_hub.py
    KERAS_BACKEND=jax python benchmarks/causal_lm_vs_keras_hub.py
"""

import argparse
import os
import statistics
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--intermediate", type=int, default=704)
    parser.add_argument("--vocabulary", type=int, default=8000)
    parser.add_argument("--sequence", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args()


def main():
    args = parse_args()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import keras_hub
    import numpy as np

    from kerasbig.models import CausalLM

    keras.utils.set_random_seed(0)
    ours = CausalLM(
        vocabulary_size=args.vocabulary,
        max_sequence_length=args.sequence,
        num_layers=args.layers,
        hidden_dim=args.hidden,
        num_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        intermediate_dim=args.intermediate,
        layer_norm_epsilon=1e-6,
    )
    backbone = keras_hub.models.LlamaBackbone(
        vocabulary_size=args.vocabulary,
        num_layers=args.layers,
        num_query_heads=args.heads,
        hidden_dim=args.hidden,
        intermediate_dim=args.intermediate,
        num_key_value_heads=args.kv_heads,
    )
    hub = keras_hub.models.LlamaCausalLM(backbone, preprocessor=None)
    print(
        f"backend {keras.backend.backend()}: kerasbig "
        f"{ours.count_params() / 1e6:.2f}M parameters, keras-hub "
        f"{hub.count_params() / 1e6:.2f}M"
    )
    rows = args.batch * args.steps
    ids = (
        np.random.default_rng(0)
        .integers(0, args.vocabulary, (rows, args.sequence + 1))
        .astype("int32")
    )
    x, y = ids[:, :-1], ids[:, 1:]
    mask = np.ones(x.shape, bool)

    def compile_model(model, **extra):
        model.compile(
            optimizer=keras.optimizers.Adam(1e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            **extra,
        )

    compile_model(ours)
    compile_model(hub, weighted_metrics=[])
    runs = {
        "kerasbig": lambda: ours.fit(
            x, y, batch_size=args.batch, epochs=1, shuffle=False, verbose=0
        ),
        "keras-hub": lambda: hub.fit(
            {"token_ids": x, "padding_mask": mask},
            y,
            batch_size=args.batch,
            epochs=1,
            shuffle=False,
            verbose=0,
        ),
    }
    for run in runs.values():  # compile
        run()
    speeds = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            speeds[name].append(args.steps / (time.perf_counter() - start))
    medians = {name: statistics.median(v) for name, v in speeds.items()}
    for name, value in medians.items():
        print(f"{name}: {value:.2f} steps/s (rounds: {speeds[name]})")
    print(
        f"ratio kerasbig / keras-hub: "
        f"{medians['kerasbig'] / medians['keras-hub']:.2f}x (goal >= 1.2x)"
    )


if __name__ == "__main__":
    main()
