import keras
import numpy as np
import pytest
from keras import ops
from saved_outputs import assert_reloads

from kerasbig import _backend
from kerasbig.data import load_digits
from kerasbig.optimize import QuantizeActivations
from kerasbig.optimize import QuantizeAware
from kerasbig.optimize import quantize_aware


def _cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((16, 16, 1), name="image"),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def _compile(model, learning_rate=1e-3):
    model.compile(
        keras.optimizers.Adam(learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _int8_after_qat(model, digits, tmp_path, epochs, qat_epochs):
    """Trains `model` in float, fine-tunes its QAT copy and converts that
    to an int8 LiteRT file with no float op (TensorFlow); returns the
    three."""
    from kerasbig.export import to_litert

    (x_train, y_train), _ = digits
    model = _compile(model)
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    qat = _compile(quantize_aware(model), learning_rate=1e-4)
    qat.fit(x_train, y_train, epochs=qat_epochs, batch_size=64, verbose=0)
    exported = to_litert(qat, tmp_path / "qat.tflite", quantization="int8")
    assert exported.float_compute_ops() == []
    return model, qat, exported


@pytest.fixture(scope="module")
def digits():
    return load_digits(image_size=16)


@pytest.mark.parametrize("narrow_range", [False, True])
@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (-0.3, 2.0), (0.2, 1.0)])
def test_keras_ops_fake_quant_equals_tensorflows(bounds, narrow_range):
    tf = pytest.importorskip("tensorflow")
    x = np.linspace(-2.5, 2.5, 1001).astype("float32")
    expected = tf.quantization.fake_quant_with_min_max_vars(
        x, *bounds, num_bits=8, narrow_range=narrow_range
    ).numpy()
    got = ops.convert_to_numpy(
        _backend._fake_quant(ops.convert_to_tensor(x), *bounds, narrow_range)
    )
    # Equal except where x sits exactly half-way between two grid points
    # and float32 rounding picks the other one: one step apart, rarely.
    step = (bounds[1] - bounds[0]) / (254 if narrow_range else 255)
    differ = np.abs(got - expected) > 1e-6
    assert differ.mean() <= 0.002
    assert np.abs(got - expected).max() <= step * 1.01


def test_activation_range_follows_the_batches():
    layer = QuantizeActivations(ema_decay=0.5)
    layer(np.array([[-1.0, 3.0]], "float32"), training=True)
    assert (
        float(ops.convert_to_numpy(layer.minimum)),
        float(ops.convert_to_numpy(layer.maximum)),
    ) == (
        -1.0,
        3.0,
    )
    layer(np.array([[1.0, 5.0]], "float32"), training=True)
    assert (
        float(ops.convert_to_numpy(layer.minimum)),
        float(ops.convert_to_numpy(layer.maximum)),
    ) == (
        0.0,
        4.0,
    )
    layer(np.array([[9.0, 9.0]], "float32"))  # inference: range fixed
    assert float(ops.convert_to_numpy(layer.maximum)) == 4.0


@pytest.mark.tensorflow_per_push
def test_qat_trains_saves_and_reloads(digits, tmp_path):
    (x_train, y_train), (x_test, _) = digits
    qat = _compile(quantize_aware(_cnn()))
    history = qat.fit(x_train, y_train, epochs=3, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.8
    wrapped = [
        layer.layer.name
        for layer in qat.layers[-1].layers
        if isinstance(layer, QuantizeAware)
    ]
    assert len(wrapped) == 4
    assert_reloads(qat, x_test[:16], tmp_path / "qat.keras")


@pytest.mark.full
@pytest.mark.tensorflow_only
def test_qat_converts_to_a_fully_int8_file_at_least_as_good_as_ptq(
    digits, tmp_path
):
    from kerasbig.export import to_litert

    (x_train, _), (x_test, y_test) = digits
    model, qat, exported = _int8_after_qat(_cnn(), digits, tmp_path, 4, 3)
    ptq = to_litert(
        model,
        tmp_path / "ptq.tflite",
        quantization="int8",
        representative_data=x_train[:200],
    )
    # The fake quantization simulates the int8 kernels: the outputs agree
    # up to a grid step where int8 rounding ties go the other way.
    simulated, got = ops.convert_to_numpy(qat(x_test)), exported.predict(x_test)
    step = np.abs(simulated).max() / 127
    assert np.abs(got - simulated).max() <= 2 * step
    assert (got.argmax(-1) == simulated.argmax(-1)).mean() >= 0.99
    qat_accuracy = exported.evaluate(x_test, y_test)["accuracy"]
    assert qat_accuracy >= ptq.evaluate(x_test, y_test)["accuracy"]
    assert exported.size < 0.35 * to_litert(model, tmp_path / "f.tflite").size


def test_unsupported_layers_raise():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.LayerNormalization()]
    )
    with pytest.raises(ValueError, match="cannot quantize LayerNormalization"):
        quantize_aware(model)
    with pytest.raises(ValueError, match="supports Dense, Conv1D, Conv2D"):
        QuantizeAware(keras.layers.LSTM(2))


@pytest.mark.tensorflow_per_push
def test_preserve_sparsity_keeps_a_pruned_models_zeros(digits):
    (x_train, y_train), _ = digits
    model = _cnn()
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            kernel = ops.convert_to_numpy(layer.kernel)
            kernel[np.abs(kernel) < np.median(np.abs(kernel))] = 0
            layer.kernel.assign(kernel)
    qat = _compile(quantize_aware(model, preserve_sparsity=True))
    qat.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    for layer in qat.layers[-1].layers:
        if isinstance(layer, QuantizeAware):
            mask = ops.convert_to_numpy(layer.sparsity_mask)
            assert (mask == 0).mean() >= 0.5, layer.name
    # The zeros reach the computation: zeroing the masked kernel entries
    # by hand changes no output.
    before = ops.convert_to_numpy(qat(x_train[:8]))
    for layer in qat.layers[-1].layers:
        if isinstance(layer, QuantizeAware):
            kernel = layer.layer.kernel
            kernel.assign(
                ops.convert_to_numpy(kernel)
                * ops.convert_to_numpy(layer.sparsity_mask)
            )
    np.testing.assert_allclose(
        ops.convert_to_numpy(qat(x_train[:8])), before, atol=1e-6
    )


def _kernels(qat):
    """{name: the kernel each cluster- and sparsity-preserving QAT wrapper
    computes with (before its fake quantization)}: its centroids at their
    indices, times its zero mask."""
    return {
        layer.name: ops.convert_to_numpy(layer.cluster_centroids)[
            ops.convert_to_numpy(layer.cluster_indices)
        ]
        * ops.convert_to_numpy(layer.sparsity_mask)
        for layer in qat.layers[-1].layers
        if isinstance(layer, QuantizeAware)
    }


def test_preserve_clusters_trains_the_centroids_and_keeps_the_zeros(
    digits, tmp_path
):
    from kerasbig.optimize import cluster_weights
    from kerasbig.optimize import strip_clustering

    (x_train, y_train), (x_test, _) = digits
    model = _cnn()
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            kernel = ops.convert_to_numpy(layer.kernel)
            kernel[np.abs(kernel) < np.median(np.abs(kernel))] = 0
            layer.kernel.assign(kernel)
    clustered = strip_clustering(
        cluster_weights(model, 8, preserve_sparsity=True)
    )
    qat = _compile(
        quantize_aware(
            clustered, preserve_sparsity=True, preserve_clusters=True
        )
    )
    before = _kernels(qat)
    qat.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    after = _kernels(qat)
    for name, kernel in after.items():
        # PCQAT: the same zeros, at most 8 other values (sparsity-
        # preserving clustering keeps the zeros apart), and those moved.
        np.testing.assert_array_equal(kernel == 0, before[name] == 0)
        assert len(np.unique(kernel[kernel != 0])) <= 8, name
        assert not np.allclose(kernel, before[name]), name
    if keras.backend.backend() == "tensorflow":
        from kerasbig.export import to_litert

        exported = to_litert(
            qat, tmp_path / "pcqat.tflite", quantization="int8"
        )
        assert exported.float_compute_ops() == []
    qat.save(tmp_path / "pcqat.keras")
    restored = keras.saving.load_model(tmp_path / "pcqat.keras")
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x_test[:16])),
        ops.convert_to_numpy(qat(x_test[:16])),
        atol=1e-6,
    )


def test_preserve_clusters_refuses_an_unclustered_kernel():
    with pytest.raises(ValueError, match="preserve_clusters needs a clustered"):
        quantize_aware(_cnn(), preserve_clusters=True)


def test_separable_conv_runs_as_a_depthwise_then_a_pointwise_convolution():
    # The reference: Keras's own DepthwiseConv2D and 1x1 Conv2D on the
    # fake-quantized kernels, the tensor between them fake-quantized over
    # its batch range (a first training batch sets the ranges).
    from kerasbig.optimize._quantizers import quantize_weights

    keras.utils.set_random_seed(0)
    options = dict(strides=2, padding="same", depth_multiplier=2)
    layer = keras.layers.SeparableConv2D(6, 3, activation="relu", **options)
    x = np.random.RandomState(0).rand(4, 9, 9, 3).astype("float32")
    layer.build(x.shape)
    layer.bias.assign(np.linspace(-0.2, 0.2, 6))
    float_outputs = ops.convert_to_numpy(layer(x))
    wrapper = QuantizeAware(layer)
    got = ops.convert_to_numpy(wrapper(x, training=True))

    depthwise = keras.layers.DepthwiseConv2D(3, use_bias=False, **options)
    depthwise.build(x.shape)
    depthwise.kernel.assign(
        quantize_weights(layer.depthwise_kernel.value, True, depthwise=True)
    )
    middle = depthwise(x)
    middle = _backend.fake_quant(middle, ops.min(middle), ops.max(middle))
    pointwise = keras.layers.Conv2D(6, 1, activation="relu")
    pointwise.build(middle.shape)
    pointwise.kernel.assign(
        quantize_weights(layer.pointwise_kernel.value, True)
    )
    pointwise.bias.assign(layer.bias.value)
    expected = pointwise(middle)
    expected = ops.convert_to_numpy(
        _backend.fake_quant(expected, ops.min(expected), ops.max(expected))
    )
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # Close to the float layer: within a few int8 steps.
    step = (expected.max() - expected.min()) / 255
    assert np.abs(got - float_outputs).max() < 4 * step
    with pytest.raises(ValueError, match="SeparableConv2D .* has two"):
        QuantizeAware(layer, preserve_sparsity=True)


def _separable_and_transposed():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.SeparableConv2D(
        16, 3, padding="same", activation="relu6", name="separable"
    )(x)
    x = keras.layers.Conv2DTranspose(
        8, 3, strides=2, activation="relu", name="transposed"
    )(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


# JAX's compile of the fit takes 25 s; the layer's arithmetic is checked
# on JAX above.
@pytest.mark.per_push_on("tensorflow", "torch")
def test_separable_and_transposed_convolutions_train_and_reload(
    digits, tmp_path
):
    (x_train, y_train), (x_test, _) = digits
    qat = _compile(quantize_aware(_separable_and_transposed()))
    body = qat.layers[-1]
    types = {layer.name: type(layer).__name__ for layer in body.layers}
    assert types["separable"] == types["transposed"] == "QuantizeAware"
    history = qat.fit(
        x_train[:512], y_train[:512], epochs=2, batch_size=64, verbose=0
    )
    assert np.isfinite(history.history["loss"]).all()
    assert_reloads(qat, x_test[:16], tmp_path / "qat.keras")


@pytest.mark.tensorflow_only
def test_separable_and_transposed_convolutions_convert_to_int8(
    digits, tmp_path
):

    _, (x_test, _) = digits
    _, qat, exported = _int8_after_qat(
        _separable_and_transposed(), digits, tmp_path, 3, 1
    )
    # Conv2DTranspose's output shape is computed from the batch size
    # (int32 SHAPE, STRIDED_SLICE, PACK): no values pass through them.
    shape_ops = ("SHAPE", "STRIDED_SLICE", "PACK")
    edges = ("QUANTIZE", "DEQUANTIZE")
    compute = [op for op in exported.ops if op not in edges + shape_ops]
    assert compute == [
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "CONV_2D",
        "TRANSPOSE_CONV",
        "MEAN",
        "FULLY_CONNECTED",
    ], compute
    simulated = ops.convert_to_numpy(qat(x_test))
    got = exported.predict(x_test)
    assert (got.argmax(-1) == simulated.argmax(-1)).mean() >= 0.98


@pytest.mark.parametrize(
    "activation, step, low",
    [
        ("softmax", 1 / 256, 0.0),
        ("sigmoid", 1 / 256, 0.0),
        ("tanh", 1 / 128, -1),
    ],
)
def test_fixed_range_activations_use_litert_output_grid(activation, step, low):
    # LiteRT's int8 SOFTMAX, LOGISTIC and TANH have fixed output scales;
    # the QAT model quantizes to exactly that grid (a learned range would
    # make the converter requantize), as a Dense activation, an
    # Activation layer and (softmax) a Softmax layer.
    after = [keras.layers.Activation(activation)]
    if activation == "softmax":
        after.append(keras.layers.Softmax())
    x = 3 * np.random.RandomState(0).normal(size=(32, 6)).astype("float32")
    for last in [None, *after]:
        layers = [keras.Input((6,)), keras.layers.Dense(4)]
        if last is None:
            layers[1] = keras.layers.Dense(4, activation=activation)
        else:
            layers.append(last)
        qat = quantize_aware(keras.Sequential(layers))
        out = ops.convert_to_numpy(qat(x, training=True))
        levels = (out - low) / step
        np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
        assert out.min() >= low and out.max() <= 1 - step + 1e-6
