"""Hugging Face checkpoints (`config.json` plus safetensors) to and from
`CausalLM`: the configuration mapping of each supported `model_type` and
the tensor-by-tensor weight mapping, read and written with safetensors'
NumPy API (no PyTorch, no `transformers`)."""

import dataclasses
import inspect
import json
import math
import os
import pathlib

import keras
import numpy as np

from kerasbig._kernel_options import KERNEL_OPTION_NAMES
from kerasbig._optional import import_optional
from kerasbig.layers import TransformerBlock

ARCHITECTURES = ("gpt2", "llama", "mistral", "qwen2")
"""The Hugging Face `model_type`s `CausalLM` reads and writes."""

_LLAMA_FAMILY = ("llama", "mistral", "qwen2")
_ARCHITECTURE_CLASSES = {
    "gpt2": "GPT2LMHeadModel",
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
}
# Hugging Face activation names -> FeedForward's, for GPT-2 (ungated).
_GPT2_ACTIVATIONS = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
}
# Buffers some checkpoints carry that hold no weights (causal masks,
# rotary tables): recomputed, never read.
_BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")
LLAMA_MODULES = {
    "query": "self_attn.q_proj",
    "key": "self_attn.k_proj",
    "value": "self_attn.v_proj",
    "attention_output": "self_attn.o_proj",
    "gate": "mlp.gate_proj",
    "up": "mlp.up_proj",
    "down": "mlp.down_proj",
}
"""Each projection of a block (`TransformerBlock.projections`) as a
Llama-family checkpoint names it under `model.layers.<i>.`."""
TOKEN_ID_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id")
"""The special token ids a Hugging Face config carries."""
# What `save_pretrained` writes per file at most (as Hugging Face does).
DEFAULT_SHARD_BYTES = 5 * 1024**3
_SINGLE_FILE = "model.safetensors"
_INDEX_FILE = "model.safetensors.index.json"
_SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
}


def read_config(directory):
    """The `config.json` of a Hugging Face model folder, checked to be of
    a supported `model_type`."""
    path = pathlib.Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            "CausalLM.from_pretrained: expected a Hugging Face model folder "
            f"with a config.json. Received: {directory} (no {path.name})"
        )
    config = json.loads(path.read_text())
    kind = config.get("model_type")
    if kind not in ARCHITECTURES:
        raise ValueError(
            f"CausalLM.from_pretrained: model_type {kind!r} in {path} is not "
            f"supported. Expected one of {list(ARCHITECTURES)}"
        )
    return config


def causal_lm_arguments(config):
    """`CausalLM` constructor arguments equal to a Hugging Face config."""
    if config["model_type"] == "gpt2":
        return _gpt2_arguments(config)
    return _llama_arguments(config)


def _unsupported(config, setting, value, expected):
    return ValueError(
        f"CausalLM.from_pretrained: {config['model_type']} config sets "
        f"{setting}={value!r}, which CausalLM does not implement. Expected: "
        f"{expected}"
    )


def _gpt2_arguments(config):
    activation = config.get("activation_function", "gelu_new")
    if activation not in _GPT2_ACTIVATIONS:
        raise _unsupported(
            config, "activation_function", activation, list(_GPT2_ACTIVATIONS)
        )
    for setting, supported in (
        ("scale_attn_weights", True),
        ("scale_attn_by_inverse_layer_idx", False),
        ("add_cross_attention", False),
    ):
        if config.get(setting, supported) != supported:
            raise _unsupported(config, setting, config[setting], supported)
    hidden = config["n_embd"]
    return {
        "vocabulary_size": config["vocab_size"],
        "max_sequence_length": config["n_positions"],
        "num_layers": config["n_layer"],
        "hidden_dim": hidden,
        "num_heads": config["n_head"],
        "intermediate_dim": config.get("n_inner") or 4 * hidden,
        "position": "learned",
        "normalize_first": True,
        "normalization": "layer_norm",
        "activation": _GPT2_ACTIVATIONS[activation],
        "use_bias": True,
        "tie_embeddings": config.get("tie_word_embeddings", True),
        "layer_norm_epsilon": config.get("layer_norm_epsilon", 1e-5),
    }


def _llama_arguments(config):
    kind = config["model_type"]
    if config.get("hidden_act", "silu") != "silu":
        raise _unsupported(
            config, "hidden_act", config["hidden_act"], "silu (SwiGLU)"
        )
    heads = config["num_attention_heads"]
    arguments = {
        "vocabulary_size": config["vocab_size"],
        "max_sequence_length": config["max_position_embeddings"],
        "num_layers": config["num_hidden_layers"],
        "hidden_dim": config["hidden_size"],
        "num_heads": heads,
        "intermediate_dim": config["intermediate_size"],
        "num_key_value_heads": config.get("num_key_value_heads") or heads,
        "position": "rotary",
        "normalize_first": True,
        "normalization": "rms_norm",
        "activation": "swiglu",
        "use_bias": False,
        "tie_embeddings": config.get("tie_word_embeddings", False),
        "layer_norm_epsilon": config.get("rms_norm_eps", 1e-6),
        "key_dim": config.get("head_dim") or config["hidden_size"] // heads,
        **_rope_arguments(config),
    }
    if kind == "llama":
        attention_bias = bool(config.get("attention_bias", False))
        arguments["attention_bias"] = attention_bias
        arguments["attention_output_bias"] = attention_bias
        arguments["feed_forward_bias"] = bool(config.get("mlp_bias", False))
    elif kind == "qwen2":
        if config.get("use_sliding_window"):
            raise _unsupported(config, "use_sliding_window", True, False)
        arguments["attention_bias"] = True
    else:  # mistral
        arguments["sliding_window"] = config.get("sliding_window")
    return arguments


def _rope_arguments(config):
    # transformers 5 writes `rope_parameters`; earlier versions wrote
    # `rope_theta` and `rope_scaling` (with "type" before "rope_type").
    parameters = dict(config.get("rope_parameters") or {})
    parameters.update(config.get("rope_scaling") or {})
    theta = parameters.get("rope_theta", config.get("rope_theta", 10000.0))
    kind = parameters.get("rope_type", parameters.get("type", "default"))
    arguments = {"rotary_max_wavelength": theta}
    if kind == "linear":
        arguments["rotary_scaling_factor"] = parameters["factor"]
    elif kind == "llama3":
        arguments["rotary_frequency_scaling"] = {
            "factor": parameters["factor"],
            "low_freq_factor": parameters["low_freq_factor"],
            "high_freq_factor": parameters["high_freq_factor"],
            "original_max_position_embeddings": parameters[
                "original_max_position_embeddings"
            ],
        }
    elif kind != "default":
        raise _unsupported(
            config, "rope_type", kind, "default, linear or llama3"
        )
    return arguments


def infer_model_type(model):
    """The Hugging Face `model_type` a `CausalLM` is written as by
    default."""
    settings = _resolved(model, model.get_config())
    if settings["position"] == "learned":
        return "gpt2"
    if settings["sliding_window"]:
        return "mistral"
    if settings["attention_bias"] and not settings["attention_output_bias"]:
        return "qwen2"
    return "llama"


def hugging_face_config(model, model_type):
    """The `config.json` of `model` as a Hugging Face `model_type`; raises
    when the model has a setting that architecture cannot express."""
    if model_type not in ARCHITECTURES:
        raise ValueError(
            "CausalLM.save_pretrained: `model_type` must be one of "
            f"{list(ARCHITECTURES)}. Received: model_type={model_type!r}"
        )
    settings = _resolved(model, model.get_config())
    config = _config_for(model_type, model, settings)
    # The config must read back as this very model.
    written = _resolved(model, causal_lm_arguments(config))
    differences = [
        f"{name}={settings.get(name)!r} (as {model_type}: "
        f"{written.get(name)!r})"
        for name in sorted(set(settings) | set(written))
        if settings.get(name) != written.get(name)
    ]
    if differences:
        raise ValueError(
            f"CausalLM.save_pretrained: this model cannot be written as "
            f"{model_type}: " + "; ".join(differences)
        )
    return config


_BIAS_GROUPS = ("attention_bias", "attention_output_bias", "feed_forward_bias")
# Settings that do not change a trained model's outputs.
_IRRELEVANT = {
    "name",
    "trainable",
    "dtype",
    "dropout",
    "attention_dropout",
    "flash_attention",
    "remat",  # recomputes in training; the outputs are the same
    *KERNEL_OPTION_NAMES,
}


def _defaults(function):
    return {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not parameter.empty
    }


def _resolved(model, arguments):
    """CausalLM arguments with every default its blocks apply filled in
    (head size, key/value heads, per-group biases), less the settings
    that do not change outputs."""
    settings = {
        **_defaults(TransformerBlock.__init__),
        **_defaults(type(model).__init__),
        **arguments,
    }
    settings["key_dim"] = (
        settings["key_dim"] or settings["hidden_dim"] // settings["num_heads"]
    )
    settings["num_key_value_heads"] = (
        settings["num_key_value_heads"] or settings["num_heads"]
    )
    for name in (
        "attention_bias",
        "attention_output_bias",
        "feed_forward_bias",
    ):
        if settings[name] is None:
            settings[name] = settings["use_bias"]
    if settings["position"] == "learned":  # no rotary settings apply
        for name in ("rotary_max_wavelength", "rotary_scaling_factor"):
            settings.pop(name)
        settings.pop("rotary_frequency_scaling")
    # Per-block arguments a CausalLM sets itself.
    for name in ("causal", "seed", "cross_attention", "stochastic_depth"):
        settings.pop(name, None)
    return {k: v for k, v in settings.items() if k not in _IRRELEVANT}


def _config_for(model_type, model, settings):
    dtype = keras.backend.standardize_dtype(model.weights[0].dtype)
    config = {
        "architectures": [_ARCHITECTURE_CLASSES[model_type]],
        "model_type": model_type,
        "vocab_size": model.vocabulary_size,
        "tie_word_embeddings": model.tie_embeddings,
        # transformers 4 reads torch_dtype, transformers 5 dtype.
        "torch_dtype": dtype,
        "dtype": dtype,
    }
    if model_type == "gpt2":
        activation = {"gelu_tanh": "gelu_new"}.get(
            model.activation, model.activation
        )
        config.update(
            n_positions=model.max_sequence_length,
            n_embd=model.hidden_dim,
            n_layer=model.num_layers,
            n_head=model.num_heads,
            n_inner=model.intermediate_dim,
            activation_function=activation,
            layer_norm_epsilon=settings["layer_norm_epsilon"],
            resid_pdrop=model.dropout,
            embd_pdrop=0.0,
            attn_pdrop=settings.get("attention_dropout", 0.0),
        )
        return config
    config.update(
        max_position_embeddings=model.max_sequence_length,
        hidden_size=model.hidden_dim,
        intermediate_size=model.intermediate_dim,
        num_hidden_layers=model.num_layers,
        num_attention_heads=model.num_heads,
        num_key_value_heads=settings["num_key_value_heads"],
        head_dim=settings["key_dim"],
        hidden_act="silu",
        rms_norm_eps=settings["layer_norm_epsilon"],
        attention_dropout=settings.get("attention_dropout", 0.0),
        **_rope_config(settings),
    )
    if model_type == "llama":
        config["attention_bias"] = settings["attention_bias"]
        config["mlp_bias"] = settings["feed_forward_bias"]
    elif model_type == "mistral":
        config["sliding_window"] = settings.get("sliding_window")
    else:
        config["use_sliding_window"] = False
    return config


def _rope_config(settings):
    parameters = {
        "rope_type": "default",
        "rope_theta": float(settings["rotary_max_wavelength"]),
    }
    if settings.get("rotary_frequency_scaling"):
        parameters.update(
            rope_type="llama3", **settings["rotary_frequency_scaling"]
        )
    elif settings.get("rotary_scaling_factor", 1.0) != 1.0:
        parameters.update(
            rope_type="linear", factor=settings["rotary_scaling_factor"]
        )
    # transformers 5 reads `rope_parameters`; transformers 4, vLLM and
    # llama.cpp's converter read top-level `rope_theta` and `rope_scaling`
    # (None by default; "type" in old readers, "rope_type" in newer ones)
    # and fall back to theta 10000 without them.
    scaling = {k: v for k, v in parameters.items() if k != "rope_theta"}
    legacy_scaling = (
        None
        if scaling["rope_type"] == "default"
        else {"type": scaling["rope_type"], **scaling}
    )
    return {
        "rope_parameters": parameters,
        "rope_theta": parameters["rope_theta"],
        "rope_scaling": legacy_scaling,
    }


@dataclasses.dataclass
class _Tensor:
    """One Hugging Face tensor and the Keras variables it holds.

    A Keras variable's axes split into input axes (the first `inputs`)
    and output axes; the Hugging Face tensor is the `(in, out)` matrix
    (GPT-2's Conv1D), `(out, in)` when `transposed` (torch's Linear), or
    a vector when `inputs` is 0. Several variables (GPT-2's fused
    query/key/value) are concatenated along the output axis.
    """

    name: str
    variables: tuple
    inputs: int = 1
    transposed: bool = False

    def _matrix(self, shape):
        rows = math.prod(shape[: self.inputs])
        columns = math.prod(shape[self.inputs :])
        if self.inputs == 0:
            return (columns,)
        return (columns, rows) if self.transposed else (rows, columns)

    @property
    def _axis(self):
        return 0 if self.inputs == 0 or self.transposed else 1

    @property
    def shape(self):
        parts = [self._matrix(tuple(v.shape)) for v in self.variables]
        shape = list(parts[0])
        shape[self._axis] = sum(part[self._axis] for part in parts)
        return tuple(shape)

    def to_keras(self, array):
        sizes = [
            self._matrix(tuple(v.shape))[self._axis] for v in self.variables
        ]
        parts = np.split(array, np.cumsum(sizes)[:-1], axis=self._axis)
        return [
            (part.T if self.transposed else part).reshape(tuple(v.shape))
            for part, v in zip(parts, self.variables, strict=True)
        ]

    def to_hugging_face(self, arrays):
        parts = []
        for array in arrays:
            rows = math.prod(array.shape[: self.inputs])
            matrix = array.reshape(rows, -1) if self.inputs else array.ravel()
            parts.append(matrix.T if self.transposed else matrix)
        return np.concatenate(parts, axis=self._axis)


def tensors(model, model_type):
    """The `_Tensor`s of `model` as a Hugging Face `model_type` names
    them, in checkpoint order."""
    if model_type == "gpt2":
        return _gpt2_tensors(model)
    return _llama_tensors(model)


def _norm(name, norm):
    if isinstance(norm, keras.layers.RMSNormalization):
        return [_Tensor(f"{name}.weight", (norm.scale,), inputs=0)]
    return [
        _Tensor(f"{name}.weight", (norm.gamma,), inputs=0),
        _Tensor(f"{name}.bias", (norm.beta,), inputs=0),
    ]


def _dense(name, dense, inputs=1, transposed=True):
    found = [_Tensor(f"{name}.weight", (dense.kernel,), inputs, transposed)]
    if dense.bias is not None:
        found.append(_Tensor(f"{name}.bias", (dense.bias,), inputs=0))
    return found


def _head(model):
    if model.lm_head is None:
        return []
    return _dense("lm_head", model.lm_head)


def _llama_tensors(model):
    found = [
        _Tensor(
            "model.embed_tokens.weight",
            (model.embedding.token_embedding.embeddings,),
        )
    ]
    for index, block in enumerate(model.decoder.blocks):
        prefix = f"model.layers.{index}"
        projections = block.projections()
        found += _norm(f"{prefix}.input_layernorm", block.self_attention_norm)
        for role in ("query", "key", "value", "attention_output"):
            found += _dense(
                f"{prefix}.{LLAMA_MODULES[role]}",
                projections[role],
                # (heads, head_dim, features): two input axes.
                inputs=2 if role == "attention_output" else 1,
            )
        found += _norm(
            f"{prefix}.post_attention_layernorm", block.feed_forward_norm
        )
        for role in ("gate", "up", "down"):
            found += _dense(
                f"{prefix}.{LLAMA_MODULES[role]}", projections[role]
            )
    found += _norm("model.norm", model.decoder.final_norm)
    return found + _head(model)


def _gpt2_tensors(model):
    token_table = model.embedding.token_embedding.embeddings
    position_table = model.embedding.position_embedding.embeddings
    found = [
        _Tensor("transformer.wte.weight", (token_table,)),
        _Tensor("transformer.wpe.weight", (position_table,)),
    ]
    for index, block in enumerate(model.decoder.blocks):
        prefix = f"transformer.h.{index}"
        projections = block.projections()
        fused = tuple(projections[role] for role in ("query", "key", "value"))
        found += _norm(f"{prefix}.ln_1", block.self_attention_norm)
        # Conv1D layers: weights stored (in, out), query/key/value fused.
        found.append(
            _Tensor(
                f"{prefix}.attn.c_attn.weight",
                tuple(dense.kernel for dense in fused),
            )
        )
        found.append(
            _Tensor(
                f"{prefix}.attn.c_attn.bias",
                tuple(dense.bias for dense in fused),
                inputs=0,
            )
        )
        found += _dense(
            f"{prefix}.attn.c_proj",
            projections["attention_output"],
            inputs=2,
            transposed=False,
        )
        found += _norm(f"{prefix}.ln_2", block.feed_forward_norm)
        found += _dense(
            f"{prefix}.mlp.c_fc", projections["up"], transposed=False
        )
        found += _dense(
            f"{prefix}.mlp.c_proj", projections["down"], transposed=False
        )
    found += _norm("transformer.ln_f", model.decoder.final_norm)
    return found + _head(model)


class SafetensorsFolder:
    """The tensors of a model folder: `model.safetensors`, or the shards
    listed in `model.safetensors.index.json`."""

    def __init__(self, directory):
        self.directory = pathlib.Path(directory)
        self._safetensors = import_optional(
            "safetensors", "Reading Hugging Face checkpoints"
        )
        index = self.directory / _INDEX_FILE
        if index.is_file():
            weight_map = json.loads(index.read_text())["weight_map"]
        elif (self.directory / _SINGLE_FILE).is_file():
            with self._open(_SINGLE_FILE) as file:
                weight_map = dict.fromkeys(file.keys(), _SINGLE_FILE)
        else:
            raise FileNotFoundError(
                "CausalLM.from_pretrained: expected model.safetensors or "
                f"{_INDEX_FILE} in {self.directory}. Received: "
                f"{sorted(p.name for p in self.directory.iterdir())}"
            )
        self.files = weight_map

    def _open(self, file_name):
        path = self.directory / file_name
        if not path.is_file():
            raise FileNotFoundError(
                f"CausalLM.from_pretrained: {_INDEX_FILE} lists {file_name}, "
                f"which is not in {self.directory}"
            )
        return self._safetensors.safe_open(path, framework="numpy")

    def names(self):
        return set(self.files)

    def arrays(self, names):
        """Yields `(name, NumPy array)` for `names`, opening each file once
        (bfloat16 through ml_dtypes: safetensors' NumPy API cannot)."""
        by_file = {}
        for name in names:
            by_file.setdefault(self.files[name], []).append(name)
        for file_name, group in by_file.items():
            with self._open(file_name) as file:
                bfloat16 = [
                    name
                    for name in group
                    if file.get_slice(name).get_dtype() == "BF16"
                ]
                for name in group:
                    if name not in bfloat16:
                        yield name, file.get_tensor(name)
            if bfloat16:
                yield from _read_bfloat16(self.directory / file_name, bfloat16)


def _read_bfloat16(path, names):
    # The safetensors layout: an 8-byte little-endian header length, a
    # JSON header of {name: {dtype, shape, data_offsets}}, then the data.
    import ml_dtypes

    with open(path, "rb") as file:
        header_length = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(header_length))
        for name in names:
            start, end = header[name]["data_offsets"]
            file.seek(8 + header_length + start)
            data = file.read(end - start)
            yield (
                name,
                np.frombuffer(data, ml_dtypes.bfloat16).reshape(
                    header[name]["shape"]
                ),
            )


def load_weights(model, directory, model_type):
    """Assigns every variable of `model` from the folder's safetensors;
    raises naming a missing, unexpected or mis-shaped tensor."""
    folder = SafetensorsFolder(directory)
    available = folder.names()
    expected = tensors(model, model_type)
    prefix = "transformer." if model_type == "gpt2" else ""
    # GPT-2 checkpoints saved from GPT2Model lack the "transformer." prefix.
    stored = {}
    for tensor in expected:
        name = tensor.name
        if name not in available and prefix and name.startswith(prefix):
            name = name[len(prefix) :]
        if name not in available:
            raise ValueError(
                f"CausalLM.from_pretrained: tensor {tensor.name!r} is missing "
                f"from the checkpoint in {directory} (expected shape "
                f"{tensor.shape})"
            )
        stored[tensor.name] = name
    used = set(stored.values())
    if model.tie_embeddings:
        used.add("lm_head.weight")  # some tied checkpoints store it too
    unexpected = sorted(
        name for name in available - used if not name.endswith(_BUFFER_SUFFIXES)
    )
    if unexpected:
        more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
        raise ValueError(
            f"CausalLM.from_pretrained: the checkpoint in {directory} has "
            f"tensors this {model_type} config does not use: "
            f"{unexpected[:5]}{more}"
        )
    by_stored_name = {stored[tensor.name]: tensor for tensor in expected}
    for name, array in folder.arrays(by_stored_name):
        tensor = by_stored_name[name]
        if tuple(array.shape) != tensor.shape:
            raise ValueError(
                f"CausalLM.from_pretrained: tensor {tensor.name!r} has the "
                f"wrong shape for config.json. Expected: {tensor.shape}. "
                f"Received: {tuple(array.shape)}"
            )
        for variable, value in zip(
            tensor.variables, tensor.to_keras(array), strict=True
        ):
            variable.assign(value.astype(variable.dtype))


def save_weights(model, directory, model_type, max_shard_bytes):
    """Writes `model`'s weights as Hugging Face names them, in
    `model.safetensors` or, above `max_shard_bytes`, in shards with an
    index."""
    numpy_api = import_optional(
        "safetensors.numpy", "Writing Hugging Face checkpoints"
    )
    shards, sizes, total = [{}], [0], 0
    for tensor in tensors(model, model_type):
        array = np.ascontiguousarray(
            tensor.to_hugging_face(
                [keras.ops.convert_to_numpy(v) for v in tensor.variables]
            )
        )
        if sizes[-1] and sizes[-1] + array.nbytes > max_shard_bytes:
            shards.append({})
            sizes.append(0)
        shards[-1][tensor.name] = array
        sizes[-1] += array.nbytes
        total += array.nbytes
    metadata = {"format": "pt"}  # what transformers expects to find
    if len(shards) == 1:
        numpy_api.save_file(
            shards[0], str(directory / _SINGLE_FILE), metadata=metadata
        )
        _readable(directory / _SINGLE_FILE)
        return
    weight_map = {}
    for number, shard in enumerate(shards, start=1):
        file_name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        numpy_api.save_file(shard, str(directory / file_name), metadata)
        _readable(directory / file_name)
        weight_map.update(dict.fromkeys(shard, file_name))
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (directory / _INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")


def _readable(path):
    """Gives `path` the mode a new file gets (safetensors writes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
