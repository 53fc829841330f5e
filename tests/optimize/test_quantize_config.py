"""A layer of the user's own joins quantization-aware training through a
QuantizeConfig and quantize_annotate_layer."""

import keras
import numpy as np
import pytest
from keras import ops
from saved_outputs import assert_reloads

from kerasbig.ops import call_with_values
from kerasbig.optimize import QuantizeConfig
from kerasbig.optimize import QuantizeWithConfig
from kerasbig.optimize import quantize_annotate_layer
from kerasbig.optimize import quantize_aware


@keras.saving.register_keras_serializable(package="kerasbig_tests")
class OffsetDense(keras.layers.Layer):
    """A matrix product plus a learned offset per output: a layer of the
    user's own, which quantize_aware does not know."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], self.units)
        )
        self.offset = self.add_weight(
            name="offset", shape=(self.units,), initializer="zeros"
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel) + self.offset

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="kerasbig_tests")
class KernelConfig(QuantizeConfig):
    def __init__(self, output=True):
        self.output = output

    def weights(self, layer):
        return [(layer.kernel, False)]

    def quantize_output(self, layer):
        return self.output

    def get_config(self):
        return {"output": self.output}


def _model(config):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    x = quantize_annotate_layer(OffsetDense(8, name="scaled"), config)(inputs)
    x = keras.layers.ReLU()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


def test_the_configs_weights_are_fake_quantized():
    qat = quantize_aware(_model(KernelConfig(output=False)))
    layer = qat.layers[-1].get_layer("scaled")
    assert isinstance(layer, QuantizeWithConfig)
    kernel = ops.convert_to_numpy(layer.layer.kernel)
    step = np.abs(kernel).max() / 127
    quantized = np.floor(kernel / step + 0.5) * step
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    expected = call_with_values(
        layer.layer, {id(layer.layer.kernel): quantized}, x
    )
    got = ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(got, ops.convert_to_numpy(expected), atol=1e-5)
    assert np.abs(got - ops.convert_to_numpy(layer.layer(x))).max() > 1e-4


def test_an_annotated_layer_trains_saves_and_converts(tmp_path):
    qat = quantize_aware(_model(KernelConfig()))
    qat.compile("adam", "mse")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.normal(size=(64, 3)).astype("float32")
    qat.fit(x, y, epochs=2, batch_size=16, verbose=0)
    layer = qat.layers[-1].get_layer("scaled")
    assert float(ops.convert_to_numpy(layer.maximum)) != 6.0  # range trained
    assert_reloads(qat, x[:8], tmp_path / "qat.keras", atol=1e-6)
    if keras.backend.backend() == "tensorflow":
        from kerasbig.export import to_litert

        exported = to_litert(qat, tmp_path / "qat.tflite", quantization="int8")
        assert exported.float_compute_ops() == []


def test_an_unknown_layer_is_named_and_told_about_annotation():
    inputs = keras.Input((6,))
    model = keras.Model(inputs, OffsetDense(2, name="mine")(inputs))
    with pytest.raises(ValueError, match="'mine'.*quantize_annotate_layer"):
        quantize_aware(model)
    with pytest.raises(ValueError, match="must be a kerasbig.optimize.Quant"):
        quantize_annotate_layer(OffsetDense(2), quantize_config="int8")
