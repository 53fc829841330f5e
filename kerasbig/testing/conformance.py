"""The layer conformance harness: `check_layer`.

Every kerasbig layer passes it on TensorFlow, JAX and PyTorch; it is public
so that users who write or subclass layers can hold theirs to the same bar.
"""

import os
import traceback

import keras
import numpy as np

from kerasbig.testing._case import Case
from kerasbig.testing._case import Skip
from kerasbig.testing._case import random_inputs
from kerasbig.testing._config import check_config
from kerasbig.testing._litert import check_litert
from kerasbig.testing._masking import check_masking
from kerasbig.testing._mixed_precision import check_mixed_precision
from kerasbig.testing._output_shape import check_output_shape
from kerasbig.testing._predict import check_predict
from kerasbig.testing._saving import check_saving
from kerasbig.testing._training import check_jit_compile
from kerasbig.testing._training import check_training

CHECKS = (
    "output_shape",
    "config",
    "saving",
    "predict",
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
    compiled_atol=1e-5,
    training_steps=3,
    frozen_weights=(),
    fit_callbacks=(),
    custom_objects=None,
    unbatched=False,
    seed=0,
):
    """Checks that a Keras layer class behaves like a well-made Keras layer.

    Runs on the current Keras backend and verifies, each under its own name
    (see `CHECKS`), every behaviour both in eager calls and on the
    compiled path `fit()` and `predict()` take (the "compiled path":
    `jit_compile=True` on TensorFlow and JAX, Keras's default `predict` on
    PyTorch):

    - `output_shape`: symbolic (functional) and eager output shapes agree,
      and agree with `compute_output_shape` when the layer overrides it
      and with `expected_output_shape` when given.
    - `config`: `get_config()` holds every constructor argument, is
      JSON-serializable, and `from_config(get_config())` rebuilds a layer
      with the same config and, with copied weights, the same outputs.
    - `saving`: a model holding the layer survives a `.keras` save and load
      with identical weights and outputs.
    - `predict`: `model.predict(x)` on the compiled path equals the eager
      call within `compiled_atol`, in the same dtypes.
    - `training`: a few `fit()` steps on random targets, eagerly
      (`run_eagerly=True`) and compiled (`compile()`'s default), give a
      finite loss, finite weights, and change every trainable weight; the
      first SGD step changes every weight the same way in both (within
      `compiled_atol`).
    - `mixed_precision`: under `float32`, `mixed_float16` and
      `mixed_bfloat16` policies, floating outputs of the eager call and
      (under the mixed policies; float32's is `predict`'s) of the
      compiled `predict` are in the compute dtype and finite, and floating
      variables stay float32.
    - `jit_compile`: `fit()` with `jit_compile=True` trains to a finite
      loss (XLA on TensorFlow, jax.jit on JAX, `torch.compile` on
      PyTorch); on PyTorch `predict` with `torch.compile` also equals the
      eager call.
    - `masking`: when `layer.supports_masking`, an input mask propagates to
      an output mask shaped like the output, and values at masked positions
      do not change outputs at unmasked positions, both in the eager call
      and in the compiled `predict` (whose outputs and output mask must
      also equal the eager ones). A layer that reads a mask from a tensor
      attribute instead of its `mask=` argument fails here on JAX.
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
        compiled_atol: tolerance between the compiled path and eager
            calls (compilers reorder floating-point sums).
        training_steps: number of Adam steps in the training checks (after
            one SGD step).
        frozen_weights: names (or name suffixes) of trainable weights that
            are allowed not to change in training (e.g. a bias the chosen
            configuration does not use).
        fit_callbacks: callbacks every `fit()` of the training checks
            needs (e.g. `kerasbig.optimize.UpdatePruningStep()` for a
            pruned layer).
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
        input_data = random_inputs(
            input_shape, input_dtype, int_input_range, rng
        )
    else:
        input_data = keras.tree.map_structure(np.asarray, input_data)
    case = Case(
        layer_cls=layer_cls,
        init_kwargs=init_kwargs,
        call_kwargs=call_kwargs,
        inputs=input_data,
        rng=rng,
        atol=atol,
        compiled_atol=compiled_atol,
        custom_objects={
            layer_cls.__name__: layer_cls,
            **(custom_objects or {}),
        },
        options={
            "expected_output_shape": expected_output_shape,
            "input_mask": input_mask,
            "litert": litert,
            "litert_atol": litert_atol,
            "training_steps": training_steps,
            "frozen_weights": tuple(frozen_weights),
            "fit_callbacks": tuple(fit_callbacks),
            "unbatched": unbatched,
            "seed": seed,
        },
    )
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
                _CHECK_FUNCTIONS[name](case)
            except Skip as reason:
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


def _describe(error):
    if isinstance(error, AssertionError):
        return str(error)
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return (
        f"raised {type(error).__name__}: {error} "
        f"(at {os.path.basename(frame.filename)}:{frame.lineno})"
    )


_CHECK_FUNCTIONS = {
    "output_shape": check_output_shape,
    "config": check_config,
    "saving": check_saving,
    "predict": check_predict,
    "training": check_training,
    "mixed_precision": check_mixed_precision,
    "jit_compile": check_jit_compile,
    "masking": check_masking,
    "litert": check_litert,
}
