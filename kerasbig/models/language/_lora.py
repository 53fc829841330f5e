"""LoRA adapters on a `CausalLM`'s projections, as PEFT defines them
(A (inputs, rank) and B (rank, outputs) over each whole projection,
scale alpha / rank, dropout on the adapter's input): which layers,
freezing the rest, merging, and adapter files in PEFT's format
(`adapter_config.json` + `adapter_model.safetensors`)."""

import json
import math
import pathlib

import keras
import numpy as np

from kerasbig._optional import import_optional
from kerasbig.models.language import _hugging_face as hugging_face

TARGETS = ("query", "key", "value", "attention_output", "gate", "up", "down")
"""The projections of each decoder block LoRA can adapt."""

# Each target's module in a Llama-family block, as the checkpoints (and
# so PEFT) name it.
PEFT_MODULES = hugging_face.LLAMA_MODULES
# Entries of the model's own part of a Keras weights file; flat names,
# since HDF5 reads "/" as a group.
_STATE_PREFIX = "kerasbig_lora_"
_CONFIG_FILE = "adapter_config.json"
_WEIGHTS_FILE = "adapter_model.safetensors"
# PEFT's key of a LoRA matrix on a causal LM: PeftModel -> the
# transformers model (its "model." prefix) -> the decoder layer.
_PEFT_KEY = (
    "base_model.model.model.layers.{index}.{module}.lora_{factor}.weight"
)
# Settings of a PEFT LoRA config CausalLM does not implement, with the
# value that is fine.
_PEFT_UNSUPPORTED = {
    "use_dora": False,
    "bias": "none",
    "fan_in_fan_out": False,
    "lora_bias": False,
    "rank_pattern": {},
    "alpha_pattern": {},
    "layers_to_transform": None,
    "modules_to_save": None,
    "trainable_token_indices": None,
}
# Fields CausalLM writes (PEFT fills in the rest with its defaults).
_PEFT_CONFIG = {
    "peft_type": "LORA",
    "task_type": "CAUSAL_LM",
    "base_model_name_or_path": None,
    "inference_mode": True,
    "init_lora_weights": True,
    "use_rslora": False,
    **_PEFT_UNSUPPORTED,
}


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
    if (
        "gate" in targets
        and "gate" not in model.decoder.blocks[0].projections()
    ):
        raise ValueError(
            "CausalLM.enable_lora: target 'gate' needs a gated feed-forward "
            f"(swiglu, geglu). Received: activation={model.activation!r}"
        )
    return targets


def _adapted(model):
    """`(block index, target, layer)` of each adapted projection."""
    return [
        (index, target, layer)
        for index, block in enumerate(model.decoder.blocks)
        for target, layer in block.projections().items()
        if layer.adapter_rank is not None
    ]


def adapted_layers(model):
    """The projection layers of `model` with an adapter."""
    return [layer for _, _, layer in _adapted(model)]


def _adapter_variables(model):
    return [
        variable
        for layer in adapted_layers(model)
        for variable in (layer.lora_a, layer.lora_b)
    ]


def enable(model, rank, alpha, targets, dropout, seed):
    """Adds an adapter to `targets` of every block and freezes every
    other variable (biases of adapted layers too): only adapters train."""
    if adapted_layers(model):
        raise ValueError(
            "CausalLM.enable_lora: LoRA is already enabled on this model; "
            "merge_lora() gives a plain model to start again from"
        )
    targets = check_targets(targets, model)
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise ValueError(
            "CausalLM.enable_lora: `rank` must be a positive int. "
            f"Received: rank={rank!r}"
        )
    if not 0 <= dropout < 1:
        raise ValueError(
            "CausalLM.enable_lora: `dropout` must be in [0, 1). "
            f"Received: dropout={dropout!r}"
        )
    generator = np.random.default_rng(seed)
    for block in model.decoder.blocks:
        projections = block.projections()
        for target in targets:
            projections[target].enable_adapter(
                rank,
                alpha,
                dropout,
                seed=None if seed is None else int(generator.integers(2**31)),
            )
    adapters = {id(variable) for variable in _adapter_variables(model)}
    for variable in model.weights:
        if id(variable) not in adapters:
            variable.trainable = False
    return targets


def merged_weights(model):
    """Every weight of `model` by path, with each adapted kernel replaced
    by its merged value `kernel + alpha / rank * A @ B` (the adapters
    themselves left out)."""
    adapters = {id(variable) for variable in _adapter_variables(model)}
    values = {}
    for variable in model.weights:
        if id(variable) not in adapters:
            values[variable.path] = keras.ops.convert_to_numpy(variable)
    for layer in adapted_layers(model):
        values[_kernel_variable(layer).path] = keras.ops.convert_to_numpy(
            layer.merged_kernel()
        )
    return values


def _kernel_variable(layer):
    (kernel,) = [w for w in layer.weights if w.name == "kernel"]
    return kernel


def _peft_variables(model):
    """Each adapter variable of `model` by its key in PEFT's file."""
    return {
        _PEFT_KEY.format(
            index=index, module=PEFT_MODULES[target], factor=factor
        ): variable
        for index, target, layer in _adapted(model)
        for factor, variable in (("A", layer.lora_a), ("B", layer.lora_b))
    }


def _check_peft_family(model, method):
    if model.decoder.blocks[0].self_attention.rotary_embedding is None:
        raise ValueError(
            f"CausalLM.{method}: PEFT adapter files are written for Llama-"
            "family models (llama, mistral, qwen2: rotary positions); "
            "GPT-2's PEFT adapters target its fused c_attn, which "
            "separate query/key/value adapters cannot express"
        )


def save_adapters(model, directory, config):
    """Writes the adapters as a PEFT adapter folder."""
    if not _adapted(model):
        raise ValueError(
            "CausalLM.save_lora_weights: LoRA is not enabled on this model; "
            "call enable_lora() first"
        )
    _check_peft_family(model, "save_lora_weights")
    numpy_api = import_optional(
        "safetensors.numpy", "Writing PEFT adapter files"
    )
    # PEFT's matrices are torch Linear weights: (out, in).
    arrays = {
        key: np.ascontiguousarray(keras.ops.convert_to_numpy(variable).T)
        for key, variable in _peft_variables(model).items()
    }
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    numpy_api.save_file(
        arrays, str(directory / _WEIGHTS_FILE), metadata={"format": "pt"}
    )
    peft_config = {
        **_PEFT_CONFIG,
        "r": config["rank"],
        "lora_alpha": config["alpha"],
        "lora_dropout": config["dropout"],
        "target_modules": sorted(
            PEFT_MODULES[t].split(".")[-1] for t in config["targets"]
        ),
    }
    (directory / _CONFIG_FILE).write_text(
        json.dumps(peft_config, indent=2) + "\n"
    )


def read_adapters(directory):
    """`(config, arrays)` of a PEFT adapter folder: `config` as
    `CausalLM.lora_config` holds it, `arrays` by PEFT's keys. Raises
    naming a setting CausalLM does not implement."""
    path = pathlib.Path(directory)
    if path.is_file() and path.suffix == ".npz":
        raise ValueError(
            f"CausalLM.load_lora_weights: {path} is an adapter file of "
            "kerasbig before PEFT's format, whose query/key/value adapters "
            "were split by head and cannot be loaded as PEFT's; load it "
            "with that kerasbig version and merge_lora(), or train again "
            "(see the LoRA section of docs/llm.md)"
        )
    if not (path / _CONFIG_FILE).is_file():
        raise FileNotFoundError(
            "CausalLM.load_lora_weights: expected a PEFT adapter folder "
            f"with {_CONFIG_FILE} and {_WEIGHTS_FILE}. Received: {path}"
        )
    peft_config = json.loads((path / _CONFIG_FILE).read_text())
    if peft_config.get("peft_type") != "LORA":
        raise ValueError(
            f"CausalLM.load_lora_weights: {path} holds a "
            f"{peft_config.get('peft_type')!r} adapter; expected peft_type "
            "'LORA'"
        )
    for setting, fine in _PEFT_UNSUPPORTED.items():
        value = peft_config.get(setting, fine)
        if value != fine and not (fine is None and value in ([], {})):
            raise ValueError(
                f"CausalLM.load_lora_weights: {path} sets {setting}="
                f"{value!r}, which CausalLM's LoRA does not implement. "
                f"Expected: {fine!r}"
            )
    modules = peft_config.get("target_modules")
    by_module = {m.split(".")[-1]: t for t, m in PEFT_MODULES.items()}
    if isinstance(modules, str) or not modules:
        raise ValueError(
            f"CausalLM.load_lora_weights: {path} gives target_modules as "
            f"{modules!r}; expected a list among {sorted(by_module)}"
        )
    unknown = sorted(set(modules) - set(by_module))
    if unknown:
        raise ValueError(
            f"CausalLM.load_lora_weights: {path} targets {unknown}, which "
            f"CausalLM cannot adapt. Expected modules among "
            f"{sorted(by_module)}"
        )
    rank = peft_config["r"]
    alpha = peft_config["lora_alpha"]
    if peft_config.get("use_rslora"):
        alpha = alpha * math.sqrt(rank)  # rsLoRA scales by alpha / sqrt(r)
    if not (path / _WEIGHTS_FILE).is_file():
        raise FileNotFoundError(
            f"CausalLM.load_lora_weights: {path} has no {_WEIGHTS_FILE} "
            "(an adapter_model.bin needs PyTorch to read; save it again "
            "with safe_serialization=True)"
        )
    numpy_api = import_optional("safetensors.numpy", "Reading PEFT adapters")
    arrays = numpy_api.load_file(str(path / _WEIGHTS_FILE))
    config = {
        "rank": rank,
        "alpha": alpha,
        "targets": [t for t in TARGETS if t in {by_module[m] for m in modules}],
        "dropout": peft_config.get("lora_dropout", 0.0),
    }
    return config, arrays


def check_settings(model, config, path):
    """Raises naming each LoRA setting in which the file at `path`
    differs from the model's enabled LoRA."""
    differences = [
        f"{name} {config[name]!r} there, {model.lora_config[name]!r} here"
        for name in ("rank", "alpha", "targets")
        if config[name] != model.lora_config[name]
    ]
    if differences:
        raise ValueError(
            f"CausalLM.load_lora_weights: the adapter in {path} was made "
            f"with other LoRA settings than this model's "
            f"({'; '.join(differences)})"
        )


def assign_adapters(model, arrays, path):
    """Assigns PEFT's arrays to the model's adapters; raises naming a
    missing, unused or mis-shaped one."""
    expected = _peft_variables(model)
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ValueError(
            f"CausalLM.load_lora_weights: the adapter in {path} does not fit "
            f"this model. Missing: {missing[:3]}; not in the model: "
            f"{extra[:3]}"
        )
    for key, variable in expected.items():
        array = arrays[key].T  # PEFT's (out, in) -> Keras's (in, out)
        if tuple(array.shape) != tuple(variable.shape):
            raise ValueError(
                f"CausalLM.load_lora_weights: {key} in {path} has shape "
                f"{tuple(arrays[key].shape)}; this model's is "
                f"{tuple(variable.shape)[::-1]}"
            )
    for key, variable in expected.items():
        variable.assign(arrays[key].T.astype(variable.dtype))


def _state_variables(model):
    """Each adapted layer's unmerged kernel and adapters, in one order."""
    return [
        variable
        for layer in adapted_layers(model)
        for variable in (_kernel_variable(layer), layer.lora_a, layer.lora_b)
    ]


def save_state(model, store):
    """Writes each adapted layer's unmerged kernel and adapters into the
    model's own entry of a Keras weights file (`.keras`, `.weights.h5`).

    An adapted layer writes its merged kernel (so that a model without
    LoRA loads the adapted outputs) and not its adapters: a resumed LoRA
    run needs both parts back.
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
            layer.reset_adapter()
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
