"""Quantization-aware training of the same MobileNetV2 on the same data
with tfmot (tf-keras) and with kerasbig (Keras 3), side by side in one
process.

`keras.applications.MobileNetV2(alpha=0.35)` (no ImageNet weights) is
trained in float once in Keras 3 on the digits at 32x32 RGB (as the VGG16
recipe feeds them); its weights are copied into tf-keras's identical
MobileNetV2. Each side then runs QAT (kerasbig: `quantize_aware`, the
BatchNorms folded into their convolutions; tfmot: `quantize_model`) for
--qat-epochs with the same optimizer, batch size and learning rate,
converts to an int8 LiteRT file and is scored by running the file on the
held-out digits. The script prints the float accuracy, each side's int8
accuracy, file size, LiteRT latency (one image, p50 over 200 calls),
QAT time (and the median epoch after the first), the ops each file runs
(and whether any computes in float) and the ratios.

    python benchmarks/qat_vs_tfmot.py   # needs the [tfmot] extra
"""

import argparse
import collections
import os
import sys
import tempfile
import time

from pruning_vs_tfmot import EpochTimes


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="float epochs")
    parser.add_argument("--qat-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument(
        "--qat-learning-rate", type=float, default=1e-4, help="Adam"
    )
    parser.add_argument("--alpha", type=float, default=0.35)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def rgb(images):
    import numpy as np

    return np.repeat(images, 3, axis=-1)


def slow_batch_norms(model, keras_module):
    """The applications' BatchNorm momentum, 0.999, needs thousands of
    steps before the moving statistics describe the data (float accuracy
    at chance after 30 epochs here); 0.99 settles within a few hundred,
    as in the prune_quantize recipe. Both sides alike."""
    for layer in model.layers:
        if isinstance(layer, keras_module.layers.BatchNormalization):
            layer.momentum = 0.99


def op_counts(path):
    """`{op name: count}` of a LiteRT file, and the ops whose first input
    is a float tensor (QUANTIZE/DEQUANTIZE at the edges aside)."""
    from kerasbig.export import LiteRTModel

    exported = LiteRTModel(path)
    return collections.Counter(exported.ops), exported.float_compute_ops()


def main():
    args = parse_args()
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras
    import tensorflow as tf

    from kerasbig._optional import import_optional
    from kerasbig.data import load_digits
    from kerasbig.export import LiteRTModel
    from kerasbig.export import to_litert
    from kerasbig.optimize import quantize_aware

    script = "benchmarks/qat_vs_tfmot.py"
    tfmot = import_optional("tensorflow_model_optimization", script)
    tf_keras = import_optional("tf_keras", script)
    (x_train, y_train), (x_test, y_test) = load_digits(
        image_size=args.image_size, seed=args.seed
    )
    x_train, x_test = rgb(x_train), rgb(x_test)
    shape = (args.image_size, args.image_size, 3)
    keras.utils.set_random_seed(args.seed)
    model = keras.applications.MobileNetV2(
        input_shape=shape, alpha=args.alpha, weights=None, classes=10
    )
    slow_batch_norms(model, keras)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=0,
    )
    float_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    folder = tempfile.mkdtemp()
    results = {}

    def score(name, path, seconds, timer):
        exported = LiteRTModel(path)
        predicted = exported.predict(x_test).argmax(-1)
        ops, floating = op_counts(path)
        results[name] = dict(
            accuracy=float((predicted == y_test).mean()),
            size=os.path.getsize(path),
            latency=exported.latency(x_test[:1], runs=200)["p50"],
            seconds=seconds,
            epoch=timer.steady(),
            ops=ops,
            floating=floating,
        )

    def qat_fit(qat, keras_module):
        """Compiles and fine-tunes `qat` with `keras_module` (Keras 3 or
        tf-keras) on the same settings; returns (seconds, epoch timer)."""
        qat.compile(
            optimizer=keras_module.optimizers.Adam(args.qat_learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        callback = keras_module.callbacks.Callback
        timer = type("Timer", (EpochTimes, callback), {})()
        start = time.perf_counter()
        qat.fit(
            x_train,
            y_train,
            batch_size=args.batch_size,
            epochs=args.qat_epochs,
            callbacks=[timer],
            verbose=0,
        )
        return time.perf_counter() - start, timer

    # kerasbig on Keras 3.
    qat = quantize_aware(model)
    seconds, timer = qat_fit(qat, keras)
    path = os.path.join(folder, "kerasbig.tflite")
    to_litert(qat, path, quantization="int8", verify_data=x_test[:64])
    score("kerasbig (Keras 3)", path, seconds, timer)

    # tfmot on tf-keras, from the same float weights.
    tf.random.set_seed(args.seed)
    legacy = tf_keras.applications.MobileNetV2(
        input_shape=shape, alpha=args.alpha, weights=None, classes=10
    )
    slow_batch_norms(legacy, tf_keras)
    legacy.set_weights(model.get_weights())
    legacy_qat = tfmot.quantization.keras.quantize_model(legacy)
    seconds, timer = qat_fit(legacy_qat, tf_keras)
    converter = tf.lite.TFLiteConverter.from_keras_model(legacy_qat)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    path = os.path.join(folder, "tfmot.tflite")
    with open(path, "wb") as file:
        file.write(converter.convert())
    score("tfmot (tf-keras)", path, seconds, timer)

    print(
        f"python={sys.version.split()[0]} keras={keras.__version__} "
        f"tf_keras={tf_keras.__version__} tfmot={tfmot.__version__} "
        f"MobileNetV2(alpha={args.alpha}) {args.image_size}x"
        f"{args.image_size}x3 digits, float epochs={args.epochs}, QAT "
        f"epochs={args.qat_epochs}; float accuracy={float_accuracy:.4f}"
    )
    for name, r in results.items():
        print(
            f"{name:>20}: int8 accuracy {r['accuracy']:.4f} "
            f"({100 * (r['accuracy'] - float_accuracy):+.2f} points vs "
            f"float), file {r['size']} bytes, latency p50 "
            f"{r['latency']:.3f} ms, QAT {r['seconds']:.1f} s (median "
            f"epoch {r['epoch']:.2f} s)"
        )
        print(f"{'':>22}ops {dict(sorted(r['ops'].items()))}")
        print(f"{'':>22}float compute ops: {r['floating'] or 'none'}")
    ours, theirs = results.values()
    print(
        "kerasbig / tfmot: int8 accuracy "
        f"{100 * (ours['accuracy'] - theirs['accuracy']):+.2f} points (goal "
        f">= -0.3), file size {ours['size'] / theirs['size']:.3f} (goal <= "
        f"1.0), latency {ours['latency'] / theirs['latency']:.3f} (goal <= "
        f"1.05), QAT epoch {ours['epoch'] / theirs['epoch']:.3f} (goal <= "
        "1.0)"
    )


if __name__ == "__main__":
    main()
