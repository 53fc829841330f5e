"""Weight clustering of the same network on the same data with tfmot
(tf-keras) and with kerasbig (Keras 3), side by side in one process.

The CNN of kerasbig.recipes.prune_quantize is trained dense once in Keras
3; its weights are copied into the identical tf-keras network. Each side
then clusters every kernel into --clusters centroids (k-means++),
fine-tunes for --cluster-epochs with the same optimizer, batch size and
learning rate, strips the wrappers and is scored on the held-out digits.
The stripped models are converted to float32 LiteRT files and gzipped
(what the clusters save is compressibility, not file size). The script
prints accuracy, gzip size against the dense file, fine-tuning time (and
the median epoch after the first), and the ratios.

    python benchmarks/clustering_vs_tfmot.py   # needs the [tfmot] extra
"""

import argparse
import gzip
import sys
import time

from pruning_vs_tfmot import EpochTimes
from pruning_vs_tfmot import build
from pruning_vs_tfmot import dense_start


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="dense epochs")
    parser.add_argument("--clusters", type=int, default=16)
    parser.add_argument(
        "--cluster-epochs", type=int, default=3, help="fine-tuning epochs"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--cluster-learning-rate", type=float, default=1e-4, help="Adam"
    )
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def gzipped(content):
    return len(gzip.compress(content, compresslevel=9))


def distinct_values(weights):
    """The most distinct values any kernel of `weights` holds."""
    import numpy as np

    return max(len(np.unique(w)) for w in weights if w.ndim > 1)


def main():
    args = parse_args()
    tfmot, tf_keras, data, dense = dense_start(
        args, "benchmarks/clustering_vs_tfmot.py"
    )
    import keras
    import numpy as np
    import tensorflow as tf

    import kerasbig.optimize as kb
    from kerasbig.export import converter

    (x_train, y_train), (x_test, y_test) = data
    dense_accuracy = dense.evaluate(x_test, y_test, verbose=0)[1]
    dense_gzip = gzipped(converter.convert_model(dense))
    results = {}

    # kerasbig on Keras 3.
    clustered = kb.cluster_weights(
        dense, args.clusters, cluster_centroids_init="kmeans++", seed=args.seed
    )
    clustered.compile(
        optimizer=keras.optimizers.Adam(args.cluster_learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = type("Timer", (EpochTimes, keras.callbacks.Callback), {})()
    start = time.perf_counter()
    clustered.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.cluster_epochs,
        callbacks=[timer],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    final = kb.strip_clustering(clustered)
    final.compile(loss=clustered.loss, metrics=["accuracy"])
    results["kerasbig (Keras 3)"] = (
        final.evaluate(x_test, y_test, verbose=0)[1],
        gzipped(converter.convert_model(final)),
        distinct_values([np.asarray(w) for w in final.get_weights()]),
        seconds,
        timer.steady(),
    )

    # tfmot on tf-keras, from the same dense weights.
    tf.random.set_seed(args.seed)
    legacy = tf_keras.Sequential(build(tf_keras.layers, args.image_size))
    legacy.set_weights(dense.get_weights())
    clustering = tfmot.clustering.keras
    legacy_clustered = clustering.cluster_weights(
        legacy,
        number_of_clusters=args.clusters,
        cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
    )
    legacy_clustered.compile(
        optimizer=tf_keras.optimizers.Adam(args.cluster_learning_rate),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = type("Timer", (EpochTimes, tf_keras.callbacks.Callback), {})()
    start = time.perf_counter()
    legacy_clustered.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.cluster_epochs,
        callbacks=[timer],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    legacy_final = clustering.strip_clustering(legacy_clustered)
    legacy_final.compile(
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    content = tf.lite.TFLiteConverter.from_keras_model(legacy_final).convert()
    results["tfmot (tf-keras)"] = (
        legacy_final.evaluate(x_test, y_test, verbose=0)[1],
        gzipped(content),
        distinct_values(legacy_final.get_weights()),
        seconds,
        timer.steady(),
    )

    print(
        f"python={sys.version.split()[0]} keras={keras.__version__} "
        f"tf_keras={tf_keras.__version__} tfmot={tfmot.__version__} "
        f"clusters={args.clusters} dense accuracy={dense_accuracy:.4f} "
        f"dense gzip={dense_gzip} bytes"
    )
    for name, (accuracy, size, values, seconds, epoch) in results.items():
        print(
            f"{name:>20}: accuracy {accuracy:.4f} "
            f"({100 * (accuracy - dense_accuracy):+.2f} points), gzip "
            f"{size} bytes ({size / dense_gzip:.3f} x dense), at most "
            f"{values} values per kernel, fine-tuning {seconds:.1f} s, "
            f"median epoch {epoch:.3f} s"
        )
    (ours, theirs) = results.values()
    print(
        f"kerasbig / tfmot: gzip size {ours[1] / theirs[1]:.3f} (goal <= "
        f"1.0), accuracy {100 * (ours[0] - theirs[0]):+.2f} points, time "
        f"{ours[3] / theirs[3]:.2f} total, {ours[4] / theirs[4]:.2f} per "
        "epoch after the first"
    )


if __name__ == "__main__":
    main()
