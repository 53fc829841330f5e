"""A user's own layer can be pruned (the PrunableLayer protocol), and
the compression wrappers pass the layer conformance harness."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.optimize import ConstantSparsity
from kerasbig.optimize import PrunableLayer
from kerasbig.optimize import PruneLowMagnitude
from kerasbig.optimize import QuantizeActivations
from kerasbig.optimize import QuantizeAware
from kerasbig.optimize import UpdatePruningStep
from kerasbig.optimize import prune_low_magnitude
from kerasbig.optimize import sparsity_report
from kerasbig.optimize import strip_pruning


@keras.saving.register_keras_serializable(package="kerasbig_tests")
class LowRank(PrunableLayer, keras.layers.Layer):
    """`x @ (left @ right)`: both factors are pruned, the scale is not."""

    def __init__(self, units, rank=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.rank = rank

    def build(self, input_shape):
        self.left = self.add_weight(
            shape=(input_shape[-1], self.rank), name="left"
        )
        self.right = self.add_weight(
            shape=(self.rank, self.units), name="right"
        )
        self.scale = self.add_weight(shape=(), name="scale", initializer="ones")

    def call(self, inputs):
        return ops.matmul(ops.matmul(inputs, self.left), self.right) * (
            self.scale
        )

    def get_prunable_weights(self):
        return [self.left, self.right]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "rank": self.rank}


class ForeignWeights(LowRank):
    def get_prunable_weights(self):
        return [keras.Variable(np.ones((2, 2)), name="elsewhere")]


def test_a_user_layer_is_pruned_trained_and_stripped():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((12,)), LowRank(8, name="low_rank"), keras.layers.Dense(2)]
    )
    pruned = prune_low_magnitude(
        model, ConstantSparsity(0.5, begin_step=0, frequency=1)
    )
    (wrapper,) = [
        layer
        for layer in pruned.layers
        if isinstance(layer, PruneLowMagnitude)
        and layer.layer.name == "low_rank"
    ]
    assert [w.name for w in wrapper.pruned_weights] == ["left", "right"]
    pruned.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 12)).astype("float32")
    y = rng.standard_normal((64, 2)).astype("float32")
    pruned.fit(x, y, epochs=2, verbose=0, callbacks=[UpdatePruningStep()])
    plain = strip_pruning(pruned)
    low_rank = plain.get_layer("low_rank")
    assert isinstance(low_rank, LowRank)
    for weight in (low_rank.left, low_rank.right):
        assert np.mean(ops.convert_to_numpy(weight) == 0) == 0.5
    assert float(ops.convert_to_numpy(low_rank.scale)) != 0.0
    np.testing.assert_allclose(
        plain.predict(x, verbose=0), pruned.predict(x, verbose=0), atol=1e-5
    )
    report = {row["path"]: row["sparsity"] for row in sparsity_report(plain)}
    assert report["low_rank/left"] == report["low_rank/right"] == 0.5


def test_protocol_errors_name_the_layer():
    with pytest.raises(ValueError, match="must return trainable variables"):
        PruneLowMagnitude(ForeignWeights(3)).build((None, 4))
    with pytest.raises(ValueError, match="subclass kerasbig.optimize.Prunab"):
        PruneLowMagnitude(keras.layers.LSTM(3))


def test_prune_low_magnitude_passes_the_harness(check_layer):
    check_layer(
        PruneLowMagnitude,
        {
            "layer": keras.layers.Dense(4),
            "pruning_schedule": ConstantSparsity(0.5, frequency=1),
        },
        input_shape=(3, 8),
        fit_callbacks=[UpdatePruningStep()],
        custom_objects={"ConstantSparsity": ConstantSparsity},
    )


def test_pruned_user_layer_passes_the_harness(check_layer):
    check_layer(
        PruneLowMagnitude,
        {"layer": LowRank(4), "pruning_schedule": ConstantSparsity(0.5)},
        input_shape=(3, 8),
        fit_callbacks=[UpdatePruningStep()],
    )


def test_quantize_aware_passes_the_harness(check_layer):
    check_layer(
        QuantizeAware, {"layer": keras.layers.Dense(4)}, input_shape=(3, 8)
    )


def test_quantize_activations_passes_the_harness(check_layer):
    check_layer(QuantizeActivations, {}, input_shape=(3, 8))
