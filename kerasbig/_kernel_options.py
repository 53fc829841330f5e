"""The kernel and bias options of Keras's own layers (`Dense`,
`EinsumDense`), shared by every kerasbig layer that owns kernels.

A layer mixes in `KernelOptions`, calls `set_kernel_options(...)` in
`__init__` with its six arguments, creates its weights with
`kernel_weight(...)`/`bias_weight(...)` or passes `dense_options()` to
`Dense`/`EinsumDense` sublayers, and adds `kernel_options_config()` to
`get_config()`.
"""

import keras

KERNEL_OPTION_NAMES = (
    "kernel_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "bias_constraint",
)

_KINDS = {
    "initializer": keras.initializers,
    "regularizer": keras.regularizers,
    "constraint": keras.constraints,
}


def _kind(name):
    return _KINDS[name.rsplit("_", 1)[1]]


def clone(value, name):
    """A fresh copy of an initializer, regularizer or constraint, so that
    sublayers never share one (a seeded initializer object would give
    them identical starting weights)."""
    if value is None:
        return None
    kind = _kind(name)
    return kind.get(kind.serialize(value))


class KernelOptions:
    """Mixin for layers that own kernels and biases (see the module)."""

    def set_kernel_options(
        self,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
    ):
        values = {
            "kernel_initializer": kernel_initializer,
            "bias_initializer": bias_initializer,
            "kernel_regularizer": kernel_regularizer,
            "bias_regularizer": bias_regularizer,
            "kernel_constraint": kernel_constraint,
            "bias_constraint": bias_constraint,
        }
        for name, value in values.items():
            setattr(self, name, _kind(name).get(value))

    def kernel_options(self):
        """The six options as passed to `Dense`/`EinsumDense`, each a
        fresh copy."""
        return {
            name: clone(getattr(self, name), name)
            for name in KERNEL_OPTION_NAMES
        }

    def kernel_weight(self, name, shape, initializer=None, **kwargs):
        """`add_weight` of a kernel with this layer's options."""
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=initializer or self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            **kwargs,
        )

    def bias_weight(self, name, shape, initializer=None, **kwargs):
        """`add_weight` of a bias with this layer's options."""
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
            **kwargs,
        )

    def kernel_options_config(self):
        """The six options serialized, for `get_config()`."""
        return {
            name: _kind(name).serialize(getattr(self, name))
            for name in KERNEL_OPTION_NAMES
        }
