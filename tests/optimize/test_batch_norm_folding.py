"""Quantization-aware training of mobile networks: Conv/Depthwise +
BatchNorm (+ ReLU6) folded into one int8 convolution, residual adds and
pooling with their own output quantizers."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.optimize import FoldedInto
from kerasbig.optimize import QuantizeAware
from kerasbig.optimize import QuantizeAwareConvBatchNorm
from kerasbig.optimize import QuantizeOutput
from kerasbig.optimize import quantize_aware


def _numpy(x):
    return ops.convert_to_numpy(x)


def _conv_bn_relu(conv, seed=0):
    """`conv`, a BatchNormalization with random statistics and ReLU6,
    built on (None, 8, 8, 3) inputs."""
    rng = np.random.default_rng(seed)
    conv.build((None, 8, 8, 3))
    channels = conv.compute_output_shape((None, 8, 8, 3))[-1]
    norm = keras.layers.BatchNormalization(momentum=0.9)
    norm.build((None, 6, 6, channels))
    norm.set_weights(
        [
            rng.uniform(0.5, 2.0, channels).astype("float32"),
            rng.normal(size=channels).astype("float32"),
            rng.normal(size=channels).astype("float32"),
            rng.uniform(0.5, 2.0, channels).astype("float32"),
        ]
    )
    return conv, norm, keras.layers.ReLU(6.0)


def _copy(layer):
    copy = layer.__class__.from_config(layer.get_config())
    copy.build_from_config(layer.get_build_config())
    copy.set_weights(layer.get_weights())
    return copy


CONVOLUTIONS = {
    "conv_with_bias": lambda: keras.layers.Conv2D(5, 3, use_bias=True),
    "depthwise": lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2),
}


@pytest.mark.parametrize("kind", CONVOLUTIONS)
def test_folded_layer_computes_conv_batch_norm_relu(kind):
    keras.utils.set_random_seed(0)
    conv, norm, relu = _conv_bn_relu(CONVOLUTIONS[kind]())
    folded = QuantizeAwareConvBatchNorm(_copy(conv), _copy(norm), relu)
    x = np.random.default_rng(1).normal(size=(4, 8, 8, 3)).astype("float32")
    for training in (True, False):
        # The float computation the int8 one simulates: a grid step of the
        # output range and the kernel's rounding apart; a wrong fold (the
        # moving deviation, the batch correction or the bias) is far off.
        # The output range is the first training batch's: inference
        # values beyond it are clipped.
        expected = _numpy(relu(norm(conv(x), training=training)))
        got = _numpy(folded(x, training=training))
        low, high = _numpy(folded.minimum), _numpy(folded.maximum)
        expected = np.clip(expected, low, high)
        step = float(high - low) / 255
        assert np.abs(got - expected).max() <= 3 * step, training
        assert np.abs(got - expected).mean() <= 0.5 * step, training
    # One training call updated the moving statistics as the BatchNorm's
    # own training call did (norm was called in training once too).
    for ours, theirs in zip(
        (folded.batch_norm.moving_mean, folded.batch_norm.moving_variance),
        (norm.moving_mean, norm.moving_variance),
        strict=True,
    ):
        np.testing.assert_allclose(_numpy(ours), _numpy(theirs), rtol=1e-5)


def test_frozen_statistics_stop_moving_and_training_computes_inference():
    keras.utils.set_random_seed(0)
    conv, norm, relu = _conv_bn_relu(keras.layers.Conv2D(4, 3))
    folded = QuantizeAwareConvBatchNorm(conv, norm, relu, freeze_bn_delay=2)
    rng = np.random.default_rng(2)
    batches = [rng.normal(size=(4, 8, 8, 3)).astype("float32") for _ in "abc"]
    means = []
    for x in batches:
        folded(x, training=True)
        means.append(_numpy(folded.batch_norm.moving_mean))
    assert not np.allclose(means[0], means[1])  # steps 0 and 1 update
    np.testing.assert_array_equal(means[2], means[1])  # step 2 is frozen
    np.testing.assert_allclose(
        _numpy(folded(batches[0], training=True)),
        _numpy(folded(batches[0], training=False)),
        atol=1e-6,
    )


def _mobile_net():
    """A small MobileNetV2-like net: Conv+BN+ReLU6, an inverted residual
    block (expand, depthwise, linear projection, Add), global pooling and
    a softmax classifier."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, use_bias=False, name="stem")(
        inputs
    )
    x = keras.layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = keras.layers.ReLU(6.0, name="stem_relu")(x)
    y = keras.layers.Conv2D(32, 1, use_bias=False, name="expand")(x)
    y = keras.layers.BatchNormalization(momentum=0.9, name="expand_bn")(y)
    y = keras.layers.ReLU(6.0, name="expand_relu")(y)
    y = keras.layers.ZeroPadding2D(name="pad")(y)
    y = keras.layers.DepthwiseConv2D(3, use_bias=False, name="depthwise")(y)
    y = keras.layers.BatchNormalization(momentum=0.9, name="depthwise_bn")(y)
    y = keras.layers.Activation("relu", name="depthwise_relu")(y)
    y = keras.layers.Conv2D(16, 1, use_bias=False, name="project")(y)
    y = keras.layers.BatchNormalization(momentum=0.9, name="project_bn")(y)
    x = keras.layers.Add(name="residual")([x, y])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.1)(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="mobile")


def _digits(count=512):
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.kron(data.images[:count], np.ones((2, 2))) / 16.0
    return images[..., None].astype("float32"), data.target[:count]


def test_quantize_aware_folds_each_conv_batch_norm_relu():
    qat = quantize_aware(_mobile_net())
    layers = {layer.name: layer for layer in qat.layers[-1].layers}
    for conv, norm, relu in [
        ("stem", "stem_bn", "stem_relu"),
        ("expand", "expand_bn", "expand_relu"),
        ("depthwise", "depthwise_bn", "depthwise_relu"),
        ("project", "project_bn", None),
    ]:
        assert isinstance(layers[conv], QuantizeAwareConvBatchNorm), conv
        assert isinstance(layers[norm], FoldedInto), norm
        assert layers[norm].into == conv
        if relu is None:
            assert layers[conv].activation is None
        else:
            assert isinstance(layers[relu], FoldedInto), relu
    for name in ("residual", "pool"):
        assert isinstance(layers[name], QuantizeOutput), name
    assert isinstance(layers["classes"], QuantizeAware)
    assert type(layers["pad"]) is keras.layers.ZeroPadding2D


def test_a_convolution_read_twice_is_not_folded():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    y = keras.layers.BatchNormalization(momentum=0.9, name="norm")(x)
    outputs = keras.layers.Add(name="add")([x, y])
    qat = quantize_aware(keras.Model(inputs, outputs))
    layers = {layer.name: layer for layer in qat.layers[-1].layers}
    assert isinstance(layers["conv"], QuantizeAware)
    assert isinstance(layers["norm"], QuantizeOutput)


@pytest.fixture(scope="module")
def trained():
    """The small mobile net trained in float on 512 digits (BatchNorm
    statistics included), and the data."""
    x, y = _digits()
    model = _mobile_net()
    model.compile(
        keras.optimizers.Adam(1e-2),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=32, epochs=4, verbose=0)
    return model, x, y


def _fine_tuned(model, x, y, **options):
    qat = quantize_aware(model, **options)
    qat.compile(
        keras.optimizers.Adam(1e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    before = qat.evaluate(x, y, verbose=0)[1]
    qat.fit(x, y, batch_size=32, epochs=2, verbose=0)
    return qat, before


def test_mobile_net_fine_tunes_saves_and_reloads(trained, tmp_path):
    model, x, y = trained
    accuracy = model.evaluate(x, y, verbose=0)[1]
    qat, before = _fine_tuned(model, x, y, freeze_bn_delay=8)
    # Folded and quantized, the copy computes what the float model does
    # (an unfolded BatchNorm or a wrong fold would lose most of it; here,
    # before any batch has set a range, every activation is quantized
    # over tfmot's initial [-6, 6] and the softmax on LiteRT's 1/256
    # grid, whose ties cost this unconfident model up to 3 points) ...
    assert before >= accuracy - 0.04
    # ... and fine-tuning keeps it (BatchNorms frozen after 8 steps).
    assert qat.evaluate(x, y, verbose=0)[1] >= accuracy - 0.02
    layers = {layer.name: layer for layer in qat.layers[-1].layers}
    assert int(_numpy(layers["stem"].step)) == 2 * 16
    predicted = qat.predict(x[:16], verbose=0)
    np.testing.assert_allclose(predicted, _numpy(qat(x[:16])), atol=1e-5)
    qat.save(tmp_path / "qat.keras")
    restored = keras.saving.load_model(tmp_path / "qat.keras")
    np.testing.assert_allclose(
        _numpy(restored(x[:16])), _numpy(qat(x[:16])), atol=1e-6
    )


@pytest.mark.tensorflow_only
def test_mobile_net_converts_to_int8_convolutions_with_batch_norm_folded(
    trained, tmp_path
):
    from kerasbig.export import to_litert

    model, x, y = trained
    qat, _ = _fine_tuned(model, x, y)
    exported = to_litert(
        qat, tmp_path / "qat.tflite", quantization="int8", verify_data=x[:64]
    )
    assert exported.float_compute_ops() == []
    # One QUANTIZE, the input's: the softmax's output grid is LiteRT's
    # fixed one, so nothing is requantized after it.
    assert exported.ops.count("QUANTIZE") == 1
    edges = ("QUANTIZE", "DEQUANTIZE")
    compute = [op for op in exported.ops if op not in edges]
    # Four convolutions and nothing left of the BatchNorms (no MUL, and
    # the only ADD is the residual one); the ReLUs run fused, and the
    # zero padding became the depthwise convolution's.
    assert compute == [
        "CONV_2D",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "CONV_2D",
        "ADD",
        "MEAN",
        "FULLY_CONNECTED",
        "SOFTMAX",
    ], compute
    # The file computes what the QAT model simulates: a few steps of the
    # softmax's int8 grid (1/256) apart where rounding ties went the other
    # way in an earlier layer, and the same classes.
    simulated = _numpy(qat(x))
    got = exported.predict(x)
    assert np.abs(got - simulated).max() <= 5 / 256
    assert (got.argmax(-1) == simulated.argmax(-1)).mean() >= 0.99


# Per push on PyTorch (the other process dominates the cost), on JAX in
# the full tier; TensorFlow converts in-process above.
@pytest.mark.per_push_on("torch")
def test_a_mobile_net_trained_on_any_backend_exports_to_int8(trained, tmp_path):
    # QAT on this backend, the .keras file converted by the export
    # program (which runs under TensorFlow): the path a JAX or PyTorch
    # user takes to the phone.
    import subprocess
    import sys

    from kerasbig.export import LiteRTModel

    model, x, y = trained
    qat, _ = _fine_tuned(model, x, y)
    qat.save(tmp_path / "qat.keras")
    np.savez(tmp_path / "verify.npz", image=x[:64])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kerasbig.export",
            str(tmp_path / "qat.keras"),
            str(tmp_path / "qat.tflite"),
            "--quantization",
            "int8",
            "--verify-data",
            str(tmp_path / "verify.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-1000:]
    exported = LiteRTModel(tmp_path / "qat.tflite")
    assert exported.float_compute_ops() == []
    assert exported.ops.count("DEPTHWISE_CONV_2D") == 1
    assert "MUL" not in exported.ops
    simulated = _numpy(qat(x[:64]))
    assert (
        exported.predict(x[:64]).argmax(-1) == simulated.argmax(-1)
    ).mean() >= 0.95
