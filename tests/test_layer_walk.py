"""The one walk over nested layers rests on Keras's private
`Layer._flatten_layers`; these tests fail loudly when an upgrade
changes it."""

import keras

from kerasbig._layer_walk import nested_layers


class Holder(keras.layers.Layer):
    """Sublayers held as an attribute, in a list and in a dict."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.single = keras.layers.Dense(4, name="single")
        self.listed = [
            keras.layers.Dense(4, name=f"listed_{i}") for i in (0, 1)
        ]
        self.named = {"inner": keras.layers.Dense(4, name="inner")}
        self.shared = self.single  # one layer under two names: listed once

    def call(self, x):
        x = self.single(x)
        for layer in self.listed:
            x = layer(x)
        return self.shared(self.named["inner"](x))


def test_keras_still_has_the_private_walk():
    assert hasattr(keras.layers.Layer, "_flatten_layers"), (
        "Keras no longer has Layer._flatten_layers: kerasbig/_layer_walk.py "
        "must walk sublayers another way"
    )


def test_walk_finds_every_nested_layer_once_parents_first():
    holder = Holder(name="holder")
    inner = keras.Sequential([holder, keras.layers.Dense(3, name="last")])
    inputs = keras.Input((4,))
    model = keras.Model(inputs, inner(inputs), name="outer")
    layers = nested_layers(model)
    names = [layer.name for layer in layers]
    # The functional model's and the Sequential's own InputLayers count.
    input_layers = [
        layer for layer in layers if isinstance(layer, keras.layers.InputLayer)
    ]
    assert len(input_layers) == 2
    assert sorted(
        layer.name
        for layer in layers
        if not isinstance(layer, keras.layers.InputLayer)
    ) == sorted(
        [
            inner.name,
            "holder",
            "single",
            "listed_0",
            "listed_1",
            "inner",
            "last",
        ]
    )
    assert len(names) == len(set(names))
    assert names.index(inner.name) < names.index("holder")
    assert names.index("holder") < names.index("listed_1")
    assert "outer" not in names
    assert [layer.name for layer in nested_layers(model, True)][0] == "outer"
