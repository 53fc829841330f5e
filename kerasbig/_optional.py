"""Lazy imports of optional dependencies, with errors that name the extra."""

import importlib

# module name -> (pip extra that provides it, distribution name)
_EXTRAS = {
    "tensorflow": ("tensorflow", "tensorflow"),
    "jax": ("jax", "jax"),
    "torch": ("torch", "torch"),
    "ai_edge_litert": ("litert", "ai-edge-litert"),
    "ai_edge_quantizer": ("litert", "ai-edge-quantizer"),
    "tensorflow_datasets": ("datasets", "tensorflow-datasets"),
    "keras_hub": ("hub", "keras-hub"),
    "tensorflow_model_optimization": (
        "tfmot",
        "tensorflow-model-optimization",
    ),
    "tf_keras": ("tfmot", "tf-keras"),
    "sklearn": ("datasets", "scikit-learn"),
    "PIL": ("datasets", "pillow"),
    "matplotlib": ("recipes", "matplotlib"),
    "tensorboard": ("recipes", "tensorboard"),
    "scipy": ("datasets", "scipy"),
    "networkx": ("datasets", "networkx"),
    "torch_geometric": ("test", "torch-geometric"),
    "safetensors": ("hf", "safetensors"),
    "tokenizers": ("hf", "tokenizers"),
}


def import_optional(module, feature):
    """Imports `module`, or raises an `ImportError` naming the extra.

    Args:
        module: dotted module name, e.g. `"ai_edge_litert.interpreter"`.
        feature: what the caller was doing, used in the message, e.g.
            `"LiteRT conversion"`.

    Returns:
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        extra, distribution = _EXTRAS.get(top, (None, top))
        hint = (
            f"pip install 'kerasbig[{extra}]'"
            if extra
            else f"pip install {distribution}"
        )
        raise ImportError(
            f"{feature} needs the optional dependency `{distribution}` "
            f"(module `{module}`), which could not be imported. "
            f"Install it with: {hint}. Original error: {error}"
        ) from error


def missing_dependencies(needs):
    """The entries of `needs` (`{module: what it is for}`) whose module is
    not installed, found without importing anything."""
    import importlib.util
    import sys

    missing = {}
    for module, purpose in needs.items():
        try:
            # None in sys.modules blocks an import (Python's convention).
            blocked = any(
                sys.modules.get(module.rsplit(".", depth)[0], 0) is None
                for depth in range(module.count(".") + 1)
            )
            found = not blocked and importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing[module] = purpose
    return missing


def install_hint(modules):
    """The pip command that installs `modules` (through kerasbig's extras
    where they have one)."""
    extras, others = [], []
    for module in modules:
        extra, distribution = _EXTRAS.get(module.split(".")[0], (None, module))
        if extra and extra not in extras:
            extras.append(extra)
        elif not extra and distribution not in others:
            others.append(distribution)
    words = [f"'kerasbig[{','.join(extras)}]'"] if extras else []
    return "pip install " + " ".join(words + others)


def distribution_of(module):
    """The PyPI distribution that provides `module`."""
    return _EXTRAS.get(module.split(".")[0], (None, module))[1]
