"""A Hugging Face model folder's safetensors, read and written with
safetensors' NumPy API (no PyTorch, no `transformers`): one file or shards
with an index, bfloat16 included."""

import json
import os
import pathlib

import keras
import numpy as np

from kerasbig._optional import import_optional

# Buffers some checkpoints carry that hold no weights (causal masks,
# rotary tables): recomputed, never read.
_BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")
# What `save_pretrained` writes per file at most (as Hugging Face does).
DEFAULT_SHARD_BYTES = 5 * 1024**3
_SINGLE_FILE = "model.safetensors"
_INDEX_FILE = "model.safetensors.index.json"


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


def load_weights(model, directory, architecture):
    """Assigns every variable of `model` from the folder's safetensors as
    `architecture` (a converter module) names them; raises naming a
    missing, unexpected or mis-shaped tensor."""
    folder = SafetensorsFolder(directory)
    available = folder.names()
    expected = architecture.tensors(model)
    model_type = architecture.MODEL_TYPE
    # A prefix checkpoints may lack (GPT-2's "transformer.", which files
    # saved from GPT2Model, as openai-community/gpt2 ships, do not have).
    prefix = architecture.OPTIONAL_PREFIX
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


def save_weights(model, directory, architecture, max_shard_bytes):
    """Writes `model`'s weights as `architecture` names them, in
    `model.safetensors` or, above `max_shard_bytes`, in shards with an
    index."""
    numpy_api = import_optional(
        "safetensors.numpy", "Writing Hugging Face checkpoints"
    )
    shards, sizes, total = [{}], [0], 0
    for tensor in architecture.tensors(model):
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
