"""The names `kerasbig.distribute.strategy` accepts. Standard library
only, so a program's `--help` lists them without loading Keras."""

STRATEGIES = (
    "auto",
    "none",
    "mirrored",
    "multiworker",
    "tpu",
    "data_parallel",
)

MODEL_PARALLEL = "model_parallel"
"""Weights sharded over a device mesh (JAX); needs a layout template, so
only recipes that build one (`ModelParallelConfig`) offer it."""

LAYOUT_STYLES = ("fsdp", "tensor_parallel", "both")
"""How `layout_map` shards weights: over the data axis, the "model"
axis, or both."""

STRATEGY_BACKENDS = {
    "mirrored": "tensorflow",
    "multiworker": "tensorflow",
    "tpu": "tensorflow",
    "data_parallel": "jax",
    MODEL_PARALLEL: "jax",
}
"""The backend each strategy other than "auto" and "none" runs on."""


def parse_mesh(text):
    """`(data, model)` device counts from text like `"2x4"`; a
    `ValueError` says what was expected otherwise.

    Example:

        >>> from kerasbig.distribute.choices import parse_mesh
        >>> parse_mesh("2x4")
        (2, 4)
    """
    sizes = str(text).lower().split("x")
    if len(sizes) == 2 and all(size.strip().isdigit() for size in sizes):
        shape = tuple(int(size) for size in sizes)
        if min(shape) >= 1:
            return shape
    raise ValueError(
        "expected DATAxMODEL device counts of at least 1, such as 2x4 "
        f"(8 devices); received {text!r}"
    )
