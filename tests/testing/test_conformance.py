"""The harness passes well-made layers and names each broken property."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig import _backend
from kerasbig.testing import CHECKS
from kerasbig.testing import LayerCheckError
from kerasbig.testing import check_layer

ON_TF = keras.backend.backend() == "tensorflow"
# The property each broken layer breaks is checked alone (plus the ones it
# needs), which keeps these tests fast and their failures unambiguous.
ONLY = {name: tuple(c for c in CHECKS if c != name) for name in CHECKS}


def test_passes_keras_dense():
    report = check_layer(
        keras.layers.Dense,
        {"units": 4, "activation": "relu"},
        input_shape=(3, 5),
        litert=True,
    )
    expected = set(CHECKS) - {"masking"} - (set() if ON_TF else {"litert"})
    if keras.backend.backend() == "jax":
        # compile()'s default is jax.jit: `training` and `predict` ran it.
        expected -= {"jit_compile"}
        assert "jax.jit" in report.skipped["jit_compile"]
    assert set(report.passed) == expected
    assert report.skipped["masking"].startswith("no input of rank >= 3")


def test_passes_keras_dense_on_sequences_with_masks():
    # The jit_compile property is test_passes_keras_dense's.
    report = check_layer(
        keras.layers.Dense,
        {"units": 4},
        input_shape=(2, 6, 3),
        skip=("jit_compile",),
    )
    assert "masking" in report.passed


def test_passes_keras_multi_head_attention(request):
    kwargs = dict(
        init_kwargs={"num_heads": 2, "key_dim": 4},
        input_shape={"query": (2, 5, 8), "value": (2, 6, 8)},
        litert=True,
    )
    # torch.compile of this layer takes a minute: per push the harness's
    # torch.compile path is test_passes_keras_dense's.
    skip_jit = keras.backend.backend() == "torch" and not (
        request.config.getoption("--full")
    )
    if skip_jit:
        kwargs["skip"] = ("jit_compile",)
    if keras.backend.backend() == "jax" and not _backend.has_gpu():
        # Keras's attention accumulates float16 logits in float32, which
        # XLA:CPU cannot compile: a user's jitted predict crashes too
        # (kerasbig's MultiHeadAttention takes another kernel there).
        with pytest.raises(LayerCheckError) as info:
            check_layer(keras.layers.MultiHeadAttention, **kwargs)
        assert set(info.value.failures) == {"mixed_precision"}
        assert (
            "'F16_F16_F32' is not supported by dot_general on CPU"
            in (info.value.failures["mixed_precision"])
        )
        return
    report = check_layer(keras.layers.MultiHeadAttention, **kwargs)
    expected = set(CHECKS) - (set() if ON_TF else {"litert"})
    if keras.backend.backend() == "jax" or skip_jit:
        expected -= {"jit_compile"}
    assert set(report.passed) == expected, report


def test_passes_keras_embedding_with_integer_inputs():
    report = check_layer(
        keras.layers.Embedding,
        {"input_dim": 10, "output_dim": 3},
        input_shape=(2, 4),
        input_dtype="int32",
        skip=("jit_compile",),
    )
    assert {"output_shape", "config", "saving", "training"} <= set(
        report.passed
    )


def test_litert_is_skipped_off_tensorflow_with_reason():
    if ON_TF:
        pytest.skip("this is about the JAX and torch backends")
    report = check_layer(
        keras.layers.Dense,
        {"units": 2},
        input_shape=(2, 3),
        litert=True,
        skip=ONLY["litert"],
    )
    assert "TensorFlow backend only" in report.skipped["litert"]


# Deliberately broken layers, one per property.


class ScaleForgetsConfig(keras.layers.Layer):
    """`scale` is used in call() but left out of get_config()."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), name="kernel"
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel) * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class ScaleIgnoresConfig(ScaleForgetsConfig):
    """`scale` is in the config but from_config() drops it."""

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("scale")
        return cls(**config)


class WrongOutputShape(ScaleIgnoresConfig):
    """compute_output_shape() forgets the `units` change."""

    from_config = classmethod(keras.layers.Layer.from_config.__func__)

    def compute_output_shape(self, input_shape):
        return input_shape


class LosesWeights(ScaleIgnoresConfig):
    """Saves no variables, so a reloaded layer has fresh random weights."""

    from_config = classmethod(keras.layers.Layer.from_config.__func__)

    def save_own_variables(self, store):
        pass

    def load_own_variables(self, store):
        pass


class Float16Leak(ScaleIgnoresConfig):
    """Casts its output to float16 whatever the dtype policy says."""

    from_config = classmethod(keras.layers.Layer.from_config.__func__)

    def call(self, inputs):
        return ops.cast(super().call(inputs), "float16")


class Float16Variable(ScaleIgnoresConfig):
    """Creates its kernel in float16 instead of the variable dtype."""

    from_config = classmethod(keras.layers.Layer.from_config.__func__)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), name="kernel", dtype="float16"
        )


class UnusedWeight(ScaleIgnoresConfig):
    """Has a trainable weight that never reaches the output."""

    from_config = classmethod(keras.layers.Layer.from_config.__func__)

    def build(self, input_shape):
        super().build(input_shape)
        self.unused = self.add_weight(shape=(self.units,), name="unused")


class DropsMask(ScaleIgnoresConfig):
    """Claims mask support but returns no output mask."""

    from_config = classmethod(keras.layers.Layer.from_config.__func__)

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(units, scale, **kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None


class IgnoresMask(DropsMask):
    """Propagates the mask but averages over padded time steps too."""

    def call(self, inputs):
        mixed = inputs + ops.mean(inputs, axis=1, keepdims=True)
        return super().call(mixed)

    def compute_mask(self, inputs, mask=None):
        return mask


class ReadsMaskAttribute(DropsMask):
    """Leaves padded steps out of a time average, but reads the mask from
    the tensor's `_keras_mask` attribute instead of its `mask=` argument:
    right in eager calls, lost under JAX's jit."""

    def call(self, inputs):
        mask = getattr(inputs, "_keras_mask", None)
        if mask is None:
            mean = ops.mean(inputs, axis=1, keepdims=True)
        else:
            weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
            count = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1.0)
            mean = ops.sum(inputs * weights, axis=1, keepdims=True) / count
        return super().call(inputs + mean)

    def compute_mask(self, inputs, mask=None):
        return mask


def broken(layer_cls, prop, **kwargs):
    with pytest.raises(LayerCheckError) as info:
        check_layer(
            layer_cls,
            {"units": 3, "scale": 2.0},
            input_shape=kwargs.pop("input_shape", (2, 4)),
            skip=kwargs.pop("skip", ONLY[prop]),
            **kwargs,
        )
    error = info.value
    assert prop in error.failures, error
    assert f"- {prop}: " in str(error)
    return error.failures[prop]


def test_fails_on_missing_get_config_entry():
    message = broken(ScaleForgetsConfig, "config")
    assert "missing constructor argument(s) ['scale']" in message


def test_fails_when_from_config_loses_an_argument():
    message = broken(ScaleIgnoresConfig, "config")
    assert "from_config(get_config()) gives a different config" in message
    assert "'scale': 1.0" in message


def test_fails_on_wrong_compute_output_shape():
    message = broken(WrongOutputShape, "output_shape")
    assert (
        "compute_output_shape returned [(2, 4)] but the eager call gives "
        "output shapes [(2, 3)]" in message
    )
    assert "the symbolic call (functional API) gives" in message


def test_fails_on_unexpected_output_shape():
    with pytest.raises(LayerCheckError) as info:
        check_layer(
            keras.layers.Dense,
            {"units": 3},
            input_shape=(2, 4),
            expected_output_shape=(2, 5),
            skip=ONLY["output_shape"],
        )
    assert "expected output shape (2, 5)" in info.value.failures["output_shape"]


def test_fails_on_weights_lost_in_save_load():
    message = broken(LosesWeights, "saving")
    assert "changed in the .keras save/load round trip" in message


def test_fails_on_float16_output_leak():
    message = broken(Float16Leak, "mixed_precision")
    assert "under 'float32' output 0 should be float32" in message
    assert "under 'mixed_bfloat16' output 0 should be bfloat16" in message
    assert "Received: dtype=float16" in message


def test_fails_on_float16_variable():
    message = broken(Float16Variable, "mixed_precision")
    assert "variable" in message and "should be float32" in message


def test_fails_on_weight_without_gradient_unless_declared_frozen():
    message = broken(UnusedWeight, "training")
    assert "did not change" in message and "unused" in message
    report = check_layer(
        UnusedWeight,
        {"units": 3},
        input_shape=(2, 4),
        skip=ONLY["training"],
        frozen_weights=("unused",),
    )
    assert report.passed == ["training"]


def test_fails_when_mask_is_dropped():
    message = broken(DropsMask, "masking", input_shape=(2, 5, 4))
    assert "carries no mask" in message


def test_fails_when_padding_leaks_into_real_positions():
    message = broken(IgnoresMask, "masking", input_shape=(2, 5, 4))
    assert "changing input values at masked positions" in message


def test_mask_read_from_a_tensor_attribute_fails_under_jax_jit():
    if keras.backend.backend() != "jax":
        # TensorFlow graphs and PyTorch tensors keep the attribute, so the
        # layer gives the right answer there.
        report = check_layer(
            ReadsMaskAttribute,
            {"units": 3, "scale": 2.0},
            input_shape=(2, 5, 4),
            skip=ONLY["masking"],
        )
        assert report.passed == ["masking"]
        return
    message = broken(ReadsMaskAttribute, "masking", input_shape=(2, 5, 4))
    assert "predict with jit_compile=True (jax.jit) gives output 0" in message
    assert "differing from the eager call" in message
    assert "tensor attribute instead of a `mask=` call argument" in message


def test_reports_every_broken_property_together():
    with pytest.raises(LayerCheckError) as info:
        check_layer(
            ScaleForgetsConfig,
            {"units": 3, "scale": 2.0},
            input_shape=(2, 4),
            skip=("jit_compile", "training", "saving", "masking"),
        )
    # The float16 leak is absent here; only the config property breaks.
    assert set(info.value.failures) == {"config"}
    assert "output_shape" in info.value.report.passed


def test_explicit_input_data_and_masks():
    data = np.random.default_rng(1).standard_normal((2, 4, 3))
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    report = check_layer(
        keras.layers.Dense,
        {"units": 2},
        input_data=data.astype("float32"),
        input_mask=mask,
        skip=ONLY["masking"],
    )
    assert report.passed == ["masking"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_shape": (2, 3), "skip": ("nope",)}, "unknown properties"),
        ({}, "exactly one of `input_shape` and `input_data`"),
        (
            {"input_shape": (2, 3), "input_data": np.zeros((2, 3))},
            "exactly one of",
        ),
        ({"input_shape": (2, 3.5)}, "tuple of ints"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_layer(keras.layers.Dense, {"units": 2}, **kwargs)
