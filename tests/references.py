"""The reference libraries the parity tests compare against (keras-hub,
PyTorch and PyTorch Geometric, ...), imported when installed.

A test module takes what it needs at import, e.g.
`pyg_nn = reference("torch_geometric.nn")`, and marks only the tests
that use it with `@requires(pyg_nn, "torch-geometric")`: without the
library those tests skip with a reason, and the module's other tests
(conformance, bad arguments) still run.
"""

import importlib

import pytest


def reference(module):
    """The module `module`, or None when it (or what it needs) is not
    installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def requires(module, package):
    """A mark that skips a test when `module` (from `reference`) is
    missing; `package` is what to `pip install`."""
    return pytest.mark.skipif(
        module is None,
        reason=f"the reference library is missing: pip install {package}",
    )


def save_tiny_llama(folder, vocabulary_size, **overrides):
    """Saves a tiny random `transformers` Llama (2 blocks, width 32, 4
    heads sharing 2 key/value heads; seeded) in `folder`, offline, and
    returns it. Needs transformers and torch."""
    import torch
    import transformers

    torch.manual_seed(0)
    settings = {
        "vocab_size": vocabulary_size,
        "hidden_size": 32,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
        **overrides,
    }
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**settings))
    model.generation_config.eos_token_id = None  # generate to the length
    model.save_pretrained(folder)
    return model.eval()


def copy_rgcn_weights(ours, theirs):
    """PyG's RGCNConv weights into ours: weight, comp, root, bias."""
    values = {"bias": theirs.bias, "root_kernel": theirs.root}
    name = "kernel"
    if ours.num_bases is not None:
        name = "bases"
        values["coefficients"] = theirs.comp
    elif ours.num_blocks is not None:
        name = "blocks"
    values[name] = theirs.weight
    for variable in ours.weights:
        value = values[variable.name]
        variable.assign(value.detach().numpy())
