"""What every property check of `check_layer` shares: the layer under
test and its inputs, output comparison, and the compiled paths."""

import keras
import numpy as np
from keras import ops


class Skip(Exception):
    """A property does not apply to this layer; the message says why."""


class Case:
    """The layer under test, its inputs, and helpers to build and call it.

    `options` holds `check_layer`'s per-property arguments by name.
    """

    def __init__(
        self,
        layer_cls,
        init_kwargs,
        call_kwargs,
        inputs,
        rng,
        atol,
        compiled_atol,
        custom_objects,
        options,
    ):
        self.layer_cls = layer_cls
        self.init_kwargs = init_kwargs
        self.call_kwargs = call_kwargs
        self.inputs = inputs
        self.rng = rng
        self.atol = atol
        self.compiled_atol = compiled_atol
        self.custom_objects = custom_objects
        self.options = options
        self.name = layer_cls.__name__

    def make_layer(self, **overrides):
        """A fresh layer. Layers passed as arguments (a wrapped layer, an
        MLP) are rebuilt from their configs too, so that no two layers
        share weights, and get the `dtype` override with their owner."""
        kwargs = {}
        for name, value in self.init_kwargs.items():
            if isinstance(value, keras.layers.Layer):
                config = value.get_config()
                if "dtype" in overrides:
                    config["dtype"] = overrides["dtype"]
                value = type(value).from_config(config)
            kwargs[name] = value
        return self.layer_cls(**{**kwargs, **overrides})

    def call(self, layer, inputs, **extra):
        kwargs = {**self.call_kwargs, **extra}
        if isinstance(inputs, dict):
            return layer(**inputs, **kwargs)
        if isinstance(inputs, (list, tuple)):
            return layer(*inputs, **kwargs)
        return layer(inputs, **kwargs)

    def call_eager(self, layer, inputs=None, **extra):
        inputs = self.inputs if inputs is None else inputs
        tensors = keras.tree.map_structure(ops.convert_to_tensor, inputs)
        return self.call(layer, tensors, **extra)

    def symbolic_inputs(self):
        return map_named(
            lambda name, array: keras.Input(
                batch_shape=array.shape, dtype=str(array.dtype), name=name
            ),
            self.inputs,
        )

    def model(self, layer):
        """A functional model around `layer`, with the inputs' structure."""
        inputs = self.symbolic_inputs()
        outputs = self.call(layer, inputs)
        return keras.Model(inputs, outputs, name=f"check_{self.name}")

    def predict(self, model, inputs, jit_compile):
        """`model.predict(inputs)` in one batch, compiled with
        `jit_compile` (see `predictor`)."""
        return self.predictor(model, jit_compile)(inputs)

    def predictor(self, model, jit_compile):
        """Compiles `model` with `jit_compile` and returns a function that
        runs `model.predict` on inputs in one batch and returns the flat
        list of NumPy outputs; an unbatched model runs as a batch of
        one."""
        unbatched = self.options["unbatched"]
        if unbatched:
            model = as_batch_of_one(model)
        model.compile(jit_compile=jit_compile)

        def run(inputs):
            if unbatched:
                inputs = keras.tree.map_structure(lambda a: a[None], inputs)
            batch = len(keras.tree.flatten(inputs)[0])
            outputs = model.predict(inputs, batch_size=batch, verbose=0)
            outputs = [np.asarray(o) for o in keras.tree.flatten(outputs)]
            return [o[0] for o in outputs] if unbatched else outputs

        return run


def compiled_path():
    """`(description, jit_compile)` of the compiled path checked against
    eager calls on this backend: XLA on TensorFlow, `jax.jit` on JAX, and
    Keras's default `predict` on PyTorch (`torch.compile` is the
    `jit_compile` property's)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return "predict with jit_compile=True (XLA)", True
    if backend == "jax":
        return "predict with jit_compile=True (jax.jit)", True
    return "predict", "auto"


def as_batch_of_one(model):
    """Wraps `model` so it takes and returns a leading batch axis of 1."""
    inputs = keras.tree.map_structure(
        lambda t: keras.Input(
            batch_shape=(1,) + tuple(t.shape), dtype=t.dtype, name=t.name
        ),
        model.input,
    )
    outputs = model(
        keras.tree.map_structure(lambda t: ops.squeeze(t, 0), inputs)
    )
    outputs = [ops.expand_dims(o, 0) for o in keras.tree.flatten(outputs)]
    return keras.Model(inputs, outputs)


def random_inputs(shapes, dtypes, int_range, rng):
    def draw(shape, dtype):
        if not isinstance(shape, tuple) or not all(
            isinstance(dim, int) for dim in shape
        ):
            raise ValueError(
                "check_layer: each input shape must be a tuple of ints, "
                f"batch included. Received: input_shape={shapes!r}"
            )
        dtype = np.dtype(dtype)
        if np.issubdtype(dtype, np.integer):
            return rng.integers(*int_range, size=shape).astype(dtype)
        if dtype == np.bool_:
            return rng.random(shape) < 0.5
        return rng.standard_normal(shape).astype(dtype)

    def walk(shapes, dtypes):
        if isinstance(shapes, dict):
            return {
                key: walk(shape, _pick(dtypes, key))
                for key, shape in shapes.items()
            }
        if isinstance(shapes, list):
            return [
                walk(shape, _pick(dtypes, i)) for i, shape in enumerate(shapes)
            ]
        return draw(shapes, dtypes)

    return walk(shapes, dtypes)


def _pick(dtypes, key):
    return dtypes if isinstance(dtypes, str) else dtypes[key]


def map_named(fn, inputs):
    """Maps `fn(name, array)` over inputs with stable input names."""
    if isinstance(inputs, dict):
        return {key: fn(key, value) for key, value in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [fn(f"input_{i}", value) for i, value in enumerate(inputs)]
    return fn("input", inputs)


def flat(outputs):
    return [
        np.asarray(keras.ops.convert_to_numpy(x))
        for x in keras.tree.flatten(outputs)
    ]


def is_float(dtype):
    return keras.backend.is_float_dtype(keras.backend.standardize_dtype(dtype))


def assert_close(actual, expected, atol, what):
    actual, expected = flat(actual), flat(expected)
    if len(actual) != len(expected):
        raise AssertionError(
            f"{what}: expected {len(expected)} outputs. "
            f"Received: {len(actual)} outputs"
        )
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        if a.shape != e.shape:
            raise AssertionError(
                f"{what}: output {i} expected shape {e.shape}. "
                f"Received: shape={a.shape}"
            )
        diff = np.max(
            np.abs(a.astype("float64") - e.astype("float64")), initial=0.0
        )
        if not diff <= atol:
            raise AssertionError(
                f"{what}: output {i} differs by max abs {diff:.3g}; "
                f"expected <= {atol:g}"
            )
