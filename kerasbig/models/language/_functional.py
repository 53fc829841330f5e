"""Base of the models that build a functional graph in `__init__`."""

import keras


class FunctionalModel(keras.Model):
    """A functional `keras.Model` whose config is its constructor arguments.

    Subclasses build their graph in `__init__`, call `super().__init__`
    with inputs and outputs, store each constructor argument as a public
    attribute of the same name and list those names in `_config_names`.
    `dtype` (a policy name or object, given to every sublayer) is kept
    too, since a functional model does not record it by itself.
    """

    _config_names = ()

    def __init__(self, inputs, outputs, dtype=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self._dtype_argument = dtype

    def get_config(self):
        dtype = self._dtype_argument
        if isinstance(dtype, keras.DTypePolicy):
            dtype = keras.dtype_policies.serialize(dtype)
        config = {"name": self.name, "trainable": self.trainable}
        config.update(
            {name: getattr(self, name) for name in self._config_names}
        )
        config["dtype"] = dtype
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
