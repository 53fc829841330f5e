"""LoRA adapters on a `CausalLM`'s projections, on top of Keras's own
`enable_lora` (Dense and EinsumDense): which layers, freezing the rest,
merging, and adapter-only files."""

import json

import keras
import numpy as np

TARGETS = ("query", "key", "value", "attention_output", "gate", "up", "down")
"""The projections of each decoder block LoRA can adapt."""

_ADAPTER_NAMES = ("lora_kernel_a", "lora_kernel_b")
_CONFIG_KEY = "__kerasbig_lora__"
# Entries of the model's own part of a Keras weights file; flat names,
# since HDF5 reads "/" as a group.
_STATE_PREFIX = "kerasbig_lora_"


def _projection(block, target):
    attention = block.self_attention
    return {
        "query": attention.query_dense,
        "key": attention.key_dense,
        "value": attention.value_dense,
        "attention_output": attention.output_dense,
        "gate": block.feed_forward.gate_proj,
        "up": block.feed_forward.up_proj,
        "down": block.feed_forward.down_proj,
    }[target]


def check_targets(targets, model):
    """The targets as a tuple; raises naming an unknown target or one
    this model lacks (an ungated feed-forward has no gate)."""
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise ValueError(
            f"CausalLM.enable_lora: `targets` must be a non-empty list of "
            f"{list(TARGETS)}. Received: targets={list(targets)}"
        )
    feed_forward = model.decoder.blocks[0].feed_forward
    if "gate" in targets and feed_forward.gate_proj is None:
        raise ValueError(
            "CausalLM.enable_lora: target 'gate' needs a gated feed-forward "
            f"(swiglu, geglu). Received: activation={model.activation!r}"
        )
    return targets


def adapted_layers(model):
    """The projection layers of `model` with LoRA enabled."""
    return [
        layer
        for block in model.decoder.blocks
        for target in TARGETS
        if (layer := _projection(block, target)) is not None
        and layer.lora_enabled
    ]


def enable(model, rank, alpha, targets):
    """Enables LoRA on `targets` of every block and freezes every other
    variable (biases of adapted layers too): only adapters train."""
    if adapted_layers(model):
        raise ValueError(
            "CausalLM.enable_lora: LoRA is already enabled on this model "
            "(Keras enables it once per layer); merge_lora() gives a plain "
            "model to start again from"
        )
    targets = check_targets(targets, model)
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise ValueError(
            "CausalLM.enable_lora: `rank` must be a positive int. "
            f"Received: rank={rank!r}"
        )
    for block in model.decoder.blocks:
        for target in targets:
            _projection(block, target).enable_lora(rank, lora_alpha=alpha)
    for variable in model.weights:
        if variable.name not in _ADAPTER_NAMES:
            variable.trainable = False
    return targets


def merged_weights(model):
    """Every weight of `model` by path, with each adapted kernel replaced
    by its merged value `kernel + alpha / rank * A @ B` (the adapters
    themselves left out)."""
    values = {}
    for variable in model.weights:
        if variable.name not in _ADAPTER_NAMES:
            values[variable.path] = keras.ops.convert_to_numpy(variable)
    for layer in adapted_layers(model):
        (kernel,) = [w for w in layer.weights if w.name == "kernel"]
        # `layer.kernel` is Keras's merged view of the adapted kernel.
        values[kernel.path] = keras.ops.convert_to_numpy(layer.kernel)
    return values


def save_adapters(model, path, config):
    """Writes the adapters only, with the LoRA settings, to an `.npz`."""
    layers = adapted_layers(model)
    if not layers:
        raise ValueError(
            "CausalLM.save_lora_weights: LoRA is not enabled on this model; "
            "call enable_lora() first"
        )
    arrays = {
        variable.path: keras.ops.convert_to_numpy(variable)
        for layer in layers
        for variable in layer.weights
        if variable.name in _ADAPTER_NAMES
    }
    arrays[_CONFIG_KEY] = np.array(json.dumps(config))
    with open(path, "wb") as file:  # np.savez would append ".npz"
        np.savez(file, **arrays)


def read_adapters(path):
    """`(config, arrays)` of an adapter file written by `save_adapters`."""
    with np.load(path) as archive:
        if _CONFIG_KEY not in archive.files:
            raise ValueError(
                f"CausalLM.load_lora_weights: {path} is not a kerasbig LoRA "
                "file (written by save_lora_weights). Received: arrays "
                f"{sorted(archive.files)[:5]}"
            )
        config = json.loads(str(archive[_CONFIG_KEY]))
        arrays = {
            name: archive[name] for name in archive.files if name != _CONFIG_KEY
        }
    return config, arrays


def assign_adapters(model, arrays, path):
    """Assigns adapter arrays to the model's adapters, by path; raises
    naming a missing or mis-shaped one."""
    variables = {
        variable.path: variable
        for layer in adapted_layers(model)
        for variable in layer.weights
        if variable.name in _ADAPTER_NAMES
    }
    if set(variables) != set(arrays):
        missing = sorted(set(variables) - set(arrays))
        extra = sorted(set(arrays) - set(variables))
        raise ValueError(
            f"CausalLM.load_lora_weights: the adapters in {path} do not fit "
            f"this model. Missing: {missing[:3]}; not in the model: "
            f"{extra[:3]}"
        )
    for name, variable in variables.items():
        if tuple(arrays[name].shape) != tuple(variable.shape):
            raise ValueError(
                f"CausalLM.load_lora_weights: adapter {name!r} in {path} has "
                f"shape {tuple(arrays[name].shape)}; the model's has "
                f"{tuple(variable.shape)}"
            )
        variable.assign(arrays[name])


def _state_variables(model):
    """Each adapted layer's unmerged kernel and adapters, in one order."""
    return [
        variable
        for layer in adapted_layers(model)
        for variable in layer.weights
        if variable.name in ("kernel", *_ADAPTER_NAMES)
    ]


def save_state(model, store):
    """Writes each adapted layer's unmerged kernel and adapters into the
    model's own entry of a Keras weights file (`.keras`, `.weights.h5`).

    Keras writes an adapted layer's merged kernel and, loading it, zeroes
    the adapters: both zero, they get no gradient and a resumed LoRA run
    stops learning; adapters saved after such a load are zeros.
    """
    for index, variable in enumerate(_state_variables(model)):
        store[f"{_STATE_PREFIX}{index}"] = keras.ops.convert_to_numpy(variable)


def split_state(store):
    """`(arrays, rest)`: what `save_state` wrote, in order, and a dict of
    the store's other entries."""
    names = list(store.keys())
    state = sorted(
        (name for name in names if name.startswith(_STATE_PREFIX)),
        key=lambda name: int(name[len(_STATE_PREFIX) :]),
    )
    rest = {name: store[name] for name in names if name not in state}
    return [np.asarray(store[name]) for name in state], rest


def restore_state(model, arrays, path):
    """Runs after Keras loaded a weights file into a LoRA model: puts back
    the unmerged kernels and adapters `save_state` wrote. A file without
    them (saved before LoRA was enabled) gets fresh adapters, as
    `enable_lora` makes them, on the kernels it loaded."""
    variables = _state_variables(model)
    if not arrays:
        for layer in adapted_layers(model):
            layer.lora_kernel_a.assign(
                keras.initializers.HeUniform()(layer.lora_kernel_a.shape)
            )
            # zeros of the shape, not zeros_like(variable): with NumPy
            # 2.4, JAX's zeros_like cannot read a Keras variable's dtype.
            layer.lora_kernel_b.assign(
                keras.ops.zeros(layer.lora_kernel_b.shape)
            )
        return
    shapes = [tuple(variable.shape) for variable in variables]
    if [tuple(array.shape) for array in arrays] != shapes:
        raise ValueError(
            f"CausalLM.load_weights: {path} was saved with other LoRA "
            f"settings ({len(arrays) // 3} adapted layers) than this model "
            f"has ({len(variables) // 3}: {model.lora_config}). Enable LoRA "
            "with the settings it was saved with, or load it into a model "
            "without LoRA (its kernels are the merged ones)"
        )
    for variable, array in zip(variables, arrays, strict=True):
        variable.assign(array)
