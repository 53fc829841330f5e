"""Magnitude pruning for Keras 3 layers and models, on every backend."""

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig.ops import call_with_values
from kerasbig.optimize import _masks
from kerasbig.optimize._layers import clone_with_wrappers
from kerasbig.optimize.prunable_layer import PrunableLayer
from kerasbig.optimize.pruning_schedule import ConstantSparsity
from kerasbig.optimize.pruning_schedule import PruningSchedule

_CALLBACK_MISSING = (
    "PruneLowMagnitude: training a pruned model needs the "
    "kerasbig.optimize.UpdatePruningStep() callback "
    "(model.fit(..., callbacks=[UpdatePruningStep()])); without it the "
    "masks would never change. In a custom loop, call the callback's "
    "set_model(model) and on_train_begin() first."
)


def _supported_types():
    # Imported here: layers and graph import nothing from optimize.
    from kerasbig import graph
    from kerasbig import layers

    return (
        keras.layers.Dense,
        keras.layers.EinsumDense,
        keras.layers.Embedding,
        keras.layers.Conv1D,
        keras.layers.Conv2D,
        keras.layers.Conv3D,
        keras.layers.Conv1DTranspose,
        keras.layers.Conv2DTranspose,
        keras.layers.DepthwiseConv2D,
        keras.layers.SeparableConv2D,
        layers.MultiHeadAttention,
        layers.FeedForward,
        layers.TransformerBlock,
        layers.TransformerEncoder,
        layers.TransformerDecoder,
        graph.GCNConv,
        graph.GATConv,
        graph.GATv2Conv,
        graph.SAGEConv,
        graph.GINConv,
        graph.GINEConv,
    )


def supported_layers():
    """Names of the layer classes `prune_low_magnitude` accepts.

    Example:

        >>> from kerasbig.optimize import supported_layers
        >>> "Dense" in supported_layers() and "GCNConv" in supported_layers()
        True
    """
    return sorted({cls.__name__ for cls in _supported_types()})


def is_prunable_weight(variable):
    """Kernels and embedding tables are pruned; biases, norms, positions
    and attention vectors are not."""
    name = variable.name.rsplit("/", 1)[-1]
    return name.endswith("kernel") or name == "embeddings"


def _has_prunable_weights(layer):
    return any(is_prunable_weight(v) for v in layer.trainable_variables)


def _is_prunable(layer):
    return isinstance(layer, (PrunableLayer, *_supported_types()))


def _cannot_prune(owner, layer):
    return (
        f"{owner}: cannot prune {type(layer).__name__} {layer.name!r}. "
        f"Supported layers: {', '.join(supported_layers())}; for a layer "
        "of your own, subclass kerasbig.optimize.PrunableLayer and return "
        "the weights to prune from get_prunable_weights()."
    )


@keras.saving.register_keras_serializable(package="kerasbig")
class PruneLowMagnitude(keras.layers.Wrapper):
    """Wraps a layer so that its kernels are pruned by magnitude in training.

    Each kernel (and embedding table) of the wrapped layer, sublayers
    included, gets a 0/1 mask; the layer always computes with `kernel *
    mask`. During training the wrapper counts steps and, at the steps its
    `pruning_schedule` says, recomputes every mask so that the smallest
    magnitudes (or blocks, or all but `m` of every `n`) are zero. The
    masks and the step count are weights of the wrapper: they are saved
    with the model and training resumes where it stopped. Training needs
    the `UpdatePruningStep` callback, which also writes `kernel * mask`
    into the kernels at the end of each epoch.

    Prefer `prune_low_magnitude(...)`, which wraps every supported layer of
    a model; `strip_pruning(model)` removes the wrappers for export.

    Args:
        layer: a supported Keras layer (see `supported_layers()`), or a
            layer of yours that subclasses `PrunableLayer`. A layer with
            more than one input must be built.
        pruning_schedule: a `PruningSchedule`. Defaults to
            `ConstantSparsity(0.5, begin_step=0, frequency=100)`.
        block_size: `(rows, columns)` blocks pruned together, kernels seen
            as matrices `(inputs, outputs)`. Defaults to `(1, 1)`.
        block_pooling_type: `"AVG"` or `"MAX"`, the score of a block.
        sparsity_m_by_n: `(m, n)`, e.g. `(2, 4)`: keep `m` of every `n`
            consecutive inputs per output (structured sparsity; the
            schedule then says only when masks are updated).
        **kwargs: `keras.layers.Layer` arguments.

    Example:

        >>> import numpy as np, keras
        >>> from kerasbig.optimize import PruneLowMagnitude, ConstantSparsity
        >>> layer = PruneLowMagnitude(
        ...     keras.layers.Dense(4), ConstantSparsity(0.5, frequency=1))
        >>> layer.build((None, 8))
        >>> _ = layer.update_masks(step=1)
        >>> float(np.mean(keras.ops.convert_to_numpy(layer.masks[0]) == 0))
        0.5
    """

    def __init__(
        self,
        layer,
        pruning_schedule=None,
        block_size=(1, 1),
        block_pooling_type="AVG",
        sparsity_m_by_n=None,
        **kwargs,
    ):
        owner = "PruneLowMagnitude"
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        if not _is_prunable(layer):
            raise ValueError(_cannot_prune(owner, layer))
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(layer, **kwargs)
        if isinstance(pruning_schedule, dict):
            pruning_schedule = keras.saving.deserialize_keras_object(
                pruning_schedule
            )
        pruning_schedule = pruning_schedule or ConstantSparsity(0.5)
        if not isinstance(pruning_schedule, PruningSchedule):
            raise ValueError(
                f"{owner}: `pruning_schedule` must be a PruningSchedule "
                "(ConstantSparsity, PolynomialDecay, ...). Received: "
                f"pruning_schedule={pruning_schedule!r}"
            )
        block_size = tuple(block_size)
        if len(block_size) != 2 or not all(
            isinstance(b, int) and b > 0 for b in block_size
        ):
            raise ValueError(
                f"{owner}: `block_size` must be two positive ints. "
                f"Received: block_size={block_size!r}"
            )
        checks.one_of(
            owner,
            "block_pooling_type",
            block_pooling_type,
            ("AVG", "MAX"),
        )
        if sparsity_m_by_n is not None:
            sparsity_m_by_n = tuple(sparsity_m_by_n)
            m, n = sparsity_m_by_n
            if not 0 < m < n:
                raise ValueError(
                    f"{owner}: `sparsity_m_by_n` must be (m, n) with "
                    f"0 < m < n. Received: sparsity_m_by_n={sparsity_m_by_n}"
                )
            if block_size != (1, 1):
                raise ValueError(
                    f"{owner}: use either `block_size` or "
                    "`sparsity_m_by_n`, not both. Received: "
                    f"block_size={block_size}, "
                    f"sparsity_m_by_n={sparsity_m_by_n}"
                )
        self.pruning_schedule = pruning_schedule
        self.block_size = block_size
        self.block_pooling_type = block_pooling_type
        self.sparsity_m_by_n = sparsity_m_by_n
        self.supports_masking = layer.supports_masking
        self.updater_attached = False
        if layer.built:
            self._create_pruning_weights()
            self.built = True

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self._create_pruning_weights()
        self.built = True

    def _create_pruning_weights(self):
        if isinstance(self.layer, PrunableLayer):
            self.pruned_weights = list(self.layer.get_prunable_weights())
            own = {id(v) for v in self.layer.trainable_variables}
            foreign = [v.path for v in self.pruned_weights if id(v) not in own]
            if foreign:
                raise ValueError(
                    f"PruneLowMagnitude: get_prunable_weights() of "
                    f"{self.layer.name!r} must return trainable variables "
                    f"of that layer. Received: {foreign}"
                )
        else:
            self.pruned_weights = [
                v
                for v in self.layer.trainable_variables
                if is_prunable_weight(v)
            ]
        if not self.pruned_weights:
            raise ValueError(
                f"PruneLowMagnitude: {self.layer.name!r} has no kernel or "
                "embedding weights to prune. Received: weights "
                f"{[v.path for v in self.layer.weights]}"
            )
        if self.sparsity_m_by_n is not None:
            n = self.sparsity_m_by_n[1]
            for variable in self.pruned_weights:
                rows, _ = _masks.matrix_shape(variable.shape)
                if rows % n:
                    raise ValueError(
                        f"PruneLowMagnitude: m-by-n sparsity needs the "
                        f"inputs of every kernel to be a multiple of {n}. "
                        f"Received: {variable.path} of shape "
                        f"{tuple(variable.shape)} ({rows} inputs)"
                    )
        self.masks = [
            self.add_weight(
                name=f"mask_{i}",
                shape=variable.shape,
                initializer="ones",
                dtype=variable.dtype,
                trainable=False,
            )
            for i, variable in enumerate(self.pruned_weights)
        ]
        # -1 until UpdatePruningStep starts training (tfmot's convention).
        self.pruning_step = self.add_weight(
            name="pruning_step",
            shape=(),
            initializer=keras.initializers.Constant(-1),
            dtype="int32",
            trainable=False,
        )

    def _new_mask(self, weight, sparsity):
        if self.sparsity_m_by_n is not None:
            return _masks.m_by_n_mask(weight, *self.sparsity_m_by_n)
        return _masks.magnitude_mask(
            weight,
            sparsity,
            self.block_size,
            "avg" if self.block_pooling_type == "AVG" else "max",
        )

    def update_masks(self, step):
        """Recomputes the masks for `step` if the schedule says so.

        Returns:
            The bool tensor `should_prune(step)`.
        """
        should = self.pruning_schedule.should_prune(step)
        sparsity = self.pruning_schedule.sparsity(step)
        for weight, mask in zip(self.pruned_weights, self.masks, strict=True):
            mask.assign(
                ops.cond(
                    should,
                    lambda w=weight: self._new_mask(w.value, sparsity),
                    lambda m=mask: m.value,
                )
            )
        return should

    def apply_masks(self):
        """Writes `kernel * mask` into the kernels (zeros baked in)."""
        for weight, mask in zip(self.pruned_weights, self.masks, strict=True):
            weight.assign(weight.value * mask.value)

    # `mask`: Keras passes a lone input's mask here; it goes on to the
    # wrapped layer when that layer takes one (`strip_pruning` drops it
    # again for a bare layer that does not).
    def call(self, inputs, *args, mask=None, training=None, **kwargs):
        if mask is not None and "mask" in self.layer.call_signature_parameters:
            kwargs["mask"] = mask
        if training:
            if not self.updater_attached:
                raise ValueError(_CALLBACK_MISSING)
            step = self.pruning_step.value + 1
            self.pruning_step.assign(step)
            self.update_masks(step)
        masked = {
            id(w): w.value * m.value
            for w, m in zip(self.pruned_weights, self.masks, strict=True)
        }
        return call_with_values(
            self.layer, masked, inputs, *args, training=training, **kwargs
        )

    def compute_output_shape(self, *args, **kwargs):
        return self.layer.compute_output_shape(*args, **kwargs)

    def compute_output_spec(self, *args, mask=None, training=None, **kwargs):
        if mask is not None and "mask" in self.layer.call_signature_parameters:
            kwargs["mask"] = mask
        return self.layer.compute_output_spec(*args, **kwargs)

    def compute_mask(self, *args, **kwargs):
        return self.layer.compute_mask(*args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pruning_schedule": keras.saving.serialize_keras_object(
                    self.pruning_schedule
                ),
                "block_size": self.block_size,
                "block_pooling_type": self.block_pooling_type,
                "sparsity_m_by_n": self.sparsity_m_by_n,
            }
        )
        return config


def prune_low_magnitude(
    to_prune,
    pruning_schedule=None,
    block_size=(1, 1),
    block_pooling_type="AVG",
    sparsity_m_by_n=None,
    layers=None,
):
    """Prunes a layer, or every supported layer of a model (tfmot's API).

    A layer is wrapped in `PruneLowMagnitude`. A Sequential or functional
    model is cloned with each supported layer (or each one named in
    `layers`) wrapped, and the weights copied, so the original model is
    left as it is; nested Sequential/functional models are pruned too.
    Layers without kernels (normalisation, pooling, dropout, ...) stay as
    they are; an unsupported layer with kernels raises, unless `layers`
    leaves it out.

    Train with `UpdatePruningStep` in the callbacks; `strip_pruning`
    removes the wrappers afterwards.

    Args:
        to_prune: a layer, or a Sequential or functional model.
        pruning_schedule: a `PruningSchedule` (default 50 % constant).
        block_size, block_pooling_type, sparsity_m_by_n: as in
            `PruneLowMagnitude`.
        layers: optional names (or layers) of the model's layers to prune;
            the others stay dense.

    Returns:
        The wrapped layer, or the pruned model (compile it before `fit`).

    Example:

        >>> import numpy as np, keras
        >>> from kerasbig.optimize import (ConstantSparsity, UpdatePruningStep,
        ...     prune_low_magnitude, sparsity_report, strip_pruning)
        >>> model = keras.Sequential([keras.Input((16,)),
        ...     keras.layers.Dense(32, activation="relu"),
        ...     keras.layers.Dense(2)])
        >>> pruned = prune_low_magnitude(
        ...     model, ConstantSparsity(0.75, begin_step=0, frequency=2))
        >>> pruned.compile("adam", "mse")
        >>> x, y = np.random.rand(64, 16), np.random.rand(64, 2)
        >>> _ = pruned.fit(x, y, epochs=2, verbose=0,
        ...                callbacks=[UpdatePruningStep()])
        >>> final = strip_pruning(pruned)
        >>> [round(row["sparsity"], 2) for row in sparsity_report(final)]
        [0.75, 0.75]
    """
    options = {
        "pruning_schedule": pruning_schedule,
        "block_size": block_size,
        "block_pooling_type": block_pooling_type,
        "sparsity_m_by_n": sparsity_m_by_n,
    }
    if not isinstance(to_prune, keras.Model):
        return PruneLowMagnitude(to_prune, **options)

    def wrap(copy, layer, chosen):
        if chosen is False:
            return copy
        if _is_prunable(layer):
            return PruneLowMagnitude(copy, **options)
        if chosen or _has_prunable_weights(layer):
            raise ValueError(
                _cannot_prune("prune_low_magnitude", layer)
                + " Pass `layers=[...]` to prune only some layers."
            )
        return copy

    return clone_with_wrappers(
        to_prune,
        "prune_low_magnitude",
        wrap,
        layers,
        recurse=lambda nested: prune_low_magnitude(
            nested, **options, layers=layers
        ),
    )
