"""Training speed of kerasbig's TransformerClassifier against the same
network built from keras_hub.layers.TransformerEncoder, in one process.

Both networks: token + learned position embedding (vocabulary 20,000),
2 encoder blocks of width 256 with 4 heads and a 512-wide GELU feed-forward,
masked mean pooling and a 2-class dense head; Adam, sparse cross-entropy,
batch 32, sequence length 128. The two models alternate for --repeats
rounds of --steps timed training steps each (after a warm-up fit that
compiles); the script prints the median steps/s of each and the ratio.

    python benchmarks/transformer_classifier.py --backend tensorflow

`--dropout 0.1` trains with dropout in the same places on both sides:
embeddings, attention probabilities, both residual branch outputs and the
pooled features.
"""

import argparse
import statistics
import sys
import time

from _backend_flag import add_backend_flag
from _backend_flag import use_backend


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_flag(parser)
    parser.add_argument(
        "--steps", type=int, default=20, help="timed steps per round"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds per model"
    )
    parser.add_argument(
        "--dropout", type=float, default=0.0, help="dropout rate of both"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="batch size (default 32)"
    )
    parser.add_argument(
        "--sequence-length", type=int, default=128, help="tokens per example"
    )
    return parser.parse_args()


VOCABULARY, WIDTH, HEADS, FFN, LAYERS, CLASSES = 20000, 256, 4, 512, 2, 2


def kerasbig_model(args):
    from kerasbig.models import TransformerClassifier

    return TransformerClassifier(
        VOCABULARY,
        CLASSES,
        args.sequence_length,
        num_layers=LAYERS,
        hidden_dim=WIDTH,
        num_heads=HEADS,
        intermediate_dim=FFN,
        dropout=args.dropout,
    )


def keras_hub_model(args):
    import keras
    import keras_hub

    token_ids = keras.Input((args.sequence_length,), dtype="int32")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        VOCABULARY, args.sequence_length, WIDTH, mask_zero=True
    )(token_ids)
    x = keras.layers.Dropout(args.dropout)(x)
    for _ in range(LAYERS):
        x = keras_hub.layers.TransformerEncoder(
            FFN, HEADS, dropout=args.dropout, activation="gelu"
        )(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dropout(args.dropout)(x)
    return keras.Model(token_ids, keras.layers.Dense(CLASSES)(x))


class _StepTimer:
    def __init__(self):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                self.start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter() - self.start)

        self.callback = Timer()
        self.callback.times = []


def main():
    args = parse_args()
    use_backend(args)
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = args.batch_size * args.steps
    lengths = rng.integers(
        args.sequence_length // 2, args.sequence_length + 1, n
    )
    ids = rng.integers(1, VOCABULARY, (n, args.sequence_length))
    ids[np.arange(args.sequence_length)[None] >= lengths[:, None]] = 0
    ids = ids.astype("int32")
    labels = rng.integers(0, CLASSES, n)

    models = {
        "kerasbig": kerasbig_model(args),
        "keras_hub": keras_hub_model(args),
    }
    for model in models.values():
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        # Warm-up: tracing and compilation stay out of the timed rounds.
        model.fit(
            ids[: 2 * args.batch_size],
            labels[: 2 * args.batch_size],
            batch_size=args.batch_size,
            epochs=1,
            verbose=0,
        )
    rates = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            timer = _StepTimer()
            model.fit(
                ids,
                labels,
                batch_size=args.batch_size,
                epochs=1,
                verbose=0,
                shuffle=False,
                callbacks=[timer.callback],
            )
            rates[name].append(1.0 / statistics.median(timer.callback.times))
    ours = statistics.median(rates["kerasbig"])
    theirs = statistics.median(rates["keras_hub"])
    params = {name: model.count_params() for name, model in models.items()}
    print(
        f"backend={args.backend} batch={args.batch_size} "
        f"seq={args.sequence_length} dropout={args.dropout} "
        f"python={sys.version.split()[0]} keras={keras.__version__}"
    )
    for name in models:
        print(
            f"{name:>9}: {statistics.median(rates[name]):.3f} steps/s "
            f"(rounds: {', '.join(f'{r:.3f}' for r in rates[name])}; "
            f"{params[name]:,} parameters)"
        )
    print(f"ratio kerasbig/keras_hub: {ours / theirs:.3f}x (goal >= 1.0x)")


if __name__ == "__main__":
    main()
