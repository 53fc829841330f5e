"""The layer conformance harness: `check_layer`.

Every kerasbig layer passes it on TensorFlow, JAX and PyTorch; it is public
so that users who write or subclass layers can hold theirs to the same bar.
"""

import json
import os
import tempfile
import traceback

import keras
import numpy as np
from keras import ops

CHECKS = (
    "output_shape",
    "config",
    "saving",
    "training",
    "mixed_precision",
    "jit_compile",
    "masking",
    "litert",
)
"""Names of the properties `check_layer` verifies, in the order it runs them."""


class LayerCheckError(AssertionError):
    """Raised by `check_layer` when one or more properties do not hold.

    Attributes:
        layer_name: the class name of the checked layer.
        failures: dict mapping each broken property (a name from `CHECKS`)
            to a message saying what was expected and what was received.
        report: the `LayerCheckReport` of the properties that did hold.
    """

    def __init__(self, layer_name, failures, report):
        self.layer_name = layer_name
        self.failures = dict(failures)
        self.report = report
        lines = [
            f"check_layer({layer_name}) found {len(failures)} broken "
            f"propert{'y' if len(failures) == 1 else 'ies'} on the "
            f"{keras.backend.backend()} backend:"
        ]
        lines += [f"- {name}: {message}" for name, message in failures.items()]
        super().__init__("\n".join(lines))


class LayerCheckReport:
    """What `check_layer` verified.

    Attributes:
        layer_name: the class name of the checked layer.
        backend: the Keras backend the checks ran on.
        passed: names of the properties that held.
        skipped: dict mapping skipped properties to the reason.
    """

    def __init__(self, layer_name, backend):
        self.layer_name = layer_name
        self.backend = backend
        self.passed = []
        self.skipped = {}

    def __repr__(self):
        return (
            f"LayerCheckReport(layer={self.layer_name}, "
            f"backend={self.backend}, passed={self.passed}, "
            f"skipped={sorted(self.skipped)})"
        )


class _Skip(Exception):
    """A property does not apply to this layer; the message says why."""


def check_layer(
    layer_cls,
    init_kwargs=None,
    input_shape=None,
    input_data=None,
    input_dtype="float32",
    *,
    call_kwargs=None,
    expected_output_shape=None,
    input_mask=None,
    int_input_range=(0, 10),
    skip=(),
    litert=False,
    litert_atol=1e-5,
    atol=1e-6,
    training_steps=3,
    frozen_weights=(),
    custom_objects=None,
    unbatched=False,
    seed=0,
):
    """Checks that a Keras layer class behaves like a well-made Keras layer.

    Runs on the current Keras backend and verifies, each under its own name
    (see `CHECKS`):

    - `output_shape`: symbolic (functional) and eager output shapes agree,
      and agree with `compute_output_shape` when the layer overrides it
      and with `expected_output_shape` when given.
    - `config`: `get_config()` holds every constructor argument, is
      JSON-serializable, and `from_config(get_config())` rebuilds a layer
      with the same config and, with copied weights, the same outputs.
    - `saving`: a model holding the layer survives a `.keras` save and load
      with identical weights and outputs.
    - `training`: a few `fit()` steps on random targets give a finite loss,
      finite weights, and change every trainable weight.
    - `mixed_precision`: under `float32`, `mixed_float16` and
      `mixed_bfloat16` policies, floating outputs are in the compute dtype,
      finite, and floating variables stay float32.
    - `jit_compile`: `fit()` with `jit_compile=True` trains to a finite
      loss (XLA on TensorFlow and JAX, `torch.compile` on PyTorch).
    - `masking`: when `layer.supports_masking`, an input mask propagates to
      an output mask shaped like the output, and values at masked positions
      do not change outputs at unmasked positions.
    - `litert` (only with `litert=True`, TensorFlow backend): the layer in a
      model converts to LiteRT with builtin ops only, and the
      `ai_edge_litert` interpreter's outputs match Keras within
      `litert_atol`.

    All properties are checked, then every broken one is reported together
    in one `LayerCheckError`.

    The harness seeds Keras's global random state with `seed`
    (`keras.utils.set_random_seed`) and restores the global dtype policy.

    Args:
        layer_cls: the layer class to check.
        init_kwargs: dict of constructor arguments.
        input_shape: shape of the input, batch included: a tuple for one
            positional input, a list of tuples for several positional
            inputs, or a dict of tuples for keyword inputs (e.g.
            `{"query": (2, 5, 8), "value": (2, 6, 8)}`). Random data is
            drawn for it. Give either `input_shape` or `input_data`.
        input_data: NumPy arrays in the same structures as `input_shape`.
        input_dtype: dtype of generated inputs: a string, or a structure
            like `input_shape`. Integer inputs are drawn uniformly from
            `int_input_range`.
        call_kwargs: dict of extra non-tensor arguments for `call()` (for
            example `{"use_causal_mask": True}`).
        expected_output_shape: optional expected output shape (or structure
            of shapes).
        input_mask: boolean mask(s) for the masking check, shaped like the
            input without its last axis; a structure like the inputs with
            `None` for unmasked inputs. By default every input of rank >= 3
            gets a mask with trailing padding of random length.
        int_input_range: `(low, high)` for generated integer inputs.
        skip: names of properties (from `CHECKS`) not to check.
        litert: whether to run the `litert` check (TensorFlow backend).
        litert_atol: tolerance of the LiteRT comparison.
        atol: tolerance for outputs that must be identical (config round
            trip, save/load, mask invariance).
        training_steps: number of optimizer steps in the training checks.
        frozen_weights: names (or name suffixes) of trainable weights that
            are allowed not to change in training (e.g. a bias the chosen
            configuration does not use).
        custom_objects: extra custom objects for loading the `.keras` file;
            `layer_cls` itself is always included.
        unbatched: the inputs are one example with no batch axis, such as
            a whole graph (`x` of shape `(N, F)`, `edge_index` of shape
            `(2, E)`), so their first axes differ. The training checks then
            feed them to `fit()` as a batch of one: every input and target
            gets a leading axis of 1 that a wrapper model removes.
        seed: seed for the generated data and Keras's random state.

    Returns:
        A `LayerCheckReport` listing passed and skipped properties.

    Raises:
        LayerCheckError: when any property does not hold; its message and
            its `failures` dict name each broken property.
        ValueError: when the arguments themselves are malformed.

    Example:

        >>> import keras
        >>> from kerasbig.testing import check_layer
        >>> report = check_layer(
        ...     keras.layers.Dense,
        ...     init_kwargs={"units": 4},
        ...     input_shape=(2, 3),
        ...     skip=("jit_compile",),
        ... )
        >>> "saving" in report.passed
        True
    """
    init_kwargs = dict(init_kwargs or {})
    call_kwargs = dict(call_kwargs or {})
    unknown = set(skip) - set(CHECKS)
    if unknown:
        raise ValueError(
            f"check_layer: `skip` names unknown properties {sorted(unknown)}; "
            f"expected names from {list(CHECKS)}. Received: skip={skip!r}"
        )
    if (input_shape is None) == (input_data is None):
        raise ValueError(
            "check_layer: give exactly one of `input_shape` and "
            f"`input_data`. Received: input_shape={input_shape!r}, "
            f"input_data is {'None' if input_data is None else 'given'}"
        )
    rng = np.random.default_rng(seed)
    if input_data is None:
        input_data = _random_inputs(
            input_shape, input_dtype, int_input_range, rng
        )
    else:
        input_data = keras.tree.map_structure(np.asarray, input_data)
    case = _Case(
        layer_cls=layer_cls,
        init_kwargs=init_kwargs,
        call_kwargs=call_kwargs,
        inputs=input_data,
        rng=rng,
        atol=atol,
        custom_objects={
            layer_cls.__name__: layer_cls,
            **(custom_objects or {}),
        },
    )
    options = {
        "expected_output_shape": expected_output_shape,
        "input_mask": input_mask,
        "litert": litert,
        "litert_atol": litert_atol,
        "training_steps": training_steps,
        "frozen_weights": tuple(frozen_weights),
        "unbatched": unbatched,
    }
    report = LayerCheckReport(layer_cls.__name__, keras.backend.backend())
    failures = {}
    policy = keras.config.dtype_policy()
    try:
        for name in CHECKS:
            if name in skip:
                report.skipped[name] = "skipped by the caller"
                continue
            keras.utils.set_random_seed(seed)
            try:
                _CHECK_FUNCTIONS[name](case, options)
            except _Skip as reason:
                report.skipped[name] = str(reason)
            except Exception as error:
                failures[name] = _describe(error)
            else:
                report.passed.append(name)
            finally:
                keras.config.set_dtype_policy(policy)
    finally:
        keras.config.set_dtype_policy(policy)
    if failures:
        raise LayerCheckError(layer_cls.__name__, failures, report)
    return report


class _Case:
    """The layer under test, its inputs, and helpers to build and call it."""

    def __init__(
        self,
        layer_cls,
        init_kwargs,
        call_kwargs,
        inputs,
        rng,
        atol,
        custom_objects,
    ):
        self.layer_cls = layer_cls
        self.init_kwargs = init_kwargs
        self.call_kwargs = call_kwargs
        self.inputs = inputs
        self.rng = rng
        self.atol = atol
        self.custom_objects = custom_objects
        self.name = layer_cls.__name__

    def make_layer(self, **overrides):
        return self.layer_cls(**{**self.init_kwargs, **overrides})

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
        return _map_named(
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


def _random_inputs(shapes, dtypes, int_range, rng):
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


def _map_named(fn, inputs):
    """Maps `fn(name, array)` over inputs with stable input names."""
    if isinstance(inputs, dict):
        return {key: fn(key, value) for key, value in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [fn(f"input_{i}", value) for i, value in enumerate(inputs)]
    return fn("input", inputs)


def _describe(error):
    if isinstance(error, AssertionError):
        return str(error)
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return (
        f"raised {type(error).__name__}: {error} "
        f"(at {os.path.basename(frame.filename)}:{frame.lineno})"
    )


def _flat(outputs):
    return [keras.ops.convert_to_numpy(x) for x in keras.tree.flatten(outputs)]


def _is_float(dtype):
    return keras.backend.is_float_dtype(keras.backend.standardize_dtype(dtype))


def _shape_of(x):
    return tuple(x.shape)


def _assert_close(actual, expected, atol, what):
    actual, expected = _flat(actual), _flat(expected)
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


def _check_output_shape(case, options):
    layer = case.make_layer()
    eager_shapes = _shape_list(
        keras.tree.map_structure(_shape_of, case.call_eager(layer))
    )
    problems = []
    if not getattr(layer.compute_output_shape, "_is_default", False):
        shapes = keras.tree.map_structure(_shape_of, case.inputs)
        if isinstance(shapes, dict):
            computed = layer.compute_output_shape(
                **{f"{key}_shape": value for key, value in shapes.items()}
            )
        elif isinstance(shapes, list):
            computed = layer.compute_output_shape(*shapes)
        else:
            computed = layer.compute_output_shape(shapes)
        if _shape_list(computed) != eager_shapes:
            problems.append(
                f"compute_output_shape returned {_shape_list(computed)} but "
                f"the eager call gives output shapes {eager_shapes}"
            )
    symbolic = case.call(case.make_layer(), case.symbolic_inputs())
    symbolic_shapes = _shape_list(keras.tree.map_structure(_shape_of, symbolic))
    if symbolic_shapes != eager_shapes:
        problems.append(
            "the symbolic call (functional API) gives output shapes "
            f"{symbolic_shapes} but the eager call gives {eager_shapes}"
        )
    expected = options["expected_output_shape"]
    if expected is not None and _shape_list(expected) != eager_shapes:
        problems.append(
            f"expected output shape {expected}. Received: {eager_shapes}"
        )
    if problems:
        raise AssertionError("; ".join(problems))


def _shape_list(shapes):
    """Flattens a shape or a structure of shapes into a list of tuples."""
    if _is_shape(shapes):
        return [tuple(None if d is None else int(d) for d in shapes)]
    if isinstance(shapes, dict):
        return [s for key in sorted(shapes) for s in _shape_list(shapes[key])]
    return [s for item in shapes for s in _shape_list(item)]


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        isinstance(d, (int, np.integer)) or d is None for d in value
    )


def _check_config(case, options):
    layer = case.make_layer()
    outputs = case.call_eager(layer)
    config = layer.get_config()
    # Keras itself leaves arguments at their defaults out of some configs
    # (Dense's lora_rank), so only the arguments actually passed must be
    # there; the round trip below catches a passed one that is lost.
    missing = [name for name in case.init_kwargs if name not in config]
    if missing:
        raise AssertionError(
            f"get_config() is missing constructor argument(s) {missing}. "
            f"Received: config keys {sorted(config)}"
        )
    try:
        json.dumps(keras.saving.serialize_keras_object(layer))
    except TypeError as error:
        raise AssertionError(
            f"get_config() is not JSON-serializable: {error}"
        ) from None
    clone = case.layer_cls.from_config(config)
    clone_config = clone.get_config()
    if _canonical(clone_config) != _canonical(config):
        raise AssertionError(
            "from_config(get_config()) gives a different config. "
            f"Expected: {config}. Received: {clone_config}"
        )
    case.call_eager(clone)
    if len(clone.weights) != len(layer.weights):
        raise AssertionError(
            f"from_config(get_config()) builds {len(clone.weights)} "
            f"weights; the original has {len(layer.weights)}"
        )
    clone.set_weights(layer.get_weights())
    _assert_close(
        case.call_eager(clone),
        outputs,
        case.atol,
        "from_config(get_config()) with copied weights gives different "
        "outputs (a constructor argument is lost or not used from the "
        "config)",
    )


def _canonical(config):
    return json.dumps(
        keras.saving.serialize_keras_object(config), sort_keys=True
    )


def _check_saving(case, options):
    layer = case.make_layer()
    model = case.model(layer)
    expected = model(case.inputs, training=False)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(
            path, custom_objects=case.custom_objects
        )
    if len(restored.weights) != len(model.weights):
        raise AssertionError(
            f"the reloaded model has {len(restored.weights)} weights; the "
            f"saved one has {len(model.weights)}"
        )
    for before, after in zip(model.weights, restored.weights, strict=True):
        before_value = ops.convert_to_numpy(before)
        after_value = ops.convert_to_numpy(after)
        if before_value.shape != after_value.shape or not np.array_equal(
            before_value, after_value
        ):
            raise AssertionError(
                f"weight '{before.path}' changed in the .keras save/load "
                "round trip (it is not saved, or not restored)"
            )
    _assert_close(
        restored(case.inputs, training=False),
        expected,
        case.atol,
        "the model reloaded from .keras",
    )


def _trainable_model(case, layer):
    model = case.model(layer)
    float_outputs = [
        output for output in model.outputs if _is_float(output.dtype)
    ]
    if not float_outputs:
        raise _Skip("the layer has no floating-point output to train on")
    if not layer.trainable_weights:
        raise _Skip("the layer has no trainable weights")
    model = keras.Model(model.input, float_outputs)
    targets = [
        case.rng.standard_normal(tuple(output.shape)).astype("float32")
        for output in float_outputs
    ]
    return model, targets


def _as_batch_of_one(model, targets):
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
    return keras.Model(inputs, outputs), [t[None] for t in targets]


def _fit(case, model, targets, steps, unbatched=False):
    inputs = case.inputs
    batch = len(keras.tree.flatten(inputs)[0])
    if unbatched:
        inputs = keras.tree.map_structure(lambda a: a[None], inputs)
        batch = 1
    history = model.fit(
        inputs,
        targets,
        batch_size=batch,
        epochs=steps,
        shuffle=False,
        verbose=0,
    )
    losses = np.asarray(history.history["loss"], dtype="float64")
    if not np.all(np.isfinite(losses)):
        raise AssertionError(f"the training loss is not finite: {losses}")
    return losses


def _train(case, options, jit_compile):
    """Fits a model around a fresh layer.

    Returns the layer, the weight values before training and the paths of
    the weights that are not finite after it.
    """
    layer = case.make_layer()
    model, targets = _trainable_model(case, layer)
    unbatched = options["unbatched"]
    if unbatched:
        model, targets = _as_batch_of_one(model, targets)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-2),
        loss=["mean_squared_error"] * len(targets),
        jit_compile=jit_compile,
    )
    before = {w.path: ops.convert_to_numpy(w) for w in layer.weights}
    _fit(case, model, targets, options["training_steps"], unbatched)
    non_finite = [
        weight.path
        for weight in layer.weights
        if not np.all(np.isfinite(ops.convert_to_numpy(weight)))
    ]
    return layer, before, non_finite


def _check_training(case, options):
    layer, before, non_finite = _train(case, options, jit_compile=False)
    unchanged = [
        weight.path
        for weight in layer.trainable_weights
        if weight.path not in non_finite
        and np.array_equal(ops.convert_to_numpy(weight), before[weight.path])
        and not _is_frozen(weight.path, options["frozen_weights"])
    ]
    if non_finite:
        raise AssertionError(
            f"weights {non_finite} are not finite after "
            f"{options['training_steps']} fit steps (non-finite gradients)"
        )
    if unchanged:
        raise AssertionError(
            f"trainable weights {unchanged} did not change in "
            f"{options['training_steps']} fit steps (zero or missing "
            "gradients); list them in `frozen_weights` if intended"
        )


def _is_frozen(path, frozen_weights):
    return any(
        path == name or path.endswith("/" + name) for name in frozen_weights
    )


def _check_mixed_precision(case, options):
    if "dtype" in case.init_kwargs:
        raise _Skip("init_kwargs sets `dtype` explicitly")
    problems = []
    for policy in ("float32", "mixed_float16", "mixed_bfloat16"):
        layer = case.make_layer(dtype=policy)
        outputs = keras.tree.flatten(case.call_eager(layer))
        compute = keras.DTypePolicy(policy).compute_dtype
        for i, output in enumerate(outputs):
            dtype = keras.backend.standardize_dtype(output.dtype)
            if not _is_float(dtype):
                continue
            if dtype != compute:
                problems.append(
                    f"under '{policy}' output {i} should be {compute}. "
                    f"Received: dtype={dtype}"
                )
            elif not np.all(
                np.isfinite(ops.convert_to_numpy(ops.cast(output, "float32")))
            ):
                problems.append(f"under '{policy}' output {i} is not finite")
        for weight in layer.weights:
            dtype = keras.backend.standardize_dtype(weight.dtype)
            if _is_float(dtype) and dtype != "float32":
                problems.append(
                    f"under '{policy}' variable '{weight.path}' should be "
                    f"float32. Received: dtype={dtype}"
                )
    if problems:
        raise AssertionError("; ".join(problems))


def _check_jit_compile(case, options):
    _, _, non_finite = _train(case, options, jit_compile=True)
    if non_finite:
        raise AssertionError(
            f"weights {non_finite} are not finite after jit-compiled training"
        )


def _default_masks(inputs, rng):
    def mask_for(array):
        if array.ndim < 3:
            return None
        batch, length = array.shape[:2]
        lengths = rng.integers(1, length + 1, size=batch)
        lengths[0] = max(1, length - 1)  # at least one padded position
        mask = np.arange(length)[None, :] < lengths[:, None]
        return np.broadcast_to(
            mask.reshape(mask.shape + (1,) * (array.ndim - 3)),
            array.shape[:-1],
        ).copy()

    return [mask_for(array) for array in inputs]


class _AttachMask(keras.layers.Layer):
    """Returns its first input with the second attached as its Keras mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.copy(inputs[0])

    def compute_mask(self, inputs, mask=None):
        return ops.cast(inputs[1], "bool")

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def _check_masking(case, options):
    layer = case.make_layer()
    if not layer.supports_masking:
        raise _Skip("layer.supports_masking is False")
    flat_inputs = keras.tree.flatten(case.inputs)
    if options["input_mask"] is None:
        flat_masks = _default_masks(flat_inputs, case.rng)
    else:
        flat_masks = _flatten_like(options["input_mask"], case.inputs)
    flat_masks = [
        None if m is None else np.asarray(m, bool) for m in flat_masks
    ]
    if all(mask is None for mask in flat_masks):
        raise _Skip("no input of rank >= 3 to mask and no `input_mask` given")

    symbolic = case.symbolic_inputs()
    flat_symbolic = keras.tree.flatten(symbolic)
    mask_inputs, attached = [], []
    for tensor, mask in zip(flat_symbolic, flat_masks, strict=True):
        if mask is None:
            attached.append(tensor)
            continue
        mask_input = keras.Input(
            batch_shape=mask.shape, dtype="bool", name=f"{tensor.name}_mask"
        )
        mask_inputs.append(mask_input)
        attached.append(_AttachMask()([tensor, mask_input]))
    outputs = case.call(layer, keras.tree.pack_sequence_as(symbolic, attached))
    output_masks = [
        getattr(output, "_keras_mask", None)
        for output in keras.tree.flatten(outputs)
    ]
    first_output = keras.tree.flatten(outputs)[0]
    if output_masks[0] is None:
        raise AssertionError(
            "the layer supports masking but its output carries no mask "
            "(compute_mask returned None for a masked input)"
        )
    mask_shape = tuple(output_masks[0].shape)
    if mask_shape != tuple(first_output.shape)[: len(mask_shape)]:
        raise AssertionError(
            f"the output mask has shape {mask_shape}, which does not match "
            f"the output shape {tuple(first_output.shape)}"
        )
    model = keras.Model(flat_symbolic + mask_inputs, outputs)
    real_masks = [mask for mask in flat_masks if mask is not None]
    reference = _flat(model(flat_inputs + real_masks, training=False))
    perturbed = [
        array
        if mask is None or not _is_float(array.dtype)
        else np.where(
            _expand(mask, array), array, array + 100.0 * np.ones_like(array)
        ).astype(array.dtype)
        for array, mask in zip(flat_inputs, flat_masks, strict=True)
    ]
    if all(p is a for p, a in zip(perturbed, flat_inputs, strict=True)):
        return  # integer inputs: propagation checked, nothing to perturb
    changed = _flat(model(perturbed + real_masks, training=False))
    probe = keras.Model(
        flat_symbolic + mask_inputs,
        _MaskAsOutput()(first_output),
    )
    keep = ops.convert_to_numpy(
        probe(flat_inputs + real_masks, training=False)
    ).astype(bool)
    for i, (a, b) in enumerate(zip(reference, changed, strict=True)):
        if a.shape[: keep.ndim] == keep.shape:
            a, b = a[keep], b[keep]
        diff = np.max(np.abs(a - b), initial=0.0)
        if not diff <= case.atol * 10:
            raise AssertionError(
                "changing input values at masked positions changed "
                f"output {i} at unmasked positions by max abs {diff:.3g}"
            )


class _MaskAsOutput(keras.layers.Layer):
    """Outputs the Keras mask attached to its input (all True if none)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.ones(ops.shape(inputs)[:1], dtype="bool")
        return mask

    def compute_mask(self, inputs, mask=None):
        return None


def _flatten_like(masks, inputs):
    """Lines up user masks with the flat inputs (a bare mask: the first)."""
    if not isinstance(masks, (dict, list, tuple)):
        return [masks] + [None] * (len(keras.tree.flatten(inputs)) - 1)
    if isinstance(inputs, dict):
        return [masks.get(key) for key in sorted(inputs)]
    return list(masks)


def _expand(mask, array):
    return mask.reshape(mask.shape + (1,) * (array.ndim - mask.ndim))


def _check_litert(case, options):
    if not options["litert"]:
        raise _Skip("not requested (litert=False)")
    if keras.backend.backend() != "tensorflow":
        raise _Skip(
            "LiteRT conversion runs on the TensorFlow backend only; "
            f"current backend is {keras.backend.backend()}"
        )
    from kerasbig.export import _litert

    layer = case.make_layer()
    model = case.model(layer)
    expected = model(case.inputs, training=False)
    content = _litert.convert_model(model, builtins_only=True)
    feed = dict(
        zip(
            [tensor.name for tensor in model.inputs],
            keras.tree.flatten(case.inputs),
            strict=True,
        )
    )
    outputs = _litert.run_model(content, feed)
    _assert_close(
        outputs,
        expected,
        options["litert_atol"],
        "the LiteRT interpreter's outputs vs Keras",
    )


_CHECK_FUNCTIONS = {
    "output_shape": _check_output_shape,
    "config": _check_config,
    "saving": _check_saving,
    "training": _check_training,
    "mixed_precision": _check_mixed_precision,
    "jit_compile": _check_jit_compile,
    "masking": _check_masking,
    "litert": _check_litert,
}
