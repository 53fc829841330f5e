"""Who feeds whom in a Sequential or functional model: the layer graph
that quantization-aware training matches its patterns on (a convolution
whose only reader is a BatchNormalization, followed by a ReLU)."""

import keras

MODEL_OUTPUT = None
"""The reader `layer_readers` lists for a layer whose output is one of the
model's outputs."""


def layer_readers(model):
    """`(readers, sources)` of a Sequential or functional `model`:
    `readers[name]` lists the names of the layers that take layer `name`'s
    output (`MODEL_OUTPUT` for a model output; a layer read twice is
    listed twice), and `sources[name]` the names of the layers whose
    outputs layer `name` takes, one list per call of the layer."""
    if isinstance(model, keras.Sequential):
        names = [layer.name for layer in model.layers]
        readers = {a: [b] for a, b in zip(names, names[1:], strict=False)}
        readers[names[-1]] = [MODEL_OUTPUT]
        sources = {b: [[a]] for a, b in zip(names, names[1:], strict=False)}
        sources[names[0]] = [[]]
        return readers, sources
    config = model.get_config()
    readers = {layer["name"]: [] for layer in config["layers"]}
    sources = {}
    for layer in config["layers"]:
        sources[layer["name"]] = []
        for node in layer["inbound_nodes"]:
            names = [history[0] for history in _histories(node)]
            sources[layer["name"]].append(names)
            for name in names:
                readers[name].append(layer["name"])
    outputs = config["output_layers"]
    if outputs and isinstance(outputs[0], str):
        outputs = [outputs]  # one output: [name, node, index]
    for name, _, _ in outputs:
        readers[name].append(MODEL_OUTPUT)
    return readers, sources


def _histories(structure):
    """The `keras_history` of every tensor in a serialized call node."""
    if isinstance(structure, dict):
        if structure.get("class_name") == "__keras_tensor__":
            return [structure["config"]["keras_history"]]
        return [h for value in structure.values() for h in _histories(value)]
    if isinstance(structure, list | tuple):
        return [h for value in structure for h in _histories(value)]
    return []
