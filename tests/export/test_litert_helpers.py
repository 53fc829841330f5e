"""The private LiteRT conversion helpers the harness relies on."""

import keras
import numpy as np
import pytest

from kerasbig.export import converter


@pytest.mark.tensorflow_only
def test_convert_and_run_matches_keras_for_dict_inputs():
    query = keras.Input(batch_shape=(2, 3, 4), name="query")
    value = keras.Input(batch_shape=(2, 5, 4), name="value")
    outputs = [
        keras.layers.MultiHeadAttention(2, 2)(query, value),
        keras.layers.Dense(3)(query),
    ]
    model = keras.Model({"query": query, "value": value}, outputs)
    rng = np.random.default_rng(0)
    data = {
        "query": rng.standard_normal((2, 3, 4)).astype("float32"),
        "value": rng.standard_normal((2, 5, 4)).astype("float32"),
    }
    content = converter.convert_model(model)
    results = converter.run_model(content, data)
    expected = [keras.ops.convert_to_numpy(x) for x in model(data)]
    assert len(results) == 2
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.tensorflow_only
def test_run_model_rejects_wrong_input_names():
    inputs = keras.Input(batch_shape=(1, 2), name="features")
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    content = converter.convert_model(model)
    with pytest.raises(ValueError, match=r"expects inputs \['features'\]"):
        converter.run_model(content, {"x": np.zeros((1, 2), "float32")})


def test_convert_model_needs_tensorflow_backend():
    if keras.backend.backend() == "tensorflow":
        pytest.skip("this is about the JAX and torch backends")
    inputs = keras.Input(batch_shape=(1, 2))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        converter.convert_model(model)


@pytest.mark.tensorflow_only
def test_a_file_from_another_converter_with_named_outputs_opens(tmp_path):
    # tf-keras (tfmot's side of the QAT benchmark) names a signature's
    # outputs after layers instead of output_0, output_1, ...
    import tensorflow as tf

    from kerasbig.export import LiteRTModel

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((1, 3), tf.float32)])
        def serve(self, x):
            return {"predictions": 2 * x, "aux": x + 1}

    module = Module()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module
    )
    (tmp_path / "named.tflite").write_bytes(converter.convert())
    exported = LiteRTModel(tmp_path / "named.tflite")
    assert sorted(exported.output_names) == ["aux", "predictions"]
    x = np.ones((1, 3), "float32")
    outputs = dict(zip(exported.output_names, exported.predict(x), strict=True))
    np.testing.assert_allclose(outputs["predictions"], 2 * x)
    np.testing.assert_allclose(outputs["aux"], x + 1)
